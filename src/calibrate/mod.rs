//! Calibration: regimes fitted to a user's history ([`history`], reading it
//! with [`data`], on the Markov-switching model of [`markov`]).

pub mod data;
pub mod history;
pub mod markov;
