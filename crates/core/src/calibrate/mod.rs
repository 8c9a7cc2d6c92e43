//! Calibration: regimes fitted to a user's history ([`history`], reading it
//! with [`data`], on the Markov-switching model of [`markov`]), and scenario
//! keys fitted to target figures of the run ([`targets`]).

pub mod data;
pub mod history;
pub mod markov;
pub mod targets;
