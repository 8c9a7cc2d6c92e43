//! Readable names of the assets the report talks about. Which assets play which
//! part (the equity, the dollar, the core assets) is the scenario's `[report]`
//! table (`scenario::ReportRoles`).

/// The name the report prints for an asset (the asset's key when it has none here).
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
