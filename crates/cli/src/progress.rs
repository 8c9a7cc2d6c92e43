//! Progress on a terminal's standard error; nothing when it is not one.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use stormglass_core::engine::Progress;

/// A progress bar on stderr, drawn only when stderr is a terminal.
pub struct Bar(ProgressBar);

impl Bar {
    pub fn new() -> Bar {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} paths  {rate}  eta {eta}")
                .map(|style| style.with_key("rate", write_rate))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar(bar)
    }
}

/// Paths a second as a whole number with thousands separators ("4,785 paths/s"),
/// where indicatif's own `{per_sec}` prints four decimals.
fn write_rate(state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write) {
    let _ = write!(out, "{} paths/s", grouped(state.per_sec()));
}

/// A rate rounded to a whole number, thousands grouped by commas.
fn grouped(value: f64) -> String {
    if !value.is_finite() || value < 0.5 {
        return "0".into();
    }
    indicatif::HumanCount(value.round() as u64).to_string()
}

impl Progress for Bar {
    fn start(&self, total_paths: u64) {
        self.0.set_length(total_paths);
    }
    fn advance(&self, paths: u64) {
        self.0.inc(paths);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// Prints `done/total runs` on a terminal's standard error.
pub fn run_counter(what: &'static str) -> impl Fn(usize, usize) {
    let shown = std::io::stderr().is_terminal();
    move |done, total| {
        if shown {
            eprint!("\r{done}/{total} {what}");
            if done == total {
                eprintln!();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::grouped;

    #[test]
    fn the_progress_rate_is_a_whole_number() {
        assert_eq!(grouped(4784.9496), "4,785");
        assert_eq!(grouped(999.4), "999");
        assert_eq!(grouped(1_234_567.0), "1,234,567");
        assert_eq!(grouped(0.2), "0");
        assert_eq!(grouped(f64::NAN), "0");
    }
}
