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

use crate::flags;
use crate::lessons::{self, Lesson};
use crate::{term, usage_error};

pub use stage::Demo;

/// One lesson's demo: what it shows, step by step.
pub type Narration = fn(&mut Demo, &Lesson) -> Result<(), String>;

/// The demos: each lesson's narration and what it shows, in a line. A
/// lesson without a row here has no demo (adding a lesson needs none).
const DEMOS: &[(u8, Narration, &str)] = &[
    (
        1,
        lesson01::run,
        "one server, one client, one message; the server exits by itself",
    ),
    (
        2,
        lesson02::run,
        "five clients and a silent one; the children in /proc, zombies among them",
    ),
    (
        3,
        lesson03::run,
        "the same clients with --reap handler, then --reap ignore: no zombies",
    ),
    (
        4,
        lesson04::run,
        "datagrams kept whole; one lost and sent again; a client giving up",
    ),
    (
        5,
        lesson05::run,
        "the socket file: in use, removed on SIGTERM, stale after SIGKILL, reclaimed",
    ),
    (
        6,
        lesson06::run,
        "one process, one thread, six clients and a stalled one, all served",
    ),
];

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
pub fn run(flags: flags::Demo) -> ExitCode {
    if flags.list {
        for (number, _, what) in DEMOS {
            println!("  {number:02}  {what}");
        }
        return ExitCode::SUCCESS;
    }
    let ids: Vec<String> = DEMOS.iter().map(|(n, _, _)| format!("{n:02}")).collect();
    let Some(name) = &flags.lesson else {
        return usage_error(&format!("give a lesson: {}", ids.join(", ")), "demo");
    };
    let lesson = match lessons::resolve(name) {
        Ok(lesson) => lesson,
        Err(e) => return usage_error(&e, "demo"),
    };
    let Some((_, narration, _)) = DEMOS.iter().find(|(n, _, _)| *n == lesson.number) else {
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
    let mut demo = Demo::new(flags.interactive);
    let result = narration(&mut demo, lesson);
    // The demos' guards have killed what they started; anything that
    // escaped its group was re-parented to us and dies here.
    lesson_testing::supervisor::kill_orphans();
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
