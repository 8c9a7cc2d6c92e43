//! The engine: drives paths through the model in parallel and feeds the statistics.
//!
//! Paths are cut into fixed batches of [`BATCH_PATHS`] (independent of the thread
//! count). Within a batch, all paths advance one step at a time, so the fan-chart
//! histogram row of that step stays in cache. Every path draws from its own stream
//! keyed by (seed, path index); per-path figures go to the path's own row of the
//! table; histograms and occupancy counts are integers merged exactly. The results
//! are therefore bit-identical for any number of threads, and a run cut into
//! shards (contiguous ranges of batches, see [`Shard`]) adds up to the same
//! table and counts.

pub mod memory;
pub mod rng;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::model::{Lanes, Model};
use crate::stats::{FanGrid, FanHistogram, MetricLayout, PathSummary};

/// Paths simulated together, step by step.
pub const BATCH_PATHS: usize = 256;
/// Paths simulated first to place the fan-chart grid (also the sample paths).
pub const PILOT_PATHS: usize = 1_000;

/// What to run.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub paths: u64,
    pub seed: u64,
    /// Worker threads; 0 uses every core.
    pub threads: usize,
    /// Full paths kept for plots and export (the first ones).
    pub sample_paths: usize,
}

/// Watches a run from outside: the engine reports finished paths, nothing else.
pub trait Progress: Sync {
    fn start(&self, _total_paths: u64) {}
    fn advance(&self, _paths: u64) {}
    fn finish(&self) {}
}

/// A run nobody watches.
pub struct Silent;
impl Progress for Silent {}

/// Per-path figures computed outside the engine (portfolios, for one), streamed
/// like the built-in ones: each batch gets its own [`BatchObserver`], which sees
/// the lanes at every grid point and writes its columns into the batch's rows.
pub trait PathObserver: Sync {
    /// The columns it writes, appended after the built-in ones.
    fn columns(&self) -> Vec<String>;
    /// An observer for a batch of `lanes` paths.
    fn batch(&self, lanes: usize) -> Box<dyn BatchObserver + '_>;
    /// Integer counts over all paths it keeps (a strategy's states at every
    /// step), merged exactly like the regime occupancy.
    fn tallies(&self) -> usize {
        0
    }
}

/// One batch's share of a [`PathObserver`].
pub trait BatchObserver {
    /// Sees the lanes at time 0.
    fn start(&mut self, lanes: &Lanes);
    /// Sees the lanes after step `t`.
    fn push(&mut self, lanes: &Lanes, t: usize);
    /// Writes lane `l`'s figures into `rows[l * columns + first..]`.
    fn finish(&mut self, rows: &mut [f64], columns: usize, first: usize);
    /// Adds the batch's counts to `counts` (as long as [`PathObserver::tallies`]).
    fn tally(&self, _counts: &mut [u64]) {}
}

/// No extra figures.
pub struct NoObserver;
impl PathObserver for NoObserver {
    fn columns(&self) -> Vec<String> {
        Vec::new()
    }
    fn batch(&self, _lanes: usize) -> Box<dyn BatchObserver + '_> {
        Box::new(NoObserver)
    }
}
impl BatchObserver for NoObserver {
    fn start(&mut self, _lanes: &Lanes) {}
    fn push(&mut self, _lanes: &Lanes, _t: usize) {}
    fn finish(&mut self, _rows: &mut [f64], _columns: usize, _first: usize) {}
}

