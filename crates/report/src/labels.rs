//! Words and units for the names the sweep and sensitivity pages show: a
//! figure's name (`spx.return.p05`) as a label and the unit its values read in,
//! a key path (`assets.dxy.betas.real_rate`) as a label, and numbers written
//! without the float noise of their binary form.

use super::charts::Scale;
use super::roles::display_name;
use stormglass_core::sweep::AssetReading;

/// How a figure of many runs reads.
#[derive(Debug, Clone, PartialEq)]
pub struct FigureReading {
    pub label: String,
    pub scale: Scale,
    /// A level (written as the fan charts write levels) rather than a change,
    /// a share or a count.
    pub level: bool,
}

impl FigureReading {
    /// A value in its unit: "39.9%", "125 bp", "18.6".
    pub fn value(&self, v: f64) -> String {
        self.value_at(v, None)
    }

    /// As [`FigureReading::value`], with enough decimals that ticks `step`
    /// apart read differently.
    pub fn tick(&self, v: f64, step: f64) -> String {
        self.value_at(v, Some(step))
    }

    fn value_at(&self, v: f64, step: Option<f64>) -> String {
        if !v.is_finite() {
            return "-".into();
        }
        let (factor, suffix, default) = self.unit();
        let decimals = step.map_or(default, |step| decimals_for(step * factor));
        format!("{}{suffix}", fixed(v * factor, decimals))
    }

    /// A span of values (a swing), in the unit of a change: a level's span
    /// in percentage points or points, as its changes read.
    pub fn swing(&self, span: f64) -> String {
        let change = FigureReading {
            level: false,
            ..self.clone()
        };
        change.value_at(span, None)
    }

    /// `value ± 1.96 se`, the ± in the value's unit.
    pub fn with_se(&self, v: f64, se: f64) -> String {
        if !v.is_finite() {
            return "-".into();
        }
        if !se.is_finite() {
            return self.value(v);
        }
        let (factor, suffix, default) = self.unit();
        let half = 1.96 * se * factor;
        // The ± gets one significant figure more than its size, the value as many decimals.
        let decimals = default.max(decimals_for(half));
        format!(
            "{}{suffix} ± {}",
            fixed(v * factor, decimals),
            fixed(half, decimals)
        )
    }

    /// What to multiply a value by, the unit after it, and the decimals it takes.
    fn unit(&self) -> (f64, &'static str, usize) {
        match (&self.scale, self.level) {
            (Scale::Fraction, _) => (100.0, "%", 1),
            (Scale::Decimal, true) => (100.0, "%", 2),
            (Scale::Decimal, false) => (1e4, " bp", 0),
            (Scale::VolPoints, _) => (100.0, "", 1),
            (Scale::Units(_), _) => (1.0, "", 4),
        }
    }

    /// The axis title: the label and its unit.
    pub fn axis(&self) -> String {
        let unit = match (&self.scale, self.level) {
            (Scale::Fraction, _) | (Scale::Decimal, true) => "%".to_string(),
            (Scale::Decimal, false) => "bp".to_string(),
            (Scale::VolPoints, _) => "points".to_string(),
            (Scale::Units(unit), _) if !unit.is_empty() => unit.clone(),
            (Scale::Units(_), _) => return self.label.clone(),
        };
        format!("{} ({unit})", self.label)
    }
}

/// Decimals that tell values `step` apart, at most 6.
fn decimals_for(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) {
        return 0;
    }
    (-step.log10()).ceil().clamp(0.0, 6.0) as usize
}

