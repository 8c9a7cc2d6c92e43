//! The thesis' mechanisms by name, and switching one off.
//!
//! Each mechanism is a group of couplings the scenario format already has (the
//! flow loop's impacts, the dollar's beta on the real rate, the chair's bias,
//! the Fed put event, ...). `[mechanisms]` in a scenario, or `--set
//! mechanisms.NAME=off`, sets that group to zero after validation, so a run with
//! a mechanism off is the same scenario on the same random streams with one
//! block removed: what `stormglass attribute` compares.

use super::{Feature, ProcessKind, Scenario, Trigger};

/// A mechanism of the model that can be switched off as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mechanism {
    /// Foreign holders' currency losses turn into selling of US equities and
    /// dollars, and into a likelier `sell_america` (`[flows]` and the
    /// `pressure` state terms).
    FlowLoop,
    /// Changes of the real short rate move the dollar (a beta asset's beta on a
    /// spread whose first leg is a policy rate).
    RealRate,
    /// The new chair's dovish bias in the policy rule, and the dated events on
    /// the chair's date.
    NewChair,
    /// Drawdown-triggered events: the emergency cut.
    FedPut,
    /// Poisson events: tariff announcements.
    TariffWaves,
    /// Valuation scaling of crash risk: the jump scaling and the `valuation`
    /// state terms.
    Valuation,
    /// Margin selling of gold and other collateral when the VIX spikes.
    GoldLiquidation,
    /// The term premium's response to policy error.
    TermPremium,
    /// Inflation expectations fed by the dollar's depreciation.
    PassThrough,
    /// Every state-dependent transition intensity (drawdown, pressure,
    /// valuation features).
    StateDependence,
}

impl Mechanism {
    pub const ALL: [Mechanism; 10] = [
        Mechanism::FlowLoop,
        Mechanism::RealRate,
        Mechanism::NewChair,
        Mechanism::FedPut,
        Mechanism::TariffWaves,
        Mechanism::Valuation,
        Mechanism::GoldLiquidation,
        Mechanism::TermPremium,
        Mechanism::PassThrough,
        Mechanism::StateDependence,
    ];

    /// The name used in scenario files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::FlowLoop => "flow_loop",
            Mechanism::RealRate => "real_rate",
            Mechanism::NewChair => "new_chair",
            Mechanism::FedPut => "fed_put",
            Mechanism::TariffWaves => "tariff_waves",
            Mechanism::Valuation => "valuation",
            Mechanism::GoldLiquidation => "gold_liquidation",
            Mechanism::TermPremium => "term_premium",
            Mechanism::PassThrough => "pass_through",
            Mechanism::StateDependence => "state_dependence",
        }
    }

    /// One line on what switching it off removes.
    pub fn description(self) -> &'static str {
        match self {
            Mechanism::FlowLoop => "the reflexive loop: foreign holders' currency losses sell US equities and dollars and pull paths into sell_america",
            Mechanism::RealRate => "the real-rate channel: changes of the real short rate move the dollar",
            Mechanism::NewChair => "the new chair: the dovish bias of the policy rule and the events on the chair's date",
            Mechanism::FedPut => "the Fed put: emergency cuts on a deep drawdown",
            Mechanism::TariffWaves => "tariff waves: Poisson announcements and their jumps and multipliers",
            Mechanism::Valuation => "valuation scaling: crash jumps and crisis intensities grow with price-to-sales",
            Mechanism::GoldLiquidation => "the liquidation channel: gold and silver sold with equities when the VIX spikes",
            Mechanism::TermPremium => "the term premium's response to policy error",
            Mechanism::PassThrough => "the dollar's depreciation passing into inflation expectations",
            Mechanism::StateDependence => "the regime chain's state dependence: drawdown, pressure and valuation features",
        }
    }

    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    pub fn names() -> Vec<&'static str> {
        Mechanism::ALL.iter().map(|m| m.name()).collect()
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether the first leg of spread asset `a` is a policy rate: a real rate.
fn is_real_rate(scenario: &Scenario, a: usize) -> bool {
    scenario.assets[a]
        .spread
        .is_some_and(|(rate, _)| scenario.assets[rate].process == ProcessKind::PolicyRate)
}

/// The days on which a policy rule's new chair takes office within the
/// horizon or took office before it (a chair whose bias is in force).
fn chair_dates(scenario: &Scenario) -> Vec<chrono::NaiveDate> {
    scenario
        .assets
        .iter()
        .filter_map(|a| a.policy.as_ref())
        .filter(|rule| rule.chair_bias != 0.0 && rule.chair_step.is_some())
        .filter_map(|rule| rule.chair_date)
        .collect()
}

impl Scenario {
    /// The mechanisms that this scenario has switched on: switching one of
    /// these off changes the model.
    pub fn mechanisms_present(&self) -> Vec<Mechanism> {
        Mechanism::ALL
            .into_iter()
            .filter(|&m| self.has_mechanism(m))
            .collect()
    }

