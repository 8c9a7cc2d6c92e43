//! `stormglass calibrate history`: regimes fitted to a user's history, with
//! switching means, variances and correlations, and turned into a scenario.
//!
//! The series are standardised before the fit (each change less its mean, over
//! its sd), so that one step size suits every parameter of the optimiser; the
//! parameters, their standard errors and the likelihood are mapped back exactly
//! (the standardisation is linear, so the maximum and the information
//! transform with it).

use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use nalgebra::DMatrix;
use serde::Serialize;

pub use super::data::asset_name;
use super::data::{Changes, Transform};
use super::markov::{self, Params, Regression};

/// The most regimes a fit takes.
pub const MAX_REGIMES: usize = 5;
/// Observations a fit needs per free parameter.
pub const OBSERVATIONS_PER_PARAMETER: usize = 5;
/// EM steps before BFGS takes over, at most.
const MAX_EM: usize = 500;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FitError {
    #[error("{0}")]
    Data(#[from] super::data::DataError),
    #[error("{what}: {message}")]
    Fit { what: String, message: String },
    /// [`crate::engine::request_cancel`] stopped the fit.
    #[error("interrupted")]
    Cancelled,
    /// The fit ran, but the scenario it makes is one `validate` refuses.
    #[error("{what}: the fitted scenario is not one Stormglass can run:\n{}", problems.join("\n"))]
    Unrunnable { what: String, problems: Vec<String> },
}

/// Regime names, calmest first.
pub fn regime_names(k: usize) -> Vec<String> {
    let names: &[&str] = match k {
        1 => &["all"],
        2 => &["calm", "turbulent"],
        3 => &["calm", "normal", "turbulent"],
        4 => &["calm", "normal", "stressed", "turbulent"],
        _ => &["calm", "normal", "choppy", "stressed", "turbulent"],
    };
    names.iter().take(k).map(|n| n.to_string()).collect()
}

/// One fitted parameter with its standard error from the observed information.
#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    pub name: String,
    pub value: f64,
    /// `None` (null in calibration.json) for a transition probability the fit
    /// put on its bound, 0, where the likelihood carries no information.
    pub standard_error: Option<f64>,
}

/// A regime's figures, per year: what a scenario's `by_regime` takes.
#[derive(Debug, Clone, Serialize)]
pub struct RegimeFigures {
    pub name: String,
    /// The long-run share of time in it (the chain's ergodic distribution).
    pub long_run_share: f64,
    /// Null where the regime is never left (one regime, or a stay
    /// probability of 1): `duration_note` says so.
    #[serde(serialize_with = "super::targets::finite_or_null")]
    pub expected_duration_periods: f64,
    #[serde(serialize_with = "super::targets::finite_or_null")]
    pub expected_duration_years: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_note: Option<&'static str>,
    /// Annual rates of leaving it for each other regime.
    pub intensities: Vec<(String, f64)>,
    /// Per series, the mean change a year (log for prices).
    pub annual_mean: Vec<f64>,
    /// Per series, the sd of changes scaled to a year.
    pub annual_vol: Vec<f64>,
    /// `correlations[a][b]` of the changes.
    pub correlations: Vec<Vec<f64>>,
}

/// A finished fit, in the data's own units.
#[derive(Debug, Clone)]
pub struct HistoryFit {
    pub changes: Changes,
    pub regimes: Vec<String>,
    pub params: Params,
    pub log_likelihood: f64,
    pub aic: f64,
    pub bic: f64,
    pub parameters: Vec<Parameter>,
    pub figures: Vec<RegimeFigures>,
    /// `[t][j]`: the smoothed probability of regime `j` at `changes.dates[t]`.
    pub smoothed: Vec<Vec<f64>>,
    pub starts: usize,
    pub em_iterations: usize,
    pub bfgs_iterations: u64,
}

fn fit_error(what: &str, message: impl Into<String>) -> FitError {
    FitError::Fit {
        what: what.to_string(),
        message: message.into(),
    }
}