/// Bytes in a GiB, for messages.
const GIB: f64 = (1u64 << 30) as f64;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    #[error("cannot start {threads} worker threads: {message}")]
    ThreadPool { threads: usize, message: String },
    #[error("{paths} paths is more than one run can hold (at most {max})")]
    TooManyPaths { paths: u64, max: u64 },
    /// [`request_cancel`] stopped the run.
    #[error("interrupted")]
    Cancelled,
    #[error("this run needs about {:.1} GiB but only {:.1} GiB is available to this process (free memory, a container's limit or `ulimit -v`); use fewer --paths (or --sample-paths)", *needed as f64 / GIB, *available as f64 / GIB)]
    NotEnoughMemory { needed: u64, available: u64 },
    #[error("the per-path table of {paths} paths needs {:.1} GiB, which this process cannot allocate (memory or an address-space limit such as `ulimit -v`); use fewer --paths", *bytes as f64 / (1u64 << 30) as f64)]
    OutOfMemory { paths: u64, bytes: usize },
}

impl crate::UserFixable for EngineError {
    /// Whether the user fixes this by asking for fewer paths.
    fn is_user_fixable(&self) -> bool {
        matches!(
            self,
            EngineError::TooManyPaths { .. }
                | EngineError::OutOfMemory { .. }
                | EngineError::NotEnoughMemory { .. }
        )
    }
}

/// A table of `len` zeros, or [`EngineError::OutOfMemory`] where the allocator
/// refuses it: a failed `vec!` aborts the process. The probe is dropped and the
/// table made by `vec!`, whose zeroed allocation leaves untouched pages unmapped,
/// so the check costs nothing on the way.
fn zeroed_table(len: usize, paths: u64) -> Result<Vec<f64>, EngineError> {
    let bytes = len.saturating_mul(std::mem::size_of::<f64>());
    let mut probe: Vec<f64> = Vec::new();
    probe
        .try_reserve_exact(len)
        .map_err(|_| EngineError::OutOfMemory { paths, bytes })?;
    drop(probe);
    Ok(vec![0f64; len])
}

/// Full trajectories of the first paths, as levels.
#[derive(Debug, Clone)]
pub struct SamplePaths {
    pub paths: usize,
    pub points: usize,
    pub assets: usize,
    /// Level of asset `a` on path `p` at grid point `t`: `[(p * points + t) * assets + a]`.
    pub levels: Vec<f64>,
    /// Regime of path `p` during the step starting at grid point `t` (the last point
    /// repeats the final regime).
    pub regimes: Vec<u8>,
}

impl SamplePaths {
    pub fn level(&self, path: usize, t: usize, asset: usize) -> f64 {
        self.levels[(path * self.points + t) * self.assets + asset]
    }
    pub fn regime(&self, path: usize, t: usize) -> usize {
        self.regimes[path * self.points + t] as usize
    }
}

/// Everything a run produces.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub paths: u64,
    pub seed: u64,
    pub layout: MetricLayout,
    /// Row-major per-path figures: `metrics[path * columns + column]`.
    pub metrics: Vec<f64>,
    pub fan_grid: FanGrid,
    pub fan: FanHistogram,
    /// Paths in regime `r` during step `t`: `[t * regimes + r]`.
    pub occupancy: Vec<u64>,
    /// The observer's counts ([`PathObserver::tallies`]).
    pub tallies: Vec<u64>,
    pub samples: SamplePaths,
    pub wall_time: Duration,
}

impl Simulation {
    pub fn column(&self, name: &str) -> Option<impl Iterator<Item = f64> + '_> {
        let c = self.layout.column(name)?;
        let columns = self.layout.columns();
        Some(self.metrics.iter().skip(c).step_by(columns).copied())
    }
}

/// Integer accumulators one worker thread fills.
struct ThreadTotals {
    fan: FanHistogram,
    occupancy: Vec<u64>,
    tallies: Vec<u64>,
}

/// Bytes a run will hold at its peak, for refusing runs the machine cannot hold.
pub fn estimate_memory(model: &Model, options: &RunOptions, threads: usize) -> u64 {
    estimate_memory_with(model, options, threads, 0)
}

