//! The `stormglass` command: parses arguments, calls the library, prints, exits.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use stormglass_core::calibrate::data::{self as history_data, Frequency, Selection};
use stormglass_core::calibrate::history as history_fit;
use stormglass_core::engine::{self, Progress, RunOptions, Shard};
use stormglass_core::model::Model;
use stormglass_core::output::{self, OutputError};
use stormglass_core::portfolio::{self, BookFiles, PortfolioTracker};
use stormglass_core::scenario::settings::Setting;
use stormglass_core::scenario::{self, Scenario};
use stormglass_core::sweep::{self as sweeps, Axis, SweepError, SweepOptions};
use stormglass_core::tasks::{self, Manifest, PartSet, Prepared, Recipe, TaskTag};
use stormglass_report::compare::{self, Compared};
use stormglass_report::{self as report, OutputOptions, TableFormat};

/// Monte Carlo scenario engine for macro markets.
#[derive(Parser)]
#[command(name = "stormglass", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario and write its outputs (the default command).
    Run(RunArgs),
    /// Check scenario, portfolio and stress files without simulating.
    Validate {
        /// Files to check; portfolio and stress files are recognised by their keys.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The scenario whose assets portfolio and stress files are checked
        /// against [default: the bundled scenarios/default.toml].
        #[arg(long)]
        scenario: Option<PathBuf>,
    },
    /// List the bundled scenarios.
    List,
    /// Compare runs side by side: scenario files (run here) or finished run folders.
    Compare(CompareArgs),
    /// Run a scenario at every value of one or two keys, every point on the
    /// same random numbers, and chart the figures against them.
    Sweep(SweepArgs),
    /// Bump keys down and up one at a time and rank their effects on the key
    /// numbers, with tornado charts.
    Sensitivity(SensitivityArgs),
    /// Switch the scenario's mechanisms off one at a time (and all together),
    /// every run on the same random numbers, and measure what each adds to
    /// the key numbers and the tail.
    Attribute(AttributeArgs),
    /// Write a plan: a run, or every point of a sweep, cut into shards as
    /// numbered tasks for a scheduler (a Slurm array, a Kubernetes Indexed Job).
    Plan(PlanArgs),
    /// Run one task of a plan (the index the scheduler hands over).
    Task(TaskArgs),
    /// Put the parts of a run simulated as shards (`run --shard I/N`) back
    /// together into the run folder a single run writes, bit for bit.
    Merge(MergeArgs),
    /// Fit scenario parameters: regimes to history, keys to target figures.
    Calibrate {
        #[command(subcommand)]
        command: CalibrateCommand,
    },
}

#[derive(Subcommand)]
enum CalibrateCommand {
    /// Fit Markov-switching regimes to a CSV of history and write a scenario
    /// fragment, calibration.json, the smoothed regime probabilities and a chart.
    History(HistoryArgs),
    /// Fit scenario keys (within their valid ranges) so the run's figures match
    /// targets, by simulated moments on common random numbers.
    Targets(TargetsArgs),
}

