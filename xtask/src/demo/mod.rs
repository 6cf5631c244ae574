//! `cargo xtask demo NN`: a lesson at work, for class. Both sides' output
//! is shown as it happens, each line labelled with who wrote it, and a
//! narration line (`==>`) says what the students are seeing at each step.
//!
//! Every demo drives the binaries exactly as the contract describes them,
//! so it doubles as a tour of the contract. Everything it starts runs in
//! process groups of its own and is killed when the demo ends, also on an
//! error or Ctrl-C (the harness's `Supervised` guards); every wait is
//! bounded by [`WAIT`].
//!
//! This file is the driver: the command line, and the dispatch through the
//! lesson registry. [`stage`] is what every demo uses (labelled output,
//! narration, starting servers and clients, the table of processes); each
//! `lessonNN.rs` is one lesson's narration.

mod stage;

pub mod lesson01;
pub mod lesson02;
pub mod lesson03;
pub mod lesson04;
pub mod lesson05;
pub mod lesson06;

use std::process::ExitCode;
use std::time::Duration;

use crate::lessons::{self, Lesson};
use crate::{procs, term, usage_error, EXIT_USAGE};

pub use stage::Demo;

/// One lesson's demo: what it shows, step by step.
pub type Narration = fn(&mut Demo, &Lesson) -> Result<(), String>;

crate::help_text! {
    /// Show a lesson at work, for class: both sides' output, narrated.
    ///
    /// usage: cargo xtask demo NN [--interactive]
    ///
    /// NN is one of the lessons below. The demo builds the lesson's
    /// binaries, starts its server (on a port the kernel chooses, or for
    /// 05 at a path in a fresh directory), runs clients against it and
    /// shows every line each side writes, labelled `server` or `client`,
    /// with a line starting `==>` saying what happens at each step:
    ///
    ///   01  one server, one client, one message; the server exits by itself
    ///   02  fork-server: five clients while a silent one stays connected;
    ///       the server's children in /proc, zombies (Z) among them; what
    ///       becomes of them when the server stops
    ///   03  reaping-server --reap handler, then --reap ignore: the same
    ///       clients, and no zombies
    ///   04  udp-server: three datagrams sent back to back, three lines out;
    ///       then a datagram lost on purpose and the client sending it
    ///       again; then a client nobody answers giving up with `no reply`
    ///   05  unix-server: the socket file as `ls -l` shows it, two clients
    ///       and the process ID the kernel reports for each (SO_PEERCRED), a
    ///       second server refused the path, the file removed on SIGTERM, a
    ///       file left by SIGKILL and reclaimed by the next server
    ///   06  select-server: one process and one thread for six clients at
    ///       once and one stalled mid-line; its descriptors in /proc, the
    ///       clients' lines interleaved, every client served
    ///
    /// Every wait gives up after 10 s. Whatever the demo started is killed
    /// when it ends, also on an error or Ctrl-C.
    ///
    /// options:
    ///   --interactive  (01 only) you type the client's message
    pub const HELP;
}

/// The longest any step may take before the demo gives up. Generous: a
/// step normally takes milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// How many clients demos 02 and 03 run.
pub const CLIENTS: usize = 5;

/// How long the instructor may take to type a message (`--interactive`).
pub const TYPING_TIME: Duration = Duration::from_secs(300);

/// The table of a server's children is refreshed this many times, this
/// often (about 2 s in all), so students see that the zombies stay.
pub const REFRESHES: u32 = 5;
pub const REFRESH_EVERY: Duration = Duration::from_millis(500);

/// `cargo xtask demo ...`
pub fn run(args: &[String]) -> ExitCode {
    let mut interactive = false;
    let mut names = Vec::new();
    for arg in args {
        match arg.as_str() {
            "-h" | "--help" => {
                crate::print_help(HELP);
                return ExitCode::SUCCESS;
            }
            "--interactive" => interactive = true,
            _ if arg.starts_with('-') => {
                return usage_error(&format!("unknown option `{arg}`"), HELP)
            }
            _ => names.push(arg),
        }
    }
    let with_demos: Vec<String> = lessons::LESSONS
        .iter()
        .filter(|l| l.demo.is_some())
        .map(Lesson::id)
        .collect();
    let [name] = names.as_slice() else {
        return usage_error(&format!("give one lesson: {}", with_demos.join(", ")), HELP);
    };
    let lesson = match lessons::resolve(name) {
        Ok(lesson) => lesson,
        Err(e) => return usage_error(&e, HELP),
    };
    let Some(narration) = lesson.demo else {
        eprintln!(
            "error: lesson {} has no demo (demos exist for {})",
            lesson.id(),
            with_demos.join(", ")
        );
        return ExitCode::from(EXIT_USAGE);
    };
    if interactive && lesson.number != 1 {
        return usage_error("--interactive applies to demo 01 only", HELP);
    }

    term::catch_interrupts();
    if let Err(e) = procs::become_subreaper() {
        eprintln!("warning: {e}");
    }
    let mut demo = Demo::new(interactive);
    let result = narration(&mut demo, lesson);
    // The demos' guards have killed what they started; anything that
    // escaped its group was re-parented to us and dies here.
    procs::kill_orphans();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) if term::interrupted() => {
            eprintln!("\ninterrupted: everything the demo started has been stopped");
            ExitCode::from(term::EXIT_INTERRUPTED)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
