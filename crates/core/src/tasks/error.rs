//! What can stop a shard, a plan or a merge.

use crate::engine::EngineError;
use crate::output::OutputError;
use crate::run::RecipeError;
use crate::sweep::SweepError;
use crate::tasks::{ManifestError, PartError};
use crate::UserFixable;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// The input cannot make the task; the message says what to change.
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Recipe(#[from] RecipeError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Part(#[from] PartError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Sweep(#[from] SweepError),
    /// The file system refused something the task needs (the current folder).
    #[error("{0}")]
    Io(String),
}

impl UserFixable for TaskError {
    fn is_user_fixable(&self) -> bool {
        match self {
            TaskError::Input(_) | TaskError::Recipe(_) | TaskError::Manifest(_) => true,
            TaskError::Part(e) => e.is_user_fixable(),
            TaskError::Engine(e) => e.is_user_fixable(),
            TaskError::Output(e) => e.is_user_fixable(),
            TaskError::Sweep(e) => e.is_user_fixable(),
            TaskError::Io(_) => false,
        }
    }
}

/// The current folder, which parts and plans record.
pub fn current_dir() -> Result<std::path::PathBuf, TaskError> {
    std::env::current_dir().map_err(|e| TaskError::Io(format!("the current folder: {e}")))
}