#[derive(clap::Args)]
struct HistoryArgs {
    /// CSV file: a `date` column (YYYY-MM-DD, YYYY-MM or YYYYQn), then one
    /// column of levels per series.
    data: PathBuf,
    /// Number of regimes, 1 to 5.
    #[arg(long, default_value_t = 2)]
    regimes: usize,
    /// Columns to fit, comma separated [default: every column].
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    series: Vec<String>,
    /// Columns whose differences are fitted rather than their log changes:
    /// rates, spreads, anything that can be zero or negative.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    levels: Vec<String>,
    /// Sample the data at this frequency (the last observation of each
    /// period) [default: the file's own].
    #[arg(long, value_enum)]
    frequency: Option<Frequency>,
    /// Output folder [default: output/calibrate/<data file>-k<regimes>].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Also write the scenario fragment to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace the output folder, and the --out file, if they exist.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct TargetsArgs {
    /// The scenario file whose keys are fitted.
    scenario: PathBuf,
    /// The targets: `[[target]]` tables of `figure`, `value` and optional `weight`.
    #[arg(long, value_name = "FILE")]
    targets: PathBuf,
    /// Keys to fit, as written in the scenario file (`assets.spx.vol`,
    /// `events.NAME.rate_per_year`); comma-separated or repeated.
    #[arg(long, required = true, value_delimiter = ',', value_name = "KEY")]
    free: Vec<String>,
    /// Paths of every trial of the fit (the same seed each time).
    #[arg(long, default_value_t = 1000)]
    pilot_paths: u64,
    /// Paths of the final run at the fitted values [default: scenario.paths].
    #[arg(long)]
    paths: Option<u64>,
    /// Random seed of every trial and the final run [default: scenario.seed].
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (0 = all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Nelder-Mead iterations at most.
    #[arg(long, default_value_t = 200)]
    max_iterations: u64,
    /// After the pilot's fit, this many Nelder-Mead iterations more on the
    /// full --paths, which removes the pilot's sampling error (each trial
    /// then costs a full run).
    #[arg(long, default_value_t = 0)]
    refine_iterations: u64,
    /// Set a scenario key in every trial, as a child file would
    /// (repeatable); the fitted child file keeps it.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// Output folder [default: output/calibrate/<scenario name>-targets].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the output folder even if it is not a previous run's.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct CompareArgs {
    /// Scenario .toml files to run, or folders of finished runs (with summary.json).
    #[arg(required = true, num_args = 2..)]
    inputs: Vec<PathBuf>,
    /// Paths for each scenario file run here (overrides scenario.paths).
    #[arg(long, default_value_t = 10_000)]
    paths: u64,
    /// Random seed for the scenario files run here (default: each scenario's own).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (0 = all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Output folder [default: output/compare-<names>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the output folder even if it is not a previous run's.
    #[arg(long)]
    force: bool,
    /// Set a scenario key in every scenario file compared, as a child file
    /// would (repeatable): `--set regimes.sell_america.expected_duration_years=0.5`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
}

/// What a sweep varies and charts: shared by `sweep` and `plan`.
#[derive(clap::Args, Default)]
struct VaryArgs {
    /// A key and its values: `KEY=a:b:n` (n values from a to b) or
    /// `KEY=v1,v2,...`; give it twice to sweep a grid of two keys.
    #[arg(long, value_name = "KEY=VALUES")]
    vary: Vec<String>,
    /// A TOML file whose `[sweep]` table has `vary = ["KEY=VALUES", ...]` and
    /// optionally `chart = ["FIGURE", ...]`, instead of the flags.
    #[arg(long, value_name = "FILE", conflicts_with = "vary")]
    sweep_file: Option<PathBuf>,
    /// Figures to chart against the swept keys, any name a targets file takes
    /// (`spx.drawdown.p50`); comma-separated or repeated [default: the key
    /// numbers and the equity's return p05].
    #[arg(long = "chart", value_delimiter = ',', value_name = "FIGURE")]
    charts: Vec<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    sweep: SweepTable,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepTable {
    vary: Vec<String>,
    #[serde(default)]
    chart: Vec<String>,
}

impl VaryArgs {
    /// The axes and chart figures, from the flags or the sweep file.
    fn read(&self) -> Result<(Vec<Axis>, Vec<String>), Failure> {
        let (vary, mut charts) = match &self.sweep_file {
            Some(file) => {
                let text = stormglass_core::input::read_text(
                    file,
                    stormglass_core::input::Kind::SweepFile,
                )
                .map_err(Failure::input)?;
                let table: SweepFile = toml::from_str(&text)
                    .map_err(|e| Failure::input(format!("{}: {e}", file.display())))?;
                (table.sweep.vary, table.sweep.chart)
            }
            None => (self.vary.clone(), Vec::new()),
        };
        charts.extend(self.charts.iter().cloned());
        let axes = vary
            .iter()
            .map(|text| Axis::parse(text).map_err(Failure::input))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((axes, charts))
    }
}

#[derive(clap::Args)]
struct SweepArgs {
    /// The scenario file swept.
    scenario: PathBuf,
    #[command(flatten)]
    vary: VaryArgs,
    /// Paths of every point (overrides scenario.paths).
    #[arg(long)]
    paths: Option<u64>,
    /// Random seed of every point (overrides scenario.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (0 = all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Set a scenario key at every point, as a child file would (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// Output folder [default: output/<scenario name>-sweep].
    #[arg(long)]
    out: Option<PathBuf>,
    /// The table's file: sweep.csv, sweep.parquet or both.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Replace the output folder even if it is not a previous run's.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct SensitivityArgs {
    /// The scenario file.
    scenario: PathBuf,
    /// Keys to bump, comma-separated or repeated [default: every coupling of
    /// the thesis blocks the scenario has: flows, the policy rule and the
    /// chair, betas, pass-throughs, the crash scaling, the shocks' rates].
    #[arg(long, value_delimiter = ',', value_name = "KEY")]
    keys: Vec<String>,
    /// The bump, as a share of each key's value: 0.1 runs each key at 90% and 110%.
    #[arg(long, default_value_t = stormglass_core::sweep::sensitivity::DEFAULT_BUMP)]
    bump: f64,
    /// Figures to rank the keys by, any name a targets file takes;
    /// comma-separated or repeated [default: the key numbers and the
    /// equity's return p05].
    #[arg(long = "figure", value_delimiter = ',', value_name = "FIGURE")]
    figures: Vec<String>,
    /// Paths of every run (overrides scenario.paths).
    #[arg(long)]
    paths: Option<u64>,
    /// Random seed of every run (overrides scenario.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (0 = all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Set a scenario key in every run, as a child file would (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// Output folder [default: output/<scenario name>-sensitivity].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the output folder even if it is not a previous run's.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct AttributeArgs {
    /// The scenario file.
    scenario: PathBuf,
    /// Mechanisms to switch off, comma-separated or repeated [default: every
    /// mechanism the scenario has switched on].
    #[arg(long, value_delimiter = ',', value_name = "NAME")]
    mechanisms: Vec<String>,
    /// Paths of every run (overrides scenario.paths).
    #[arg(long)]
    paths: Option<u64>,
    /// Random seed of every run (overrides scenario.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads (0 = all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Set a scenario key in every run, as a child file would (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    /// A portfolio file whose VaR, ES and mean return are compared too (repeatable).
    #[arg(long = "portfolio", value_name = "FILE")]
    portfolios: Vec<PathBuf>,
    /// Output folder [default: output/<scenario name>-attribution].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace the output folder even if it is not a previous run's.
    #[arg(long)]
    force: bool,
}

/// What decides a run's numbers: shared by `run` and `plan`.
#[derive(clap::Args, Default)]
struct RecipeArgs {
    /// Scenario file [default: the bundled scenarios/default.toml].
    scenario: Option<PathBuf>,
    /// Number of paths (overrides scenario.paths).
    #[arg(long)]
    paths: Option<u64>,
    /// Random seed (overrides scenario.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Full paths kept for plots and sample_paths.csv (overrides scenario.sample_paths).
    #[arg(long)]
    sample_paths: Option<usize>,
    /// A portfolio file to evaluate besides the scenario's (repeatable).
    #[arg(long = "portfolio", value_name = "FILE")]
    portfolios: Vec<PathBuf>,
    /// A file of stress vectors to apply besides the scenario's (repeatable).
    #[arg(long = "stress", value_name = "FILE")]
    stresses: Vec<PathBuf>,
    /// Leave out the portfolios and stress files the scenario names.
    #[arg(long)]
    no_portfolios: bool,
    /// History anchors to hold the run against, in data/history/anchors.toml's
    /// format [default: the built-in ones].
    #[arg(long, value_name = "FILE")]
    anchors: Option<PathBuf>,
    /// Set a scenario key for this run, as a child file would
    /// (`assets.spx.drift=0.05`; repeatable); recorded in summary.json.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    settings: Vec<String>,
}

impl RecipeArgs {
    fn recipe(&self) -> Recipe {
        Recipe {
            scenario: self
                .scenario
                .clone()
                .unwrap_or_else(|| scenarios_dir().join("default.toml")),
            settings: self.settings.clone(),
            paths: self.paths,
            seed: self.seed,
            sample_paths: self.sample_paths,
            portfolios: self.portfolios.clone(),
            stresses: self.stresses.clone(),
            no_portfolios: self.no_portfolios,
            anchors: self.anchors.clone(),
        }
    }
}

#[derive(clap::Args, Default)]
struct RunArgs {
    #[command(flatten)]
    recipe: RecipeArgs,
    /// Worker threads (0 = all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Output folder [default: output/<scenario name>].
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    tables: TableArgs,
    /// Replace the output folder even if it is not a previous run's.
    #[arg(long)]
    force: bool,
    /// Simulate only shard I of N (from 0: 0/4 to 3/4), a contiguous share of
    /// the run's batches, into a part file in --out [default:
    /// output/<scenario name>-shards]; `stormglass merge` puts the parts together.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
}

#[derive(clap::Args)]
struct PlanArgs {
    #[command(flatten)]
    recipe: RecipeArgs,
    #[command(flatten)]
    vary: VaryArgs,
    /// Shards per run (or per sweep point).
    #[arg(long, default_value_t = 1)]
    shards: usize,
    /// The plan's folder: manifest.json, parts/ and, once merged, the runs
    /// [default: output/<scenario name>-plan].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace an existing plan (its parts are removed).
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct TaskArgs {
    /// The plan's manifest.json.
    manifest: PathBuf,
    /// The task to run, from 0 [default: $SLURM_ARRAY_TASK_ID, else
    /// $JOB_COMPLETION_INDEX].
    #[arg(long)]
    index: Option<usize>,
    /// Worker threads (0 = all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Run the task again although its part exists.
    #[arg(long)]
    force: bool,
    /// Print the plan's number of tasks (for a scheduler's array size) and stop.
    #[arg(long, conflicts_with_all = ["index", "force"])]
    count: bool,
}

#[derive(clap::Args)]
struct MergeArgs {
    /// Part files, or folders of them, of every shard of one run; or a plan's
    /// manifest.json, whose every point is merged.
    #[arg(required = true)]
    parts: Vec<PathBuf>,
    /// Output folder [default: output/<scenario name>; for a plan, its folder].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Worker threads for the summaries (0 = all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    tables: TableArgs,
    /// Replace the output folder even if it is not a previous run's.
    #[arg(long)]
    force: bool,
}

/// Which tables a run folder gets, and as what: shared by `run` and `merge`.
#[derive(clap::Args, Clone, Copy, Default)]
struct TableArgs {
    /// When to write the per-path table (paths_metrics.csv or .parquet): auto
    /// writes it up to 100,000 paths.
    #[arg(long, value_enum, default_value_t = PathsCsv::Auto)]
    paths_csv: PathsCsv,
    /// The tables' files: CSV, Parquet (typed columns, for pandas and polars) or both.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
}

#[derive(Clone, Copy, Default, ValueEnum)]
enum Format {
    #[default]
    Csv,
    Parquet,
    Both,
}

impl From<Format> for TableFormat {
    fn from(format: Format) -> TableFormat {
        match format {
            Format::Csv => TableFormat::Csv,
            Format::Parquet => TableFormat::Parquet,
            Format::Both => TableFormat::Both,
        }
    }
}

#[derive(Clone, Copy, Default, PartialEq, ValueEnum)]
enum PathsCsv {
    #[default]
    Auto,
    Always,
    Never,
}

/// Up to this many paths, `--paths-csv auto` writes one row per path.
const PATHS_CSV_AUTO_LIMIT: u64 = 100_000;

fn check_threads(threads: usize) -> Result<(), Failure> {
    let limit = engine::thread_limit();
    if threads > limit {
        return Err(Failure::input(format!(
            "--threads {threads} is more than this machine can use: give 0 (all {} cores) up to {limit}",
            engine::effective_threads(0)
        )));
    }
    Ok(())
}

/// Why a run folder has no per-path table, and how to get one.
fn skipped_paths_csv(paths: u64, format: Format) -> String {
    let file = match format {
        Format::Csv => "paths_metrics.csv",
        Format::Parquet => "paths_metrics.parquet",
        Format::Both => "paths_metrics.csv and .parquet",
    };
    format!(
        "{file} not written: {paths} paths is more than --paths-csv auto writes \
         ({PATHS_CSV_AUTO_LIMIT}); pass --paths-csv always to write it"
    )
}

/// Exit statuses: 2 for anything the user can fix in the input, 1 for the rest.
const EXIT_INVALID_INPUT: u8 = 2;
const EXIT_FAILURE: u8 = 1;

/// On SIGINT or SIGTERM: remove the staging folder being written, then exit
/// with the shell's status for the signal (130, 143).
fn clean_up_on_interrupt() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            output::remove_staging();
            std::process::exit(128 + signal);
        }
    });
}