/// [`estimate_memory`] with `extra_columns` per-path figures from an observer.
pub fn estimate_memory_with(
    model: &Model,
    options: &RunOptions,
    threads: usize,
    extra_columns: usize,
) -> u64 {
    let layout = MetricLayout::new(model);
    let points = (model.steps + 1) as u64;
    let assets = model.assets.len() as u64;
    let pilot = options
        .paths
        .min(PILOT_PATHS.max(options.sample_paths) as u64);
    let metrics = options.paths * (layout.columns() + extra_columns) as u64 * 8;
    let trajectories = pilot * points * (assets * 8 + 1);
    let histograms = (threads as u64 + 1) * FanHistogram::bytes(model.steps, model.assets.len());
    // One column sorted at a time for the summaries, in f64.
    let summaries = options.paths * 8;
    metrics + trajectories + histograms + summaries + 32 * 1024 * 1024
}

/// Set by [`request_cancel`]: runs and fits in progress stop at their next
/// batch (or likelihood evaluation) and return [`EngineError::Cancelled`].
/// The CLI exits on a signal instead; a host that cannot exit (Python, on
/// Ctrl-C) asks the work to stop this way.
static CANCEL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Asks every run and fit in progress in this process to stop.
pub fn request_cancel() {
    CANCEL.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Lets runs and fits proceed again after [`request_cancel`].
pub fn clear_cancel() {
    CANCEL.store(false, std::sync::atomic::Ordering::Relaxed);
}

/// Whether [`request_cancel`] asked the work to stop.
pub fn cancel_requested() -> bool {
    CANCEL.load(std::sync::atomic::Ordering::Relaxed)
}

/// Worker threads beyond this many times the cores only cost memory and time
/// (each keeps its own accumulators); results never depend on the count.
pub const THREADS_PER_CORE: usize = 4;
/// The thread limit on a machine with few cores.
pub const MIN_THREAD_LIMIT: usize = 16;

/// The most worker threads a run may ask for on this machine.
pub fn thread_limit() -> usize {
    (THREADS_PER_CORE * effective_threads(0)).max(MIN_THREAD_LIMIT)
}

/// The number of worker threads a run with `threads` (0 = all cores) uses.
pub fn effective_threads(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    }
}

/// Runs `options.paths` paths of `model`.
pub fn simulate(
    model: &Model,
    options: &RunOptions,
    progress: &dyn Progress,
) -> Result<Simulation, EngineError> {
    simulate_with(model, options, progress, &NoObserver)
}

/// Runs `options.paths` paths of `model`, with `observer`'s figures in every row.
pub fn simulate_with(
    model: &Model,
    options: &RunOptions,
    progress: &dyn Progress,
    observer: &dyn PathObserver,
) -> Result<Simulation, EngineError> {
    simulate_shard(model, options, progress, observer, Shard::WHOLE).map(|part| part.simulation)
}

/// A contiguous share of a run's batches: shard `index` (from 0) of `count`.
/// The batches, and so every path's random stream, are those of the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole run as one shard.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Reads `I/N` (0 <= I < N).
    pub fn parse(text: &str) -> Result<Shard, String> {
        let shape = || format!("`{text}` is not I/N (shard I of N, counted from 0: 0/4 to 3/4)");
        let (index, count) = text.split_once('/').ok_or_else(shape)?;
        let index: usize = index.trim().parse().map_err(|_| shape())?;
        let count: usize = count.trim().parse().map_err(|_| shape())?;
        if count == 0 || index >= count {
            return Err(format!(
                "`{text}`: the shard index must be from 0 to N-1 and N at least 1"
            ));
        }
        Ok(Shard { index, count })
    }

    /// This shard's batches out of `batches`: as even a share as whole batches allow.
    pub fn batches(&self, batches: usize) -> std::ops::Range<usize> {
        batches * self.index / self.count..batches * (self.index + 1) / self.count
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// How a run's paths are cut into batches: the pilot's first, then the rest's,
/// each [`BATCH_PATHS`] long but the last of each phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLayout {
    pub paths: usize,
    /// The first paths, kept whole: they place the fan grid and are the samples.
    pub pilot: usize,
}

