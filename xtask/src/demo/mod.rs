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
//! For class, `--pace` waits for Enter before each narrated step, and
//! `--trace` shows the system calls each side makes, from `strace`.
//!
//! This file is the driver: the command line, and the dispatch through the
//! lesson registry. [`stage`] is what every demo uses (labelled output,
//! narration, starting servers and clients, the table of processes),
//! [`screen`] lays lines out for the screen's width, [`keyboard`] reads the
//! instructor's Enter, [`trace`] runs programs under strace and reads what
//! it writes; each `lessonNN.rs` is one lesson's narration and the calls
//! it traces.

mod keyboard;
mod screen;
mod stage;
mod trace;

pub mod lesson01;
pub mod lesson02;
pub mod lesson03;
pub mod lesson04;
pub mod lesson05;
pub mod lesson06;

use std::process::ExitCode;
use std::time::Duration;

use crate::flags;
use crate::lessons::{self, Lesson};
use crate::{term, usage_error};

pub use stage::{Demo, Options, Program};
pub use trace::{Note, Tracing};

/// One lesson's demo: what it shows, step by step.
pub type Narration = fn(&mut Demo, &Lesson) -> Result<(), String>;

/// One row of [`DEMOS`].
struct Show {
    lesson: u8,
    narration: Narration,
    /// What it shows, in a line (`--list`).
    what: &'static str,
    /// What `--trace` shows of it.
    tracing: Tracing,
}

/// The demos: each lesson's narration, what it shows, and the system calls
/// it traces. A lesson without a row here has no demo (adding a lesson
/// needs none).
const DEMOS: &[Show] = &[
    Show {
        lesson: 1,
        narration: lesson01::run,
        what: "one server, one client, one message; the server exits by itself",
        tracing: lesson01::TRACING,
    },
    Show {
        lesson: 2,
        narration: lesson02::run,
        what: "five clients and a silent one; the children in /proc, zombies among them",
        tracing: lesson02::TRACING,
    },
    Show {
        lesson: 3,
        narration: lesson03::run,
        what: "the same clients with --reap handler, then --reap ignore: no zombies",
        tracing: lesson03::TRACING,
    },
    Show {
        lesson: 4,
        narration: lesson04::run,
        what: "datagrams kept whole; one lost and sent again; a client giving up",
        tracing: lesson04::TRACING,
    },
    Show {
        lesson: 5,
        narration: lesson05::run,
        what: "the socket file: in use, removed on SIGTERM, stale after SIGKILL, reclaimed",
        tracing: lesson05::TRACING,
    },
    Show {
        lesson: 6,
        narration: lesson06::run,
        what: "one process, one thread, six clients and a stalled one, all served",
        tracing: lesson06::TRACING,
    },
];

/// The longest any step may take before the demo gives up. Generous: a
/// step normally takes milliseconds.
pub const WAIT: Duration = Duration::from_secs(10);

/// How many clients demos 02 and 03 run.
pub const CLIENTS: usize = 5;

/// How long the instructor may take to type a message (`--interactive`).
pub const TYPING_TIME: Duration = Duration::from_secs(300);

/// How long `--pace` waits for Enter before it stops the demo: a lesson's
/// worth of talking, and still a bound.
pub const PACE_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The pause before each narrated step on a terminal without `--pace`.
/// Without it, a demo's steps reach the screen within milliseconds of each
/// other (demo 06: 90 lines in 0.02 s) and the class sees only the last
/// screenful. A second is enough to see one step follow another, and
/// keeps a demo under half a minute; time to read and to talk is what
/// `--pace` is for. In a pipe or a log there is no pause: nobody watches,
/// and tests stay fast.
pub const BEAT: Duration = Duration::from_secs(1);

/// The table of a server's children is refreshed this many times, this
/// often (about 2 s in all), so students see that the zombies stay.
pub const REFRESHES: u32 = 5;
pub const REFRESH_EVERY: Duration = Duration::from_millis(500);

/// `cargo xtask demo ...`
pub fn run(flags: flags::Demo) -> ExitCode {
    if flags.list {
        for show in DEMOS {
            println!("  {:02}  {}", show.lesson, show.what);
        }
        return ExitCode::SUCCESS;
    }
    let ids: Vec<String> = DEMOS.iter().map(|s| format!("{:02}", s.lesson)).collect();
    let Some(name) = &flags.lesson else {
        return usage_error(&format!("give a lesson: {}", ids.join(", ")), "demo");
    };
    let lesson = match lessons::resolve(name) {
        Ok(lesson) => lesson,
        Err(e) => return usage_error(&e, "demo"),
    };
    let Some(show) = DEMOS.iter().find(|s| s.lesson == lesson.number) else {
        let message = format!(
            "lesson {} has no demo (demos exist for {})",
            lesson.id(),
            ids.join(", ")
        );
        return usage_error(&message, "demo");
    };
    if flags.interactive && lesson.number != 1 {
        return usage_error("--interactive applies to demo 01 only", "demo");
    }

    term::catch_interrupts();
    if let Err(e) = lesson_testing::supervisor::become_subreaper() {
        eprintln!("warning: {e}");
    }
    let mut demo = Demo::new(Options {
        interactive: flags.interactive,
        pace: flags.pace,
        trace: flags.trace.then_some(show.tracing),
    });
    let result = (show.narration)(&mut demo, lesson);
    let stopped = demo.stopped.take();
    // The programs' guards went when the narration returned, and the
    // trace files go with the demo; anything that escaped its group was
    // re-parented to us and dies here.
    drop(demo);
    lesson_testing::supervisor::kill_orphans();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) if term::interrupted() => {
            eprintln!("\ninterrupted: everything the demo started has been stopped");
            ExitCode::from(term::EXIT_INTERRUPTED)
        }
        Err(_) if stopped.is_some() => {
            let why = stopped.unwrap_or_default();
            eprintln!("{why}; everything it started has been stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