fn main() -> ExitCode {
    clean_up_on_interrupt();
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
        Command::Run(args) => run(args),
        Command::Validate { files, scenario } => validate(&files, scenario.as_deref()),
        Command::List => list(),
        Command::Compare(args) => compare(args),
        Command::Merge(args) => merge(args),
        Command::Plan(args) => plan(args),
        Command::Sweep(args) => sweep(args),
        Command::Sensitivity(args) => sensitivity(args),
        Command::Attribute(args) => attribute(args),
        Command::Task(args) => task(args),
        Command::Calibrate {
            command: CalibrateCommand::History(args),
        } => calibrate_history(args),
        Command::Calibrate {
            command: CalibrateCommand::Targets(args),
        } => calibrate_targets(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that closed its end (`stormglass list | head -1`) has all it wanted.
        Err(Failure { status: 0, .. }) => ExitCode::SUCCESS,
        Err(Failure { message, status }) => {
            // Writes stop with an error once a signal came: the handler is
            // removing what they staged and exits with the signal's status.
            if output::interrupted_by_signal() {
                loop {
                    std::thread::park();
                }
            }
            eprintln!("error: {message}");
            ExitCode::from(status)
        }
    }
}

struct Failure {
    message: String,
    status: u8,
}

impl Failure {
    fn input(message: impl ToString) -> Failure {
        Failure {
            message: message.to_string(),
            status: EXIT_INVALID_INPUT,
        }
    }
    fn other(message: impl ToString) -> Failure {
        Failure {
            message: message.to_string(),
            status: EXIT_FAILURE,
        }
    }
    /// Standard output was closed by its reader: stop quietly, with success.
    fn closed_output() -> Failure {
        Failure {
            message: String::new(),
            status: 0,
        }
    }
    fn engine(error: engine::EngineError) -> Failure {
        if error.is_user_fixable() {
            Failure::input(error)
        } else {
            Failure::other(error)
        }
    }
    fn part(error: tasks::PartError) -> Failure {
        if error.is_user_fixable() {
            Failure::input(error)
        } else {
            Failure::other(error)
        }
    }
    fn output(error: OutputError) -> Failure {
        if error.is_user_fixable() {
            Failure::input(error)
        } else {
            Failure::other(error)
        }
    }
}

/// Prints one line on standard output; a closed pipe ends the command quietly.
fn say(line: std::fmt::Arguments) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_fmt(line).and_then(|()| out.write_all(b"\n")) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::closed_output()),
        Err(e) => Err(Failure::other(e)),
    }
}

/// Where the bundled scenarios live: `./scenarios` when run from the repository,
/// else the folder next to the sources this binary was built from.
fn scenarios_dir() -> PathBuf {
    let local = PathBuf::from("scenarios");
    if local.join("default.toml").is_file() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
    }
}

fn load(path: &Path) -> Result<Scenario, Failure> {
    scenario::load(path).map_err(Failure::input)
}

fn run(args: RunArgs) -> Result<(), Failure> {
    check_threads(args.threads)?;
    let recipe = args.recipe.recipe();
    let prepared = recipe.prepare(args.threads).map_err(Failure::input)?;
    print_warnings(&prepared.scenario, prepared.anchors());
    if let Some(shard) = &args.shard {
        let shard = Shard::parse(shard).map_err(|e| Failure::input(format!("--shard {e}")))?;
        let dir = args.out.clone().unwrap_or_else(|| {
            Path::new("output").join(format!("{}-shards", prepared.scenario.name))
        });
        let part = dir.join(format!("shard-{}-of-{}.part", shard.index, shard.count));
        return run_shard(&prepared, shard, &part, None, args.force);
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("output").join(&prepared.scenario.name));
    output::check_target(&out, args.force).map_err(Failure::output)?;
    let tracker = PortfolioTracker::new(
        &prepared.scenario,
        &prepared.model,
        &prepared.book.portfolios,
    );
    check_memory(&prepared, tracker.columns_of().len())?;
    let progress = Bar::new();
    let simulation = engine::simulate_with(&prepared.model, &prepared.options, &progress, &tracker)
        .map_err(Failure::engine)?;
    finish_run(&prepared, &simulation, &out, args.tables, args.force)
}

/// Refuses a run the machine cannot hold.
fn check_memory(prepared: &Prepared, extra_columns: usize) -> Result<(), Failure> {
    let threads = engine::effective_threads(prepared.options.threads);
    let needed =
        engine::estimate_memory_with(&prepared.model, &prepared.options, threads, extra_columns);
    match available_memory() {
        Some(available) if needed > available => Err(Failure::input(format!(
            "this run needs about {:.1} GiB but only {:.1} GiB is available to this process (free memory, a container's limit or `ulimit -v`); use fewer --paths (or --sample-paths)",
            needed as f64 / GIB,
            available as f64 / GIB
        ))),
        _ => Ok(()),
    }
}

/// Simulates shard `shard` of `prepared` and writes its part to `part`.
fn run_shard(
    prepared: &Prepared,
    shard: Shard,
    part: &Path,
    task: Option<TaskTag>,
    force: bool,
) -> Result<(), Failure> {
    if part.exists() && !force {
        let what = match &task {
            Some(tag) => format!("task {}", tag.index),
            None => format!("shard {shard}"),
        };
        return Err(Failure::input(format!(
            "{}: exists: {what} already ran; pass --force to run it again",
            part.display()
        )));
    }
    let fingerprint = prepared.fingerprint().map_err(Failure::input)?;
    let tracker = PortfolioTracker::new(
        &prepared.scenario,
        &prepared.model,
        &prepared.book.portfolios,
    );
    let progress = Bar::new();
    let shard_run = engine::simulate_shard(
        &prepared.model,
        &prepared.options,
        &progress,
        &tracker,
        shard,
    )
    .map_err(Failure::engine)?;
    let header = tasks::part::header_of(
        &shard_run,
        fingerprint,
        &prepared.scenario.name,
        current_dir()?,
        &prepared.recipe,
        prepared.model.steps,
        task,
    );
    tasks::part::write_part(part, &header, &shard_run, force).map_err(Failure::part)?;
    say(format_args!(
        "wrote {} (shard {shard}: paths {} to {} of {}, in {:.2}s)",
        part.display(),
        shard_run.rows.start,
        shard_run.rows.end,
        prepared.options.paths,
        shard_run.simulation.wall_time.as_secs_f64()
    ))
}

fn current_dir() -> Result<PathBuf, Failure> {
    std::env::current_dir().map_err(|e| Failure::other(format!("the current folder: {e}")))
}

/// `path` made absolute, before the command moves into a recorded folder.
fn absolute(path: &Path) -> Result<PathBuf, Failure> {
    tasks::manifest::absolute(path).map_err(Failure::input)
}

