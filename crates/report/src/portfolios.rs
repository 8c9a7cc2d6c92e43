//! The portfolio outputs: `portfolios.csv` (one row per portfolio),
//! `portfolio_positions.csv` (one row per position), `portfolio_quantiles.csv`
//! (p0..p100 of the P&L and the max drawdown, for charts) and the console tables.

use std::io::{self, Write};

use stormglass_core::portfolio::PortfolioSummary;

fn percent(v: f64) -> String {
    if v.is_nan() {
        "-".to_string()
    } else {
        format!("{:.2}%", v * 100.0)
    }
}

/// One row per portfolio: distribution, VaR/ES, drawdowns, loss probabilities, stress P&L.
pub fn write_portfolios_csv(
    out: &mut impl Write,
    portfolios: &[PortfolioSummary],
) -> io::Result<()> {
    write!(
        out,
        "portfolio,base_currency,value,rebalance,sha256,pnl_mean,pnl_sd,pnl_p01,pnl_p05,pnl_p50,pnl_p95,pnl_p99"
    )?;
    for level in ["95", "99"] {
        write!(
            out,
            ",var{level},es{level},var{level}_amount,es{level}_amount"
        )?;
    }
    write!(
        out,
        ",max_drawdown_mean,max_drawdown_p50,max_drawdown_p95,max_drawdown_p99,time_under_water_mean,longest_under_water_years_mean,longest_under_water_years_p50"
    )?;
    stress_header(out, portfolios)?;
    for p in portfolios {
        write!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            p.name,
            p.base_currency,
            p.value,
            serde_json::to_value(p.rebalance)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            p.sha256,
            p.pnl.mean,
            p.pnl.sd,
            p.pnl.percentile("p01"),
            p.pnl.percentile("p05"),
            p.pnl.percentile("p50"),
            p.pnl.percentile("p95"),
            p.pnl.percentile("p99"),
        )?;
        for r in &p.risk {
            write!(out, ",{},{},{},{}", r.var, r.es, r.var_amount, r.es_amount)?;
        }
        write!(
            out,
            ",{},{},{},{},{},{},{}",
            p.max_drawdown.mean,
            p.max_drawdown.percentile("p50"),
            p.max_drawdown.percentile("p95"),
            p.max_drawdown.percentile("p99"),
            p.time_under_water.mean,
            p.longest_under_water_years.mean,
            p.longest_under_water_years.percentile("p50"),
        )?;
        for s in &p.stress {
            write!(out, ",{}", s.pnl)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// One row per position: its terms, mean P&L, ES contributions and stress P&L.
pub fn write_positions_csv(
    out: &mut impl Write,
    portfolios: &[PortfolioSummary],
) -> io::Result<()> {
    write!(
        out,
        "portfolio,position,kind,currency,weight,hedge_ratio,pnl_mean,es95_contribution,es99_contribution"
    )?;
    stress_header(out, portfolios)?;
    for p in portfolios {
        for q in &p.positions {
            write!(
                out,
                "{},{},{},{},{},{},{}",
                p.name, q.name, q.kind, q.currency, q.weight, q.hedge_ratio, q.pnl.mean
            )?;
            for r in &p.risk {
                write!(
                    out,
                    ",{}",
                    r.es_contributions.get(&q.name).copied().unwrap_or(f64::NAN)
                )?;
            }
            for s in &p.stress {
                write!(
                    out,
                    ",{}",
                    s.positions.get(&q.name).copied().unwrap_or(f64::NAN)
                )?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// One row per portfolio and loss threshold: the share of paths losing at
/// least that fraction of the starting value, and its standard error.
pub fn write_losses_csv(out: &mut impl Write, portfolios: &[PortfolioSummary]) -> io::Result<()> {
    writeln!(out, "portfolio,threshold,probability,standard_error")?;
    for p in portfolios {
        for l in &p.loss_probabilities {
            writeln!(
                out,
                "{},{},{},{}",
                p.name, l.threshold, l.probability, l.standard_error
            )?;
        }
    }
    Ok(())
}

/// p0..p100 of each portfolio's P&L and max drawdown, long format.
pub fn write_quantiles_csv(
    out: &mut impl Write,
    portfolios: &[PortfolioSummary],
) -> io::Result<()> {
    writeln!(out, "portfolio,quantile,pnl,max_drawdown")?;
    for p in portfolios {
        for (q, (pnl, drawdown)) in p
            .pnl_quantiles
            .iter()
            .zip(&p.max_drawdown_quantiles)
            .enumerate()
        {
            writeln!(out, "{},{},{pnl},{drawdown}", p.name, q as f64 / 100.0)?;
        }
    }
    Ok(())
}

/// The console tables: risk per portfolio, the stress table, the worst path of each.
pub fn print_portfolios(out: &mut impl Write, portfolios: &[PortfolioSummary]) -> io::Result<()> {
    if portfolios.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<20} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "portfolio",
        "base",
        "ret p05",
        "ret p50",
        "VaR95",
        "ES95",
        "VaR99",
        "ES99",
        "maxDD p50",
        "maxDD p95",
        "underwater"
    )?;
    for p in portfolios {
        let level = |i: usize| p.risk.get(i);
        writeln!(
            out,
            "{:<20} {:>4} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            p.name,
            p.base_currency,
            percent(p.pnl.percentile("p05")),
            percent(p.pnl.percentile("p50")),
            percent(level(0).map_or(f64::NAN, |r| r.var)),
            percent(level(0).map_or(f64::NAN, |r| r.es)),
            percent(level(1).map_or(f64::NAN, |r| r.var)),
            percent(level(1).map_or(f64::NAN, |r| r.es)),
            percent(p.max_drawdown.percentile("p50")),
            percent(p.max_drawdown.percentile("p95")),
            format!(
                "{:.1} mo",
                p.longest_under_water_years.percentile("p50") * 12.0
            ),
        )?;
    }
    if let Some(first) = portfolios.first().filter(|p| !p.stress.is_empty()) {
        // Wide enough for "NAME re-hedged", so every column stays aligned.
        let width = portfolios
            .iter()
            .filter(|p| is_rehedged_different(p))
            .map(|p| p.name.len() + " re-hedged".len())
            .chain(portfolios.iter().map(|p| p.name.len()))
            .fold(20, usize::max);
        writeln!(out)?;
        write!(out, "{:<width$}", "stress P&L")?;
        for s in &first.stress {
            write!(out, " {:>11}", s.stress)?;
        }
        writeln!(out)?;
        for p in portfolios {
            write!(out, "{:<width$}", p.name)?;
            for s in &p.stress {
                write!(out, " {:>11}", percent(s.pnl))?;
            }
            writeln!(out)?;
        }
        for p in portfolios.iter().filter(|p| is_rehedged_different(p)) {
            write!(out, "{:<width$}", format!("{} re-hedged", p.name))?;
            for s in &p.stress {
                write!(out, " {:>11}", percent(s.pnl_rehedged))?;
            }
            writeln!(out)?;
        }
    }
    writeln!(out)?;
    for p in portfolios.iter().filter(|p| p.paths_left_range > 0) {
        writeln!(out, "note: {}", left_range_note(p))?;
    }
    for p in portfolios {
        if let Some(w) = p.worst_paths.first() {
            let mut regimes = w.spells();
            if regimes.len() > LISTED_SWITCHES {
                let more = regimes.len() - LISTED_SWITCHES;
                regimes.truncate(LISTED_SWITCHES);
                regimes.push(format!("and {more} more switches"));
            }
            writeln!(
                out,
                "worst path of {}: #{} {} (maxDD {}): {}; events: {}",
                p.name,
                w.path,
                percent(w.pnl),
                percent(w.max_drawdown),
                regimes.join(", "),
                w.events_text()
            )?;
        }
    }
    Ok(())
}

/// Regime spells of a worst path told on the console; the report lists them all.
const LISTED_SWITCHES: usize = 12;

/// Says on how many paths a portfolio's valuation stopped, and why.
pub fn left_range_note(p: &PortfolioSummary) -> String {
    format!(
        "on {} paths the valuation of {} left the range it can be valued in (a value beyond {:e} times the start, or a rate or yield below {:.0}%) and stopped there; those paths keep the figures of their last step valued. The scenario's rates or volatilities are far outside any market.",
        p.paths_left_range,
        p.name,
        stormglass_core::portfolio::tracker::MAX_VALUE_GROWTH,
        stormglass_core::portfolio::tracker::MIN_VALUED_RATE * 100.0
    )
}

/// Whether resizing the portfolio's hedges to the shocked values changes any of
/// its stress results.
pub fn is_rehedged_different(p: &PortfolioSummary) -> bool {
    p.stress
        .iter()
        .any(|s| (s.pnl_rehedged - s.pnl).abs() > 1e-12)
}

/// Ends a CSV header with a `stress.<name>` column per stress vector (every
/// portfolio carries the same ones).
fn stress_header(out: &mut impl Write, portfolios: &[PortfolioSummary]) -> io::Result<()> {
    let stresses: Vec<&str> = portfolios
        .first()
        .map(|p| p.stress.iter().map(|s| s.stress.as_str()).collect())
        .unwrap_or_default();
    for s in &stresses {
        write!(out, ",stress.{s}")?;
    }
    writeln!(out)
}

/// The portfolio table `name` (`portfolios`, `positions` or `quantiles`), as
/// its CSV file in a run folder.
pub fn portfolio_csv(
    out: &mut impl Write,
    name: &str,
    portfolios: &[PortfolioSummary],
) -> io::Result<()> {
    match name {
        "portfolios" => write_portfolios_csv(out, portfolios),
        "positions" => write_positions_csv(out, portfolios),
        "quantiles" => write_quantiles_csv(out, portfolios),
        "losses" => write_losses_csv(out, portfolios),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no table `{other}`"),
        )),
    }
}
