//! xtask's command line, declared once: each subcommand is a struct whose
//! doc comments are its help text, and `argh` derives the parser and the
//! help from it (as rust-analyzer's xtask does with `xflags`). The
//! subcommands' modules take these structs and never see raw arguments.

use std::path::PathBuf;

use argh::FromArgs;

/// cargo xtask: checks, demos and exercises for the Sockets Tutorial in Rust.
#[derive(FromArgs, Debug)]
#[argh(note = "`cargo xtask SUBCOMMAND --help` shows a subcommand's options.")]
pub struct Xtask {
    #[argh(subcommand)]
    pub subcommand: Subcommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub enum Subcommand {
    Check(Check),
    Demo(Demo),
    Exercises(Exercises),
    Stress(Stress),
    Bench(Bench),
    Workbook(Workbook),
    Progress(Progress),
    Watch(Watch),
    Book(Book),
}

/// Run the lessons' end-to-end checks; print a verdict per check.
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "check",
    note = "The workspace's tests are built first; then each lesson's tests/e2e.rs runs, \
four checks at a time. Each check prints `PASS  NN name` or `FAIL  NN name` (`SKIP` for an \
ignored one); after them, each failure says which rule of the contract broke, which section \
of the book explains it, and what the check expected and saw. The last line is \
`N passed, N failed`. The checks run in a sandbox where one can be had (namespaces of their \
own: PID, network with loopback only, mount with a private /tmp, user), and every program \
under test runs under limits it cannot lift; a program stopped by one is named with the \
limit.",
    error_code(1, "something failed (the build included)"),
    error_code(2, "a usage error"),
    example = "cargo xtask check 01 02\ncargo xtask check --impl ../c-version/bin --no-readiness-line --junit checks.xml"
)]
pub struct Check {
    /// the lessons to check: a number (01 or 1) or a directory name under
    /// crates/; none means every lesson
    #[argh(positional, arg_name = "LESSON")]
    pub lessons: Vec<String>,
    /// grade another implementation: take the lessons' servers and clients
    /// from DIR (DIR/tcp-server, ...)
    #[argh(option, long = "impl", arg_name = "DIR")]
    pub implementation: Option<PathBuf>,
    /// its servers print no `listening on` line (the tutorial's C does
    /// not): the checks then watch the kernel's socket tables
    #[argh(switch)]
    pub no_readiness_line: bool,
    /// time limit for each lesson's checks in seconds, default 28; a check
    /// still running then fails as timed out
    #[argh(option, arg_name = "SECS")]
    pub timeout: Option<u64>,
    /// also write the verdicts as JUnit XML
    #[argh(option, arg_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// also write the verdicts as JSON
    #[argh(option, arg_name = "FILE")]
    pub json: Option<PathBuf>,
    /// memory each program under test may use, in MiB (default 1024)
    #[argh(option, arg_name = "MIB")]
    pub memory: Option<u64>,
    /// processes and threads the programs under test may have at once
    /// (default 1024)
    #[argh(option, arg_name = "N")]
    pub processes: Option<u64>,
    /// CPU time each program under test may use, in seconds (default 10)
    #[argh(option, arg_name = "SECS")]
    pub cpu: Option<u64>,
    /// the largest file a program under test may write, in MiB (default 64)
    #[argh(option, arg_name = "MIB")]
    pub file_size: Option<u64>,
    /// grade your workbook (workbook/, see `cargo xtask workbook`): the
    /// lessons you have started, then your progress and the next step
    #[argh(switch)]
    pub workbook: bool,
    /// also write Gradescope's results.json: a test per check, each lesson
    /// worth --points
    #[argh(option, arg_name = "FILE")]
    pub gradescope: Option<PathBuf>,
    /// points per lesson in --gradescope's results, shared by its checks
    /// (default 10)
    #[argh(option, arg_name = "N")]
    pub points: Option<f64>,
}

/// Show a lesson at work, for class: both sides' output, narrated.
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "demo",
    note = "The demo builds the lesson's binaries, starts its server (on a port the kernel \
chooses, or for 05 at a path in a fresh directory), runs clients against it and shows every \
line each side writes, labelled `server` or `client`, with a line starting `==>` saying what \
happens at each step. With --trace, lines marked `>` are the system calls each side made, in \
the order they returned. Lines fit the terminal (80 columns in a pipe or a log). On a terminal \
each step comes a second after the last; with --pace, when you press Enter (within 30 \
minutes). Every other wait gives up after 10 s. Whatever the demo started is killed when it \
ends, also on an error, Ctrl-C or the end of input. `--list` names the demos.",
    example = "cargo xtask demo 02 --trace --pace\ncargo xtask demo --list"
)]
pub struct Demo {
    /// the lesson to show: a number (01 or 1) or a directory name
    #[argh(positional, arg_name = "LESSON")]
    pub lesson: Option<String>,
    /// list the demos, a line each
    #[argh(switch)]
    pub list: bool,
    /// wait for Enter before each narrated step, so you can talk; at the
    /// end of input (Ctrl-D) the demo stops
    #[argh(switch)]
    pub pace: bool,
    /// show the system calls each side makes, as strace sees them (needs
    /// strace: apt-get install strace), filtered to the lesson's
    #[argh(switch)]
    pub trace: bool,
    /// (01 only) you type the client's message
    #[argh(switch)]
    pub interactive: bool,
}