/// Fits `regimes` regimes to `changes`.
pub fn fit(changes: Changes, regimes: usize) -> Result<HistoryFit, FitError> {
    let what = changes_label(&changes);
    if !(1..=MAX_REGIMES).contains(&regimes) {
        return Err(fit_error(
            &what,
            format!("--regimes {regimes} is out of range; valid: 1 to {MAX_REGIMES}"),
        ));
    }
    let (n, d) = (changes.rows.len(), changes.names.len());
    let mean: Vec<f64> = (0..d)
        .map(|k| changes.rows.iter().map(|r| r[k]).sum::<f64>() / n as f64)
        .collect();
    let sd: Vec<f64> = (0..d)
        .map(|k| {
            let ss: f64 = changes.rows.iter().map(|r| (r[k] - mean[k]).powi(2)).sum();
            (ss / (n as f64 - 1.0)).sqrt()
        })
        .collect();
    let standardised: Vec<Vec<f64>> = changes
        .rows
        .iter()
        .map(|r| (0..d).map(|k| (r[k] - mean[k]) / sd[k]).collect())
        .collect();
    let model = Regression {
        y: standardised,
        x: vec![vec![1.0]; n],
        regimes,
        switching_covariance: true,
    };
    let parameters = model.parameter_count();
    let needed = OBSERVATIONS_PER_PARAMETER * parameters;
    if n < needed {
        return Err(fit_error(
            &what,
            format!(
                "{n} observations for {parameters} parameters; {regimes} regimes of {d} series need at least {needed} ({OBSERVATIONS_PER_PARAMETER} a parameter): give more rows, fewer series or fewer regimes"
            ),
        ));
    }
    let starts = starts(&model.y, 1, regimes);
    let best = model.fit_best(&starts, MAX_EM);
    if crate::engine::cancel_requested() {
        return Err(FitError::Cancelled);
    }
    let best = best.ok_or_else(|| {
        fit_error(
            &what,
            format!("the fit did not converge from any of {} starts (a regime collapsed onto too few observations); try fewer regimes or a lower --frequency", starts.len()),
        )
    })?;
    let order = calmest_first(&best.params);
    let standard = permute(&best.params, &order);
    let filtered = model
        .filter(&standard)
        .ok_or_else(|| fit_error(&what, "the fitted likelihood is not finite"))?;
    let (smoothed, _) = model.smooth(&standard, &filtered);
    let errors = model.standard_errors(&standard);
    if crate::engine::cancel_requested() {
        return Err(FitError::Cancelled);
    }
    let errors = errors.ok_or_else(|| {
        fit_error(
            &what,
            "the fit did not converge to a maximum: the observed information is not positive definite (a regime may hold too few observations, or two regimes be alike); try fewer regimes or a lower --frequency",
        )
    })?;
    let params = unscale(&standard, &mean, &sd);
    let log_likelihood =
        filtered.log_likelihood - n as f64 * sd.iter().map(|s| s.ln()).sum::<f64>();
    let names = regime_names(regimes);
    let parameters = named_parameters(
        &model,
        &standard,
        &errors,
        &names,
        &changes.names,
        &mean,
        &sd,
    );
    let figures = regime_figures(&params, &names, changes.frequency.per_year());
    let count = parameters.len() as f64;
    Ok(HistoryFit {
        aic: 2.0 * count - 2.0 * log_likelihood,
        bic: count * (n as f64).ln() - 2.0 * log_likelihood,
        changes,
        regimes: names,
        params,
        log_likelihood,
        parameters,
        figures,
        smoothed,
        starts: starts.len(),
        em_iterations: best.em_iterations,
        bfgs_iterations: best.bfgs_iterations,
    })
}

fn changes_label(changes: &Changes) -> String {
    format!(
        "{} {} changes of {}",
        changes.rows.len(),
        changes.frequency.name(),
        changes.names.join(", ")
    )
}

