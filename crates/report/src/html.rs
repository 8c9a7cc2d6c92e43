//! `report.html`: one self-contained page (charts inline as SVG, styles inline,
//! no script, no font or image fetched) that opens in any browser and can be
//! forwarded as it is. The markup is also well-formed XML, which keeps it easy
//! to check mechanically.

use std::fmt::Write;

use super::charts::{percent, Chart};
use super::page::{escape, Page};
use super::roles::display_name;
use stormglass_core::figures::KeyNumbers;
use stormglass_core::portfolio::{PortfolioSummary, StressResult};
use stormglass_core::scenario::Scenario;
use stormglass_core::Summary;

/// Keys a scenario adds to the file it extends that the page lists one by one.
const MAX_ADDED_KEYS_SHOWN: usize = 40;

/// A probability with its 95% sampling interval half-width, in percent.
fn probability(p: Option<f64>, paths: u64) -> String {
    match p {
        Some(p) if paths > 0 => {
            let half = 1.96 * (p * (1.0 - p) / paths as f64).sqrt();
            format!("{:.1}% ± {:.1}", p * 100.0, half * 100.0)
        }
        _ => "n/a".into(),
    }
}

/// The key numbers of one or more runs, one column each: `(label, paths, numbers)`.
pub fn key_numbers(page: &mut Page, runs: &[(String, u64, &KeyNumbers)]) {
    let Some((_, _, first)) = runs.first() else {
        return;
    };
    let equity = display_name(&first.equity);
    let dollar = display_name(&first.dollar);
    let mut header = vec!["probability over the horizon".to_string()];
    header.extend(runs.iter().map(|(label, _, _)| label.clone()));
    if runs.len() == 2 {
        header.push("difference".into());
    }
    let row = |what: String, pick: &dyn Fn(&KeyNumbers) -> Option<f64>| {
        let mut cells = vec![what];
        cells.extend(
            runs.iter()
                .map(|(_, paths, k)| probability(pick(k), *paths)),
        );
        if let [(_, _, a), (_, _, b)] = runs {
            cells.push(match (pick(a), pick(b)) {
                (Some(a), Some(b)) => format!("{:+.1} pp", (a - b) * 100.0),
                _ => "n/a".into(),
            });
        }
        cells
    };
    // Runs compared may set different thresholds: each is named, in run order.
    let thresholds = |pick: &dyn Fn(&KeyNumbers) -> f64| {
        let mut texts: Vec<String> = Vec::new();
        for (_, _, k) in runs {
            let text = percent_threshold(pick(k));
            if !texts.contains(&text) {
                texts.push(text);
            }
        }
        texts.join(" / ")
    };
    let rows = vec![
        row(
            format!(
                "{equity} falls {} or more from a peak",
                thresholds(&|k| k.equity_drawdown_threshold)
            ),
            &|k| k.p_equity_drawdown,
        ),
        row(
            format!(
                "{dollar} ends {} or more lower",
                thresholds(&|k| k.dollar_fall_threshold)
            ),
            &|k| k.p_dollar_fall,
        ),
        row("both on the same path".into(), &|k| k.p_joint_selloff),
    ];
    page.table("key-numbers", &header, &rows);

    let mut assets: Vec<&str> = Vec::new();
    for (_, _, k) in runs {
        for t in &k.tail_risk {
            if !assets.contains(&t.asset.as_str()) {
                assets.push(&t.asset);
            }
        }
    }
    if assets.is_empty() {
        return;
    }
    // A figure of run `k`: VaR (`shortfall = false`) or ES at level 0 (95%) or 1 (99%).
    let figure = |k: &KeyNumbers, asset: &str, level: usize, shortfall: bool| {
        let t = k
            .tail_risk
            .iter()
            .find(|t| t.asset == asset)
            .and_then(|t| t.levels.get(level))?;
        Some(if shortfall {
            t.expected_shortfall
        } else {
            t.value_at_risk
        })
    };
    let measures = [
        ("VaR 95%", 0, false),
        ("ES 95%", 0, true),
        ("VaR 99%", 1, false),
        ("ES 99%", 1, true),
    ];
    let cell = |v: Option<f64>| v.map_or("n/a".to_string(), percent);
    let mut rows = Vec::new();
    let header = if runs.len() == 1 {
        // One run: assets down, measures across.
        for asset in &assets {
            let mut cells = vec![display_name(asset).to_string()];
            for (_, level, shortfall) in measures {
                cells.push(cell(figure(first, asset, level, shortfall)));
            }
            rows.push(cells);
        }
        let mut header = vec!["loss over the horizon".to_string()];
        header.extend(measures.iter().map(|(name, _, _)| name.to_string()));
        header
    } else {
        // Several runs: one column each, as in the table above.
        for asset in &assets {
            for (name, level, shortfall) in measures {
                let mut cells = vec![format!("{} {name}", display_name(asset))];
                let values: Vec<Option<f64>> = runs
                    .iter()
                    .map(|(_, _, k)| figure(k, asset, level, shortfall))
                    .collect();
                cells.extend(values.iter().map(|v| cell(*v)));
                if let [Some(a), Some(b)] = values[..] {
                    cells.push(format!("{:+.1} pp", (a - b) * 100.0));
                } else if runs.len() == 2 {
                    cells.push("n/a".into());
                }
                rows.push(cells);
            }
        }
        let mut header = vec!["loss over the horizon".to_string()];
        header.extend(runs.iter().map(|(label, _, _)| label.clone()));
        if runs.len() == 2 {
            header.push("difference".into());
        }
        header
    };
    page.table("tail-risk", &header, &rows);
    page.paragraph(
        "note",
        "Probabilities are shares of all simulated paths, with the half-width of their 95% sampling interval. VaR is the loss over the whole horizon exceeded on 5% (1%) of paths; ES the average loss on those paths.",
    );
}

