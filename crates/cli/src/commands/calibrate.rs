//! `stormglass calibrate`: regimes fitted to history, and scenario keys
//! fitted to target figures.

use std::io::Write;
use std::path::{Path, PathBuf};

use stormglass_core::calibrate::data::{self as history_data, AssetMapping, Frequency, Selection};
use stormglass_core::calibrate::history as history_fit;
use stormglass_core::calibrate::targets::{self, Fit};
use stormglass_core::output::{self, OutputError};
use stormglass_report as report;

use crate::args::{Out, Runs};
use crate::failure::{printed, say, Failure, Result};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Fit Markov-switching regimes to a CSV of history and write a scenario
    /// fragment, calibration.json, the smoothed regime probabilities and a
    /// chart; into output/calibrate/<data file>-k<regimes> unless --out says
    /// otherwise.
    History(HistoryArgs),
    /// Fit scenario keys (within their valid ranges) so the run's figures match
    /// targets, by simulated moments on common random numbers; into
    /// output/calibrate/<scenario name>-targets unless --out says otherwise.
    Targets(TargetsArgs),
}

pub fn run(command: Command) -> Result {
    match command {
        Command::History(args) => history(args),
        Command::Targets(args) => fit_targets(args),
    }
}

#[derive(clap::Args)]
pub struct HistoryArgs {
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
    /// Fit column COLUMN as the engine's asset ASSET (repeatable), so that a
    /// run of the fragment reports it like the bundled scenario does (fan
    /// chart, drawdowns, key numbers, realism): spx, ndx, dxy, gold, silver,
    /// eurusd, usdjpy (prices), us10y, us2y, fed_funds, vix (levels in
    /// decimals, read from a column in percent; add :decimal for one in
    /// decimals already), as in --as spx=close or --as us10y=dgs10.
    #[arg(long = "as", value_name = "ASSET=COLUMN", value_parser = str::parse::<AssetMapping>)]
    as_assets: Vec<AssetMapping>,
    /// Sample the data at this frequency (the last observation of each
    /// period): daily, weekly, monthly or quarterly [default: the file's own].
    #[arg(long, value_parser = str::parse::<Frequency>)]
    frequency: Option<Frequency>,
    #[command(flatten)]
    out: Out,
    /// Also write the scenario fragment to this file (replaced only with --force).
    #[arg(long, value_name = "FILE")]
    fragment: Option<PathBuf>,
    /// The output folder's flag before every command took --out.
    #[arg(long, hide = true)]
    dir: Option<PathBuf>,
}

fn history(args: HistoryArgs) -> Result {
    if args.dir.is_some() {
        return Err(Failure::input(
            "--dir is now --out (every command that writes a folder takes --out DIR); the scenario fragment's own file is --fragment FILE",
        ));
    }
    if let Some(out) = args
        .out
        .out
        .as_ref()
        .filter(|o| o.extension().is_some_and(|x| x == "toml"))
    {
        return Err(Failure::input(format!(
            "--out {}: names the output folder; write the scenario fragment to a file with --fragment {}",
            out.display(),
            out.display()
        )));
    }
    let force = args.out.force;
    let selection = Selection {
        series: args.series.clone(),
        levels: args.levels.clone(),
        frequency: args.frequency,
        assets: args.as_assets.clone(),
    };
    let stem = args
        .data
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "history".into());
    let dir = args.out.out.clone().unwrap_or_else(|| {
        Path::new("output")
            .join("calibrate")
            .join(format!("{stem}-k{}", args.regimes))
    });
    output::check_target(&dir, force)?;
    if let Some(file) = args.fragment.as_ref().filter(|f| f.exists() && !force) {
        return Err(OutputError::FileExists { path: file.clone() }.into());
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
    report::calibration::write_history_fit(&dir, force, &fit, &fragment, &provenance, episodes)?;
    if let Some(file) = &args.fragment {
        output::write_file_atomically(file, fragment.as_bytes(), force)?;
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
    if let Some(file) = &args.fragment {
        say(format_args!("Wrote {}", file.display()))?;
    }
    Ok(())
}

#[derive(clap::Args)]
pub struct TargetsArgs {
    #[command(flatten)]
    runs: Runs,
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
    /// Nelder-Mead iterations at most.
    #[arg(long, default_value_t = 200)]
    max_iterations: u64,
    /// After the pilot's fit, this many Nelder-Mead iterations more on the
    /// full --paths, which removes the pilot's sampling error (each trial
    /// then costs a full run).
    #[arg(long, default_value_t = 0)]
    refine_iterations: u64,
    #[command(flatten)]
    out: Out,
}

fn fit_targets(args: TargetsArgs) -> Result {
    let threads = args.runs.threads.checked()?;
    if let Some(levels) = &args.runs.levels.levels {
        return Err(Failure::input(format!(
            "--levels {}: a fit writes a child of the scenario file, which holds no levels file; fit from the file's own levels, or write a child whose levels are yours (`extends` it and sets [scenario] start_date and the levels) and fit that",
            levels.display()
        )));
    }
    if args.pilot_paths == 0 || args.runs.paths == Some(0) {
        return Err(Failure::input(
            "--paths and --pilot-paths must be at least 1",
        ));
    }
    let scenario = args.runs.load()?;
    let out = args.out.out.clone().unwrap_or_else(|| {
        Path::new("output")
            .join("calibrate")
            .join(format!("{}-targets", scenario.name))
    });
    output::check_target(&out, args.out.force)?;
    let target_list = targets::read_targets(&args.targets)?;
    let options = targets::Options {
        free: args.free.clone(),
        settings: args.runs.set.parse()?,
        pilot_paths: args.pilot_paths,
        paths: args.runs.paths.unwrap_or(scenario.paths),
        seed: args.runs.seed.unwrap_or(scenario.seed),
        threads,
        max_iterations: args.max_iterations,
        refine_iterations: args.refine_iterations,
        portfolios: args.runs.portfolios.clone(),
    };
    let fit = Fit::new(&args.runs.scenario, &args.targets, target_list, options)?;
    let calibration = fit.run()?;
    targets::write(&out, &fit, &calibration, args.out.force)?;
    let mut stdout = std::io::stdout().lock();
    printed(
        calibration
            .print(&mut stdout)
            .and_then(|()| writeln!(stdout, "\nwrote {}", out.display())),
    )
}