/// Starting points: observations ranked by how far they stray (their squared
/// norm, averaged over a window of 5, 20 and 60, each regime kept with
/// probability 0.9; or the observation's own, kept with 0.6) or by where they
/// sit (the first series averaged over 20, kept with 0.9), split into `k`
/// equal groups, each group's mean and covariance a regime's (the mean as the
/// first of `regressors` coefficients, the others zero).
pub fn starts(y: &[Vec<f64>], regressors: usize, k: usize) -> Vec<Params> {
    let n = y.len();
    let d = y.first().map_or(0, Vec::len);
    let spread: Vec<f64> = y.iter().map(|r| r.iter().map(|v| v * v).sum()).collect();
    let level: Vec<f64> = y.iter().map(|r| r[0]).collect();
    // Persistent regimes are found from rolling windows; regimes that switch
    // almost every period (a mixture) only from the observations themselves,
    // with a transition matrix close to independence.
    let mut scores: Vec<(Vec<f64>, f64)> = [5, 20, 60]
        .iter()
        .map(|w| (rolling_mean(&spread, *w), 0.9))
        .collect();
    scores.push((rolling_mean(&level, 20), 0.9));
    scores.push((spread.clone(), 0.6));
    if k == 1 {
        scores.truncate(1);
    }
    scores
        .iter()
        .map(|(score, stay)| {
            let stay = if k == 1 { 1.0 } else { *stay };
            let transition: Vec<Vec<f64>> = (0..k)
                .map(|i| {
                    (0..k)
                        .map(|j| {
                            if i == j {
                                stay
                            } else {
                                (1.0 - stay) / (k - 1) as f64
                            }
                        })
                        .collect()
                })
                .collect();
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|a, b| score[*a].total_cmp(&score[*b]));
            let mut coefficients = Vec::with_capacity(k);
            let mut covariances = Vec::with_capacity(k);
            for g in 0..k {
                let members = &order[g * n / k..(g + 1) * n / k];
                let count = members.len().max(1) as f64;
                let mean: Vec<f64> = (0..d)
                    .map(|c| members.iter().map(|&t| y[t][c]).sum::<f64>() / count)
                    .collect();
                let mut covariance = DMatrix::<f64>::identity(d, d) * 1e-3;
                for &t in members {
                    for a in 0..d {
                        for b in 0..d {
                            covariance[(a, b)] += (y[t][a] - mean[a]) * (y[t][b] - mean[b]) / count;
                        }
                    }
                }
                coefficients.push(DMatrix::from_fn(regressors, d, |a, c| {
                    if a == 0 {
                        mean[c]
                    } else {
                        0.0
                    }
                }));
                covariances.push(covariance);
            }
            Params {
                transition,
                coefficients,
                covariances,
            }
        })
        .collect()
}

fn rolling_mean(values: &[f64], window: usize) -> Vec<f64> {
    let n = values.len();
    let half = window / 2;
    (0..n)
        .map(|t| {
            let (from, to) = (t.saturating_sub(half), (t + half + 1).min(n));
            values[from..to].iter().sum::<f64>() / (to - from) as f64
        })
        .collect()
}

/// Regime indices ordered by total variance (standardised, so every series
/// weighs alike), then by the first series' mean.
fn calmest_first(params: &Params) -> Vec<usize> {
    let mut order: Vec<usize> = (0..params.covariances.len()).collect();
    order.sort_by(|&a, &b| {
        let trace = |j: usize| params.covariances[j].trace();
        trace(a)
            .total_cmp(&trace(b))
            .then(params.coefficients[a][(0, 0)].total_cmp(&params.coefficients[b][(0, 0)]))
    });
    order
}

/// The same model with regime `order[j]` as regime `j`.
pub fn permute(params: &Params, order: &[usize]) -> Params {
    Params {
        transition: order
            .iter()
            .map(|&i| order.iter().map(|&j| params.transition[i][j]).collect())
            .collect(),
        coefficients: order
            .iter()
            .map(|&j| params.coefficients[j].clone())
            .collect(),
        covariances: order
            .iter()
            .map(|&j| params.covariances[j].clone())
            .collect(),
    }
}

fn unscale(params: &Params, mean: &[f64], sd: &[f64]) -> Params {
    let d = mean.len();
    Params {
        transition: params.transition.clone(),
        coefficients: params
            .coefficients
            .iter()
            .map(|b| DMatrix::from_fn(1, d, |_, c| mean[c] + sd[c] * b[(0, c)]))
            .collect(),
        covariances: params
            .covariances
            .iter()
            .map(|s| DMatrix::from_fn(d, d, |a, b| sd[a] * sd[b] * s[(a, b)]))
            .collect(),
    }
}

