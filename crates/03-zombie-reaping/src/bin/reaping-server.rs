//! Lesson 03, the server binary: `reaping-server PORT [--reap handler|ignore]`.
//!
//! Lesson 02's fork server, which now reaps its finished children: with a
//! SIGCHLD handler (`--reap handler`, the default) or by ignoring SIGCHLD
//! (`--reap ignore`). The reaping is in `src/lib.rs`; the server itself is
//! lesson 02's, imported.
//!
//! Try it: `reaping-server 51717` in one terminal, `reaping-client
//! localhost 51717` a few times in another: `ps --ppid $(pgrep -x
//! reaping-server)` shows no zombie, where lesson 02 showed one per client.

use lesson::args::Args;
use lesson03_zombie_reaping::Reap;
use nix::sys::signal::Signal;

/// The usage line, repeated in every usage error.
const USAGE: &str = "reaping-server PORT [--reap handler|ignore]";

fn main() {
    // ANCHOR: main
    let args = Args::parse(USAGE, &["PORT"], &["--reap"]);
    let port = args.port(0);
    let how = args.option_parsed("--reap", Reap::Handler, "handler or ignore");
    lesson::signals::restore_default_stop_signals();

    // Before the first fork(): a child that ended before we got ready to
    // reap would stay a zombie. Setting SIGCHLD's disposition (a handler,
    // or "ignore") leaves the signal mask alone, and a handler never runs
    // while its signal is blocked: so SIGCHLD is unblocked too, in case
    // whoever started us had blocked it.
    lesson03_zombie_reaping::reap_children(how);
    lesson::signals::unblock(&[Signal::SIGCHLD]);

    // From here on, lesson 02 exactly.
    let listener = lesson02_fork_server::listen(port);
    lesson02_fork_server::serve_forever(listener)
    // ANCHOR_END: main
}
