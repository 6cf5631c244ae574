//! Lesson 02, the server binary: `fork-server PORT`.
//!
//! It listens on PORT (0 lets the kernel choose; the readiness line on
//! stderr says which port it got) and runs until SIGINT or SIGTERM, forking
//! one child per connection. The lesson itself is in `src/lib.rs`.
//!
//! Try it: `fork-server 51717` in one terminal, `fork-client localhost
//! 51717` a few times in another, then `ps -o pid,stat,cmd --ppid $(pgrep -o
//! -x fork-server)` to see the finished children as zombies (`Z`).

use lesson::args::Args;
use nix::sys::signal::Signal;

fn main() {
    // ANCHOR: main
    let args = Args::parse("fork-server PORT", &["PORT"], &[]);
    let port = args.port(0);
    // A shell may start us with SIGINT ignored (a background job), and a
    // parent that ignores SIGCHLD passes that on to us: the kernel would
    // then reap our children itself and hide the zombies this lesson is
    // about. Whoever started us may also have left these signals blocked,
    // and a blocked signal does nothing until it is unblocked. So each one
    // gets its default action back and is unblocked, before the first
    // fork (the children inherit both).
    lesson::signals::restore_default_stop_signals();
    lesson::signals::restore_default(&[Signal::SIGCHLD]);

    let listener = lesson02_fork_server::listen(port);
    lesson02_fork_server::serve_forever(listener)
    // ANCHOR_END: main
}