fn named_parameters(
    model: &Regression,
    standard: &Params,
    errors: &[f64],
    regimes: &[String],
    series: &[String],
    mean: &[f64],
    sd: &[f64],
) -> Vec<Parameter> {
    let (k, d) = (regimes.len(), series.len());
    let natural = model.natural(standard);
    let mut out = Vec::with_capacity(natural.len());
    let mut at = 0;
    let mut push = |name: String, value: f64, error: f64| {
        out.push(Parameter {
            name,
            value,
            standard_error: error.is_finite().then_some(error),
        })
    };
    for from in regimes {
        for to in &regimes[..k - 1] {
            push(format!("p[{from}->{to}]"), natural[at], errors[at]);
            at += 1;
        }
    }
    for regime in regimes {
        for c in 0..d {
            let value = mean[c] + sd[c] * natural[at];
            push(
                format!("mean[{regime}].{}", series[c]),
                value,
                sd[c] * errors[at],
            );
            at += 1;
        }
    }
    for regime in regimes {
        for a in 0..d {
            for b in 0..=a {
                let scale = sd[a] * sd[b];
                let name = if a == b {
                    format!("variance[{regime}].{}", series[a])
                } else {
                    format!("covariance[{regime}].{}.{}", series[a], series[b])
                };
                push(name, scale * natural[at], scale * errors[at]);
                at += 1;
            }
        }
    }
    out
}

/// Why a regime has no expected duration.
const NEVER_LEFT: &str = "the regime is never left (the only regime, or a stay probability of 1), so its expected duration is unbounded: null";

/// `years` of a regime's expected stay as text, or "never leaves" where it has
/// no bound.
pub fn stay_text(years: f64) -> String {
    if years.is_finite() {
        format!("{years:.2} years")
    } else {
        "never leaves".into()
    }
}

fn regime_figures(params: &Params, names: &[String], per_year: f64) -> Vec<RegimeFigures> {
    let shares = markov::ergodic(&params.transition).unwrap_or_else(|| vec![0.0; names.len()]);
    let durations = markov::expected_durations(&params.transition);
    names
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let covariance = &params.covariances[j];
            let d = covariance.nrows();
            let stay = params.transition[j][j];
            // The rate whose chance of staying a period is P[j][j], split over
            // the exits in proportion to P[j][i].
            let leaving = -stay.ln() * per_year;
            let intensities = names
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != j)
                .map(|(i, other)| {
                    let share = params.transition[j][i] / (1.0 - stay).max(f64::MIN_POSITIVE);
                    (other.clone(), leaving * share)
                })
                .collect();
            RegimeFigures {
                name: name.clone(),
                long_run_share: shares[j],
                expected_duration_periods: durations[j],
                expected_duration_years: durations[j] / per_year,
                duration_note: (!durations[j].is_finite()).then_some(NEVER_LEFT),
                intensities,
                annual_mean: (0..d)
                    .map(|c| params.coefficients[j][(0, c)] * per_year)
                    .collect(),
                annual_vol: (0..d)
                    .map(|c| (covariance[(c, c)] * per_year).sqrt())
                    .collect(),
                correlations: (0..d)
                    .map(|a| {
                        (0..d)
                            .map(|b| {
                                covariance[(a, b)]
                                    / (covariance[(a, a)] * covariance[(b, b)]).sqrt()
                            })
                            .collect()
                    })
                    .collect(),
            }
        })
        .collect()
}

/// `calibration.json`.
#[derive(Debug, Serialize)]
pub struct Report<'a> {
    pub version: &'a str,
    pub command: &'a str,
    pub data: DataReport<'a>,
    pub regimes: usize,
    pub log_likelihood: f64,
    pub aic: f64,
    pub bic: f64,
    pub parameter_count: usize,
    pub parameters: &'a [Parameter],
    pub transition_matrix: &'a [Vec<f64>],
    /// Null for a regime never left (`expected_durations_note` says so).
    pub expected_durations: Vec<(String, Option<f64>)>,
    pub expected_durations_years: Vec<(String, Option<f64>)>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_durations_note: Option<&'static str>,
    pub regime_figures: &'a [RegimeFigures],
    pub optimiser: OptimiserReport,
}

#[derive(Debug, Serialize)]
pub struct DataReport<'a> {
    pub file: String,
    pub sha256: String,
    pub series: &'a [String],
    pub transforms: &'a [Transform],
    pub frequency: super::data::Frequency,
    pub first_date: String,
    pub last_date: String,
    pub observations: usize,
}

#[derive(Debug, Serialize)]
pub struct OptimiserReport {
    pub method: &'static str,
    pub starts: usize,
    pub em_iterations: usize,
    pub bfgs_iterations: u64,
}

