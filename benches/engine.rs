//! Engine throughput in path-steps per second, with every per-path summary and the
//! fan-chart bands included (what `stormglass run` computes), on the plain 6x3
//! benchmark model and on the bundled default scenario, without and with its five
//! portfolios valued on every path.
//!
//! `cargo bench --bench engine`; criterion prints the throughput as elements/s,
//! where one element is one path-step.

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stormglass::engine::{self, RunOptions, Silent};
use stormglass::model::Model;
use stormglass::portfolio::{self, BookFiles, PortfolioTracker};
use stormglass::scenario;

fn bench_scenario(c: &mut Criterion, file: &str, paths: u64) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
    let scenario = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let model = Model::new(&scenario);
    let options = RunOptions {
        paths,
        seed: scenario.seed,
        threads: 0,
        sample_paths: scenario.sample_paths,
    };
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(paths * model.steps as u64));
    group.bench_with_input(
        BenchmarkId::new(scenario.name.clone(), paths),
        &options,
        |b, options| b.iter(|| engine::simulate(&model, options, &Silent).expect("simulate")),
    );
    group.finish();
}

/// The default scenario with its bundled portfolios tracked on every path.
fn bench_portfolios(c: &mut Criterion, paths: u64) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/default.toml");
    let scenario = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let model = Model::new(&scenario);
    let book =
        portfolio::load(&scenario, &model, &BookFiles::default()).unwrap_or_else(|e| panic!("{e}"));
    let tracker = PortfolioTracker::new(&scenario, &model, &book.portfolios);
    let options = RunOptions {
        paths,
        seed: scenario.seed,
        threads: 0,
        sample_paths: scenario.sample_paths,
    };
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(paths * model.steps as u64));
    group.bench_with_input(
        BenchmarkId::new("default+portfolios", paths),
        &options,
        |b, options| {
            b.iter(|| engine::simulate_with(&model, options, &Silent, &tracker).expect("simulate"))
        },
    );
    group.finish();
}

fn engine_benchmarks(c: &mut Criterion) {
    bench_scenario(c, "benches/plain_6x3.toml", 100_000);
    bench_scenario(c, "scenarios/default.toml", 50_000);
    bench_portfolios(c, 50_000);
}

criterion_group!(benches, engine_benchmarks);
criterion_main!(benches);
