//! The history fit's inner loops: one Hamilton filter (the likelihood every
//! optimiser step evaluates), the filter with Kim's smoother (one EM step's
//! expectation), and a whole fit from every start, at K = 3 regimes on 5,000
//! daily rows of three series drawn from a known three-regime model.
//!
//! `cargo bench --bench calibrate`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use stormglass_core::calibrate::history;
use stormglass_core::calibrate::markov::{Params, Regression};

const ROWS: usize = 5_000;
const SERIES: usize = 3;
const REGIMES: usize = 3;

/// Daily-sized returns: calm, normal and turbulent vols with correlations
/// rising in stress, regimes kept with probability 0.99, 0.98 and 0.95.
fn truth() -> Params {
    let stay = [0.99, 0.98, 0.95];
    let transition = (0..REGIMES)
        .map(|i| {
            (0..REGIMES)
                .map(|j| {
                    if i == j {
                        stay[i]
                    } else {
                        (1.0 - stay[i]) / 2.0
                    }
                })
                .collect()
        })
        .collect();
    let vols = [0.006, 0.01, 0.025];
    let correlation = [0.2, 0.4, 0.7];
    Params {
        transition,
        coefficients: (0..REGIMES)
            .map(|j| DMatrix::from_element(1, SERIES, [4e-4, 2e-4, -1e-3][j]))
            .collect(),
        covariances: (0..REGIMES)
            .map(|j| {
                DMatrix::from_fn(SERIES, SERIES, |a, b| {
                    vols[j] * vols[j] * if a == b { 1.0 } else { correlation[j] }
                })
            })
            .collect(),
    }
}

fn simulated(params: &Params) -> Regression {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let mut regime = 0;
    let factors: Vec<_> = params
        .covariances
        .iter()
        .map(|c| c.clone().cholesky().expect("positive definite").l())
        .collect();
    let y = (0..ROWS)
        .map(|_| {
            let u: f64 = rng.random();
            let row = &params.transition[regime];
            let mut cumulative = 0.0;
            regime = (0..REGIMES)
                .find(|&j| {
                    cumulative += row[j];
                    u < cumulative
                })
                .unwrap_or(REGIMES - 1);
            let z = nalgebra::DVector::from_fn(SERIES, |_, _| rng.sample::<f64, _>(StandardNormal));
            let draw = &factors[regime] * z;
            (0..SERIES)
                .map(|k| params.coefficients[regime][(0, k)] + draw[k])
                .collect()
        })
        .collect();
    Regression {
        y,
        x: vec![vec![1.0]; ROWS],
        regimes: REGIMES,
        switching_covariance: true,
    }
}

fn calibrate_benchmarks(c: &mut Criterion) {
    let params = truth();
    let model = simulated(&params);
    let mut group = c.benchmark_group("hamilton_k3_5000x3");
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("filter", |b| {
        b.iter(|| model.filter(&params).expect("finite likelihood"))
    });
    group.bench_function("filter_and_smooth", |b| {
        b.iter(|| {
            let filtered = model.filter(&params).expect("finite likelihood");
            model.smooth(&params, &filtered)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("history_fit_k3_5000x3");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("every_start", |b| {
        b.iter(|| {
            let starts = history::starts(&model.y, 1, REGIMES);
            model.fit_best(&starts, 500).expect("a fit converges")
        })
    });
    group.finish();
}

criterion_group!(benches, calibrate_benchmarks);
criterion_main!(benches);