impl BatchLayout {
    pub fn new(options: &RunOptions) -> BatchLayout {
        let paths = options.paths as usize;
        BatchLayout {
            paths,
            pilot: paths.min(PILOT_PATHS.max(options.sample_paths)),
        }
    }

    fn pilot_batches(&self) -> usize {
        self.pilot.div_ceil(BATCH_PATHS)
    }

    /// Batches in the run.
    pub fn batches(&self) -> usize {
        self.pilot_batches() + (self.paths - self.pilot).div_ceil(BATCH_PATHS)
    }

    /// The first path of batch `batch` (the run's path count past the last).
    fn first_path(&self, batch: usize) -> usize {
        let pilot_batches = self.pilot_batches();
        if batch <= pilot_batches {
            (batch * BATCH_PATHS).min(self.pilot)
        } else {
            (self.pilot + (batch - pilot_batches) * BATCH_PATHS).min(self.paths)
        }
    }

    /// The paths shard `shard` simulates into its rows.
    pub fn paths_of(&self, shard: Shard) -> std::ops::Range<usize> {
        let batches = shard.batches(self.batches());
        self.first_path(batches.start)..self.first_path(batches.end)
    }
}

/// A shard's share of a run: `simulation` holds the rows of paths `rows` only,
/// and the histogram and occupancy counts of those paths; its fan grid and
/// samples are the whole run's (every shard simulates the pilot to place them).
#[derive(Debug, Clone)]
pub struct ShardRun {
    pub shard: Shard,
    pub rows: std::ops::Range<u64>,
    pub simulation: Simulation,
}

/// Runs shard `shard` of `options.paths` paths of `model`.
pub fn simulate_shard(
    model: &Model,
    options: &RunOptions,
    progress: &dyn Progress,
    observer: &dyn PathObserver,
    shard: Shard,
) -> Result<ShardRun, EngineError> {
    let max_paths = u32::MAX as u64;
    if options.paths > max_paths {
        return Err(EngineError::TooManyPaths {
            paths: options.paths,
            max: max_paths,
        });
    }
    let threads = effective_threads(options.threads);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| EngineError::ThreadPool {
            threads,
            message: e.to_string(),
        })?;
    let started = Instant::now();
    let batches = BatchLayout::new(options);
    let own = batches.paths_of(shard);
    // The pilot paths this shard simulates but does not own count as progress too.
    let own_pilot = own.end.min(batches.pilot) - own.start.min(batches.pilot);
    progress.start((own.len() + batches.pilot - own_pilot) as u64);
    let simulation = pool.install(|| run(model, options, progress, threads, observer, &own));
    progress.finish();
    let simulation = simulation?;
    Ok(ShardRun {
        shard,
        rows: own.start as u64..own.end as u64,
        simulation: Simulation {
            wall_time: started.elapsed(),
            ..simulation
        },
    })
}

