//! What cutting a run into shards costs: the default scenario with its
//! portfolios, simulated whole, against the same paths as 8 shards whose parts
//! are written to disk and merged back into one simulation (what `run --shard`
//! then `merge` do, before the summaries and files both share).
//!
//! `cargo bench --bench shards`

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use stormglass_core::engine::{self, PathObserver, Shard, Silent};
use stormglass_core::portfolio::PortfolioTracker;
use stormglass_core::run::Recipe;
use stormglass_core::stats::MetricLayout;
use stormglass_core::tasks::{part, PartSet};

const PATHS: u64 = 100_000;
const SHARDS: usize = 8;

fn shards(c: &mut Criterion) {
    let recipe = Recipe {
        scenario: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/default.toml"),
        paths: Some(PATHS),
        ..Recipe::default()
    };
    let prepared = recipe.prepare(0).unwrap_or_else(|e| panic!("{e}"));
    let tracker = PortfolioTracker::new(
        &prepared.scenario,
        &prepared.model,
        &prepared.book.portfolios,
    );
    let fingerprint = prepared.fingerprint().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("a temporary folder");

    let mut group = c.benchmark_group("shards");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Elements(PATHS * prepared.model.steps as u64));
    group.bench_function(BenchmarkId::new("single", PATHS), |b| {
        b.iter(|| {
            engine::simulate_with(&prepared.model, &prepared.options, &Silent, &tracker)
                .expect("simulate")
        })
    });
    group.bench_function(
        BenchmarkId::new(format!("{SHARDS}_shards_merged"), PATHS),
        |b| {
            b.iter(|| {
                let files: Vec<_> = (0..SHARDS)
                    .map(|index| {
                        let shard = Shard {
                            index,
                            count: SHARDS,
                        };
                        let run = engine::simulate_shard(
                            &prepared.model,
                            &prepared.options,
                            &Silent,
                            &tracker,
                            shard,
                        )
                        .expect("simulate a shard");
                        let header = part::header_of(
                            &run,
                            fingerprint.clone(),
                            &prepared.scenario.name,
                            dir.path().to_path_buf(),
                            &prepared.recipe,
                            prepared.model.steps,
                            None,
                        );
                        let file = dir.path().join(format!("{index}.part"));
                        part::write_part(&file, &header, &run, true).expect("write a part");
                        file
                    })
                    .collect();
                let parts = PartSet::gather(&files, |_, _| String::new()).expect("every part");
                let mut layout = MetricLayout::new(&prepared.model);
                layout.append(tracker.columns());
                parts
                    .merge(layout, &part::RunShape::of(&prepared))
                    .expect("merge")
            })
        },
    );
    group.finish();
}

criterion_group!(benches, shards);
criterion_main!(benches);
