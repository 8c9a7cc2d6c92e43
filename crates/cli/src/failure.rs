//! How the command ends: a message on standard error and an exit status, 2
//! for anything the user can fix in the input, 1 for the rest.

use std::io::Write;
use std::process::ExitCode;

use stormglass_core::output;
use stormglass_core::UserFixable;

/// Exit statuses: 2 for anything the user can fix in the input, 1 for the rest.
const EXIT_INVALID_INPUT: u8 = 2;
const EXIT_FAILURE: u8 = 1;

/// Why a command stopped.
pub struct Failure {
    message: String,
    status: u8,
}

pub type Result<T = ()> = std::result::Result<T, Failure>;

impl Failure {
    /// Something the user can fix: a flag, a file, a value.
    pub fn input(message: impl ToString) -> Failure {
        Failure {
            message: message.to_string(),
            status: EXIT_INVALID_INPUT,
        }
    }

    /// Something the machine refused.
    pub fn other(message: impl ToString) -> Failure {
        Failure {
            message: message.to_string(),
            status: EXIT_FAILURE,
        }
    }

    /// What went wrong, as printed after `error: `.
    pub fn message(self) -> String {
        self.message
    }

    /// Standard output was closed by its reader: stop quietly, with success.
    fn closed_output() -> Failure {
        Failure {
            message: String::new(),
            status: 0,
        }
    }
}

/// The one conversion from the library's errors to exit statuses: each error
/// says whether it is the user's to fix.
impl<E: UserFixable> From<E> for Failure {
    fn from(error: E) -> Failure {
        if error.is_user_fixable() {
            Failure::input(error)
        } else {
            Failure::other(error)
        }
    }
}

/// The exit status of a finished command, its message printed.
pub fn exit(result: Result) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that closed its end (`stormglass list | head -1`) has all it wanted.
        Err(Failure { status: 0, .. }) => ExitCode::SUCCESS,
        Err(Failure { message, status }) => {
            // Writes stop with an error once a signal came: the handler is
            // removing what they staged and exits with the signal's status.
            if output::interrupted_by_signal() {
                loop {
                    std::thread::park();
                }
            }
            eprintln!("error: {message}");
            ExitCode::from(status)
        }
    }
}

/// On SIGINT or SIGTERM: remove the staging folder being written, then exit
/// with the shell's status for the signal (130, 143).
pub fn clean_up_on_interrupt() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            output::remove_staging();
            std::process::exit(128 + signal);
        }
    });
}

/// Prints one line on standard output; a closed pipe ends the command quietly.
pub fn say(line: std::fmt::Arguments) -> Result {
    let mut out = std::io::stdout().lock();
    match out.write_fmt(line).and_then(|()| out.write_all(b"\n")) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::closed_output()),
        Err(e) => Err(Failure::other(e)),
    }
}

/// What printing a block to standard output came to: a closed pipe is fine.
pub fn printed(result: std::io::Result<()>) -> Result {
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::other(e)),
        _ => Ok(()),
    }
}