    pub fn has_mechanism(&self, mechanism: Mechanism) -> bool {
        let events = |keep: &dyn Fn(&Trigger) -> bool| {
            self.events.iter().any(|e| e.enabled && keep(&e.trigger))
        };
        let terms = |keep: &dyn Fn(&Feature) -> bool| {
            self.state_terms
                .iter()
                .any(|t| t.coefficient != 0.0 && keep(&t.feature))
        };
        match mechanism {
            Mechanism::FlowLoop => {
                self.flows
                    .is_some_and(|f| f.equity_impact != 0.0 || f.currency_impact != 0.0)
                    || terms(&|f| matches!(f, Feature::Pressure { .. }))
            }
            Mechanism::RealRate => self.assets.iter().any(|asset| {
                asset
                    .betas
                    .iter()
                    .flatten()
                    .any(|&(base, beta)| beta != 0.0 && is_real_rate(self, base))
            }),
            Mechanism::NewChair => !chair_dates(self).is_empty(),
            Mechanism::FedPut => events(&|t| matches!(t, Trigger::Drawdown { .. })),
            Mechanism::TariffWaves => events(&|t| matches!(t, Trigger::Poisson { .. })),
            Mechanism::Valuation => {
                self.assets.iter().any(|a| a.jump_scaling.is_some())
                    || terms(&|f| matches!(f, Feature::Valuation { .. }))
            }
            Mechanism::GoldLiquidation => self
                .assets
                .iter()
                .any(|a| a.liquidation.is_some_and(|l| l.beta != 0.0)),
            Mechanism::TermPremium => self.assets.iter().any(|a| {
                a.policy_error
                    .is_some_and(|e| e.coefficient != 0.0 || e.discretionary != 0.0)
            }),
            Mechanism::PassThrough => self
                .assets
                .iter()
                .any(|a| a.pass_through.is_some_and(|p| p.coefficient != 0.0)),
            Mechanism::StateDependence => terms(&|_| true),
        }
    }

    /// Sets every coupling of `mechanism` to zero. Nothing is removed that
    /// the outputs name (assets, events and regimes keep their columns), and
    /// no random draw moves before the first place the mechanism would act.
    pub fn switch_off(&mut self, mechanism: Mechanism) {
        let drop_terms = |scenario: &mut Scenario, keep: &dyn Fn(&Feature) -> bool| {
            scenario.state_terms.retain(|t| keep(&t.feature));
        };
        match mechanism {
            Mechanism::FlowLoop => {
                if let Some(flows) = &mut self.flows {
                    flows.equity_impact = 0.0;
                    flows.currency_impact = 0.0;
                }
                drop_terms(self, &|f| !matches!(f, Feature::Pressure { .. }));
            }
            Mechanism::RealRate => {
                let real: Vec<bool> = (0..self.assets.len())
                    .map(|a| is_real_rate(self, a))
                    .collect();
                for asset in &mut self.assets {
                    for betas in &mut asset.betas {
                        betas.retain(|&(base, _)| !real[base]);
                    }
                }
            }
            Mechanism::NewChair => {
                let dates = chair_dates(self);
                for event in &mut self.events {
                    if matches!(event.trigger, Trigger::Dated { .. })
                        && event.date.is_some_and(|date| dates.contains(&date))
                    {
                        event.enabled = false;
                    }
                }
                for asset in &mut self.assets {
                    if let Some(rule) = &mut asset.policy {
                        rule.chair_bias = 0.0;
                    }
                }
            }
            Mechanism::FedPut | Mechanism::TariffWaves => {
                for event in &mut self.events {
                    let hit = match event.trigger {
                        Trigger::Drawdown { .. } => mechanism == Mechanism::FedPut,
                        Trigger::Poisson { .. } => mechanism == Mechanism::TariffWaves,
                        Trigger::Dated { .. } => false,
                    };
                    if hit {
                        event.enabled = false;
                    }
                }
            }
            Mechanism::Valuation => {
                for asset in &mut self.assets {
                    asset.jump_scaling = None;
                }
                drop_terms(self, &|f| !matches!(f, Feature::Valuation { .. }));
            }
            Mechanism::GoldLiquidation => {
                for asset in &mut self.assets {
                    asset.liquidation = None;
                }
            }
            Mechanism::TermPremium => {
                for asset in &mut self.assets {
                    asset.policy_error = None;
                }
            }
            Mechanism::PassThrough => {
                for asset in &mut self.assets {
                    asset.pass_through = None;
                }
            }
            Mechanism::StateDependence => self.state_terms.clear(),
        }
        if !self.mechanisms_off.contains(&mechanism) {
            self.mechanisms_off.push(mechanism);
            self.mechanisms_off.sort();
        }
    }
}
