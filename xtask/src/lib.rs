//! The machinery of `cargo xtask`, as a library: the `xtask` binary
//! (src/main.rs) reads the command line and calls one of the subcommands
//! below, and the bench (xtask/bench, a crate of its own) shares the
//! registry and the terminal handling.
//!
//! Subcommands: [`check`] (grade an implementation), [`demo`] (a lesson at
//! work, for class), [`exercises`] (prove the book's exercises), [`stress`]
//! (prove the checks stable), [`bench`] (build and run the bench),
//! [`workbook`] (a student's own crate per lesson, from the lesson's
//! [`starter`]), [`watch`] (`watch` and `progress`, the workbook's guides),
//! [`book`] (build the book and read each chapter in headless Chromium).
//!
//! What they share: [`lessons`] (the one lesson registry), [`runner`] (the
//! one test runner), [`causes`] (one cause, one message), [`sandbox`] (the namespaces a lesson's checks run
//! in), [`libtest`] (reading a test binary's events),
//! [`checks_source`] (the one reader of the checks' source), [`verdicts`]
//! (JUnit and JSON), [`term`] (colours, Ctrl-C), [`flags`] (the command
//! line). Processes, `/proc` and readiness are the harness's
//! (`lesson_testing`), shared with the tests. `tidy` holds the house
//! rules, checked by `cargo test -p xtask`.

pub mod bench;
pub mod book;
pub mod causes;
pub mod check;
pub mod checks_source;
pub mod demo;
pub mod exercises;
pub mod flags;
pub mod lessons;
pub mod libtest;
pub mod runner;
pub mod sandbox;
pub mod starter;
pub mod stress;
pub mod term;
#[cfg(test)]
mod tidy;
pub mod verdicts;
pub mod watch;
pub mod workbook;

/// Exit status for a usage error (unknown lesson, bad option value), as
/// the lessons' own binaries use it.
pub const EXIT_USAGE: u8 = 2;

/// Prints `error: MESSAGE` and where to read more, on stderr; returns the
/// usage exit status.
pub fn usage_error(message: &str, subcommand: &str) -> std::process::ExitCode {
    eprintln!("error: {message}");
    eprintln!("(`cargo xtask {subcommand} --help` shows its options)");
    std::process::ExitCode::from(EXIT_USAGE)
}
