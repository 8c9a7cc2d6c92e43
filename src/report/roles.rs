//! Which assets and regimes the report's headline numbers and charts are about.
//!
//! The names match the bundled default scenario. A scenario without one of them
//! simply gets a shorter report: every chart and number that needs a missing
//! asset, regime or column is left out, and the page says so.

/// The equity index of the drawdown key number (a fall of 20% or more).
pub const EQUITY: &str = "spx";
/// The dollar index of the dollar key number (ending 10% or more lower).
pub const DOLLAR: &str = "dxy";
/// Fan charts, drawdown and volatility distributions, VaR and ES, in this order.
pub const CORE_ASSETS: [&str; 6] = ["spx", "dxy", "gold", "us10y", "fed_funds", "vix"];
/// The regime whose first entry the regime chart shows.
pub const STRESS_REGIME: &str = "sell_america";
/// The foreign investor's view: currency, the S&P 500 unhedged and hedged into it.
pub const FOREIGN_VIEWS: [ForeignView; 2] = [
    ForeignView {
        currency: "EUR",
        unhedged: "spx_eur",
        hedged: "spx_eur_hedged",
    },
    ForeignView {
        currency: "JPY",
        unhedged: "spx_jpy",
        hedged: "spx_jpy_hedged",
    },
];

/// The S&P 500 as an investor in `currency` sees it.
#[derive(Debug, Clone, Copy)]
pub struct ForeignView {
    pub currency: &'static str,
    pub unhedged: &'static str,
    pub hedged: &'static str,
}

/// Readable names for the report (the asset's key when it has none here).
pub fn display_name(asset: &str) -> &str {
    match asset {
        "spx" => "S&P 500",
        "dxy" => "DXY",
        "gold" => "Gold",
        "us10y" => "US 10y yield",
        "us2y" => "US 2y yield",
        "fed_funds" => "Policy rate",
        "vix" => "VIX",
        "ndx" => "Nasdaq 100",
        "stoxx" => "STOXX 600",
        "eurusd" => "EUR/USD",
        "usdjpy" => "USD/JPY",
        "silver" => "Silver",
        other => other,
    }
}
