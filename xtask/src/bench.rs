//! `cargo xtask bench`: the bench is a crate of its own (xtask/bench), so
//! that nobody who only wants a demo or the checks builds its plotting and
//! statistics. This builds it in release mode (its load generator shares
//! the CPU with the servers it measures, so it must not be the slow part)
//! and becomes it, with the same arguments.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode, Stdio};

use crate::lessons;

/// Builds `xtask-bench` (release) and runs it with `args`; returns only if
/// that is impossible.
pub fn run(args: &[String]) -> ExitCode {
    let built = Command::new(lessons::cargo())
        .args(["build", "--quiet", "--release", "-p", "xtask-bench"])
        .current_dir(lessons::workspace_root())
        .stdin(Stdio::null())
        .status();
    match built {
        Ok(status) if status.success() => {
            let bench = lessons::target_dir().join("release").join("bench");
            let error = Command::new(&bench).args(args).exec();
            eprintln!("error: cannot run {}: {error}", bench.display());
        }
        Ok(_) => eprintln!("error: the bench (xtask/bench) did not build"),
        Err(e) => eprintln!("error: cannot run cargo: {e}"),
    }
    ExitCode::FAILURE
}
