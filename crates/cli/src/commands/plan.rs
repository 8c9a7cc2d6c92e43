//! `stormglass plan`: a run, or every point of a sweep, cut into shards as
//! numbered tasks for a scheduler.

use stormglass_core::tasks;

use crate::args::{RecipeArgs, VaryArgs};
use crate::failure::{say, Result};

/// `stormglass plan`'s arguments (its description is on `Command::Plan`).
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    recipe: RecipeArgs,
    #[command(flatten)]
    vary: VaryArgs,
    /// Shards per run (or per sweep point).
    #[arg(long, default_value_t = 1)]
    shards: usize,
    /// The plan's folder: manifest.json, parts/ and, once merged, the runs
    /// [default: output/<scenario name>-plan].
    #[arg(long, value_name = "DIR")]
    out: Option<std::path::PathBuf>,
    /// Replace an existing plan (its parts are removed).
    #[arg(long)]
    force: bool,
}

pub fn run(args: Args) -> Result {
    let recipe = args.recipe.recipe();
    let (axes, charts) = args.vary.read()?;
    let manifest = tasks::plan(&recipe, axes, charts, args.shards)?;
    let dir = args.out.clone().unwrap_or_else(|| {
        std::path::Path::new("output").join(format!("{}-plan", manifest.scenario_name))
    });
    let manifest_path = tasks::write_plan(&dir, &manifest, args.force)?;
    let tasks = manifest.tasks.len();
    let plural = |n: usize| if n > 1 { "s" } else { "" };
    say(format_args!(
        "wrote {}: {tasks} task{} ({} point{} x {} shard{}); run each with `stormglass task {} --index I` (I from 0 to {}), then `stormglass merge {}`",
        manifest_path.display(),
        plural(tasks),
        manifest.points.len(),
        plural(manifest.points.len()),
        manifest.shards,
        plural(manifest.shards),
        manifest_path.display(),
        tasks - 1,
        manifest_path.display()
    ))
}
