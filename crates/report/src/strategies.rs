//! The strategy outputs: the tables `strategies` (one row per strategy and
//! figure, beside its buy-and-hold twin), `strategy_rules`, `strategy_states`
//! and `strategy_states_by_step`, written as CSV and Parquet; the report's
//! tables of each strategy; and its console lines.
//!
//! Every figure is a fraction (0.05 is 5%): of the starting value for
//! returns, losses, turnover and costs, of the paths for shares and
//! probabilities, of the horizon's steps for time shares. Times are in years
//! of 252 trading days. Nothing is computed here that the core's
//! [`StrategySummary`] does not hold.

use std::io::{self, Write};

use chrono::NaiveDate;

use super::attribution::{difference_text, effect_text, value_text, SHOWN_SE};
use super::compare::measured_text;
use super::page::Page;
use stormglass_core::attribute::Effect;
use stormglass_core::figures::paired::Unit;
use stormglass_core::figures::strategies::{
    AgainstDrawdown, RuleSummary, StateSummary, StrategySummary, VersusHold,
};
use stormglass_core::scenario::calendar::TRADING_DAYS_PER_YEAR;
use stormglass_core::scenario::Scenario;
use stormglass_core::Summary;

/// The strategy tables, in the order the run folder lists them.
pub const TABLES: [&str; 4] = [
    "strategies",
    "strategy_rules",
    "strategy_states",
    "strategy_states_by_step",
];

/// One column of a [`Sheet`].
#[derive(Debug, Clone)]
pub enum Cells {
    Text(Vec<String>),
    /// NaN where the figure is undefined (an empty CSV cell, a Parquet null).
    Number(Vec<f64>),
    /// `None` where the count does not apply.
    Count(Vec<Option<u64>>),
    Date(Vec<NaiveDate>),
}

impl Cells {
    fn len(&self) -> usize {
        match self {
            Cells::Text(v) => v.len(),
            Cells::Number(v) => v.len(),
            Cells::Count(v) => v.len(),
            Cells::Date(v) => v.len(),
        }
    }

    fn csv(&self, row: usize) -> String {
        match self {
            Cells::Text(v) => csv_text(&v[row]),
            Cells::Number(v) if v[row].is_nan() => String::new(),
            Cells::Number(v) => v[row].to_string(),
            Cells::Count(v) => v[row].map_or(String::new(), |c| c.to_string()),
            Cells::Date(v) => v[row].to_string(),
        }
    }
}

/// A small table held by columns: what the CSV and the Parquet file of a
/// strategy table are both written from, so the two cannot differ.
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    pub columns: Vec<(String, Cells)>,
}

impl Sheet {
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    pub fn write_csv(&self, out: &mut impl Write) -> io::Result<()> {
        let names: Vec<String> = self.columns.iter().map(|(n, _)| csv_text(n)).collect();
        writeln!(out, "{}", names.join(","))?;
        for row in 0..self.rows() {
            let cells: Vec<String> = self.columns.iter().map(|(_, c)| c.csv(row)).collect();
            writeln!(out, "{}", cells.join(","))?;
        }
        Ok(())
    }

    pub fn text(&mut self, name: &str, values: Vec<String>) {
        self.columns.push((name.into(), Cells::Text(values)));
    }

    pub fn number(&mut self, name: &str, values: Vec<f64>) {
        self.columns.push((name.into(), Cells::Number(values)));
    }
}