/// A figure's name in words, and its unit.
pub fn figure(name: &str, assets: &[AssetReading]) -> FigureReading {
    let share = |label: String| FigureReading {
        label,
        scale: Scale::Fraction,
        level: false,
    };
    let plain = |label: String| FigureReading {
        label,
        scale: Scale::Units(String::new()),
        level: false,
    };
    match name {
        "p_equity_drawdown" => return share("P(equity drawdown past its threshold)".into()),
        "p_dollar_fall" => return share("P(dollar falls past its threshold)".into()),
        "p_joint_selloff" => return share("P(both on one path)".into()),
        _ => {}
    }
    if let Some((portfolio, figure)) = name
        .strip_prefix(stormglass_core::figures::catalogue::PORTFOLIO_PREFIX)
        .and_then(|rest| rest.split_once('.'))
    {
        return share(portfolio_figure(portfolio, figure));
    }
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        ["regime", regime, "probability_entered"] => share(format!("P(enters {regime})")),
        ["regime", regime, "time_share", stat] => {
            share(format!("time in {regime}, {}", statistic(stat)))
        }
        ["event", event, "probability_fired"] => share(format!("P({event} fires)")),
        ["event", event, "mean_firings"] => plain(format!("{event}: firings a path")),
        ["realism", ..] => plain(name.to_string()),
        [asset, tail] if tail.starts_with("var") || tail.starts_with("es") => {
            let (what, level) = match tail.strip_prefix("var") {
                Some(level) => ("VaR", level),
                None => ("ES", &tail[2..]),
            };
            share(format!("{} {what} {level}%", display_name(asset)))
        }
        [asset, figure, stat] => {
            let Some(reading) = assets.iter().find(|a| a.name == *asset) else {
                return plain(name.to_string());
            };
            let what = match *figure {
                "return" => "return",
                "change" => "change",
                "drawdown" => "max drawdown",
                "vol" => "realised vol",
                "level" => "level at the end",
                "min" => "lowest level",
                "max" => "highest level",
                "worst_day" => "worst day",
                "best_day" => "best day",
                other => other,
            };
            let level = matches!(*figure, "level" | "min" | "max");
            let relative = reading.is_log && !level;
            FigureReading {
                label: format!("{} {what}, {}", display_name(asset), statistic(stat)),
                scale: Scale::of(relative, &reading.unit, reading.implied_vol),
                level,
            }
        }
        _ => plain(name.to_string()),
    }
}

/// A portfolio's figure in words: "us_60_40 ES 95%", "us_60_40 return, 5th
/// percentile", "P(us_60_40 loses more than 10%)".
fn portfolio_figure(portfolio: &str, figure: &str) -> String {
    if let Some(threshold) = figure.strip_prefix("loss_prob.") {
        let percent = threshold
            .parse::<f64>()
            .map_or(threshold.to_string(), |t| number(t * 100.0));
        return format!("P({portfolio} loses more than {percent}%)");
    }
    for (prefix, what) in [("var", "VaR"), ("es", "ES")] {
        if let Some(level) = figure.strip_prefix(prefix) {
            return format!("{portfolio} {what} {level}%");
        }
    }
    match figure.split_once('.') {
        Some(("return", stat)) => format!("{portfolio} return, {}", statistic(stat)),
        Some(("drawdown", stat)) => format!("{portfolio} max drawdown, {}", statistic(stat)),
        _ => format!("{portfolio} {figure}"),
    }
}

/// "p05" as "5th percentile", "mean" and "sd" as they are.
fn statistic(stat: &str) -> String {
    match stat.strip_prefix('p').and_then(|p| p.parse::<u32>().ok()) {
        Some(p) => format!("{}{} percentile", p, ordinal_suffix(p)),
        None if stat == "sd" => "standard deviation".into(),
        None => stat.to_string(),
    }
}

fn ordinal_suffix(n: u32) -> &'static str {
    match (n % 10, n % 100) {
        (1, r) if r != 11 => "st",
        (2, r) if r != 12 => "nd",
        (3, r) if r != 13 => "rd",
        _ => "th",
    }
}

/// A key path in words: `assets.dxy.betas.real_rate` as "DXY: beta to
/// real_rate", `events.tariff_wave.rate_per_year` as "tariff_wave: rate per year".
pub fn key(path: &str) -> String {
    let words = |segments: &[&str]| segments.join(" ").replace('_', " ");
    let parts: Vec<&str> = path.split('.').collect();
    match parts.as_slice() {
        ["assets", asset, "betas", driver] => {
            format!("{}: beta to {}", display_name(asset), display_name(driver))
        }
        ["assets", asset, rest @ ..] if !rest.is_empty() => {
            format!("{}: {}", display_name(asset), words(rest))
        }
        ["events", event, rest @ ..] if !rest.is_empty() => {
            format!("{event}: {}", words(rest))
        }
        ["regimes", regime, rest @ ..] if !rest.is_empty() => {
            format!("{regime}: {}", words(rest))
        }
        ["flows", rest @ ..] if !rest.is_empty() => format!("flow loop: {}", words(rest)),
        ["mechanisms", mechanism] => format!("mechanism {mechanism}"),
        _ => path.to_string(),
    }
}

