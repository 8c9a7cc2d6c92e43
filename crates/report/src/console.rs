//! The concise table printed after a run.

use std::io::{self, Write};

use super::labels::fixed;
use stormglass_core::Summary;

/// Prints the headline figures of `summary` to `out`.
pub fn print_summary(out: &mut impl Write, summary: &Summary) -> io::Result<()> {
    writeln!(
        out,
        "{} | {} paths x {} steps ({} to {}) | seed {} | {:.2}s, {:.1}M path-steps/s",
        summary.scenario.name,
        summary.paths,
        summary.steps,
        summary.scenario.start_date,
        summary.scenario.end_date,
        summary.seed,
        summary.wall_time_seconds,
        summary.path_steps_per_second / 1e6
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<14} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "asset", "maxDD mean", "maxDD p95", "vol mean", "ret p05", "ret p50", "ret p95"
    )?;
    for a in &summary.assets {
        // As the report writes them: relative figures in percent, moves of a
        // rate held in decimals in basis points, of an implied vol in points.
        let cell = |v: f64| {
            if a.measured_as == "relative" {
                format!("{}%", fixed(v * 100.0, 2))
            } else if a.process == "impliedvol" {
                format!("{} pt", fixed(v * 100.0, 1))
            } else if a.unit.starts_with("decimal") {
                format!("{} bp", fixed(v * 1e4, 0))
            } else {
                fixed(v, 4)
            }
        };
        writeln!(
            out,
            "{:<14} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            a.name,
            cell(a.max_drawdown.mean),
            cell(a.max_drawdown.percentile("p95")),
            cell(a.realized_vol.mean),
            cell(a.terminal_move().percentile("p05")),
            cell(a.terminal_move().percentile("p50")),
            cell(a.terminal_move().percentile("p95")),
        )?;
    }
    if summary.regimes.len() > 1 {
        writeln!(out)?;
        writeln!(
            out,
            "{:<20} {:>12} {:>12} {:>14}",
            "regime", "time share", "P(entered)", "first entry p50"
        )?;
        for r in &summary.regimes {
            writeln!(
                out,
                "{:<20} {:>11.1}% {:>11.1}% {:>13.2}y",
                r.name,
                r.time_share.mean * 100.0,
                r.probability_entered * 100.0,
                r.first_entry_years.percentile("p50"),
            )?;
        }
    }
    if let Some(target) = &summary.signal_target {
        writeln!(out)?;
        writeln!(
            out,
            "signals, judged by a {:.0}% {} drawdown within {} days (it happens on {:.1}% of paths)",
            target.target_drawdown * 100.0,
            target.equity,
            target.within_days,
            target.probability_of_drawdown * 100.0
        )?;
        writeln!(
            out,
            "{:<8} {:>10} {:>10} {:>12} {:>10} {:>10} {:>14}",
            "signal", "P(fires)", "hit rate", "false alarm", "late", "coverage", "lead p50 days"
        )?;
        let percent = |v: f64| {
            if v.is_nan() {
                "-".to_string()
            } else {
                format!("{:.1}%", v * 100.0)
            }
        };
        for s in &summary.signals {
            let lead = s.lead_time_years.percentile("p50")
                * stormglass_core::scenario::calendar::TRADING_DAYS_PER_YEAR;
            writeln!(
                out,
                "{:<8} {:>10} {:>10} {:>12} {:>10} {:>10} {:>14}",
                s.name,
                percent(s.probability_fired),
                percent(s.hit_rate),
                percent(s.false_alarm_rate),
                percent(s.late_rate),
                percent(s.coverage),
                if lead.is_nan() {
                    "-".to_string()
                } else {
                    format!("{lead:.0}")
                },
            )?;
        }
    }
    super::realism::print(out, &summary.realism)?;
    super::portfolios::print_portfolios(out, &summary.portfolios)?;
    super::strategies::print_strategies(out, &summary.strategies)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fixed;

    #[test]
    fn figures_that_round_to_zero_print_without_a_sign() {
        assert_eq!(fixed(-0.00001, 4), "0.0000");
        assert_eq!(fixed(-0.0, 2), "0.00");
        assert_eq!(fixed(-0.00006, 4), "-0.0001");
        assert_eq!(fixed(-1.5, 1), "-1.5");
        assert_eq!(fixed(f64::NAN, 2), "NaN");
    }
}
