//! Engine throughput in path-steps per second, with every per-path summary and the
//! fan-chart bands included (what `stormglass run` computes), on the plain 6x3
//! benchmark model, on the plain model at the default scenario's size (20 assets,
//! 5 regimes) and on the bundled default scenario, without and with its
//! portfolios valued on every path, and with twenty variants of its playbook
//! strategy besides (`default+20_strategies`: what one run costs that
//! evaluates twenty rule variants on common paths).
//!
//! `cargo bench --bench engine`; criterion prints the throughput as elements/s,
//! where one element is one path-step.

use std::path::{Path, PathBuf};
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
    bench_book(c, file, paths, portfolios, &[]);
}

/// [`bench_scenario`] with the portfolio files `extra` valued too.
fn bench_book(c: &mut Criterion, file: &str, paths: u64, portfolios: bool, extra: &[PathBuf]) {
    let path = root().join(file);
    let scenario = scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    let model = Model::new(&scenario);
    let files = BookFiles {
        portfolios: extra.to_vec(),
        ..BookFiles::default()
    };
    let book = if portfolios {
        portfolio::load(&scenario, &model, &files)
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
    let name = if !extra.is_empty() {
        format!("{}+{}_strategies", scenario.name, extra.len())
    } else if portfolios {
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

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `count` variants of the bundled playbook, each waiting a different number
/// of quiet days (5, 10, ...) before it goes back to its book, written to a
/// folder of the system's temporary one.
fn playbook_variants(count: usize) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(root().join("portfolios/thesis_playbook.toml"))
        .expect("the bundled playbook");
    let folder = std::env::temp_dir().join(format!("stormglass-bench-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("a temporary folder");
    (1..=count)
        .map(|i| {
            let days = 5 * i;
            let variant = text
                .replace(
                    "name = \"thesis_playbook\"",
                    &format!("name = \"playbook_quiet_{days}\""),
                )
                .replace("quiet_days = 21", &format!("quiet_days = {days}"));
            let file = folder.join(format!("playbook_quiet_{days}.toml"));
            std::fs::write(&file, variant).expect("a variant written");
            file
        })
        .collect()
}

fn engine_benchmarks(c: &mut Criterion) {
    bench_scenario(c, "crates/core/benches/plain_6x3.toml", 100_000, false);
    bench_scenario(c, "crates/core/benches/plain_20x5.toml", 50_000, false);
    bench_scenario(c, "scenarios/default.toml", 50_000, false);
    bench_scenario(c, "scenarios/default.toml", 50_000, true);
    let variants = playbook_variants(20);
    bench_book(c, "scenarios/default.toml", 50_000, true, &variants);
    if let Some(folder) = variants.first().and_then(|f| f.parent()) {
        let _ = std::fs::remove_dir_all(folder);
    }
}

criterion_group!(benches, engine_benchmarks);
criterion_main!(benches);
