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

/// The asset's name as a sentence's subject: "the S&P 500", "gold", "the policy rate".
pub fn in_sentence(asset: &str) -> String {
    match asset {
        "gold" | "silver" => display_name(asset).to_lowercase(),
        "fed_funds" => "the policy rate".to_string(),
        "eurusd" | "usdjpy" => display_name(asset).to_string(),
        _ => {
            let name = display_name(asset);
            // A bare key (an asset this table does not know) reads best as it is.
            if name == asset {
                name.to_string()
            } else {
                format!("the {name}")
            }
        }
    }
}