/// Moves into `directory`, where a plan or a shard read its recipe's files, so
/// they are read again as typed there.
fn enter(directory: &Path, what: &str) -> Result<(), Failure> {
    std::env::set_current_dir(directory).map_err(|e| {
        Failure::input(format!(
            "{}: the folder {what} was made in: {e}; run it where the recipe's files have the same paths",
            directory.display()
        ))
    })
}

/// Summarises a finished simulation of `prepared`, writes its folder and prints
/// its summary: a single run and a merge of shards end here alike.
fn finish_run(
    prepared: &Prepared,
    simulation: &engine::Simulation,
    out: &Path,
    tables: TableArgs,
    force: bool,
) -> Result<(), Failure> {
    let TableArgs { paths_csv, format } = tables;
    // Summaries and charts keep to the threads the run was given.
    let pool = worker_pool(engine::effective_threads(prepared.options.threads))?;
    let summary = pool.install(|| prepared.summarise(simulation));
    let paths = prepared.options.paths;
    let paths_metrics = match paths_csv {
        PathsCsv::Always => true,
        PathsCsv::Never => false,
        PathsCsv::Auto => paths <= PATHS_CSV_AUTO_LIMIT,
    };
    let written = pool
        .install(|| {
            report::write_run(
                out,
                &prepared.scenario,
                &prepared.model,
                simulation,
                &summary,
                OutputOptions {
                    paths_metrics,
                    tables: format.into(),
                    force,
                },
            )
        })
        .map_err(Failure::output)?;

    let mut stdout = std::io::stdout().lock();
    let printed = report::print_summary(&mut stdout, &summary).and_then(|()| {
        writeln!(
            stdout,
            "\nwrote {} ({} charts and report.html in {:.2}s)",
            out.display(),
            written.charts,
            written.report_seconds
        )?;
        if !paths_metrics && paths_csv == PathsCsv::Auto {
            writeln!(stdout, "{}", skipped_paths_csv(paths, format))?;
        }
        Ok(())
    });
    match printed {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::other(e)),
        _ => Ok(()),
    }
}

fn merge(args: MergeArgs) -> Result<(), Failure> {
    check_threads(args.threads)?;
    if let [input] = &args.parts[..] {
        let manifest = if input.is_dir() {
            input.join(tasks::MANIFEST_FILE)
        } else {
            input.clone()
        };
        if manifest.is_file() && manifest.extension().is_some_and(|x| x == "json") {
            return merge_plan(&absolute(&manifest)?, &args);
        }
    }
    let mut files = Vec::new();
    for input in &args.parts {
        if input.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| Failure::input(format!("{}: {e}", input.display())))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "part"))
                .collect();
            inside.sort();
            if inside.is_empty() {
                return Err(Failure::input(format!(
                    "{}: holds no .part files",
                    input.display()
                )));
            }
            files.extend(inside);
        } else {
            files.push(input.clone());
        }
    }
    let files = files
        .iter()
        .map(|f| absolute(f))
        .collect::<Result<Vec<_>, _>>()?;
    let parts = PartSet::gather(&files, |header, missing| {
        let recipe = &header.recipe;
        format!(
            "`stormglass run {} --shard {}/{}` (and the same flags) for each",
            recipe.scenario.display(),
            missing[0],
            header.shard.count
        )
    })
    .map_err(Failure::part)?;
    let out = absolute(
        &args
            .out
            .clone()
            .unwrap_or_else(|| Path::new("output").join(&parts.header().scenario_name)),
    )?;
    enter(&parts.header().directory, "the shards' run")?;
    let (prepared, simulation) = merge_parts(&parts, args.threads, &|e| e)?;
    finish_run(&prepared, &simulation, &out, args.tables, args.force)
}

/// Rebuilds the run the parts came from, checks it is theirs and merges them;
/// `part_error` says how to fix a damaged part (which task to run again).
fn merge_parts(
    parts: &PartSet,
    threads: usize,
    part_error: &dyn Fn(tasks::PartError) -> tasks::PartError,
) -> Result<(Prepared, engine::Simulation), Failure> {
    let header = parts.header();
    let prepared = header.recipe.prepare(threads).map_err(Failure::input)?;
    let fingerprint = prepared.fingerprint().map_err(Failure::input)?;
    if fingerprint != header.run {
        return Err(Failure::input(format!(
            "{}: its scenario or files changed since the shards ran (the run they build is no longer the parts' run); run the shards again",
            header.recipe.scenario.display()
        )));
    }
    let tracker = PortfolioTracker::new(
        &prepared.scenario,
        &prepared.model,
        &prepared.book.portfolios,
    );
    let mut layout = stormglass_core::stats::MetricLayout::new(&prepared.model);
    layout.append(engine::PathObserver::columns(&tracker));
    let simulation = parts
        .merge(layout, &prepared.shape())
        .map_err(|e| Failure::part(part_error(e)))?;
    Ok((prepared, simulation))
}

/// Merges every point of the plan at `manifest_path` into its run folder.
fn merge_plan(manifest_path: &Path, args: &MergeArgs) -> Result<(), Failure> {
    let (manifest, sha) = Manifest::read(manifest_path).map_err(Failure::input)?;
    let plan_dir = manifest_path.parent().unwrap_or(Path::new("."));
    let out = match &args.out {
        Some(out) => absolute(out)?,
        None => plan_dir.to_path_buf(),
    };
    enter(&manifest.directory, "the plan")?;
    tasks::part::sweep_stale_parts(&plan_dir.join("parts"));
    // Every part present and of this plan before anything is merged.
    let mut sets = Vec::with_capacity(manifest.points.len());
    for point in &manifest.points {
        let tasks: Vec<_> = manifest
            .tasks
            .iter()
            .filter(|t| t.point == point.index)
            .collect();
        let files: Vec<PathBuf> = tasks
            .iter()
            .map(|t| Manifest::part_path(plan_dir, t.index))
            .filter(|p| p.exists())
            .collect();
        let missing_tasks: Vec<String> = tasks
            .iter()
            .filter(|t| !Manifest::part_path(plan_dir, t.index).exists())
            .map(|t| t.index.to_string())
            .collect();
        if !missing_tasks.is_empty() {
            return Err(Failure::input(format!(
                "{}: task{} {} of {} ha{} not run (no part in {}): run `stormglass task {} --index I` for each",
                manifest_path.display(),
                if missing_tasks.len() > 1 { "s" } else { "" },
                missing_tasks.join(", "),
                manifest.tasks.len(),
                if missing_tasks.len() > 1 { "ve" } else { "s" },
                plan_dir.join("parts").display(),
                manifest_path.display(),
            )));
        }
        for (file, task) in files.iter().zip(&tasks) {
            let header = tasks::part::read_header(file)
                .map_err(|e| Failure::part(e.of_task(task.index, manifest_path)))?;
            let tag = TaskTag {
                manifest: sha.clone(),
                index: task.index,
            };
            if header.task.as_ref() != Some(&tag) {
                return Err(Failure::input(format!(
                    "{}: not task {}'s part of this plan ({}); run `stormglass task {} --index {} --force`",
                    file.display(),
                    task.index,
                    match &header.task {
                        Some(t) if t.manifest == sha => format!("it is task {}'s", t.index),
                        Some(_) => "it comes from another plan".to_string(),
                        None => "it was written by `run --shard`".to_string(),
                    },
                    manifest_path.display(),
                    task.index
                )));
            }
        }
        let set = PartSet::gather(&files, |_, _| String::new()).map_err(Failure::part)?;
        sets.push((point, set));
    }
    let folder = |point: &tasks::manifest::Point| {
        if manifest.points.len() == 1 {
            out.join("run")
        } else {
            out.join("runs").join(&point.label)
        }
    };
    for (point, _) in &sets {
        output::check_target(&folder(point), args.force).map_err(Failure::output)?;
    }
    let sweep_dir = out.join("sweep");
    // The file as loaded, and the plan's own settings: what every point adds to.
    let sweep_base = if manifest.axes.is_empty() {
        None
    } else {
        output::check_target(&sweep_dir, args.force).map_err(Failure::output)?;
        let file = load(&manifest.recipe.scenario)?;
        Some((file, parse_settings(&manifest.recipe.settings)?))
    };
    let mut sweep = None;
    let grid = sweeps::grid(&manifest.axes);
    // A part damaged after its header was read is still named by its task.
    let part_error = |error: tasks::PartError| {
        let task = match &error {
            tasks::PartError::Damaged { path, .. } => manifest
                .tasks
                .iter()
                .find(|t| Manifest::part_path(plan_dir, t.index) == *path),
            _ => None,
        };
        match task {
            Some(task) => error.of_task(task.index, manifest_path),
            None => error,
        }
    };
    for (point, set) in &sets {
        let (prepared, simulation) = merge_parts(set, args.threads, &part_error)?;
        finish_run(
            &prepared,
            &simulation,
            &folder(point),
            args.tables,
            args.force,
        )?;
        if let Some((file, settings)) = &sweep_base {
            // Every point runs the plan's seed and paths: the first tells them.
            let sweep = sweep.get_or_insert_with(|| {
                sweeps::Sweep::new(
                    file,
                    &manifest.recipe.scenario,
                    settings,
                    &manifest.axes,
                    prepared.options.seed,
                    prepared.options.paths,
                )
            });
            sweep.add(
                point.index,
                grid[point.index].clone(),
                &prepared.scenario,
                &prepared.model,
                &simulation,
                simulation.wall_time.as_secs_f64(),
            );
        }
    }
    if let Some(mut sweep) = sweep {
        sweep.seconds = sweep.points.iter().map(|p| p.seconds).sum();
        let written = report::sweep::write_sweep(
            &sweep_dir,
            args.force,
            args.tables.format.into(),
            &sweep,
            &manifest.charts,
            &command_line(),
        )
        .map_err(Failure::output)?;
        say(format_args!(
            "wrote {} (sweep.csv, sweep.json, {written} charts and sweep.html; {} points)",
            sweep_dir.display(),
            sweep.points.len()
        ))?;
    }
    Ok(())
}

