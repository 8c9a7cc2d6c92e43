//! What entropy pooling costs: 10^6 paths with 10 views (five means, three
//! probabilities, two binding inequalities: a second moment and a tail
//! probability) on five standard normal columns, the
//! size the views command promises to solve in half a second on two cores.
//!
//! `cargo bench --bench views`

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use stormglass_core::views::{entropy_pool, LinearView, Relation};

const PATHS: usize = 1_000_000;

fn views(c: &mut Criterion) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(2008);
    let columns: Vec<Vec<f64>> = (0..5)
        .map(|_| {
            (0..PATHS)
                .map(|_| StandardNormal.sample(&mut rng))
                .collect()
        })
        .collect();
    let view = |name: &str, coefficients: Vec<f64>, relation, target| LinearView {
        name: name.to_string(),
        coefficients,
        relation,
        target,
    };
    let below = |column: &[f64], level: f64| -> Vec<f64> {
        column
            .iter()
            .map(|x| f64::from(u8::from(*x <= level)))
            .collect()
    };
    let mut set = Vec::new();
    for (i, column) in columns.iter().enumerate() {
        set.push(view(
            &format!("mean {i}"),
            column.clone(),
            Relation::Equal,
            0.05 * i as f64 - 0.1,
        ));
    }
    set.push(view("p0", below(&columns[0], -1.0), Relation::Equal, 0.25));
    set.push(view("p1", below(&columns[1], 1.0), Relation::Equal, 0.8));
    set.push(view("p2", below(&columns[2], 0.0), Relation::Equal, 0.45));
    set.push(view(
        "cap",
        columns[3].iter().map(|x| x * x).collect(),
        Relation::AtMost,
        0.9,
    ));
    set.push(view(
        "floor",
        below(&columns[4], -2.0),
        Relation::AtLeast,
        0.03,
    ));
    let prior = vec![1.0 / PATHS as f64; PATHS];

    let mut group = c.benchmark_group("views");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function(BenchmarkId::new("entropy_pool_10_views", PATHS), |b| {
        b.iter(|| entropy_pool(&prior, &set).unwrap_or_else(|e| panic!("{e}")))
    });
    group.finish();
}

criterion_group!(benches, views);
criterion_main!(benches);
