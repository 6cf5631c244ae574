//! Signal state we must not inherit.
//!
//! A process starts with two kinds of signal state that whoever started it
//! left behind, and both survive `fork()` and `execve()`:
//!
//! - each signal's *disposition*: its default action, "ignore", or a
//!   handler (`execve()` resets handlers to the default, but keeps
//!   "ignore"). A shell starts background jobs with SIGINT ignored, and a
//!   parent that ignores SIGCHLD makes the kernel reap our children behind
//!   our back, hiding the very zombies lesson 02 wants to show;
//! - the *signal mask*: the set of signals the process blocks. A blocked
//!   signal is not lost, it stays *pending* until it is unblocked, and
//!   until then it has no effect at all: no default action, no handler.
//!   A program that blocks signals in order to take them with `sigwait()`
//!   or `signalfd()`, and starts others without unblocking them first,
//!   passes its mask on.
//!
//! The two are independent. `signal(SIG_DFL)` and `sigaction()` change the
//! disposition and leave the mask alone, so a server that only restored
//! SIGTERM's default action would still ignore `kill` if it started with
//! SIGTERM blocked, and a SIGCHLD handler would never run with SIGCHLD
//! blocked. So the servers first put back the dispositions they rely on,
//! then unblock the same signals (`sigprocmask(SIG_UNBLOCK)`).
//!
//! (SIGPIPE needs nothing here: the Rust runtime sets it to "ignore" before
//! `main`, so writing to a vanished peer returns `EPIPE` instead of killing
//! us. Ignored, it does not matter whether it is blocked.)

use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};

use crate::OrDie;

// ANCHOR: restore_default
/// Gives `signals` the state they have in a process that inherited
/// nothing: the default action, and not blocked.
///
/// The order matters. A signal sent while it was blocked is pending, and
/// is delivered the moment it is unblocked; by then its disposition is
/// already the default, so a pending SIGTERM ends us as it should, instead
/// of meeting an "ignore" we inherited.
pub fn restore_default(signals: &[Signal]) {
    for &sig in signals {
        // SAFETY: `signal` is unsafe because a handler could run at any
        // moment and must then touch only async-signal-safe state. SIG_DFL
        // is no handler of ours: the kernel applies the default action (for
        // SIGINT and SIGTERM, ending the process), so no code of ours runs.
        unsafe { signal(sig, SigHandler::SigDfl) }.or_die("ERROR on signal");
    }
    unblock(signals);
}

/// Removes `signals` from the signal mask, whatever their disposition.
///
/// For a signal whose disposition the program sets itself (lesson 03's
/// SIGCHLD handler): installing a handler does not unblock its signal.
pub fn unblock(signals: &[Signal]) {
    let set: SigSet = signals.iter().copied().collect();
    // SIG_UNBLOCK removes exactly these signals from the mask and leaves
    // any other blocked signal blocked; unblocking one that is not blocked
    // is allowed and does nothing. `sigprocmask` changes the mask of the
    // calling thread, which is the whole process's mask here: the servers
    // call this at the start of `main`, before any thread exists.
    sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None).or_die("ERROR on sigprocmask");
}
// ANCHOR_END: restore_default

/// The contract's "stopping" rule: SIGINT and SIGTERM end the server at
/// once, even while it is blocked in `accept`, whatever the shell or the
/// supervisor that started it did: their default action is restored, and
/// they are unblocked.
pub fn restore_default_stop_signals() {
    restore_default(&[Signal::SIGINT, Signal::SIGTERM]);
}