fn plan(args: PlanArgs) -> Result<(), Failure> {
    if args.shards == 0 {
        return Err(Failure::input("--shards must be at least 1"));
    }
    let recipe = args.recipe.recipe();
    let prepared = recipe.prepare(1).map_err(Failure::input)?;
    let batches = engine::BatchLayout::new(&prepared.options).batches();
    if args.shards > batches {
        return Err(Failure::input(format!(
            "--shards {}: the run has {batches} batches of {} paths, and a shard is at least one; use at most {batches} shards or more --paths",
            args.shards,
            engine::BATCH_PATHS
        )));
    }
    let name = prepared.scenario.name.clone();
    let (axes, charts) = args.vary.read()?;
    let points = if axes.is_empty() {
        if !charts.is_empty() {
            return Err(Failure::input(
                "--chart: a plan charts figures only when it sweeps (--vary)",
            ));
        }
        vec![(
            "run".to_string(),
            Vec::new(),
            prepared.fingerprint().map_err(Failure::input)?,
        )]
    } else {
        let file = load(&recipe.scenario)?;
        let set = parse_settings(&recipe.settings)?;
        sweeps::check_axes(&file, &axes, &set).map_err(sweep_failure)?;
        let mut points = Vec::new();
        for (index, values) in sweeps::grid(&axes).into_iter().enumerate() {
            let settings = sweeps::settings_at(&axes, &values);
            let mut point_recipe = recipe.clone();
            point_recipe.settings.extend(settings.iter().cloned());
            let point = point_recipe.prepare(1).map_err(Failure::input)?;
            points.push((
                sweeps::label_at(index, &axes, &values),
                settings,
                point.fingerprint().map_err(Failure::input)?,
            ));
        }
        points
    };
    let charts = if axes.is_empty() {
        charts
    } else {
        chosen_figures(
            "--chart",
            &prepared.scenario,
            &charts,
            prepared.options.seed,
        )?
    };
    let mut manifest = Manifest::new(&name, current_dir()?, recipe, axes, points, args.shards);
    manifest.charts = charts;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("output").join(format!("{name}-plan")));
    write_plan(&dir, &manifest, args.force)
}

/// Writes `manifest` into the plan folder `dir`; with `force`, a previous
/// plan's parts go (they would not merge with the new plan).
fn write_plan(dir: &Path, manifest: &Manifest, force: bool) -> Result<(), Failure> {
    let manifest_path = dir.join(tasks::MANIFEST_FILE);
    if dir.exists() && !force {
        let empty = std::fs::read_dir(dir)
            .map(|mut d| d.next().is_none())
            .unwrap_or(false);
        if !empty {
            return Err(Failure::input(format!(
                "{}: exists; choose another --out, or pass --force to replace the plan there",
                dir.display()
            )));
        }
    }
    if force {
        let parts = dir.join("parts");
        if let Ok(entries) = std::fs::read_dir(&parts) {
            for entry in entries.flatten() {
                let path = entry.path();
                if tasks::part::starts_as_part(&path) {
                    std::fs::remove_file(&path)
                        .map_err(|e| Failure::other(format!("{}: {e}", path.display())))?;
                }
            }
        }
    }
    std::fs::create_dir_all(dir.join("parts"))
        .map_err(|e| Failure::other(format!("{}: {e}", dir.display())))?;
    output::write_file_atomically(&manifest_path, manifest.to_json().as_bytes(), true)
        .map_err(Failure::output)?;
    say(format_args!(
        "wrote {}: {} task{} ({} point{} x {} shard{}); run each with `stormglass task {} --index I` (I from 0 to {}), then `stormglass merge {}`",
        manifest_path.display(),
        manifest.tasks.len(),
        if manifest.tasks.len() > 1 { "s" } else { "" },
        manifest.points.len(),
        if manifest.points.len() > 1 { "s" } else { "" },
        manifest.shards,
        if manifest.shards > 1 { "s" } else { "" },
        manifest_path.display(),
        manifest.tasks.len() - 1,
        manifest_path.display()
    ))
}

/// The task index the scheduler hands over, where `--index` is not given.
const INDEX_VARIABLES: [&str; 2] = ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"];

fn task(args: TaskArgs) -> Result<(), Failure> {
    check_threads(args.threads)?;
    if args.count {
        let (manifest, _) = Manifest::read(&args.manifest).map_err(Failure::input)?;
        return say(format_args!("{}", manifest.tasks.len()));
    }
    let index = match args.index {
        Some(index) => index,
        None => {
            let (name, value) = INDEX_VARIABLES
                .iter()
                .find_map(|name| std::env::var(name).ok().map(|v| (*name, v)))
                .ok_or_else(|| {
                    Failure::input(format!(
                        "no task index: pass --index I, or run under a scheduler that sets {}",
                        INDEX_VARIABLES.join(" or ")
                    ))
                })?;
            value
                .trim()
                .parse()
                .map_err(|_| Failure::input(format!("${name} is `{value}`, not a task index")))?
        }
    };
    let manifest_path = absolute(&args.manifest)?;
    let (manifest, sha) = Manifest::read(&manifest_path).map_err(Failure::input)?;
    let task = manifest
        .task(&args.manifest, index)
        .map_err(Failure::input)?;
    enter(&manifest.directory, "the plan")?;
    let point = &manifest.points[task.point];
    let prepared = manifest
        .recipe_of(task.point)
        .prepare(args.threads)
        .map_err(Failure::input)?;
    if prepared.fingerprint().map_err(Failure::input)? != point.run {
        return Err(Failure::input(format!(
            "{}: its scenario or files changed since the plan was written; plan again",
            manifest.recipe.scenario.display()
        )));
    }
    let plan_dir = manifest_path.parent().unwrap_or(Path::new("."));
    let part = Manifest::part_path(plan_dir, index);
    let tag = TaskTag {
        manifest: sha,
        index,
    };
    run_shard(&prepared, task.shard, &part, Some(tag), args.force)
}

