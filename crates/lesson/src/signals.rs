//! Signal dispositions we must not inherit.
//!
//! A process starts with the signal dispositions its parent left it. A shell
//! starts background jobs with SIGINT ignored, and a parent that ignores
//! SIGCHLD makes the kernel reap our children behind our back, hiding the
//! very zombies lesson 02 wants to show. So servers put back the defaults
//! they rely on first thing.
//!
//! (SIGPIPE needs nothing here: the Rust runtime already ignores it before
//! `main`, so writing to a vanished peer returns `EPIPE` instead of killing
//! us.)

use nix::sys::signal::{signal, SigHandler, Signal};

/// Gives `signals` their default action again.
pub fn restore_default(signals: &[Signal]) {
    for &sig in signals {
        // SAFETY: `signal` is unsafe because a handler could run at any
        // moment and must then touch only async-signal-safe state. SIG_DFL
        // is no handler of ours: the kernel applies the default action (for
        // SIGINT and SIGTERM, ending the process), so no code of ours runs.
        // It can only fail for an invalid signal, which these are not.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    }
}

/// The contract's "stopping" rule: SIGINT and SIGTERM end the server at
/// once, even while it is blocked in `accept`, whatever the shell did.
pub fn restore_default_stop_signals() {
    restore_default(&[Signal::SIGINT, Signal::SIGTERM]);
}
