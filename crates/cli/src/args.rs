//! The flags several commands share, each defined once and flattened into
//! the commands that take it.

use std::path::{Path, PathBuf};

use stormglass_core::engine;
use stormglass_core::portfolio::BookFiles;
use stormglass_core::run::Recipe;
use stormglass_core::scenario::{self, settings, settings::Setting, Scenario};
use stormglass_core::sweep::{self, Axis, SweepOptions};
use stormglass_report::TableFormat;

use crate::failure::{Failure, Result};

/// `--threads`.
#[derive(clap::Args, Clone, Copy, Default)]
pub struct Threads {
    /// Worker threads (0 = all cores). Results do not depend on it.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
}

impl Threads {
    /// The count, refused when the machine cannot use it.
    pub fn checked(self) -> Result<usize> {
        let limit = engine::thread_limit();
        if self.threads > limit {
            return Err(Failure::input(format!(
                "--threads {} is more than this machine can use: give 0 (all {} cores) up to {limit}",
                self.threads,
                engine::effective_threads(0)
            )));
        }
        Ok(self.threads)
    }

    /// A pool of the threads the command was given, for its summaries and charts.
    pub fn pool(threads: usize) -> Result<rayon::ThreadPool> {
        let threads = engine::effective_threads(threads);
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| Failure::other(format!("cannot start {threads} worker threads: {e}")))
    }
}

/// `--out` and `--force` of every command that writes a folder.
#[derive(clap::Args, Clone, Default)]
pub struct Out {
    /// Output folder [default: under output/, named after the input; the
    /// command's description says which].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replace the output folder even if it is not a previous run's.
    #[arg(long)]
    pub force: bool,
}

impl Out {
    /// The folder given, else `output/<default>`.
    pub fn folder(&self, default: impl FnOnce() -> String) -> PathBuf {
        self.out
            .clone()
            .unwrap_or_else(|| Path::new("output").join(default()))
    }
}

/// `--set KEY=VALUE`, repeatable.
#[derive(clap::Args, Clone, Default)]
pub struct Settings {
    /// Set a scenario key, as a child file would (`assets.spx.drift=0.05`;
    /// repeatable); recorded in the outputs.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
}

impl Settings {
    pub fn parse(&self) -> Result<Vec<Setting>> {
        settings::parse_all(&self.settings).map_err(Failure::input)
    }
}

/// `--levels FILE`.
#[derive(clap::Args, Clone, Default)]
pub struct Levels {
    /// Start from your own market levels: a TOML file like
    /// scenarios/base/levels.toml, or a CSV of `asset,level,date` rows; the
    /// run starts on their date.
    #[arg(long, value_name = "FILE")]
    pub levels: Option<PathBuf>,
}

impl Levels {
    /// The scenario file at `path`, started from the levels file if given.
    pub fn load(&self, path: &Path) -> Result<Scenario> {
        Ok(scenario::load_at(path, self.levels.as_deref())?)
    }
}

/// What every command that runs one scenario file many times takes
/// (`sweep`, `sensitivity`, `attribute`, `calibrate targets`).
#[derive(clap::Args)]
pub struct Runs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// Paths of every run (overrides scenario.paths).
    #[arg(long)]
    pub paths: Option<u64>,
    /// Random seed of every run (overrides scenario.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub threads: Threads,
    #[command(flatten)]
    pub levels: Levels,
    #[command(flatten)]
    pub set: Settings,
    /// A portfolio file to value besides the scenario's own (repeatable); its
    /// figures are named `portfolio.NAME.…` (attribute compares these files'
    /// portfolios alone).
    #[arg(long = "portfolio", value_name = "FILE")]
    pub portfolios: Vec<PathBuf>,
}

impl Runs {
    /// The scenario's portfolios and those of `--portfolio`.
    pub fn book_files(&self) -> BookFiles {
        BookFiles {
            portfolios: self.portfolios.clone(),
            ..BookFiles::default()
        }
    }

    /// The threads, checked, and `--paths`, at least 1 when given.
    pub fn checked(&self) -> Result<usize> {
        if self.paths == Some(0) {
            return Err(Failure::input("--paths must be at least 1"));
        }
        self.threads.checked()
    }

    /// The scenario file, loaded (from the levels file, if given).
    pub fn load(&self) -> Result<Scenario> {
        self.levels.load(&self.scenario)
    }

    /// The file loaded, the settings parsed and applied, and the options of
    /// every run: what a sweep and a sensitivity start from.
    pub fn start(&self) -> Result<Start> {
        let base = self.load()?;
        let set = self.set.parse()?;
        let scenario = sweep::scenario_with(&base, &self.scenario, &set, &[])?;
        let options = SweepOptions {
            paths: self.paths.unwrap_or(scenario.paths),
            seed: self.seed.unwrap_or(scenario.seed),
            threads: self.threads.threads,
        };
        Ok(Start {
            base,
            set,
            scenario,
            options,
        })
    }
}