fn parse_settings(texts: &[String]) -> Result<Vec<Setting>, Failure> {
    texts
        .iter()
        .map(|text| Setting::parse(text).map_err(|e| Failure::input(format!("--set {e}"))))
        .collect()
}

/// `scenario`, loaded from `path`, with `settings` applied and checked.
fn with_settings(
    scenario: Scenario,
    path: &Path,
    settings: &[Setting],
) -> Result<Scenario, Failure> {
    if settings.is_empty() {
        return Ok(scenario);
    }
    scenario::settings::apply(&scenario, path, settings).map_err(Failure::input)
}

fn compare(args: CompareArgs) -> Result<(), Failure> {
    if args.paths == 0 {
        return Err(Failure::input("--paths must be at least 1"));
    }
    check_threads(args.threads)?;
    if let Some(out) = &args.out {
        output::check_target(out, args.force).map_err(Failure::output)?;
    }
    let settings = parse_settings(&args.settings)?;
    // Every input is checked before anything runs, so a typo fails fast.
    let mut inputs = Vec::new();
    for input in &args.inputs {
        if input.is_dir() {
            if !settings.is_empty() {
                return Err(Failure::input(format!(
                    "{}: --set changes the scenario files compare runs, and this is a finished run's folder; run it again with `stormglass run --set`",
                    input.display()
                )));
            }
            let run = Compared::from_run_folder(input).map_err(Failure::input)?;
            inputs.push(Ok(run));
        } else {
            inputs.push(Err(with_settings(load(input)?, input, &settings)?));
        }
    }
    let mut runs = Vec::new();
    for (input, path) in inputs.into_iter().zip(&args.inputs) {
        match input {
            Ok(run) => runs.push(run),
            Err(mut scenario) => {
                scenario.paths = args.paths;
                if let Some(seed) = args.seed {
                    scenario.seed = seed;
                }
                let options = RunOptions {
                    paths: scenario.paths,
                    seed: scenario.seed,
                    threads: args.threads,
                    sample_paths: 0,
                };
                let progress = Bar::new();
                let run = stormglass_core::run_scenario(&scenario, &options, &progress)
                    .map_err(Failure::engine)?;
                runs.push(Compared::from_summary(&run.summary, path));
            }
        }
    }
    compare::unique_labels(&mut runs);
    let out = args
        .out
        .unwrap_or_else(|| Path::new("output").join(compare::default_folder(&runs)));
    let pool = worker_pool(engine::effective_threads(args.threads))?;
    let written = pool
        .install(|| compare::write_comparison(&out, &runs, args.force))
        .map_err(Failure::output)?;
    let mut stdout = std::io::stdout().lock();
    let mut printed = Ok(());
    for run in &runs {
        let k = &run.key_numbers;
        let cell = |p: Option<f64>| p.map_or("n/a".to_string(), |p| format!("{:.1}%", p * 100.0));
        printed = printed.and_then(|()| {
            writeln!(
                stdout,
                "{:<24} P(equity drawdown) {:>6}  P(dollar fall) {:>6}  P(both) {:>6}{}",
                run.label,
                cell(k.p_equity_drawdown),
                cell(k.p_dollar_fall),
                cell(k.p_joint_selloff),
                run.realism.as_ref().map_or(String::new(), |r| format!(
                    "  outside history {}/{}",
                    r.outside,
                    r.figures.len()
                ))
            )
        });
    }
    let printed = printed.and_then(|()| {
        writeln!(
            stdout,
            "\nwrote {} ({} charts and compare.html in {:.2}s)",
            out.display(),
            written.charts,
            written.report_seconds
        )
    });
    match printed {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::other(e)),
        _ => Ok(()),
    }
}