impl HistoryFit {
    pub fn report<'a>(&'a self, command: &'a str, file: String, sha256: String) -> Report<'a> {
        let named = |values: Vec<f64>| -> Vec<(String, Option<f64>)> {
            self.regimes
                .iter()
                .cloned()
                .zip(values.into_iter().map(|v| v.is_finite().then_some(v)))
                .collect()
        };
        let durations = markov::expected_durations(&self.params.transition);
        let per_year = self.changes.frequency.per_year();
        Report {
            version: crate::VERSION,
            command,
            data: DataReport {
                file,
                sha256,
                series: &self.changes.names,
                transforms: &self.changes.transforms,
                frequency: self.changes.frequency,
                first_date: self.changes.dates.first().map(|d| d.to_string()).unwrap_or_default(),
                last_date: self.changes.dates.last().map(|d| d.to_string()).unwrap_or_default(),
                observations: self.changes.rows.len(),
            },
            regimes: self.regimes.len(),
            log_likelihood: self.log_likelihood,
            aic: self.aic,
            bic: self.bic,
            parameter_count: self.parameters.len(),
            parameters: &self.parameters,
            transition_matrix: &self.params.transition,
            expected_durations_years: named(durations.iter().map(|d| d / per_year).collect()),
            expected_durations_note: durations
                .iter()
                .any(|d| !d.is_finite())
                .then_some(NEVER_LEFT),
            expected_durations: named(durations),
            regime_figures: &self.figures,
            optimiser: OptimiserReport {
                method: "EM (Hamilton 1990, Kim smoother) from each start, then BFGS with a More-Thuente line search (argmin)",
                starts: self.starts,
                em_iterations: self.em_iterations,
                bfgs_iterations: self.bfgs_iterations,
            },
        }
    }

    /// `smoothed_probabilities.csv`: a date and each regime's probability.
    pub fn smoothed_csv(&self) -> String {
        let mut out = format!("date,{}\n", self.regimes.join(","));
        for (date, row) in self.changes.dates.iter().zip(&self.smoothed) {
            out.push_str(&date.to_string());
            for p in row {
                out.push_str(&format!(",{p:.6}"));
            }
            out.push('\n');
        }
        out
    }