/// A CSV field: quoted when it holds a comma, a quote or a line break
/// (descriptions and conditions are free text).
fn csv_text(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The strategy table `name` (one of [`TABLES`]) of a run; `None` for any
/// other name.
pub fn strategy_sheet(name: &str, scenario: &Scenario, summary: &Summary) -> Option<Sheet> {
    let strategies = &summary.strategies;
    Some(match name {
        "strategies" => versus_hold_sheet(strategies),
        "strategy_rules" => rules_sheet(strategies),
        "strategy_states" => states_sheet(strategies),
        "strategy_states_by_step" => by_step_sheet(strategies, &scenario.dates),
        _ => return None,
    })
}

/// One row per strategy and figure: the strategy's value, its twin's, and
/// their paired difference with both standard errors.
fn versus_hold_sheet(strategies: &[StrategySummary]) -> Sheet {
    let rows: Vec<(&StrategySummary, &VersusHold)> = strategies
        .iter()
        .flat_map(|s| s.versus_hold.iter().map(move |v| (s, v)))
        .collect();
    let text = |f: &dyn Fn(&StrategySummary, &VersusHold) -> String| {
        rows.iter().map(|(s, v)| f(s, v)).collect::<Vec<String>>()
    };
    let number =
        |f: &dyn Fn(&VersusHold) -> f64| rows.iter().map(|(_, v)| f(v)).collect::<Vec<f64>>();
    let mut sheet = Sheet::default();
    sheet.text("strategy", text(&|s, _| s.name.clone()));
    sheet.text("figure", text(&|_, v| v.name.clone()));
    sheet.text("hold_figure", text(&|_, v| v.hold_name.clone()));
    sheet.text("label", text(&|_, v| v.label.clone()));
    sheet.text("unit", text(&|_, v| v.unit.name().to_string()));
    sheet.number("strategy_value", number(&|v| v.strategy.value));
    sheet.number("strategy_se", number(&|v| v.strategy.se));
    sheet.number("hold_value", number(&|v| v.hold.value));
    sheet.number("hold_se", number(&|v| v.hold.se));
    sheet.number("difference", number(&|v| v.difference));
    sheet.number("difference_se_paired", number(&|v| v.se));
    sheet.number("difference_se_independent", number(&|v| v.independent_se));
    sheet
}

/// One row per strategy and rule: what it does, how often and when it
/// fired, and how its first firing stood against the equity's drawdown.
fn rules_sheet(strategies: &[StrategySummary]) -> Sheet {
    let rows: Vec<(&StrategySummary, &RuleSummary)> = strategies
        .iter()
        .flat_map(|s| s.rules.iter().map(move |r| (s, r)))
        .collect();
    let mut sheet = Sheet::default();
    let text = |f: &dyn Fn(&StrategySummary, &RuleSummary) -> String| {
        rows.iter().map(|(s, r)| f(s, r)).collect::<Vec<String>>()
    };
    let number =
        |f: &dyn Fn(&RuleSummary) -> f64| rows.iter().map(|(_, r)| f(r)).collect::<Vec<f64>>();
    let drawdown = |f: &dyn Fn(&AgainstDrawdown) -> f64| {
        number(&|r| r.against_drawdown.as_ref().map_or(f64::NAN, f))
    };
    sheet.text("strategy", text(&|s, _| s.name.clone()));
    sheet.text("rule", text(&|_, r| r.name.clone()));
    sheet.text("description", text(&|_, r| r.description.clone()));
    sheet.text("from_states", text(&|_, r| r.from.join(";")));
    sheet.text("to_state", text(&|_, r| r.to.clone()));
    sheet.text("conditions", text(&|_, r| r.conditions.clone()));
    sheet.number("fired_share", number(&|r| r.fired.value));
    sheet.number("fired_share_se", number(&|r| r.fired.se));
    sheet.number("mean_firings", number(&|r| r.mean_firings));
    sheet.number("first_firing_years_mean", number(&|r| r.first_years.mean));
    sheet.number(
        "first_firing_years_p50",
        number(&|r| r.first_years.percentile("p50")),
    );
    sheet.number("target_drawdown", drawdown(&|d| d.target_drawdown));
    sheet.columns.push((
        "paths_with_drawdown".into(),
        Cells::Count(
            rows.iter()
                .map(|(_, r)| r.against_drawdown.as_ref().map(|d| d.paths_with_drawdown))
                .collect(),
        ),
    ));
    sheet.number("fired_before_drawdown_share", drawdown(&|d| d.fired_before));
    sheet.number("lead_years_mean", drawdown(&|d| d.lead_years.mean));
    sheet.number(
        "lead_years_p50",
        drawdown(&|d| d.lead_years.percentile("p50")),
    );
    sheet.number(
        "fired_without_drawdown_share",
        drawdown(&|d| d.fired_without_drawdown),
    );
    sheet
}

/// A state's targets as text: `spx=0.3;gold=0.25;cash=0.45`, hedge ratios
/// after a slash where a position has one (`eu_equity=0.4/0.5`).
fn targets_text(state: &StateSummary) -> String {
    state
        .targets
        .iter()
        .map(|t| {
            if t.hedge_ratio > 0.0 {
                format!("{}={}/{}", t.position, t.weight, t.hedge_ratio)
            } else {
                format!("{}={}", t.position, t.weight)
            }
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// One row per strategy and state: its targets and the time spent in it.
fn states_sheet(strategies: &[StrategySummary]) -> Sheet {
    let rows: Vec<(&StrategySummary, &StateSummary)> = strategies
        .iter()
        .flat_map(|s| s.states.iter().map(move |state| (s, state)))
        .collect();
    let mut sheet = Sheet::default();
    let text = |f: &dyn Fn(&StrategySummary, &StateSummary) -> String| {
        rows.iter().map(|(s, t)| f(s, t)).collect::<Vec<String>>()
    };
    let number = |f: &dyn Fn(&StateSummary) -> f64| rows.iter().map(|(_, t)| f(t)).collect();
    sheet.text("strategy", text(&|s, _| s.name.clone()));
    sheet.text("state", text(&|_, t| t.name.clone()));
    sheet.text("description", text(&|_, t| t.description.clone()));
    sheet.text("targets", text(&|_, t| targets_text(t)));
    sheet.number("time_share_mean", number(&|t| t.time_share.mean));
    sheet.number(
        "time_share_p50",
        number(&|t| t.time_share.percentile("p50")),
    );
    sheet.number("ever_share", number(&|t| t.ever));
    sheet
}

/// One row per strategy, date and state: the share of paths in the state
/// during the step that starts on the date.
fn by_step_sheet(strategies: &[StrategySummary], dates: &[NaiveDate]) -> Sheet {
    let mut strategy = Vec::new();
    let mut date = Vec::new();
    let mut state = Vec::new();
    let mut share = Vec::new();
    for s in strategies {
        for (t, day) in dates.iter().enumerate() {
            for st in &s.states {
                let Some(value) = st.share_by_step.get(t) else {
                    continue;
                };
                strategy.push(s.name.clone());
                date.push(*day);
                state.push(st.name.clone());
                share.push(*value);
            }
        }
    }
    let mut sheet = Sheet::default();
    sheet.text("strategy", strategy);
    sheet.columns.push(("date".into(), Cells::Date(date)));
    sheet.text("state", state);
    sheet.number("share_of_paths", share);
    sheet
}

/// Years as trading days, rounded, as a table cell.
fn days(years: f64) -> String {
    if years.is_finite() {
        format!("{:.0}", years * TRADING_DAYS_PER_YEAR)
    } else {
        "n/a".into()
    }
}

/// A share in percent, one decimal.
fn share(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", v * 100.0)
    } else {
        "n/a".into()
    }
}

/// A share and its error: `35.2% ± 1.5`.
fn share_with_se(value: f64, se: f64) -> String {
    measured_text(
        &stormglass_core::figures::Measured { value, se },
        Unit::Share,
    )
}

/// The trading terms in words.
fn trading_text(s: &StrategySummary) -> String {
    let t = &s.trading;
    format!(
        "Trades cost {} bp of the value traded. At a rebalancing date a position trades back to its target only when it has drifted more than {} from it. A rule's orders fill {} close{} after the close it fires at; after a rule fires, none fires for {} close{}.",
        super::charts::plain(t.cost_bps),
        share(t.band),
        t.delay_steps,
        if t.delay_steps == 1 { "" } else { "s" },
        t.cooldown_steps,
        if t.cooldown_steps == 1 { "" } else { "s" },
    )
}

/// The report's tables of every strategy: the intro of the charts' section.
pub fn html_tables(summary: &Summary) -> Option<String> {
    if summary.strategies.is_empty() {
        return None;
    }
    let mut page = Page::new("");
    page.paragraph(
        "note",
        &format!("A strategy is a portfolio file with rules that move its book between states. The run values each twice on the same paths: following its rules, and holding the book as written (its buy-and-hold twin, listed under Portfolios). Values and differences ± {SHOWN_SE} standard errors; returns, VaR, ES and drawdowns are fractions of the starting value, differences in percentage points."),
    );
    for s in &summary.strategies {
        strategy_tables(&mut page, s);
    }
    Some(page.body)
}

fn strategy_tables(page: &mut Page, s: &StrategySummary) {
    page.heading(3, &format!("strategy-{}", s.name), &s.name);
    page.paragraph("description", &s.description);
    page.paragraph(
        "note",
        &format!("{} (sha256 {}). {}", s.origin, s.sha256, trading_text(s)),
    );

    let rows: Vec<Vec<String>> = s
        .states
        .iter()
        .map(|st| {
            vec![
                st.name.clone(),
                st.description.clone(),
                st.targets
                    .iter()
                    .filter(|t| t.weight != 0.0 || t.hedge_ratio != 0.0)
                    .map(|t| {
                        let hedge = if t.hedge_ratio > 0.0 {
                            format!(" ({} hedged)", share(t.hedge_ratio))
                        } else {
                            String::new()
                        };
                        format!("{} {}{hedge}", t.position, share(t.weight))
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                share(st.time_share.mean),
                share(st.ever),
            ]
        })
        .collect();
    page.table(
        "strategy-states",
        &[
            "state".into(),
            "what it holds".into(),
            "targets".into(),
            "time in it (mean)".into(),
            "paths ever in it".into(),
        ],
        &rows,
    );

    let rows: Vec<Vec<String>> = s
        .rules
        .iter()
        .map(|r| {
            let against = r.against_drawdown.as_ref();
            vec![
                r.name.clone(),
                format!("{} → {}", r.from.join(", "), r.to),
                r.conditions.clone(),
                share_with_se(r.fired.value, r.fired.se),
                format!("{:.2}", r.mean_firings),
                days(r.first_years.percentile("p50")),
                against.map_or("n/a".into(), |d| share(d.fired_before)),
                against.map_or("n/a".into(), |d| days(d.lead_years.percentile("p50"))),
                against.map_or("n/a".into(), |d| share(d.fired_without_drawdown)),
            ]
        })
        .collect();
    page.table(
        "strategy-rules",
        &[
            "rule".into(),
            "from → to".into(),
            "when".into(),
            "fires on".into(),
            "mean firings".into(),
            "first firing, median (days)".into(),
            "fired before the drawdown".into(),
            "median lead (days)".into(),
            "fired without a drawdown".into(),
        ],
        &rows,
    );
    if let Some(d) = s.rules.iter().find_map(|r| r.against_drawdown.as_ref()) {
        page.paragraph(
            "note",
            &format!(
                "Fires on: the share of paths on which the rule fired at least once. Against the drawdown: of the {} paths on which the equity fell {} from its peak (the signals' target), the share on which the rule had fired before, and how many trading days before; without a drawdown: of the paths on which it fired, the share that never fell that far.",
                d.paths_with_drawdown,
                share(d.target_drawdown)
            ),
        );
    }

    let rows: Vec<Vec<String>> = s
        .versus_hold
        .iter()
        .map(|v| {
            let effect = |se: f64| {
                effect_text(
                    &Effect {
                        off: f64::NAN,
                        difference: v.difference,
                        se,
                        independent_se: f64::NAN,
                    },
                    2,
                )
            };
            vec![
                v.label.clone(),
                measured_text(&v.strategy, v.unit),
                measured_text(&v.hold, v.unit),
                effect(v.se),
                format!(
                    "± {}",
                    difference_text(SHOWN_SE * v.independent_se, 2).trim_start_matches('+')
                ),
            ]
        })
        .collect();
    page.table(
        "strategy-versus numbers",
        &[
            "figure".into(),
            "strategy".into(),
            "buy and hold".into(),
            "difference (paired)".into(),
            "two independent runs".into(),
        ],
        &rows,
    );
    page.paragraph(
        "note",
        &format!(
            "The strategy ends ahead of buy and hold on {} of paths. The paired difference's error is far smaller than two independent runs' would be: both books are valued on the same paths (common random numbers), so the market's noise cancels in their difference and only what the rules change remains.",
            share_with_se(s.ahead.value, s.ahead.se)
        ),
    );

    let rows = vec![
        vec![
            "value traded over the horizon (mean)".into(),
            share(s.turnover.mean),
            share(s.hold_turnover.mean),
        ],
        vec![
            "costs paid (mean)".into(),
            value_text(s.costs.mean, Unit::Return, 3),
            value_text(s.hold_costs.mean, Unit::Return, 3),
        ],
        vec![
            "state changes (mean)".into(),
            format!("{:.2}", s.transitions.mean),
            "-".into(),
        ],
    ];
    page.table(
        "strategy-trading numbers",
        &[
            "trading, share of the starting value".into(),
            "strategy".into(),
            "buy and hold".into(),
        ],
        &rows,
    );
}

/// The console's strategy lines: per strategy, the paired differences of
/// ES 95%, the 5th percentile and the mean of its return from buy and hold,
/// and the share of paths it ends ahead on.
pub fn print_strategies(out: &mut impl Write, strategies: &[StrategySummary]) -> io::Result<()> {
    if strategies.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:<20} {:>18} {:>18} {:>18} {:>14}",
        "strategy - hold", "ES95", "ret p05", "ret mean", "paths ahead"
    )?;
    for s in strategies {
        let cell = |figure: &str| {
            s.versus(figure).map_or("-".to_string(), |v| {
                effect_text(
                    &Effect {
                        off: f64::NAN,
                        difference: v.difference,
                        se: v.se,
                        independent_se: f64::NAN,
                    },
                    2,
                )
            })
        };
        writeln!(
            out,
            "{:<20} {:>18} {:>18} {:>18} {:>14}",
            s.name,
            cell("es95"),
            cell("return.p05"),
            cell("return.mean"),
            share(s.ahead.value),
        )?;
    }
    writeln!(
        out,
        "(paired differences ± {SHOWN_SE} standard errors, in percentage points of the starting value)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_is_quoted_in_csv() {
        assert_eq!(csv_text("plain"), "plain");
        assert_eq!(csv_text("S3, then S5"), "\"S3, then S5\"");
        assert_eq!(csv_text("a \"quote\""), "\"a \"\"quote\"\"\"");
    }

    #[test]
    fn a_sheet_writes_empty_cells_for_missing_figures() {
        let mut sheet = Sheet::default();
        sheet.text("name", vec!["a".into(), "b, c".into()]);
        sheet.number("x", vec![0.5, f64::NAN]);
        sheet
            .columns
            .push(("n".into(), Cells::Count(vec![None, Some(3)])));
        let mut out = Vec::new();
        sheet.write_csv(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "name,x,n\na,0.5,\n\"b, c\",,3\n"
        );
    }
}
