//! The cross-border flow loop and the currencies portfolios are valued in.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use super::*;

pub(super) fn build_flows(
    raw: &RawScenario,
    asset_names: &[String],
    assets: &[Asset],
    check: &mut Checker<'_>,
) -> Option<Flows> {
    let flows = raw.flows.as_ref()?;
    let log_asset = |check: &mut Checker<'_>, field: &str, name: &str| {
        let index = check.lookup(&format!("flows.{field}"), "asset", name, asset_names)?;
        if !assets[index].is_log() {
            check.error(format!("flows.{field}"), format!("`{name}` must be a log-price asset (gbm, heston, beta): flows read its returns"));
            return None;
        }
        Some(index)
    };
    let equity = log_asset(check, "equity", &flows.equity);
    let currency = log_asset(check, "currency", &flows.currency);
    if equity.is_some() && equity == currency {
        check.error("flows.currency", "must differ from flows.equity");
    }
    let result = Flows {
        equity: equity.unwrap_or(0),
        currency: currency.unwrap_or(0),
        half_life_days: check.range(
            "flows.half_life_days",
            flows.half_life_days.unwrap_or(126.0),
            Closed(1.0),
            Closed(2520.0),
        ),
        threshold: check.range_explained(
            "flows.threshold",
            flows.threshold.unwrap_or(0.1),
            Closed(0.0),
            Open(1.0),
            " (0.08 = selling starts once the currency loss passes 8%)",
        ),
        equity_impact: check.range(
            "flows.equity_impact",
            flows.equity_impact.unwrap_or(0.0),
            Closed(0.0),
            Closed(100.0),
        ),
        currency_impact: check.range(
            "flows.currency_impact",
            flows.currency_impact.unwrap_or(0.0),
            Closed(0.0),
            Closed(100.0),
        ),
        max_pressure: check.range(
            "flows.max_pressure",
            flows.max_pressure.unwrap_or(0.2),
            Open(0.0),
            Closed(1.0),
        ),
    };
    (equity.is_some() && currency.is_some()).then_some(result)
}

/// The currency table: the dollar first (its short rate the first policy rate
/// unless `[currencies.USD]` says otherwise), then every declared currency with
/// the FX asset pricing it. Returns the currencies and each asset's currency.
pub(super) fn build_currencies(
    raw: &RawScenario,
    asset_names: &[String],
    assets: &[Asset],
    check: &mut Checker<'_>,
) -> (Vec<Currency>, Vec<usize>) {
    let policy_rate = assets
        .iter()
        .position(|a| a.process == ProcessKind::PolicyRate);
    let mut currencies = vec![Currency {
        name: USD.to_string(),
        fx: None,
        short_rate: policy_rate.map_or(ShortRate::Constant(0.0), ShortRate::Asset),
    }];
    let mut asset_currency = vec![0; assets.len()];
    for (name, raw_currency) in &raw.currencies {
        let key = format!("currencies.{name}");
        let well_formed = name.len() == 3 && name.chars().all(|c| c.is_ascii_uppercase());
        if !well_formed {
            check.error(
                &key,
                format!("currency `{name}` must be a three-letter ISO code in capitals, like EUR"),
            );
        }
        let index = if name == USD {
            0
        } else {
            currencies.push(Currency {
                name: name.clone(),
                fx: None,
                short_rate: ShortRate::Constant(0.0),
            });
            currencies.len() - 1
        };
        match (&raw_currency.fx, raw_currency.quote, name == USD) {
            (Some(_), _, true) => check.error(
                format!("{key}.fx"),
                "the dollar is the currency every FX asset quotes against; it has no `fx`",
            ),
            (Some(fx), Some(quote), false) => {
                if let Some(a) = check.lookup(&format!("{key}.fx"), "asset", fx, asset_names) {
                    if assets[a].is_log() {
                        currencies[index].fx = Some((a, quote));
                    } else {
                        check.error(
                            format!("{key}.fx"),
                            format!("`{fx}` must be a price (gbm, heston or beta asset), not a level"),
                        );
                    }
                }
            }
            (Some(_), None, false) => check.error(
                format!("{key}.quote"),
                "missing: say how the FX asset quotes, `usd_per_unit` (EUR/USD) or `units_per_usd` (USD/JPY)",
            ),
            (None, _, false) => check.error(
                format!("{key}.fx"),
                "missing: name the FX asset that prices this currency against the dollar",
            ),
            (None, _, true) => {}
        }
        let rate_key = format!("{key}.short_rate");
        match &raw_currency.short_rate {
            None if name == USD => {}
            None => check.error(
                &rate_key,
                "missing: a constant (0.02 = 2%) or the name of a rate asset",
            ),
            Some(toml::Value::String(asset)) => {
                if let Some(a) = check.lookup(&rate_key, "asset", asset, asset_names) {
                    if assets[a].is_log() {
                        check.error(
                            &rate_key,
                            format!("`{asset}` must be a rate (a level asset), not a price"),
                        );
                    } else {
                        currencies[index].short_rate = ShortRate::Asset(a);
                    }
                }
            }
            Some(value) => match value.as_float().or(value.as_integer().map(|i| i as f64)) {
                Some(rate) => {
                    let rate = check.range(&rate_key, rate, Closed(-0.1), Closed(1.0));
                    currencies[index].short_rate = ShortRate::Constant(rate);
                }
                None => check.error(
                    &rate_key,
                    format!("must be a number or an asset name, found {value}"),
                ),
            },
        }
        for (i, asset) in raw_currency.assets.iter().enumerate() {
            let asset_key = format!("{key}.assets[{i}]");
            if let Some(a) = check.lookup(&asset_key, "asset", asset, asset_names) {
                if asset_currency[a] != 0 {
                    check.error(
                        &asset_key,
                        format!(
                            "`{asset}` is already priced in {}",
                            currencies[asset_currency[a]].name
                        ),
                    );
                }
                asset_currency[a] = index;
            }
        }
    }
    (currencies, asset_currency)
}
