//! The folder `stormglass calibrate history` writes: the scenario fragment,
//! `calibration.json`, the smoothed probabilities, their chart and a page that
//! shows them together.

use std::path::Path;

use super::charts::{self, Chart, SmoothedProbabilities};
use super::page::write_report;
use super::page::{escape, Page};
use stormglass_core::calibrate::history::HistoryFit;
use stormglass_core::history::Episode;
use stormglass_core::output::{write_atomically, write_bytes, OutputError};

/// Where the fit's data came from, for the records in every file.
pub struct Provenance<'a> {
    /// The command line that ran the fit.
    pub command: &'a str,
    pub data_file: &'a Path,
    pub data_sha256: &'a str,
}

/// The scenario fragment `fitted.toml` holds: the fit's scenario under a
/// header that says where it came from. [`HistoryFit::check_fragment`]
/// judges it before [`write_history_fit`] writes it.
pub fn history_fragment(fit: &HistoryFit, name: &str, provenance: &Provenance<'_>) -> String {
    let header = format!(
        "Fitted by stormglass {} with `{}`\nfrom {} (sha256 {}).\nlog likelihood {:.4}, AIC {:.2}, BIC {:.2}; calibration.json has the standard errors.",
        stormglass_core::VERSION,
        provenance.command,
        provenance.data_file.display(),
        provenance.data_sha256,
        fit.log_likelihood,
        fit.aic,
        fit.bic
    );
    fit.scenario_toml(name, &header)
}

/// Writes `dir` atomically (replacing a previous calibration's folder only
/// with `force`), `fragment` ([`history_fragment`]) as `fitted.toml`.
pub fn write_history_fit(
    dir: &Path,
    force: bool,
    fit: &HistoryFit,
    fragment: &str,
    provenance: &Provenance<'_>,
    episodes: &[Episode],
) -> Result<(), OutputError> {
    let calibration = fit.report(
        provenance.command,
        provenance.data_file.display().to_string(),
        provenance.data_sha256.to_string(),
    );
    let json = serde_json::to_string_pretty(&calibration).map_err(|e| OutputError::Io {
        path: dir.join("calibration.json"),
        source: std::io::Error::other(e),
    })? + "\n";
    let chart = charts::smoothed_probabilities(&SmoothedProbabilities {
        dates: &fit.changes.dates,
        series: (&fit.changes.names[0], &fit.changes.levels[0][1..]),
        regimes: &fit.regimes,
        smoothed: &fit.smoothed,
        episodes: episodes
            .iter()
            .filter_map(|e| Some((e.name.clone(), toml_date(&e.start)?, toml_date(&e.end)?)))
            .collect(),
    })?;
    let page = page(fit, &chart, provenance);
    write_atomically(dir, force, |staging| {
        write_bytes(&staging.join("fitted.toml"), fragment.as_bytes())?;
        write_bytes(&staging.join("calibration.json"), json.as_bytes())?;
        write_bytes(
            &staging.join("smoothed_probabilities.csv"),
            fit.smoothed_csv().as_bytes(),
        )?;
        write_report(
            staging,
            "calibration.html",
            &page,
            std::slice::from_ref(&chart),
        )
    })?;
    Ok(())
}

fn toml_date(value: &toml::value::Datetime) -> Option<chrono::NaiveDate> {
    let date = value.date?;
    chrono::NaiveDate::from_ymd_opt(date.year.into(), date.month.into(), date.day.into())
}

fn page(fit: &HistoryFit, chart: &Chart, provenance: &Provenance<'_>) -> String {
    let changes = &fit.changes;
    let mut page = Page::new(&format!(
        "Stormglass calibration: {} regimes",
        fit.regimes.len()
    ));
    page.heading(
        1,
        "top",
        &format!(
            "{} regimes fitted to {}",
            fit.regimes.len(),
            changes.names.join(", ")
        ),
    );
    page.paragraph(
        "meta",
        &format!(
            "{} {} changes, {}, from {} (sha256 {}). Command: {}. Stormglass {}.",
            changes.rows.len(),
            changes.frequency.name(),
            changes.period(),
            provenance.data_file.display(),
            provenance.data_sha256,
            provenance.command,
            stormglass_core::VERSION
        ),
    );
    page.paragraph(
        "meta",
        &format!(
            "Log likelihood {:.4}, AIC {:.2}, BIC {:.2}, {} parameters. The scenario fragment is fitted.toml; every estimate with its standard error is in calibration.json.",
            fit.log_likelihood,
            fit.aic,
            fit.bic,
            fit.parameters.len()
        ),
    );
    let mut header = vec![
        "regime".to_string(),
        "long-run share".into(),
        "expected stay (years)".into(),
    ];
    for name in &changes.names {
        header.push(format!("{name} annual mean"));
        header.push(format!("{name} annual vol"));
    }
    let rows: Vec<Vec<String>> = fit
        .figures
        .iter()
        .map(|f| {
            let mut row = vec![
                f.name.clone(),
                format!("{:.1}%", 100.0 * f.long_run_share),
                if f.expected_duration_years.is_finite() {
                    format!("{:.2}", f.expected_duration_years)
                } else {
                    "never leaves".into()
                },
            ];
            for (mean, vol) in f.annual_mean.iter().zip(&f.annual_vol) {
                row.push(format!("{mean:.4}"));
                row.push(format!("{vol:.4}"));
            }
            row
        })
        .collect();
    page.heading(2, "regimes", "Regimes");
    page.table("numbers", &header, &rows);
    page.heading(2, "parameters", "Estimates");
    page.table(
        "numbers",
        &[
            "parameter".into(),
            "estimate".into(),
            "standard error".into(),
        ],
        &fit.parameters
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    format!("{:.6}", p.value),
                    p.standard_error
                        .map_or("on its bound".into(), |e| format!("{e:.6}")),
                ]
            })
            .collect::<Vec<_>>(),
    );
    page.charts(std::slice::from_ref(chart), &[]);
    page.push(&format!(
        "<p class=\"note\">{}</p>\n",
        escape("Means and vols are of the series' log changes (differences for --levels series), annualised by the data's frequency.")
    ));
    page.finish()
}