/// A number as written in a file: the shortest text that reads back as the
/// value rounded to 12 significant figures, so `0.1 + 0.01` prints as 0.11,
/// not 0.11000000000000001.
pub fn number(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return format!("{v}");
    }
    let rounded: f64 = format!("{v:.11e}").parse().unwrap_or(v);
    format!("{rounded}")
}

/// A file name's stem from a figure's name: `spx.return.p05` as `spx_return_p05`.
pub fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `value` with `decimals` decimals, never "-0.00": a figure that rounds to
/// zero reads as zero, whatever side of it the unrounded value lies.
pub fn fixed(value: f64, decimals: usize) -> String {
    let text = format!("{value:.decimals$}");
    match text.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assets() -> Vec<AssetReading> {
        let asset = |name: &str, is_log, unit: &str, implied_vol| AssetReading {
            name: name.into(),
            is_log,
            unit: unit.into(),
            implied_vol,
        };
        vec![
            asset("spx", true, "index points", false),
            asset("us10y", false, "decimal", false),
            asset("vix", false, "decimal", true),
        ]
    }

    #[test]
    fn numbers_print_without_float_noise() {
        assert_eq!(number(0.1 + 0.01), "0.11");
        assert_eq!(number(1.4 * 1.1), "1.54");
        assert_eq!(number(0.055 * 1.0000000000000002), "0.055");
        assert_eq!(number(8e-4), "0.0008");
        assert_eq!(number(-3.0), "-3");
        assert_eq!(number(1e20), "100000000000000000000");
    }

    #[test]
    fn figures_read_in_the_units_the_charts_use() {
        let a = assets();
        let p = figure("p_equity_drawdown", &a);
        assert_eq!(p.with_se(0.399, 0.0110), "39.9% ± 2.2");
        let r = figure("spx.return.p05", &a);
        assert_eq!(r.label, "S&P 500 return, 5th percentile");
        assert_eq!(r.value(-0.3039), "-30.4%");
        let y = figure("us10y.change.p50", &a);
        assert_eq!(y.value(0.0103), "103 bp");
        assert_eq!(y.axis(), "US 10y yield change, 50th percentile (bp)");
        let level = figure("us10y.max.p99", &a);
        assert_eq!(level.value(0.0612), "6.12%");
        let vix = figure("vix.max.p50", &a);
        assert_eq!(vix.value(0.291), "29.1");
        assert_eq!(figure("spx.var95", &a).label, "S&P 500 VaR 95%");
        let es = figure("portfolio.us_60_40.es95", &a);
        assert_eq!(es.label, "us_60_40 ES 95%");
        assert_eq!(es.value(0.3442), "34.4%");
        assert_eq!(
            figure("portfolio.us_60_40.return.p05", &a).label,
            "us_60_40 return, 5th percentile"
        );
        assert_eq!(
            figure("portfolio.us_60_40.drawdown.p95", &a).label,
            "us_60_40 max drawdown, 95th percentile"
        );
        assert_eq!(
            figure("portfolio.us_60_40.loss_prob.0.10", &a).label,
            "P(us_60_40 loses more than 10%)"
        );
    }

    #[test]
    fn ticks_take_the_decimals_their_spacing_needs() {
        let p = figure("p_equity_drawdown", &assets());
        let ticks: Vec<String> = [0.399, 0.3995, 0.4, 0.4005]
            .iter()
            .map(|v| p.tick(*v, 0.0005))
            .collect();
        assert_eq!(ticks, ["39.90%", "39.95%", "40.00%", "40.05%"]);
    }

    #[test]
    fn key_paths_read_as_words() {
        assert_eq!(key("assets.dxy.betas.real_rate"), "DXY: beta to real_rate");
        assert_eq!(
            key("events.tariff_wave.rate_per_year"),
            "tariff_wave: rate per year"
        );
        assert_eq!(key("flows.threshold"), "flow loop: threshold");
        assert_eq!(key("seed"), "seed");
    }

    #[test]
    fn file_stems_are_plain_names() {
        assert_eq!(file_stem("spx.return.p05"), "spx_return_p05");
        assert_eq!(
            file_stem("realism.us10y.1y change p50"),
            "realism_us10y_1y_change_p50"
        );
    }
}