fn calibrate_history(args: HistoryArgs) -> Result<(), Failure> {
    let selection = Selection {
        series: args.series.clone(),
        levels: args.levels.clone(),
        frequency: args.frequency,
    };
    let stem = args
        .data
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "history".into());
    let dir = args.dir.clone().unwrap_or_else(|| {
        Path::new("output")
            .join("calibrate")
            .join(format!("{stem}-k{}", args.regimes))
    });
    output::check_target(&dir, args.force).map_err(Failure::output)?;
    if let Some(out) = args.out.as_ref().filter(|out| out.exists() && !args.force) {
        return Err(Failure::output(OutputError::FileExists {
            path: out.clone(),
        }));
    }
    let table = history_data::read(&args.data, &selection).map_err(Failure::input)?;
    let changes = table.changes(&selection).map_err(Failure::input)?;
    say(format_args!(
        "Fitting {} regime{} to {} {} changes of {} ({})...",
        args.regimes,
        if args.regimes == 1 { "" } else { "s" },
        changes.rows.len(),
        changes.frequency.name(),
        changes.names.join(", "),
        changes.period(),
    ))?;
    let started = std::time::Instant::now();
    let fit = history_fit::fit(changes, args.regimes).map_err(|error| match error {
        history_fit::FitError::Data(_) => Failure::input(error),
        _ => Failure::input(format!("{}: {error}", args.data.display())),
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let sha256 = output::sha256_of(&args.data)
        .map_err(|e| Failure::input(format!("{}: cannot read: {e}", args.data.display())))?;
    let name = format!("{}-k{}", history_fit::asset_name(&stem), args.regimes);
    let provenance = report::calibration::Provenance {
        command: &command,
        data_file: &args.data,
        data_sha256: &sha256,
    };
    let fragment = report::calibration::history_fragment(&fit, &name, &provenance);
    fit.check_fragment(&fragment)
        .map_err(|error| Failure::input(format!("{}: {error}", args.data.display())))?;
    let episodes = &stormglass_core::history::builtin().episodes;
    report::calibration::write_history_fit(
        &dir,
        args.force,
        &fit,
        &fragment,
        &provenance,
        episodes,
    )
    .map_err(Failure::output)?;
    if let Some(out) = &args.out {
        output::write_file_atomically(out, fragment.as_bytes(), args.force)
            .map_err(Failure::output)?;
    }
    say(format_args!(
        "log likelihood {:.4}  AIC {:.2}  BIC {:.2}  ({} parameters, {:.1} s)",
        fit.log_likelihood,
        fit.aic,
        fit.bic,
        fit.parameters.len(),
        seconds
    ))?;
    for figures in &fit.figures {
        say(format_args!(
            "  {:<12} long-run share {:>5.1}%  expected stay {:>12}  annual vol {}",
            figures.name,
            100.0 * figures.long_run_share,
            history_fit::stay_text(figures.expected_duration_years),
            figures
                .annual_vol
                .iter()
                .zip(&fit.changes.names)
                .map(|(v, n)| format!("{n} {v:.3}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))?;
    }
    say(format_args!("Wrote {}", dir.display()))?;
    if let Some(out) = &args.out {
        say(format_args!("Wrote {}", out.display()))?;
    }
    Ok(())
}

fn calibrate_targets(args: TargetsArgs) -> Result<(), Failure> {
    use stormglass_core::calibrate::targets::{self, Fit, TargetsError};
    check_threads(args.threads)?;
    if args.pilot_paths == 0 || args.paths == Some(0) {
        return Err(Failure::input(
            "--paths and --pilot-paths must be at least 1",
        ));
    }
    let failure = |e: TargetsError| {
        if e.is_user_fixable() {
            Failure::input(e)
        } else {
            Failure::other(e)
        }
    };
    let scenario = load(&args.scenario)?;
    let out = args.out.clone().unwrap_or_else(|| {
        Path::new("output")
            .join("calibrate")
            .join(format!("{}-targets", scenario.name))
    });
    output::check_target(&out, args.force).map_err(Failure::output)?;
    let target_list = targets::read_targets(&args.targets).map_err(failure)?;
    let options = targets::Options {
        free: args.free.clone(),
        settings: parse_settings(&args.settings)?,
        pilot_paths: args.pilot_paths,
        paths: args.paths.unwrap_or(scenario.paths),
        seed: args.seed.unwrap_or(scenario.seed),
        threads: args.threads,
        max_iterations: args.max_iterations,
        refine_iterations: args.refine_iterations,
    };
    let fit = Fit::new(&args.scenario, &args.targets, target_list, options).map_err(failure)?;
    let calibration = fit.run().map_err(failure)?;
    targets::write(&out, &fit, &calibration, args.force).map_err(Failure::output)?;
    let mut stdout = std::io::stdout().lock();
    let printed = calibration
        .print(&mut stdout)
        .and_then(|()| writeln!(stdout, "\nwrote {}", out.display()));
    match printed {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::other(e)),
        _ => Ok(()),
    }
}

fn sweep_failure(error: SweepError) -> Failure {
    if error.is_user_fixable() {
        Failure::input(error)
    } else {
        Failure::other(error)
    }
}

/// The command line, for the records outputs keep.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut line = String::from("stormglass");
    for arg in args.iter().skip(1) {
        line.push(' ');
        line.push_str(arg);
    }
    line
}

/// Prints `done/total runs` on a terminal's standard error.
fn run_counter(what: &'static str) -> impl Fn(usize, usize) {
    let shown = std::io::stderr().is_terminal();
    move |done, total| {
        if shown {
            eprint!("\r{done}/{total} {what}");
            if done == total {
                eprintln!();
            }
        }
    }
}

/// The figures to chart or rank by: those named, checked against the
/// scenario's, else the defaults.
fn chosen_figures(
    option: &str,
    scenario: &Scenario,
    named: &[String],
    seed: u64,
) -> Result<Vec<String>, Failure> {
    let figures = sweeps::figure_names(scenario, seed).map_err(sweep_failure)?;
    if named.is_empty() {
        return Ok(sweeps::default_chart_figures(scenario, &figures));
    }
    sweeps::check_figures(option, named, &figures).map_err(sweep_failure)?;
    Ok(named.to_vec())
}

fn sweep(args: SweepArgs) -> Result<(), Failure> {
    check_threads(args.threads)?;
    if args.paths == Some(0) {
        return Err(Failure::input("--paths must be at least 1"));
    }
    let (axes, charts) = args.vary.read()?;
    let base = load(&args.scenario)?;
    let set = parse_settings(&args.settings)?;
    sweeps::check_axes(&base, &axes, &set).map_err(sweep_failure)?;
    let start = sweeps::scenario_with(&base, &args.scenario, &set, &[]).map_err(sweep_failure)?;
    let options = SweepOptions {
        paths: args.paths.unwrap_or(start.paths),
        seed: args.seed.unwrap_or(start.seed),
        threads: args.threads,
    };
    let charts = chosen_figures("--chart", &start, &charts, options.seed)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("output").join(format!("{}-sweep", base.name)));
    output::check_target(&out, args.force).map_err(Failure::output)?;
    let result = sweeps::run(
        &base,
        &args.scenario,
        &set,
        &axes,
        options,
        &run_counter("points"),
    )
    .map_err(sweep_failure)?;
    let written = report::sweep::write_sweep(
        &out,
        args.force,
        args.format.into(),
        &result,
        &charts,
        &command_line(),
    )
    .map_err(Failure::output)?;
    print_sweep(&result, &charts)?;
    say(format_args!(
        "wrote {} (sweep.csv, sweep.json, {written} charts and sweep.html; {} points in {:.1}s)",
        out.display(),
        result.points.len(),
        result.seconds
    ))
}

/// The charted figures at every point, as value ± 1.96 standard errors.
fn print_sweep(sweep: &sweeps::Sweep, charts: &[String]) -> Result<(), Failure> {
    let shown: Vec<usize> = charts
        .iter()
        .filter_map(|name| sweep.figure_index(name))
        .collect();
    let mut header: Vec<String> = sweep.axes.iter().map(|a| a.key.clone()).collect();
    header.extend(shown.iter().map(|i| sweep.figures[*i].clone()));
    say(format_args!("{}", header.join("  ")))?;
    for point in &sweep.points {
        let mut row: Vec<String> = point.values.iter().map(|v| format!("{v}")).collect();
        row.extend(shown.iter().map(|i| {
            let m = point.figures[*i];
            format!("{:.4} ± {:.4}", m.value, 1.96 * m.se)
        }));
        say(format_args!("{}", row.join("  ")))?;
    }
    Ok(())
}

fn sensitivity(args: SensitivityArgs) -> Result<(), Failure> {
    check_threads(args.threads)?;
    if args.paths == Some(0) {
        return Err(Failure::input("--paths must be at least 1"));
    }
    let base = load(&args.scenario)?;
    let set = parse_settings(&args.settings)?;
    let start = sweeps::scenario_with(&base, &args.scenario, &set, &[]).map_err(sweep_failure)?;
    let options = SweepOptions {
        paths: args.paths.unwrap_or(start.paths),
        seed: args.seed.unwrap_or(start.seed),
        threads: args.threads,
    };
    let keys = if args.keys.is_empty() {
        sweeps::sensitivity::coupling_keys(&start)
    } else {
        args.keys.clone()
    };
    let figures = chosen_figures("--figure", &start, &args.figures, options.seed)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("output").join(format!("{}-sensitivity", base.name)));
    output::check_target(&out, args.force).map_err(Failure::output)?;
    let result = sweeps::sensitivity::run(
        &base,
        &args.scenario,
        &set,
        &keys,
        args.bump,
        &figures,
        options,
        &run_counter("runs"),
    )
    .map_err(sweep_failure)?;
    let written = report::sweep::write_sensitivity(&out, args.force, &result, &command_line())
        .map_err(Failure::output)?;
    for (f, name) in result.figures.iter().enumerate() {
        say(format_args!(
            "{name}: {:.4} at the scenario's values; largest swings:",
            result.base[f].value
        ))?;
        for effect in result.ranked(f).into_iter().take(5) {
            say(format_args!(
                "  {:<50} {:.4}",
                effect.bump.key,
                effect.swing(f, result.base[f].value)
            ))?;
        }
    }
    say(format_args!(
        "wrote {} (sensitivity.csv, sensitivity.json, {written} tornado charts and sensitivity.html; {} keys in {:.1}s)",
        out.display(),
        result.effects.len(),
        result.seconds
    ))
}

fn attribute(args: AttributeArgs) -> Result<(), Failure> {
    use stormglass_core::attribute::{AttributeError, Setup};
    let failure = |e: AttributeError| {
        if e.is_user_fixable() {
            Failure::input(e)
        } else {
            Failure::other(e)
        }
    };
    check_threads(args.threads)?;
    let setup = Setup::new(
        &args.scenario,
        &args.settings,
        &args.mechanisms,
        &args.portfolios,
    )
    .map_err(failure)?;
    let options = setup.options(args.paths, args.seed, args.threads);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| Path::new("output").join(format!("{}-attribution", setup.base.name)));
    output::check_target(&out, args.force).map_err(Failure::output)?;
    let result = setup.run(options, &run_counter("runs")).map_err(failure)?;
    let charts = report::attribution::write_attribution(&out, args.force, &result, &command_line())
        .map_err(Failure::output)?;
    for line in report::attribution::key_table(&result) {
        say(format_args!("{line}"))?;
    }
    say(format_args!(
        "wrote {} (attribution.csv, attribution.json, {charts} waterfall charts and attribution.html; {} runs in {:.1}s, the full run alone {:.1}s)",
        out.display(),
        result.mechanisms.len() + 2,
        result.seconds,
        result.full_seconds
    ))
}