/// A scenario file ready to be run many times.
pub struct Start {
    /// The file as loaded.
    pub base: Scenario,
    /// `--set`, which every run applies.
    pub set: Vec<Setting>,
    /// The file with the settings applied.
    pub scenario: Scenario,
    pub options: SweepOptions,
}

/// What decides a run's numbers: shared by `run` and `plan`.
#[derive(clap::Args, Default)]
pub struct RecipeArgs {
    /// Scenario file [default: the bundled scenarios/default.toml].
    pub scenario: Option<PathBuf>,
    /// Number of paths (overrides scenario.paths).
    #[arg(long)]
    pub paths: Option<u64>,
    /// Random seed (overrides scenario.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Full paths kept for plots and sample_paths.csv (overrides scenario.sample_paths).
    #[arg(long)]
    pub sample_paths: Option<usize>,
    /// A portfolio file to evaluate besides the scenario's (repeatable).
    #[arg(long = "portfolio", value_name = "FILE")]
    pub portfolios: Vec<PathBuf>,
    /// A file of stress vectors to apply besides the scenario's (repeatable).
    #[arg(long = "stress", value_name = "FILE")]
    pub stresses: Vec<PathBuf>,
    /// Leave out the portfolios and stress files the scenario names.
    #[arg(long)]
    pub no_portfolios: bool,
    /// History anchors to hold the run against, in data/history/anchors.toml's
    /// format [default: the built-in ones].
    #[arg(long, value_name = "FILE")]
    pub anchors: Option<PathBuf>,
    #[command(flatten)]
    pub levels: Levels,
    #[command(flatten)]
    pub set: Settings,
}

impl RecipeArgs {
    pub fn recipe(&self) -> Recipe {
        Recipe {
            scenario: self
                .scenario
                .clone()
                .unwrap_or_else(|| scenarios_dir().join("default.toml")),
            settings: self.set.settings.clone(),
            paths: self.paths,
            seed: self.seed,
            sample_paths: self.sample_paths,
            portfolios: self.portfolios.clone(),
            stresses: self.stresses.clone(),
            no_portfolios: self.no_portfolios,
            anchors: self.anchors.clone(),
            levels: self.levels.levels.clone(),
            tilt: None,
        }
    }
}

/// What a sweep varies and charts: shared by `sweep` and `plan`.
#[derive(clap::Args, Default)]
pub struct VaryArgs {
    /// A key and its values: `KEY=a:b:n` (n values from a to b) or
    /// `KEY=v1,v2,...`; give it twice to sweep a grid of two keys.
    #[arg(long, value_name = "KEY=VALUES")]
    pub vary: Vec<String>,
    /// A TOML file whose `[sweep]` table has `vary = ["KEY=VALUES", ...]` and
    /// optionally `chart = ["FIGURE", ...]`, instead of the flags.
    #[arg(long, value_name = "FILE", conflicts_with = "vary")]
    pub sweep_file: Option<PathBuf>,
    /// Figures to chart against the swept keys, any name a targets file takes
    /// (`spx.drawdown.p50`); comma-separated or repeated [default: the key
    /// numbers and the equity's return p05].
    #[arg(long = "chart", value_delimiter = ',', value_name = "FIGURE")]
    pub charts: Vec<String>,
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
    pub fn read(&self) -> Result<(Vec<Axis>, Vec<String>)> {
        let (vary, mut charts) = match &self.sweep_file {
            Some(file) => {
                let text = stormglass_core::input::read_text(
                    file,
                    stormglass_core::input::Kind::SweepFile,
                )?;
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
            .collect::<Result<Vec<_>>>()?;
        Ok((axes, charts))
    }
}

/// Which tables a run folder gets, and as what: shared by `run` and `merge`.
#[derive(clap::Args, Clone, Copy, Default)]
pub struct TableArgs {
    /// When to write the per-path table (paths_metrics.csv or .parquet): auto
    /// writes it up to 100,000 paths.
    #[arg(long, value_enum, default_value_t = PathsCsv::Auto)]
    pub paths_csv: PathsCsv,
    /// The tables' files: CSV, Parquet (typed columns, for pandas and polars) or both.
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    pub format: Format,
}

#[derive(Clone, Copy, Default, clap::ValueEnum)]
pub enum Format {
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

#[derive(Clone, Copy, Default, PartialEq, clap::ValueEnum)]
pub enum PathsCsv {
    #[default]
    Auto,
    Always,
    Never,
}

/// Where the bundled scenarios live: `./scenarios` when run from the repository,
/// else the folder next to the sources this binary was built from.
pub fn scenarios_dir() -> PathBuf {
    let local = PathBuf::from("scenarios");
    if local.join("default.toml").is_file() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
    }
}

/// A scenario file, loaded and checked.
pub fn load(path: &Path) -> Result<Scenario> {
    Ok(scenario::load(path)?)
}

/// The command line, for the records outputs keep.
pub fn command_line() -> String {
    let args: Vec<String> = std::env::args().collect();
    let mut line = String::from("stormglass");
    for arg in args.iter().skip(1) {
        line.push(' ');
        line.push_str(arg);
    }
    line
}
