//! `cargo xtask`: the course's task runner, plain Rust instead of shell
//! scripts (the cargo-xtask pattern, as in rust-analyzer).
//!
//! `.cargo/config.toml` makes `cargo xtask ...` mean `cargo run --package
//! xtask -- ...`, so it works from anywhere in the tree on any machine that
//! has cargo. Each subcommand lives in a module of its own, and the doc
//! comment on its `HELP` constant is its help text:
//!
//! - [`check`]: run the lessons' end-to-end checks, on our binaries or on
//!   any other implementation of the contract;
//! - [`demo`]: show a lesson at work in class, both sides' output labelled
//!   and narrated;
//! - [`stress`]: run the end-to-end tests many times on a loaded machine,
//!   to prove them stable;
//! - [`exercises`]: apply each of the book's exercises to a copy of the
//!   workspace and check that what happens is what the chapter predicts;
//! - [`bench`]: measure the servers (throughput, latency, CPU, memory)
//!   against the machine's limits and another implementation.
//!
//! The other modules are the machinery they share: [`lessons`] (the lesson
//! registry, the one list of lessons), [`spawn`] (running a program to its
//! end under a deadline, on the test harness's process supervisor),
//! [`libtest`] (reading `cargo test`'s output), [`procs`] (`/proc`, and
//! killing whatever is left), [`term`] (colours, Ctrl-C). `tidy` holds the
//! house rules, checked by `cargo test -p xtask`.

mod bench;
mod check;
mod checkdoc;
mod demo;
mod exercises;
mod lessons;
mod libtest;
mod procs;
mod spawn;
mod stress;
mod term;
#[cfg(test)]
mod tidy;
mod verdicts;

use std::process::ExitCode;

/// Declares a `&str` constant whose value is its own doc comment, so the
/// text a reader sees above a subcommand is the help a user gets.
macro_rules! help_text {
    ($(#[doc = $line:literal])* $vis:vis const $name:ident;) => {
        $(#[doc = $line])*
        $vis const $name: &str = concat!($($line, "\n"),*);
    };
}
pub(crate) use help_text;

/// Exit status for a usage error (unknown subcommand, lesson or option),
/// as the lessons' own binaries use it.
pub const EXIT_USAGE: u8 = 2;

help_text! {
    /// Show the list of subcommands, or one subcommand's help.
    ///
    /// usage: cargo xtask help [SUBCOMMAND]
    ///        cargo xtask SUBCOMMAND --help
    pub const HELP;
}

/// One subcommand: its name, its help (the first line is its summary),
/// and the function that runs it with the arguments after its name.
struct Subcommand {
    name: &'static str,
    help: &'static str,
    run: fn(&[String]) -> ExitCode,
}

const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand {
        name: "check",
        help: check::HELP,
        run: check::run,
    },
    Subcommand {
        name: "demo",
        help: demo::HELP,
        run: demo::run,
    },
    Subcommand {
        name: "stress",
        help: stress::HELP,
        run: stress::run,
    },
    Subcommand {
        name: "exercises",
        help: exercises::HELP,
        run: exercises::run,
    },
    Subcommand {
        name: "bench",
        help: bench::HELP,
        run: bench::run,
    },
    Subcommand {
        name: "help",
        help: HELP,
        run: help,
    },
];

fn main() -> ExitCode {
    let mut args = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.into_string() {
            Ok(arg) => args.push(arg),
            Err(arg) => {
                eprintln!("error: argument {arg:?} is not valid UTF-8\n");
                eprint!("{}", overview());
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    let Some((name, rest)) = args.split_first() else {
        eprint!("{}", overview());
        return ExitCode::from(EXIT_USAGE);
    };
    if matches!(name.as_str(), "-h" | "--help") {
        return help(rest);
    }
    match SUBCOMMANDS.iter().find(|s| s.name == name) {
        Some(subcommand) => (subcommand.run)(rest),
        None => {
            eprintln!("error: unknown subcommand `{name}`\n");
            eprint!("{}", overview());
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// `cargo xtask help [SUBCOMMAND]`.
fn help(args: &[String]) -> ExitCode {
    match args {
        [] => {
            print!("{}", overview());
            ExitCode::SUCCESS
        }
        [name] => match SUBCOMMANDS.iter().find(|s| s.name == name) {
            Some(subcommand) => {
                print_help(subcommand.help);
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("error: unknown subcommand `{name}`\n");
                eprint!("{}", overview());
                ExitCode::from(EXIT_USAGE)
            }
        },
        _ => {
            eprint!("{}", unindent(HELP));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The top-level help: every subcommand with its summary line.
fn overview() -> String {
    let mut text = String::from(
        "cargo xtask: checks and demos for the Sockets Tutorial in Rust\n\n\
         usage: cargo xtask SUBCOMMAND [ARGS...]\n\nsubcommands:\n",
    );
    for subcommand in SUBCOMMANDS {
        let summary = unindent(subcommand.help);
        let summary = summary.lines().next().unwrap_or_default();
        text.push_str(&format!("  {:<9} {summary}\n", subcommand.name));
    }
    text.push_str("\n`cargo xtask help SUBCOMMAND` shows a subcommand's options.\n");
    text
}

/// Prints a subcommand's help on stdout (asked for, so not an error).
pub fn print_help(help: &str) {
    print!("{}", unindent(help));
}

/// Prints a usage error and the subcommand's help on stderr; returns the
/// usage exit status.
pub fn usage_error(message: &str, help: &str) -> ExitCode {
    eprintln!("error: {message}\n");
    eprint!("{}", unindent(help));
    ExitCode::from(EXIT_USAGE)
}

/// Doc comment text as written (`/// text` keeps the space after `///`),
/// without that one leading space.
fn unindent(doc: &str) -> String {
    doc.lines()
        .map(|line| format!("{}\n", line.strip_prefix(' ').unwrap_or(line)))
        .collect()
}