    /// A runnable scenario: the fitted regimes, one asset a series (a GBM for a
    /// log-changed series, an Ornstein-Uhlenbeck level for a differenced one),
    /// each regime's drift, vol and correlations, starting from the last date
    /// in the regime the data end in. A scenario `extends` it to add the rest.
    pub fn scenario_toml(&self, name: &str, header: &str) -> String {
        let per_year = self.changes.frequency.per_year();
        let assets: Vec<String> = self.changes.assets.clone();
        let last = *self.changes.dates.last().expect("a fit has observations");
        let start = next_weekday(last);
        let mut out = String::new();
        for line in header.lines() {
            out.push_str(&format!("# {line}\n").replace("# \n", "#\n"));
        }
        out.push_str(&format!(
            "\n[scenario]\nname = {}\ndescription = {}\nstart_date = {start}\nend_date = {}\n",
            quote(name),
            quote(&format!(
                "{} regimes fitted to {} {} changes of {}, {} to {}",
                self.regimes.len(),
                self.changes.rows.len(),
                self.changes.frequency.name(),
                self.changes.names.join(", "),
                self.changes.dates[0],
                last
            )),
            start + Duration::days(365)
        ));
        let now = initial_distribution(self.smoothed.last().expect("a fit has observations"));
        out.push_str("\n# Where the data end: the smoothed probability of each regime on the last date.\n[regime_chain]\ninitial_distribution = { ");
        out.push_str(
            &self
                .regimes
                .iter()
                .zip(now)
                .map(|(r, p)| format!("{r} = {p:.6}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
        out.push_str(" }\n");
        // Every fitted asset gets the report's fan chart and distributions;
        // an `--as` name (spx, dxy, us10y, ...) also its key numbers and anchors.
        out.push_str(&format!(
            "\n[report]\ncore_assets = [{}]\n",
            assets
                .iter()
                .map(|a| quote(a))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let d = assets.len();
        if d > 1 {
            out.push_str(&format!(
                "\n[correlation]\ndrivers = [{}]\n",
                assets
                    .iter()
                    .map(|a| quote(a))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for figures in &self.figures {
            out.push_str(&format!(
                "\n# {:.1}% of the time in the long run; {}.\n[regimes.{}]\n",
                100.0 * figures.long_run_share,
                if figures.expected_duration_periods.is_finite() {
                    format!(
                        "stays {:.2} years on average ({:.1} {} periods)",
                        figures.expected_duration_years,
                        figures.expected_duration_periods,
                        self.changes.frequency.name()
                    )
                } else {
                    "never leaves".into()
                },
                figures.name
            ));
            out.push_str(&format!(
                "description = {}\n",
                quote(&format!(
                    "Fitted: annual vol {}",
                    assets
                        .iter()
                        .zip(&figures.annual_vol)
                        .map(|(a, v)| format!("{a} {:.1}%", 100.0 * v))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            ));
            if !figures.intensities.is_empty() {
                out.push_str(&format!(
                    "intensities = {{ {} }}\n",
                    figures
                        .intensities
                        .iter()
                        .map(|(to, rate)| format!("{to} = {}", round(*rate)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            for a in 0..d {
                let pairs: Vec<String> = (a + 1..d)
                    .map(|b| format!("{} = {}", assets[b], round(figures.correlations[a][b])))
                    .collect();
                if !pairs.is_empty() {
                    out.push_str(&format!(
                        "correlation_pairs.{} = {{ {} }}\n",
                        assets[a],
                        pairs.join(", ")
                    ));
                }
            }
        }
        for (c, asset) in assets.iter().enumerate() {
            let levels = &self.changes.levels[c];
            let initial = *levels.last().expect("a fit has observations");
            out.push_str(&format!(
                "\n[assets.{asset}]\ndescription = {}\n",
                quote(&format!("Fitted to `{}`", self.changes.names[c]))
            ));
            match self.changes.transforms[c] {
                Transform::LogChange => {
                    out.push_str(&format!(
                        "process = \"gbm\"\ninitial = {}\n",
                        round(initial)
                    ));
                    // A GBM's drift is arithmetic: the log change's mean plus half its variance.
                    let drift =
                        |f: &RegimeFigures| f.annual_mean[c] + 0.5 * f.annual_vol[c].powi(2);
                    let calm = &self.figures[0];
                    out.push_str(&format!(
                        "drift = {}\nvol = {}\n",
                        round(drift(calm)),
                        round(calm.annual_vol[c])
                    ));
                    for f in &self.figures[1..] {
                        out.push_str(&format!(
                            "by_regime.{} = {{ drift = {}, vol = {} }}\n",
                            f.name,
                            round(drift(f)),
                            round(f.annual_vol[c])
                        ));
                    }
                }
                Transform::Difference => {
                    let (mean, reversion) = ar1_reversion(levels, per_year);
                    out.push_str(&format!(
                        "# Levels revert to their sample mean at the rate a pooled AR(1) of the sampled levels gives;\n# each regime's vol is the sd of its changes scaled to a year.\nprocess = \"ou\"\ninitial = {}\nmean = {}\nmean_reversion = {}\n",
                        round(initial),
                        round(mean),
                        round(reversion)
                    ));
                    out.push_str(&format!("vol = {}\n", round(self.figures[0].annual_vol[c])));
                    for f in &self.figures[1..] {
                        out.push_str(&format!(
                            "by_regime.{} = {{ vol = {} }}\n",
                            f.name,
                            round(f.annual_vol[c])
                        ));
                    }
                }
            }
        }
        out
    }
}

impl HistoryFit {
    /// Checks `fragment` (this fit's [`HistoryFit::scenario_toml`]) with the
    /// validator every scenario goes through, so that a fit is written only
    /// when `stormglass validate` accepts what it writes. A refusal lists each
    /// problem in the data's terms (which column, which regime) and what to
    /// change: fewer regimes, `--levels`, a rescaled column, later data.
    pub fn check_fragment(&self, fragment: &str) -> Result<(), FitError> {
        let error = match crate::scenario::load_str(fragment, Path::new("fitted.toml")) {
            Ok(_) => return Ok(()),
            Err(error) => error,
        };
        let diagnostics = error.diagnostics();
        let mut problems: Vec<String> = if diagnostics.is_empty() {
            vec![format!("  {error}")]
        } else {
            diagnostics
                .iter()
                .map(|d| format!("  {}: {}", d.key, d.message))
                .collect()
        };
        let mut advice: Vec<String> = Vec::new();
        let mut advise = |text: String| {
            if !advice.contains(&text) {
                advice.push(text);
            }
        };
        let assets: Vec<String> = self.changes.assets.clone();
        for d in diagnostics {
            let parts: Vec<&str> = d.key.split('.').collect();
            let column = parts
                .get(1)
                .and_then(|a| assets.iter().position(|x| x == a))
                .filter(|_| parts[0] == "assets");
            match (parts[0], column) {
                ("scenario", _) => advise(format!(
                    "the data end on {}, and a fitted scenario starts on the next weekday: give data that end between 1900 and 2200",
                    self.changes.dates.last().map(|d| d.to_string()).unwrap_or_default()
                )),
                ("assets", Some(c)) => {
                    let column = &self.changes.names[c];
                    let field = parts.last().copied().unwrap_or_default();
                    match (self.changes.transforms[c], field) {
                        (_, "initial" | "mean") => advise(format!(
                            "`{column}` is outside the levels a scenario takes: rescale the column (percent rather than basis points, billions rather than units)"
                        )),
                        (Transform::LogChange, _) => advise(format!(
                            "`{column}` moves too much for a price with {} regimes: if it is a level (an index of volatility, a rate, a spread), pass --levels {column}; otherwise fit fewer regimes or a lower --frequency",
                            self.regimes.len()
                        )),
                        (Transform::Difference, _) => advise(format!(
                            "`{column}` changes too much for a level with {} regimes: rescale the column (percent rather than basis points), or fit fewer regimes",
                            self.regimes.len()
                        )),
                    }
                }
                ("regimes" | "regime_chain", _) => advise(format!(
                    "a regime the fit leaves within a couple of trading days is no regime a scenario can step through (the data hold fewer persistent regimes): fit fewer regimes than {}",
                    self.regimes.len()
                )),
                _ => advise(format!(
                    "fit fewer regimes than {}, pass --levels for a series that is a level, or rescale a column",
                    self.regimes.len()
                )),
            }
        }
        if advice.is_empty() {
            advice.push(format!(
                "fit fewer regimes than {}, pass --levels for a series that is a level, or rescale a column",
                self.regimes.len()
            ));
        }
        problems.push("What to change:".into());
        problems.extend(advice.into_iter().map(|a| format!("  {a}")));
        Err(FitError::Unrunnable {
            what: changes_label(&self.changes),
            problems,
        })
    }
}

/// Probabilities in millionths that sum to one exactly: the largest takes
/// what rounding the others leaves.
fn initial_distribution(probabilities: &[f64]) -> Vec<f64> {
    let mut millionths: Vec<i64> = probabilities
        .iter()
        .map(|p| (p * 1e6).round() as i64)
        .collect();
    let largest = (0..millionths.len())
        .max_by_key(|&j| millionths[j])
        .unwrap_or(0);
    let rest: i64 = millionths.iter().sum::<i64>() - millionths[largest];
    millionths[largest] = 1_000_000 - rest;
    millionths.iter().map(|m| *m as f64 / 1e6).collect()
}

/// The sample mean of `levels` and the OU reversion rate of a pooled AR(1),
/// `-ln(phi)` a period, at least 0.01 a year (a unit root reverts slowly, not never).
fn ar1_reversion(levels: &[f64], per_year: f64) -> (f64, f64) {
    let n = levels.len() as f64;
    let mean = levels.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for w in levels.windows(2) {
        num += (w[1] - mean) * (w[0] - mean);
        den += (w[0] - mean).powi(2);
    }
    let phi = if den > 0.0 { num / den } else { 0.0 };
    let reversion = if phi > 0.0 && phi < 1.0 {
        -phi.ln() * per_year
    } else if phi >= 1.0 {
        0.0
    } else {
        per_year
    };
    (mean, reversion.clamp(0.01, 50.0))
}

fn next_weekday(date: NaiveDate) -> NaiveDate {
    match date.weekday() {
        Weekday::Sat => date + Duration::days(2),
        Weekday::Sun => date + Duration::days(1),
        _ => date,
    }
}

fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// Six significant figures: what a scenario file needs, without float noise.
fn round(x: f64) -> String {
    // Written as TOML's own inf and nan, for the validator to refuse with
    // the key, rather than as a 0 that would run a different model.
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    if x == 0.0 {
        return "0.0".into();
    }
    let digits = 6 - 1 - x.abs().log10().floor() as i32;
    let text = if digits > 0 {
        format!("{:.*}", digits as usize, x)
    } else {
        format!("{x:.1}")
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').to_string()
    } else {
        text
    };
    if text.ends_with('.') {
        format!("{text}0")
    } else {
        text
    }
}