/// Simulates the pilot and the paths `own`, whose rows and counts it keeps.
fn run(
    model: &Model,
    options: &RunOptions,
    progress: &dyn Progress,
    threads: usize,
    observer: &dyn PathObserver,
    own: &std::ops::Range<usize>,
) -> Result<Simulation, EngineError> {
    let mut layout = MetricLayout::new(model);
    let observed = (observer, layout.append(observer.columns()));
    let columns = layout.columns();
    let points = model.steps + 1;
    let assets = model.assets.len();
    let regimes = model.regimes();
    let report = |n: usize| progress.advance(n as u64);

    let mut metrics = zeroed_table(own.len().saturating_mul(columns), options.paths)?;
    let pilot = BatchLayout::new(options).pilot;

    // Pilot: the first paths, kept whole; they place the fan grid and are the
    // samples. Every shard simulates them; their rows are kept by the shard
    // that owns them.
    let mut pilot_rows = vec![0f64; pilot * columns];
    let mut levels = vec![0f64; pilot * points * assets];
    let mut regime_track = vec![0u8; pilot * points];
    let tally_len = observer.tallies();
    let mut pilot_tallies = vec![0u64; pilot.div_ceil(BATCH_PATHS) * tally_len.max(1)];
    pilot_rows
        .par_chunks_mut(BATCH_PATHS * columns)
        .zip(levels.par_chunks_mut(BATCH_PATHS * points * assets))
        .zip(regime_track.par_chunks_mut(BATCH_PATHS * points))
        .zip(pilot_tallies.par_chunks_mut(tally_len.max(1)))
        .enumerate()
        .for_each(|(b, (((rows, levels), regime_track), tallies))| {
            // One load a batch of paths: nothing in the hot loop.
            if cancel_requested() {
                return;
            }
            let first = b * BATCH_PATHS;
            let lanes = rows.len() / columns;
            run_batch(
                model,
                &layout,
                observed,
                options.seed,
                first,
                lanes,
                rows,
                &mut tallies[..tally_len],
                |t, states| {
                    for lane in 0..states.count {
                        let at = lane * points + t;
                        let slots = &mut levels[at * assets..(at + 1) * assets];
                        for (slot, x) in slots.iter_mut().zip(states.lane(lane)) {
                            *slot = x;
                        }
                        if t > 0 {
                            regime_track[at - 1] = states.regime_in_step[lane] as u8;
                        }
                        regime_track[at] = states.regime[lane] as u8;
                    }
                },
            );
            report(lanes);
        });

    if cancel_requested() {
        return Err(EngineError::Cancelled);
    }
    let grid = pilot_grid(model, &levels, pilot);
    let mut fan = FanHistogram::new(&grid);
    let mut occupancy = vec![0u64; model.steps * regimes];
    let own_pilot = own.start.min(pilot)..own.end.min(pilot);
    // Shards own whole batches, so the pilot's batches are owned whole too.
    let mut tallies = vec![0u64; tally_len];
    for batch in pilot_tallies
        .chunks(tally_len.max(1))
        .skip(own_pilot.start / BATCH_PATHS)
        .take(own_pilot.len().div_ceil(BATCH_PATHS))
    {
        add_counts(&mut tallies, batch);
    }
    metrics[..own_pilot.len() * columns]
        .copy_from_slice(&pilot_rows[own_pilot.start * columns..own_pilot.end * columns]);
    drop(pilot_rows);
    for p in own_pilot {
        for t in 0..points {
            for a in 0..assets {
                fan.push(&grid, t, a, levels[(p * points + t) * assets + a]);
            }
            if t < model.steps {
                occupancy[t * regimes + regime_track[p * points + t] as usize] += 1;
            }
        }
    }

    // Main phase: every other path, each thread filling its own integer totals.
    // A shard may end inside the pilot, and then has no main-phase paths.
    let main_start = pilot.clamp(own.start, own.end);
    let slots: Vec<Mutex<Option<ThreadTotals>>> =
        (0..threads + 1).map(|_| Mutex::new(None)).collect();
    metrics[(main_start - own.start) * columns..]
        .par_chunks_mut(BATCH_PATHS * columns)
        .enumerate()
        .for_each(|(b, rows)| {
            if cancel_requested() {
                return;
            }
            let slot = rayon::current_thread_index()
                .unwrap_or(threads)
                .min(threads);
            let mut guard = slots[slot]
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let totals = guard.get_or_insert_with(|| ThreadTotals {
                fan: FanHistogram::new(&grid),
                occupancy: vec![0; model.steps * regimes],
                tallies: vec![0; tally_len],
            });
            let first = main_start + b * BATCH_PATHS;
            let lanes = rows.len() / columns;
            run_batch(
                model,
                &layout,
                observed,
                options.seed,
                first,
                lanes,
                rows,
                &mut totals.tallies,
                |t, states| {
                    totals.fan.push_lanes(&grid, t, states);
                    if t > 0 {
                        let counts = &mut totals.occupancy[(t - 1) * regimes..t * regimes];
                        for &regime in &states.regime_in_step {
                            counts[regime] += 1;
                        }
                    }
                },
            );
            drop(guard);
            report(lanes);
        });
    if cancel_requested() {
        return Err(EngineError::Cancelled);
    }
    for slot in slots {
        if let Some(totals) = slot
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
        {
            fan.merge(&totals.fan);
            add_counts(&mut occupancy, &totals.occupancy);
            add_counts(&mut tallies, &totals.tallies);
        }
    }

    let kept = options.sample_paths.min(pilot);
    levels.truncate(kept * points * assets);
    for (a, asset) in model.assets.iter().enumerate() {
        levels
            .iter_mut()
            .skip(a)
            .step_by(assets)
            .for_each(|x| *x = asset.level(*x));
    }
    regime_track.truncate(kept * points);
    Ok(Simulation {
        paths: options.paths,
        seed: options.seed,
        layout,
        metrics,
        fan_grid: grid,
        fan,
        occupancy,
        tallies,
        samples: SamplePaths {
            paths: kept,
            points,
            assets,
            levels,
            regimes: regime_track,
        },
        wall_time: Duration::ZERO,
    })
}

