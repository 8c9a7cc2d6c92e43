//! `stormglass compare`: runs side by side, from scenario files run here or
//! from finished run folders.

use std::io::Write;
use std::path::PathBuf;

use stormglass_core::compare::{self as portfolio_compare, PortfolioComparison, Side};
use stormglass_core::engine::RunOptions;
use stormglass_core::output;
use stormglass_core::portfolio::Book;
use stormglass_core::scenario::settings;
use stormglass_report::compare::{self, Compared};

use crate::args::{Levels, Out, Settings, Threads};
use crate::failure::{printed, Failure, Result};
use crate::progress::Bar;

/// `stormglass compare`'s arguments (its description is on `Command::Compare`).
#[derive(clap::Args)]
pub struct Args {
    /// Scenario .toml files to run, or folders of finished runs (with summary.json).
    #[arg(required = true, num_args = 2..)]
    inputs: Vec<PathBuf>,
    /// Paths for each scenario file run here (overrides scenario.paths).
    #[arg(long, default_value_t = 10_000)]
    paths: u64,
    /// Random seed for the scenario files run here (default: each scenario's own).
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    threads: Threads,
    #[command(flatten)]
    levels: Levels,
    #[command(flatten)]
    set: Settings,
    /// A portfolio file to value under every scenario on the same paths: its
    /// figures side by side, with each scenario's paired difference from the
    /// first and its standard error (scenario files only).
    #[arg(long = "portfolio", value_name = "FILE")]
    portfolio: Option<PathBuf>,
    #[command(flatten)]
    out: Out,
}

pub fn run(args: Args) -> Result {
    if args.paths == 0 {
        return Err(Failure::input("--paths must be at least 1"));
    }
    let threads = args.threads.checked()?;
    if let Some(out) = &args.out.out {
        output::check_target(out, args.out.force)?;
    }
    let set = args.set.parse()?;
    // Every input is checked before anything runs, so a typo fails fast.
    let mut inputs = Vec::new();
    for input in &args.inputs {
        if input.is_dir() {
            if !set.is_empty() {
                return Err(Failure::input(format!(
                    "{}: --set changes the scenario files compare runs, and this is a finished run's folder; run it again with `stormglass run --set`",
                    input.display()
                )));
            }
            if args.levels.levels.is_some() {
                return Err(Failure::input(format!(
                    "{}: --levels starts the scenario files compare runs from your levels, and this is a finished run's folder; run it again with `stormglass run --levels`",
                    input.display()
                )));
            }
            if args.portfolio.is_some() {
                return Err(Failure::input(format!(
                    "{}: --portfolio values the book on every path of each scenario, and a finished run's folder keeps no paths; give its scenario file",
                    input.display()
                )));
            }
            let run = Compared::from_run_folder(input).map_err(Failure::input)?;
            inputs.push(Ok(run));
        } else {
            let scenario = args.levels.load(input)?;
            let scenario = if set.is_empty() {
                scenario
            } else {
                settings::apply(&scenario, input, &set)?
            };
            let book = match &args.portfolio {
                Some(file) => portfolio_compare::load_book(&scenario, input, file)?,
                None => Book::default(),
            };
            inputs.push(Err((scenario, book)));
        }
    }
    let mut runs = Vec::new();
    let mut valued = Vec::new();
    for (input, path) in inputs.into_iter().zip(&args.inputs) {
        match input {
            Ok(run) => runs.push(run),
            Err((mut scenario, book)) => {
                scenario.paths = args.paths;
                if let Some(seed) = args.seed {
                    scenario.seed = seed;
                }
                let options = RunOptions {
                    paths: scenario.paths,
                    seed: scenario.seed,
                    threads,
                    sample_paths: 0,
                };
                let run =
                    stormglass_core::run_with_portfolios(&scenario, &book, &options, &Bar::new())?;
                runs.push(Compared::from_summary(&run.summary, path));
                if args.portfolio.is_some() {
                    valued.push((scenario, book, run.simulation));
                }
            }
        }
    }
    compare::unique_labels(&mut runs);
    let sides: Vec<Side> = runs
        .iter()
        .zip(&valued)
        .map(|(run, (scenario, book, simulation))| Side {
            label: &run.label,
            scenario,
            book,
            simulation,
        })
        .collect();
    let pool = Threads::pool(threads)?;
    let portfolios = pool.install(|| portfolio_compare::compare_portfolios(&sides));
    let out = args.out.folder(|| compare::default_folder(&runs));
    let written =
        pool.install(|| compare::write_comparison(&out, &runs, &portfolios, args.out.force))?;
    let mut stdout = std::io::stdout().lock();
    let cell = |p: Option<f64>| p.map_or("n/a".to_string(), |p| format!("{:.1}%", p * 100.0));
    let mut result = Ok(());
    for run in &runs {
        let k = &run.key_numbers;
        result = result.and_then(|()| {
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
    for c in &portfolios {
        result = result.and_then(|()| print_portfolio(&mut stdout, c));
    }
    printed(result.and_then(|()| {
        writeln!(
            stdout,
            "\nwrote {} ({} charts and compare.html{} in {:.2}s)",
            out.display(),
            written.charts,
            if portfolios.is_empty() {
                ""
            } else {
                ", portfolio_comparison.csv"
            },
            written.report_seconds
        )
    }))
}

/// A portfolio's figures under every scenario, as compare.html's table.
fn print_portfolio(out: &mut impl Write, c: &PortfolioComparison) -> std::io::Result<()> {
    writeln!(
        out,
        "\nportfolio {} ({} differences, ± {} standard errors)",
        c.portfolio,
        if c.paired { "paired" } else { "unpaired" },
        stormglass_report::attribution::SHOWN_SE
    )?;
    if !c.paired {
        writeln!(out, "  {}", c.pairing)?;
    }
    let (header, rows) = compare::portfolio_rows(c);
    // The name column is for the page and the files; the label reads here.
    let table: Vec<Vec<String>> = std::iter::once(header)
        .chain(rows)
        .map(|mut row| {
            row.remove(1);
            row
        })
        .collect();
    let widths: Vec<usize> = (0..table[0].len())
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in &table {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == 0 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        writeln!(out, "  {}", cells.join("  "))?;
    }
    Ok(())
}
