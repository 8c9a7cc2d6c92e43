//! Runs as tasks: a run rebuilt from its recipe, cut into shards whose parts
//! merge back into the single run bit for bit, and plans of many such tasks
//! (sweep points × shards) that a cluster scheduler hands out by index.

pub mod manifest;
pub mod part;
pub mod recipe;

pub use manifest::{Manifest, ManifestError, MANIFEST_FILE};
pub use part::{PartError, PartHeader, PartSet, TaskTag};
pub use recipe::{Prepared, Recipe, RecipeError};
