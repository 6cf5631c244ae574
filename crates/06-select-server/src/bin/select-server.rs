//! Lesson 06, the server binary: `select-server PORT`.
//!
//! One process and one thread serve every client at once: `select()` says
//! which sockets are ready. Each line a client sends is printed as
//! `Here is the message: LINE` and answered with `I got your message:
//! LINE`. It runs until SIGINT or SIGTERM. The lesson is in
//! `src/server.rs`.
//!
//! Try it: `select-server 51717` in one terminal, then several
//! `select-client localhost 51717` (or `nc localhost 51717`) in others, and
//! type lines into each.

use lesson::args::Args;

fn main() {
    // ANCHOR: main
    let args = Args::parse("select-server PORT", &["PORT"], &[]);
    let port = args.port(0);
    // The contract's stopping rule: a shell may have started us with
    // SIGINT ignored. No SIGCHLD here: this server has no children.
    lesson::signals::restore_default_stop_signals();

    let listener = lesson06_select_server::server::listen(port);
    lesson06_select_server::server::serve_forever(listener)
    // ANCHOR_END: main
}
