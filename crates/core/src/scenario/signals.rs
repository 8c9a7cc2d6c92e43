//! The early-warning signals S1..S5 of cross-border selling (docs/THESIS.md), as checked
//! settings: what each watches, and how a firing is judged against a later
//! drawdown. The tracker that evaluates them on every path is
//! `stats::SignalTracker`.

/// The signals of a scenario and the drawdown they are judged against.
#[derive(Debug, Clone, PartialEq)]
pub struct Signals {
    /// The equity whose drawdown a signal should precede (log-price asset).
    pub equity: usize,
    /// The dollar (log-price asset, up = a stronger dollar).
    pub dollar: usize,
    /// A firing is a hit when the equity's drawdown from its running peak first
    /// reaches `target_drawdown`...
    pub target_drawdown: f64,
    /// ...within `within_steps` steps after the signal's first firing.
    pub within_steps: usize,
    pub rules: Vec<SignalRule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SignalRule {
    /// `S1`..`S5`.
    pub name: &'static str,
    pub description: &'static str,
    pub kind: SignalKind,
}

/// The five conditions; every window counts steps (trading days), and a condition
/// is only checked once its window lies inside the path.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalKind {
    /// S1: over `window` steps the dollar falls by at least `dollar_fall` (a
    /// fraction) while the implied volatility rises by at least `vol_rise`
    /// (relative: 0.3 = up 30%).
    DollarDownVolUp {
        window: usize,
        implied_vol: usize,
        dollar_fall: f64,
        vol_rise: f64,
    },
    /// S2: the sample skewness of the dollar's daily log-returns over `window`
    /// steps is `-skew` or lower: the majors' upside tail against the dollar (the
    /// model prices no FX options, so realised skew stands in for EUR/USD call skew).
    DollarSkew { window: usize, skew: f64 },
    /// S3: over `window` steps the dollar falls by `dollar_fall` and the equity by
    /// `equity_fall`; with a `leader` (a high-beta basket), it must fall more.
    JointSelloff {
        window: usize,
        dollar_fall: f64,
        equity_fall: f64,
        leader: Option<usize>,
    },
    /// S4: the mean, over `with`, of the rolling `window`-step correlation between
    /// the equity's daily log-returns and `sign` times the asset's daily change
    /// reaches `correlation` (US assets sold together: the dollar with sign +1,
    /// yields with sign -1).
    Correlation {
        window: usize,
        with: Vec<(usize, f64)>,
        correlation: f64,
    },
    /// S5: within `within` steps after one of the easing events (a bit mask of
    /// event indices) fired, the dollar has fallen by `dollar_fall` and the equity
    /// by `equity_fall` since the end of that step.
    EasingBackfires {
        events: u64,
        within: usize,
        dollar_fall: f64,
        equity_fall: f64,
    },
}

impl SignalKind {
    /// The longest look-back the condition needs, in steps.
    pub fn window(&self) -> usize {
        match self {
            SignalKind::DollarDownVolUp { window, .. }
            | SignalKind::DollarSkew { window, .. }
            | SignalKind::JointSelloff { window, .. }
            | SignalKind::Correlation { window, .. } => *window,
            SignalKind::EasingBackfires { .. } => 0,
        }
    }
}

/// What each signal says, for reports.
pub const SIGNAL_DESCRIPTIONS: [(&str, &str); 5] = [
    (
        "S1",
        "the dollar falls while implied volatility rises",
    ),
    (
        "S2",
        "the majors' skew against the dollar rises (realised skewness of the dollar's daily returns turns negative)",
    ),
    ("S3", "the dollar falls while equities sell off"),
    (
        "S4",
        "cross-asset correlations approach 1 (US equities, the dollar and Treasuries sold together)",
    ),
    (
        "S5",
        "a Fed easing is followed by a further fall of the dollar and of equities",
    ),
];