/// Where the run starts: its dates, and the user's levels file if it gave one.
fn starting_point(summary: &Summary) -> String {
    let info = &summary.scenario;
    let from = format!(
        "From {} to {} ({} trading days).",
        info.start_date, info.end_date, summary.steps
    );
    match &info.levels {
        Some(levels) => format!(
            "{from} Starting levels from {} as of {} (sha256 {}).",
            levels.file, levels.as_of, levels.sha256
        ),
        None => format!("{from} Starting levels as the scenario file gives them."),
    }
}

/// The run's report page.
pub fn run_page(scenario: &Scenario, summary: &Summary, charts: &[Chart]) -> String {
    let info = &summary.scenario;
    let mut page = Page::new(&format!("{}: Stormglass scenario report", info.name));
    page.heading(1, "top", &info.name);
    page.paragraph("description", &info.description);
    page.paragraph("note", &starting_point(summary));
    for note in &info.notes {
        page.paragraph("note", note);
    }

    page.heading(2, "key-numbers", "Key numbers");
    key_numbers(
        &mut page,
        &[("this run".into(), summary.paths, &summary.key_numbers)],
    );

    if let Some(section) = super::realism::html_summary(summary) {
        page.heading(2, "realism", "Against history");
        page.push(&section);
    }

    let missing = missing_roles(scenario);
    if !missing.is_empty() {
        page.paragraph(
            "note",
            &format!(
                "Not in this scenario, so left out of this report: {} (the assets and regime the report is about are set in the scenario's [report] table).",
                missing.join(", ")
            ),
        );
    }
    let intros: Vec<(&str, String)> = signal_table(summary)
        .map(|table| ("Signals", table))
        .into_iter()
        .chain(portfolio_tables(summary).map(|tables| (super::charts::PORTFOLIO_SECTION, tables)))
        .chain(
            super::strategies::html_tables(summary)
                .map(|tables| (super::charts::STRATEGY_SECTION, tables)),
        )
        .collect();
    page.charts(charts, &intros);

    if let Some(table) = super::realism::html_table(summary) {
        page.heading(2, "realism-figures", "Every figure beside history");
        page.push(&table);
    }

    page.heading(2, "parameters", "What this scenario changes");
    if !scenario.settings.is_empty() {
        page.paragraph("note", "Set for this run (--set), over the file:");
        let rows: Vec<Vec<String>> = scenario
            .settings
            .iter()
            .map(|a| {
                let file = a.in_file.as_deref().unwrap_or("(not set)");
                vec![
                    a.setting.key.clone(),
                    shorten(file),
                    shorten(&a.setting.value.to_string()),
                ]
            })
            .collect();
        page.table(
            "parameters",
            &["key".into(), "in the file".into(), "this run".into()],
            &rows,
        );
    }
    match &scenario.overrides {
        None => page.paragraph("note", "(none: this scenario extends no other file)"),
        Some(overrides) => {
            let parent = overrides.parent.file_name().map_or_else(
                || overrides.parent.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            // A file that builds on a small one (starting levels, say) adds
            // hundreds of keys: list the changed ones, and the added ones only
            // while they fit on a page.
            let (changed, added): (Vec<_>, Vec<_>) =
                overrides.changes.iter().partition(|c| c.parent.is_some());
            let show_added = added.len() <= MAX_ADDED_KEYS_SHOWN;
            let mut rows: Vec<Vec<String>> = changed
                .iter()
                .map(|c| {
                    let parent = c.parent.as_deref().unwrap_or_default();
                    vec![c.key.clone(), shorten(parent), shorten(&c.child)]
                })
                .collect();
            if show_added {
                rows.extend(
                    added
                        .iter()
                        .map(|c| vec![c.key.clone(), "(not set)".into(), shorten(&c.child)]),
                );
            }
            if rows.is_empty() {
                page.paragraph(
                    "note",
                    &format!("It extends {parent} and sets none of its keys differently."),
                );
            } else {
                page.paragraph(
                    "note",
                    &format!("Keys set differently from {parent}, which it extends:"),
                );
                page.table(
                    "parameters",
                    &["key".into(), parent.clone(), info.name.clone()],
                    &rows,
                );
            }
            if !show_added {
                page.paragraph(
                    "note",
                    &format!(
                        "It also sets {} keys that {parent} leaves unset; scenario.resolved.toml next to this page holds the scenario in full.",
                        added.len()
                    ),
                );
            }
        }
    }

    page.heading(2, "run", "Run");
    let mut meta = String::from("<dl class=\"meta\">\n");
    let items = [
        ("seed", summary.seed.to_string()),
        ("paths", summary.paths.to_string()),
        (
            "horizon",
            format!(
                "{} to {} ({} trading days, {} calendar)",
                info.start_date, info.end_date, summary.steps, info.calendar
            ),
        ),
        ("scenario SHA-256", info.hash.clone()),
        ("engine", format!("{} {}", summary.engine, summary.version)),
        (
            "run time",
            format!(
                "{:.2} s ({:.1}M path-steps/s), charts and page not included",
                summary.wall_time_seconds,
                summary.path_steps_per_second / 1e6
            ),
        ),
    ];
    for (term, value) in items {
        let _ = writeln!(meta, "<dt>{}</dt><dd>{}</dd>", escape(term), escape(&value));
    }
    meta.push_str("</dl>\n");
    page.push(&meta);
    page.finish()
}

/// A value cut to a table cell's length (the full text is in the TOML files).
fn shorten(value: &str) -> String {
    const MAX: usize = 160;
    if value.chars().count() <= MAX {
        value.to_string()
    } else {
        let cut: String = value.chars().take(MAX).collect();
        format!("{cut} …")
    }
}

/// The names in the report's roles that the scenario lacks (defaults unset).
fn missing_roles(scenario: &Scenario) -> Vec<String> {
    let roles = &scenario.report;
    let mut missing: Vec<String> = Vec::new();
    let assets = [&roles.equity, &roles.dollar]
        .into_iter()
        .chain(&roles.core_assets)
        .chain(
            roles
                .foreign_views
                .iter()
                .flat_map(|v| [&v.unhedged, &v.hedged]),
        );
    for name in assets {
        if scenario.asset_index(name).is_none() && !missing.contains(name) {
            missing.push(name.clone());
        }
    }
    if scenario.regimes.len() > 1 && scenario.regime_index(&roles.stress_regime).is_none() {
        missing.push(format!("the regime {}", roles.stress_regime));
    }
    missing
}

/// A share as a table cell: percent with one decimal, "n/a" when undefined.
fn share_cell(v: f64) -> String {
    if v.is_nan() {
        "n/a".to_string()
    } else {
        format!("{:.1}%", v * 100.0)
    }
}

/// The signals' hit-rate table, when the scenario has signals.
fn signal_table(summary: &Summary) -> Option<String> {
    let target = summary.signal_target.as_ref()?;
    if summary.signals.is_empty() {
        return None;
    }
    let rate = share_cell;
    let mut page = Page::new("");
    page.paragraph(
        "note",
        &format!(
            "Each signal's first firing is judged against a {:.0}% {} drawdown within {} trading days, which happens on {} of paths. Hit, false-alarm and late rates are shares of the judged first firings (firings too close to the horizon's end to judge are left out); coverage is the share of drawdowns a signal called in time.",
            target.target_drawdown * 100.0,
            display_name(&target.equity),
            target.within_days,
            rate(target.probability_of_drawdown)
        ),
    );
    let rows: Vec<Vec<String>> = summary
        .signals
        .iter()
        .map(|s| {
            let lead = s.lead_time_years.percentile("p50")
                * stormglass_core::scenario::calendar::TRADING_DAYS_PER_YEAR;
            vec![
                s.name.to_uppercase(),
                s.description.clone(),
                rate(s.probability_fired),
                rate(s.hit_rate),
                rate(s.false_alarm_rate),
                rate(s.late_rate),
                rate(s.coverage),
                if lead.is_nan() {
                    "n/a".into()
                } else {
                    format!("{lead:.0}")
                },
            ]
        })
        .collect();
    page.table(
        "signals",
        &[
            "signal".into(),
            "what it watches".into(),
            "fires on".into(),
            "hit rate".into(),
            "false alarms".into(),
            "late".into(),
            "coverage".into(),
            "median lead (days)".into(),
        ],
        &rows,
    );
    Some(page.body)
}

/// The portfolios' risk and stress tables, when the run has portfolios.
fn portfolio_tables(summary: &Summary) -> Option<String> {
    if summary.portfolios.is_empty() {
        return None;
    }
    let percent = share_cell;
    let mut page = Page::new("");
    page.paragraph(
        "note",
        "Each portfolio over the whole horizon, in its own base currency, as a share of its starting value. VaR is the loss exceeded on 5% (1%) of paths; ES the average loss on those paths.",
    );
    for p in summary.portfolios.iter().filter(|p| p.paths_left_range > 0) {
        page.paragraph("note warning", &super::portfolios::left_range_note(p));
    }
    fn risk(p: &PortfolioSummary, level: f64) -> Option<&stormglass_core::portfolio::RiskRow> {
        p.risk.iter().find(|r| (r.level - level).abs() < 1e-9)
    }
    let var_es = |p: &PortfolioSummary, level: f64| {
        risk(p, level)
            .map(|r| (percent(r.var), percent(r.es)))
            .unwrap_or_else(|| ("n/a".into(), "n/a".into()))
    };
    let rows: Vec<Vec<String>> = summary
        .portfolios
        .iter()
        .map(|p| {
            let (var95, es95) = var_es(p, 0.95);
            let (var99, es99) = var_es(p, 0.99);
            vec![
                p.name.clone(),
                p.base_currency.clone(),
                percent(p.pnl.percentile("p50")),
                percent(p.pnl.mean),
                var95,
                es95,
                var99,
                es99,
                percent(p.max_drawdown.percentile("p50")),
                percent(p.max_drawdown.percentile("p95")),
                months(p.longest_under_water_years.percentile("p50")),
                months(p.longest_under_water_years.percentile("p90")),
            ]
        })
        .collect();
    page.table(
        "portfolio-risk numbers",
        &[
            "portfolio".into(),
            "base".into(),
            "median P&L".into(),
            "mean P&L".into(),
            "VaR 95%".into(),
            "ES 95%".into(),
            "VaR 99%".into(),
            "ES 99%".into(),
            "median max drawdown".into(),
            "95th pct max drawdown".into(),
            "longest under water, median".into(),
            "longest under water, 90th pct".into(),
        ],
        &rows,
    );
    page.paragraph(
        "note",
        "Longest under water: the longest stretch of closes below the book's running peak on a path, in months (21 trading days).",
    );

    page.heading(3, "portfolio-amounts", "In each book's base currency");
    let amount = |p: &PortfolioSummary, level: f64, es: bool| {
        risk(p, level).map_or("n/a".into(), |r| {
            money(
                &p.base_currency,
                if es { r.es_amount } else { r.var_amount },
            )
        })
    };
    let rows: Vec<Vec<String>> = summary
        .portfolios
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                money(&p.base_currency, p.value),
                money(&p.base_currency, p.pnl.percentile("p50") * p.value),
                amount(p, 0.95, false),
                amount(p, 0.95, true),
                amount(p, 0.99, false),
                amount(p, 0.99, true),
            ]
        })
        .collect();
    page.table(
        "portfolio-amounts numbers",
        &[
            "portfolio".into(),
            "value".into(),
            "median P&L".into(),
            "VaR 95%".into(),
            "ES 95%".into(),
            "VaR 99%".into(),
            "ES 99%".into(),
        ],
        &rows,
    );

    let mut thresholds: Vec<f64> = Vec::new();
    for p in &summary.portfolios {
        for l in &p.loss_probabilities {
            if !thresholds.iter().any(|t| (t - l.threshold).abs() < 1e-12) {
                thresholds.push(l.threshold);
            }
        }
    }
    thresholds.sort_by(f64::total_cmp);
    if !thresholds.is_empty() {
        page.heading(3, "portfolio-losses", "How likely each loss is");
        let mut header = vec!["portfolio".to_string()];
        header.extend(
            thresholds
                .iter()
                .map(|t| format!("loses {} or more", percent_threshold(*t))),
        );
        let rows: Vec<Vec<String>> = summary
            .portfolios
            .iter()
            .map(|p| {
                let mut row = vec![p.name.clone()];
                row.extend(thresholds.iter().map(|t| {
                    p.loss_probabilities
                        .iter()
                        .find(|l| (l.threshold - t).abs() < 1e-12)
                        .map_or("-".into(), |l| {
                            format!(
                                "{:.1}% ± {:.1}",
                                l.probability * 100.0,
                                1.96 * l.standard_error * 100.0
                            )
                        })
                }));
                row
            })
            .collect();
        page.table("portfolio-losses numbers", &header, &rows);
        page.paragraph(
            "note",
            "The share of paths on which the book ends the horizon down by at least each fraction of its starting value, ± 1.96 standard errors (a dash: the book's file does not ask for that threshold).",
        );
    }

    page.heading(3, "portfolio-positions", "Where the tail loss comes from");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for p in &summary.portfolios {
        let contribution = |level: f64, position: &str| {
            risk(p, level)
                .and_then(|r| r.es_contributions.get(position))
                .map_or("n/a".into(), |c| percent(*c))
        };
        for q in &p.positions {
            rows.push(vec![
                p.name.clone(),
                q.name.clone(),
                q.kind.to_string(),
                q.currency.clone(),
                percent(q.weight),
                if q.hedge_ratio > 0.0 {
                    percent(q.hedge_ratio)
                } else {
                    "-".into()
                },
                percent(q.pnl.mean),
                contribution(0.95, &q.name),
                contribution(0.99, &q.name),
            ]);
        }
    }
    page.table(
        "portfolio-positions numbers",
        &[
            "portfolio".into(),
            "position".into(),
            "kind".into(),
            "currency".into(),
            "weight".into(),
            "hedged".into(),
            "mean P&L".into(),
            "ES 95% contribution".into(),
            "ES 99% contribution".into(),
        ],
        &rows,
    );
    page.paragraph(
        "note",
        "Each position's average P&L on the paths in the book's 5% (1%) tail, as a share of the book's starting value: a book's contributions add up to its ES.",
    );

    page.heading(3, "portfolio-worst", "The worst paths, replayed");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for p in &summary.portfolios {
        for w in &p.worst_paths {
            rows.push(vec![
                p.name.clone(),
                format!("#{}", w.path),
                percent(w.pnl),
                percent(w.max_drawdown),
                w.spells().join(" → "),
                w.events_text(),
            ]);
        }
    }
    page.push("<details><summary>The five worst paths of each book: regimes and events on the way</summary>\n");
    page.table(
        "portfolio-worst",
        &[
            "portfolio".into(),
            "path".into(),
            "P&L".into(),
            "max drawdown".into(),
            "regimes".into(),
            "events".into(),
        ],
        &rows,
    );
    page.push("</details>\n");

    let stresses: Vec<String> = summary.portfolios[0]
        .stress
        .iter()
        .map(|s| s.stress.clone())
        .collect();
    if !stresses.is_empty() {
        page.heading(3, "portfolio-stress", "Stress tests");
        page.paragraph(
            "note",
            "Deterministic stress tests: each episode's instantaneous shocks applied to today's portfolio, beside the simulation. A hedged portfolio's second line resizes each currency hedge to its position's shocked value, as a hedge rebalanced through the episode would be; the first keeps the starting notional.",
        );
        let mut header = vec!["portfolio".to_string()];
        header.extend(stresses.iter().cloned());
        let mut rows: Vec<Vec<String>> = Vec::new();
        for p in &summary.portfolios {
            let lines: &[(&str, StressFigure)] = if super::portfolios::is_rehedged_different(p) {
                &[("", |s| s.pnl), (" re-hedged", |s| s.pnl_rehedged)]
            } else {
                &[("", |s| s.pnl)]
            };
            for (suffix, figure) in lines {
                let mut row = vec![format!("{}{suffix}", p.name)];
                row.extend(stresses.iter().map(|name| {
                    p.stress
                        .iter()
                        .find(|s| &s.stress == name)
                        .map_or_else(|| "n/a".into(), |s| percent(figure(s)))
                }));
                rows.push(row);
            }
        }
        page.table("portfolio-stress", &header, &rows);
    }
    Some(page.body)
}