fn worker_pool(threads: usize) -> Result<rayon::ThreadPool, Failure> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Failure::other(format!("cannot start {threads} worker threads: {e}")))
}

/// What a file given to `validate` holds.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FileRole {
    Scenario,
    Portfolio,
    Stress,
}

/// A portfolio file has `positions` (or a base currency) and a stress file
/// `[[stress]]` tables, neither a `[scenario]` table; anything else, unreadable
/// files included, is checked as a scenario, whose loader explains what is wrong.
fn file_role(path: &Path) -> FileRole {
    let Ok(text) = scenario::load::read_text_of(path, scenario::load::FileKind::Scenario) else {
        return FileRole::Scenario;
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return FileRole::Scenario;
    };
    if table.contains_key("scenario") || table.contains_key("extends") {
        FileRole::Scenario
    } else if table.contains_key("positions") || table.contains_key("base_currency") {
        FileRole::Portfolio
    } else if table.get("stress").is_some_and(|s| s.is_array()) {
        FileRole::Stress
    } else {
        FileRole::Scenario
    }
}

/// Checks a portfolio or stress file against `against`'s assets and regimes.
fn validate_book_file(file: &Path, role: FileRole, against: &Path) -> Result<String, Failure> {
    let s = load(against)?;
    let files = BookFiles {
        portfolios: if role == FileRole::Portfolio {
            vec![file.to_path_buf()]
        } else {
            Vec::new()
        },
        stresses: if role == FileRole::Stress {
            vec![file.to_path_buf()]
        } else {
            Vec::new()
        },
        skip_scenario: true,
    };
    let book = portfolio::load(&s, &Model::new(&s), &files).map_err(Failure::input)?;
    Ok(match role {
        FileRole::Portfolio => format!(
            "{}: ok (portfolio file: {} positions; checked against {})",
            file.display(),
            book.portfolios
                .iter()
                .map(|p| p.positions.len())
                .sum::<usize>(),
            against.display()
        ),
        _ => format!(
            "{}: ok (stress file: {} stress vectors; checked against {})",
            file.display(),
            book.stresses.len(),
            against.display()
        ),
    })
}

fn validate(files: &[PathBuf], against: Option<&Path>) -> Result<(), Failure> {
    let against = against
        .map(Path::to_path_buf)
        .unwrap_or_else(|| scenarios_dir().join("default.toml"));
    let mut failures = Vec::new();
    for file in files {
        let role = file_role(file);
        if role != FileRole::Scenario {
            match validate_book_file(file, role, &against) {
                Ok(line) => say(format_args!("{line}"))?,
                Err(failure) => failures.push(failure.message),
            }
            continue;
        }
        let checked = scenario::load(file).and_then(|s| {
            let book = portfolio::load(&s, &Model::new(&s), &BookFiles::default())?;
            Ok((s, book))
        });
        match checked {
            Ok((s, book)) => {
                print_warnings(&s, stormglass_core::history::builtin());
                say(format_args!(
                "{}: ok (regimes: {}, assets: {}, events: {}, steps: {}, portfolios: {}, stress vectors: {})",
                file.display(),
                s.regimes.len(),
                s.assets.len(),
                s.events.len(),
                s.steps(),
                book.portfolios.len(),
                book.stresses.len()
            ))?
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failure::input(failures.join("\nerror: ")))
    }
}

/// Prints the scenario's warnings to standard error: they do not stop a run.
fn print_warnings(scenario: &Scenario, anchors: &stormglass_core::history::Anchors) {
    for warning in stormglass_core::history::warnings(scenario, anchors) {
        eprintln!("warning: {warning}");
    }
}

fn list() -> Result<(), Failure> {
    let dir = scenarios_dir();
    let entries =
        std::fs::read_dir(&dir).map_err(|e| Failure::other(format!("{}: {e}", dir.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for file in files {
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match scenario::load(&file) {
            Ok(s) => {
                let line = s.description.lines().next().unwrap_or("").trim();
                say(format_args!("{stem:<22} {line}"))?;
            }
            Err(_) => say(format_args!(
                "{stem:<22} (does not validate: run `stormglass validate {}`)",
                file.display()
            ))?,
        }
    }
    Ok(())
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// The memory a run may still take: MemAvailable from /proc/meminfo, or less
/// where the process's control group (a container's limit, v2 or v1) leaves less.
fn available_memory() -> Option<u64> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let machine = read("/proc/meminfo").and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    let group = [
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ]
    .iter()
    .find_map(|(limit, usage)| group_headroom(&read(limit)?, &read(usage)?));
    let address_space = read("/proc/self/limits")
        .zip(read("/proc/self/status"))
        .and_then(|(limits, status)| address_space_headroom(&limits, &status));
    [machine, group, address_space].into_iter().flatten().min()
}

/// What a soft address-space limit (`ulimit -v`) leaves above the process's
/// virtual size, from /proc/self/limits and /proc/self/status; `None` when
/// unlimited.
fn address_space_headroom(limits: &str, status: &str) -> Option<u64> {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))?;
    let soft: u64 = line
        .trim_start_matches("Max address space")
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let size = status.lines().find(|l| l.starts_with("VmSize:"))?;
    let kib: u64 = size.split_whitespace().nth(1)?.parse().ok()?;
    Some(soft.saturating_sub(kib * 1024))
}

/// What a control group's limit leaves above its usage, from the two files'
/// text; `None` without a limit ("max" in v2, a number near 2^63 in v1).
fn group_headroom(limit: &str, usage: &str) -> Option<u64> {
    let limit: u64 = limit.trim().parse().ok()?;
    let usage: u64 = usage.trim().parse().ok()?;
    (limit < 1 << 60).then(|| limit.saturating_sub(usage))
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Bar {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} paths  {rate}  eta {eta}")
                .map(|style| style.with_key("rate", write_rate))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar(bar)
    }
}

/// Paths a second as a whole number with thousands separators ("4,785 paths/s"),
/// where indicatif's own `{per_sec}` prints four decimals.
fn write_rate(state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write) {
    let _ = write!(out, "{} paths/s", grouped(state.per_sec()));
}

/// A rate rounded to a whole number, thousands grouped by commas.
fn grouped(value: f64) -> String {
    if !value.is_finite() || value < 0.5 {
        return "0".into();
    }
    indicatif::HumanCount(value.round() as u64).to_string()
}

impl Progress for Bar {
    fn start(&self, total_paths: u64) {
        self.0.set_length(total_paths);
    }
    fn advance(&self, paths: u64) {
        self.0.inc(paths);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::{address_space_headroom, group_headroom, grouped};

    #[test]
    fn an_address_space_limit_leaves_its_headroom() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max address space         4294967296           unlimited            bytes\n";
        let status = "Name:\tstormglass\nVmSize:\t 1048576 kB\n";
        assert_eq!(address_space_headroom(limits, status), Some(3 << 30));
        let unlimited = limits.replace("4294967296", "unlimited ");
        assert_eq!(address_space_headroom(&unlimited, status), None);
    }

    #[test]
    fn the_progress_rate_is_a_whole_number() {
        assert_eq!(grouped(4784.9496), "4,785");
        assert_eq!(grouped(999.4), "999");
        assert_eq!(grouped(1_234_567.0), "1,234,567");
        assert_eq!(grouped(0.2), "0");
        assert_eq!(grouped(f64::NAN), "0");
    }

    #[test]
    fn control_group_headroom_is_limit_minus_usage() {
        assert_eq!(
            group_headroom("4294967296\n", "1073741824\n"),
            Some(3 << 30)
        );
        assert_eq!(group_headroom("1000", "1500"), Some(0));
        assert_eq!(group_headroom("max\n", "1073741824\n"), None);
        assert_eq!(group_headroom("9223372036854771712", "2454294528"), None);
        assert_eq!(group_headroom("", "12"), None);
    }
}
