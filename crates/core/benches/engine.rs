//! Engine throughput in path-steps per second, with every per-path summary and the
//! fan-chart bands included (what `stormglass run` computes), on the plain 6x3
//! benchmark model, on the plain model at the default scenario's size (20 assets,
//! 5 regimes) and on the bundled default scenario, without and with its five
//! portfolios valued on every path.
//!
//! `cargo bench --bench engine`; criterion prints the throughput as elements/s,
//! where one element is one path-step.

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stormglass_core::engine::{self, RunOptions, Silent};
use stormglass_core::model::Model;
use stormglass_core::portfolio::{self, BookFiles, PortfolioTracker};
use stormglass_core::scenario;

/// Benchmarks `file` with `paths` paths, its bundled portfolios valued on every
/// path when `portfolios` is set (named `<scenario>+portfolios`).
/// `file` is relative to the repository's root.
fn bench_scenario(c: &mut Criterion, file: &str, paths: u64, portfolios: bool) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    let scenario = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let model = Model::new(&scenario);
    let book = if portfolios {
        portfolio::load(&scenario, &model, &BookFiles::default())
            .unwrap_or_else(|e| panic!("{e}"))
            .portfolios
    } else {
        Vec::new()
    };
    let tracker = PortfolioTracker::new(&scenario, &model, &book);
    let options = RunOptions {
        paths,
        seed: scenario.seed,
        threads: 0,
        sample_paths: scenario.sample_paths,
    };
    let name = if portfolios {
        format!("{}+portfolios", scenario.name)
    } else {
        scenario.name.clone()
    };
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(paths * model.steps as u64));
    group.bench_with_input(BenchmarkId::new(name, paths), &options, |b, options| {
        b.iter(|| {
            if portfolios {
                engine::simulate_with(&model, options, &Silent, &tracker)
            } else {
                engine::simulate(&model, options, &Silent)
            }
            .expect("simulate")
        })
    });
    group.finish();
}

fn engine_benchmarks(c: &mut Criterion) {
    bench_scenario(c, "crates/core/benches/plain_6x3.toml", 100_000, false);
    bench_scenario(c, "crates/core/benches/plain_20x5.toml", 50_000, false);
    bench_scenario(c, "scenarios/default.toml", 50_000, false);
    bench_scenario(c, "scenarios/default.toml", 50_000, true);
}

criterion_group!(benches, engine_benchmarks);
criterion_main!(benches);
