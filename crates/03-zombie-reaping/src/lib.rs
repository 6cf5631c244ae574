//! Lesson 03: the zombie problem. Lesson 02's server, with its finished
//! children collected.
//!
//! A child that exits does not vanish: the kernel keeps its process ID and
//! exit status until the parent asks for them with `wait()`. Until then it
//! is a *zombie*, and a fork server that never asks gathers one per client.
//! When a child ends, the kernel sends its parent SIGCHLD, and the tutorial
//! shows two ways to use that, both here, chosen with `--reap`:
//!
//! - [`Reap::Ignore`], the tutorial's AIX way: set SIGCHLD to "ignore", and
//!   the kernel discards the children's exit status itself.
//! - [`Reap::Handler`] (the default), the tutorial's SunOS way: a SIGCHLD
//!   handler that collects every finished child with a non-blocking wait.
//!
//! Everything else is lesson 02's, imported from `lesson02_fork_server`:
//! `listen`, the accept-and-fork loop and `dostuff`.

use std::ffi::c_int;
use std::str::FromStr;

use lesson::OrDie;
use nix::errno::Errno;
use nix::sys::signal::{sigaction, signal, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// How the server gets rid of its finished children: `--reap handler` or
/// `--reap ignore`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reap {
    /// A SIGCHLD handler that reaps with `waitpid(-1, WNOHANG)` in a loop
    /// (the tutorial's SunOS `wait3()` way). The default.
    Handler,
    /// SIGCHLD set to SIG_IGN: the kernel reaps the children itself (the
    /// tutorial's AIX way, standard since POSIX.1-2001).
    Ignore,
}

impl FromStr for Reap {
    type Err = String;

    fn from_str(given: &str) -> Result<Reap, String> {
        match given {
            "handler" => Ok(Reap::Handler),
            "ignore" => Ok(Reap::Ignore),
            other => Err(format!("unknown way to reap: '{other}'")),
        }
    }
}

/// Sets up `how` the children will be reaped. Call it before the first
/// `fork()`: a child that ends earlier would stay a zombie.
pub fn reap_children(how: Reap) {
    match how {
        Reap::Handler => install_reaper(),
        Reap::Ignore => ignore_children(),
    }
}

// ANCHOR: ignore
/// The AIX way: SIGCHLD's disposition becomes SIG_IGN. Ignoring SIGCHLD is
/// special: besides dropping the signal, it tells the kernel that we will
/// never ask how our children ended, so they are discarded as they exit
/// and never become zombies.
pub fn ignore_children() {
    // SAFETY: `signal` is unsafe because a handler of ours could run at any
    // moment and must then touch only async-signal-safe state. SIG_IGN
    // runs no code of ours at all.
    unsafe { signal(Signal::SIGCHLD, SigHandler::SigIgn) }.or_die("ERROR on signal");
}
// ANCHOR_END: ignore

// ANCHOR: install
/// The SunOS way: run [`reap_finished_children`] whenever SIGCHLD arrives.
pub fn install_reaper() {
    let action = SigAction::new(
        SigHandler::Handler(reap_finished_children),
        // SA_RESTART: a system call that the handler interrupts (our
        // accept(), most of the time) is restarted by the kernel instead
        // of failing with EINTR. Not every call can be restarted on every
        // system, so lesson 02's loop retries accept() on EINTR anyway.
        SaFlags::SA_RESTART,
        // No other signal is blocked while the handler runs (SIGCHLD
        // itself is, until the handler returns).
        SigSet::empty(),
    );
    // SAFETY: the handler can run between any two instructions of the
    // main program, which may be in the middle of anything: allocating,
    // holding a lock, using `errno`. So it may only call async-signal-safe
    // functions and must leave `errno` as it found it. It does both: it
    // calls waitpid() (async-signal-safe by POSIX), touches no memory that
    // the main program uses, allocates nothing, and restores `errno`.
    unsafe { sigaction(Signal::SIGCHLD, &action) }.or_die("ERROR on sigaction");
}
// ANCHOR_END: install

// ANCHOR: handler
/// The SIGCHLD handler: reap every child that has ended, then return.
///
/// Signals are not counted: while SIGCHLD is pending, more children that
/// end add nothing, so one call may stand for many children. One
/// `waitpid()` per call would leave the others zombies. Hence the loop,
/// until `waitpid()` says that no finished child is left.
extern "C" fn reap_finished_children(_signal: c_int) {
    // waitpid() sets errno when it fails (ECHILD below, every time). The
    // interrupted code may be about to read errno after its own failed
    // call, so it gets its value back on the way out.
    let saved_errno = Errno::last_raw();
    loop {
        // -1: any child. WNOHANG: never block; a child still serving its
        // client must not hold the server up.
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            // Some children are still running, none has ended: done.
            Ok(WaitStatus::StillAlive) => break,
            // One child reaped (exited or killed); look for another.
            Ok(_) => continue,
            // ECHILD: no children at all any more.
            Err(_) => break,
        }
    }
    Errno::set_raw(saved_errno);
}
// ANCHOR_END: handler

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reap_strategies_parse_by_name() {
        assert_eq!("handler".parse(), Ok(Reap::Handler));
        assert_eq!("ignore".parse(), Ok(Reap::Ignore));
        assert!("bogus".parse::<Reap>().is_err());
        assert!("Handler".parse::<Reap>().is_err());
    }
}