/// Adds `more` counts into `counts`: integers, so any merge order gives the same.
fn add_counts(counts: &mut [u64], more: &[u64]) {
    for (count, more) in counts.iter_mut().zip(more) {
        *count += more;
    }
}

/// The fan grid from the pilot paths' range at every step.
fn pilot_grid(model: &Model, levels: &[f64], pilot: usize) -> FanGrid {
    let points = model.steps + 1;
    let assets = model.assets.len();
    let mut minimum = vec![f64::INFINITY; points * assets];
    let mut maximum = vec![f64::NEG_INFINITY; points * assets];
    for p in 0..pilot {
        let path = &levels[p * points * assets..(p + 1) * points * assets];
        for (k, &x) in path.iter().enumerate() {
            minimum[k] = minimum[k].min(x);
            maximum[k] = maximum[k].max(x);
        }
    }
    FanGrid::from_ranges(model.steps, assets, &minimum, &maximum)
}

/// Simulates paths `first..first + lanes` step by step; `observe(t, lanes)` sees
/// every lane at each grid point `t` (0 = the start).
#[allow(clippy::too_many_arguments)]
fn run_batch(
    model: &Model,
    layout: &MetricLayout,
    (observer, first_observed): (&dyn PathObserver, usize),
    seed: u64,
    first: usize,
    lanes: usize,
    rows: &mut [f64],
    tallies: &mut [u64],
    mut observe: impl FnMut(usize, &Lanes),
) {
    let mut states = model.new_lanes(lanes);
    for lane in 0..lanes {
        model.start_lane(
            &mut states,
            lane,
            rng::path_rng(seed, (first + lane) as u64),
        );
    }
    let mut summary = PathSummary::new(model, lanes);
    let mut extra = observer.batch(lanes);
    summary.start(&states);
    extra.start(&states);
    observe(0, &states);
    for t in 0..model.steps {
        model.step(&mut states, t);
        summary.push(&states, t);
        extra.push(&states, t);
        observe(t + 1, &states);
    }
    summary.finish(model, layout, &states, rows);
    extra.finish(rows, layout.columns(), first_observed);
    extra.tally(tallies);
}

/// Re-simulates path `path` of a run under `seed` alone, exactly as the run did
/// (its random stream depends only on the two numbers): `observe(t, lanes)` sees
/// the single lane at every grid point.
pub fn replay(model: &Model, seed: u64, path: u64, mut observe: impl FnMut(usize, &Lanes)) {
    let mut states = model.new_lanes(1);
    model.start_lane(&mut states, 0, rng::path_rng(seed, path));
    observe(0, &states);
    for t in 0..model.steps {
        model.step(&mut states, t);
        observe(t + 1, &states);
    }
}