/// One figure of a stress result: its P&L with the hedges as they stand, or re-hedged.
type StressFigure = fn(&StressResult) -> f64;

/// A threshold as a percentage, with a decimal only where it has one (20%, 12.5%).
fn percent_threshold(fraction: f64) -> String {
    let percent = fraction * 100.0;
    if (percent - percent.round()).abs() < 1e-9 {
        format!("{percent:.0}%")
    } else {
        format!("{}%", (percent * 100.0).round() / 100.0)
    }
}

/// Years as months of 21 trading days, as a table cell.
fn months(years: f64) -> String {
    if years.is_finite() {
        format!("{:.1} months", years * 12.0)
    } else {
        "n/a".into()
    }
}

/// An amount with its currency and thousands separators: "USD 340,817".
fn money(currency: &str, amount: f64) -> String {
    if !amount.is_finite() {
        return "n/a".into();
    }
    let whole = format!("{:.0}", amount.abs());
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if amount < 0.0 && whole != "0" {
        "-"
    } else {
        ""
    };
    format!("{currency} {sign}{grouped}")
}

#[cfg(test)]
mod tests {
    use super::money;

    #[test]
    fn amounts_carry_their_currency_and_separators() {
        assert_eq!(money("USD", 340816.66), "USD 340,817");
        assert_eq!(money("EUR", -1234567.0), "EUR -1,234,567");
        assert_eq!(money("JPY", 999.4), "JPY 999");
        assert_eq!(money("USD", -0.2), "USD 0");
        assert_eq!(money("USD", f64::NAN), "n/a");
    }
}