/// Apply each chapter exercise to a copy of the workspace; check its prediction.
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "exercises",
    note = "Each entry of a lesson's crates/NN-*/exercises.toml is one numbered exercise of \
its chapter, or a common mistake: an edit, and what the checks will say (these checks fail, \
every check passes, the build fails with error EXXXX, or: by hand only). For each entry the \
workspace is copied to target/exercises/workspace (your files are never changed), the edit \
applied, and the lesson's checks built and run there exactly as `cargo xtask check` runs \
them. One line per exercise: predicted, observed, time, and `ok` or `DIFFERS`; the details \
of each difference follow.",
    error_code(
        1,
        "an observation differs from its prediction, or an entry cannot be applied"
    ),
    error_code(2, "a usage error, or an exercises file that cannot be read"),
    example = "cargo xtask exercises 03/2 01"
)]
pub struct Exercises {
    /// a lesson (01), or one exercise of it (03/2); none means every lesson
    #[argh(positional, arg_name = "LESSON[/N]")]
    pub chosen: Vec<String>,
    /// show the entries and their predictions; run nothing
    #[argh(switch)]
    pub list: bool,
}

/// Run end-to-end checks many times with every core loaded; count failures.
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "stress",
    note = "Builds the checks once, then runs each lesson's checks N times exactly as \
`cargo xtask check` runs them, while busy threads keep the machine loaded as a busy CI \
machine is. Prints each failing run's checks and, per lesson, runs and failures; the last \
line is `N passed, N failed` counting runs. A check that fails now and then is a defect."
)]
pub struct Stress {
    /// the lessons to run: a number or a directory name; none means every
    /// lesson
    #[argh(positional, arg_name = "LESSON")]
    pub lessons: Vec<String>,
    /// runs per lesson, default 100
    #[argh(option, default = "100", arg_name = "N")]
    pub runs: usize,
    /// busy threads, default one per core
    #[argh(option, arg_name = "N")]
    pub load: Option<usize>,
}

/// Measure the servers against another implementation (its own crate: see `bench --help`).
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "bench",
    note = "The bench is a crate of its own, xtask/bench: this builds it in release mode and \
runs it with the arguments given. `cargo xtask bench --help` shows its options."
)]
pub struct Bench {
    /// the bench's own arguments
    #[argh(positional, greedy)]
    pub args: Vec<String>,
}

/// Start a lesson in your workbook: its programs, with its steps left for you.
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "workbook",
    note = "Makes workbook/NN-name/, a crate of your own with the lesson's server and client: \
everything but the lesson's own steps is in place (arguments, error reporting, the readiness \
line), and each step the chapter teaches is a `todo!()` that says which section to read. It \
builds at once. Grade it with `cargo xtask check NN --workbook`, or `cargo xtask watch NN`. \
A crate that exists is never changed; --reset keeps it in workbook/.before-reset/ and makes a \
fresh one.",
    example = "cargo xtask workbook 01\ncargo xtask check 01 --workbook"
)]
pub struct Workbook {
    /// the lesson: a number (01 or 1) or a directory name
    #[argh(positional, arg_name = "LESSON")]
    pub lesson: String,
    /// start again: your crate is kept in workbook/.before-reset/
    #[argh(switch)]
    pub reset: bool,
}

/// Your workbook's progress: each lesson, started or not, its checks passing, the next step.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "progress")]
pub struct Progress {}

/// Grade a lesson of your workbook whenever you save one of its files.
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "watch",
    note = "Builds and grades workbook/NN-name once, then again each time a file under its src/ \
changes, showing only the checks whose verdict changed and the next step. Ctrl-C ends it."
)]
pub struct Watch {
    /// the lesson: a number (01 or 1) or a directory name
    #[argh(positional, arg_name = "LESSON")]
    pub lesson: String,
}
/// Build the book with mdBook and read each chapter in headless Chromium.
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "book",
    note = "Builds docs/ with `mdbook build` into target/book and fails on anything mdBook \
warns about, and on any page of the built HTML whose links, images, stylesheets or scripts \
name a file the book lacks, whose links point at an id their page lacks, or where an \
{{{{#include}}}} was left unresolved or quoted nothing. Then it serves the book on 127.0.0.1 and \
opens each chapter of its table of contents in headless Chromium, where the page checks \
that every image loaded and every relative link answers and leads to its fragment's id, and \
that nothing the page loads fails nor any script throws; a screenshot of each chapter, and \
of each of its figures, goes to target/book-screenshots/. One line per chapter; the last \
line is `N passed, N failed`, the build counting as one. Every wait is bounded, and the \
browser is killed at the end, also on an error or Ctrl-C. \
Needs mdbook (`cargo install mdbook --locked --version 0.5.4`) and chromium \
(`apt-get install chromium`).",
    error_code(1, "a problem in the book, or mdbook or chromium missing or failing")
)]
pub struct Book {}
