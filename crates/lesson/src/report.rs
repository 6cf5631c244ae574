//! The tutorial's `error()`, Stevens-style: every system call that can fail
//! is followed by `.or_die("ERROR on binding")`, which prints one line
//! naming the step and the OS reason and exits with status 1:
//!
//! ```text
//! ERROR on binding: Address already in use (os error 98)
//! ```
//!
//! In C the check is easy to forget; in Rust the call returns a `Result`,
//! and the compiler will not let us use the socket until we decide what an
//! error means. Here it always means: say which step failed, and stop.

use std::fmt::Display;
use std::io::{self, Write};
use std::process;

/// Exit status for a runtime failure: a system call failed, no such host,
/// connection refused, no reply (the contract's "1").
pub const EXIT_FAILURE: i32 = 1;

/// Writes `line` and a newline on stderr with a single `write(2)`, so
/// concurrent processes sharing stderr never mix their lines.
pub fn stderr_line(line: &str) {
    let whole = format!("{line}\n");
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = io::stderr().lock().write_all(whole.as_bytes());
}

/// Prints `msg: reason` on stderr and exits 1: the tutorial's `error()`.
pub fn error(msg: &str, reason: &dyn Display) -> ! {
    stderr_line(&format!("{msg}: {reason}"));
    process::exit(EXIT_FAILURE)
}

/// `.or_die(msg)`: unwrap a system call's result, or report it the
/// tutorial's way and exit 1. Never panics.
pub trait OrDie<T> {
    /// Returns the value, or prints `msg: <OS reason>` and exits 1.
    fn or_die(self, msg: &str) -> T;
}

impl<T> OrDie<T> for io::Result<T> {
    fn or_die(self, msg: &str) -> T {
        self.unwrap_or_else(|err| error(msg, &err))
    }
}

impl<T> OrDie<T> for nix::Result<T> {
    fn or_die(self, msg: &str) -> T {
        // Shown through io::Error, so nix's failures read exactly like
        // std's: "Interrupted system call (os error 4)".
        self.unwrap_or_else(|errno| error(msg, &io::Error::from(errno)))
    }
}
