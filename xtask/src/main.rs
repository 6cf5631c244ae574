//! `cargo xtask`: the course's task runner, plain Rust instead of shell
//! scripts (the cargo-xtask pattern, as in rust-analyzer).
//!
//! `.cargo/config.toml` makes `cargo xtask ...` mean `cargo run --package
//! xtask -- ...`, so it works from anywhere in the tree on any machine that
//! has cargo. This file only reads the command line ([`xtask::flags`]) and
//! hands it to the subcommand's module; ARCHITECTURE.md maps the rest.

use std::process::ExitCode;

use argh::FromArgs;
use xtask::flags::{Subcommand, Xtask};

/// Exit status for a usage error, as the lessons' own binaries use it.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    // The sandbox's entry, before anything else: it forks, so no thread
    // may have started.
    let raw: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if raw.first().is_some_and(|a| a == xtask::sandbox::ENTRY) {
        return xtask::sandbox::main(&raw[1..]);
    }
    let mut args = Vec::new();
    for arg in raw {
        match arg.into_string() {
            // `-h` as everywhere else in the course (argh knows `--help`).
            Ok(arg) if arg == "-h" => args.push("--help".to_string()),
            Ok(arg) => args.push(arg),
            Err(arg) => return usage_error(&format!("argument {arg:?} is not valid UTF-8")),
        }
    }
    // The bench reads its own arguments, `--help` included.
    if args.first().is_some_and(|a| a == "bench") {
        return xtask::bench::run(&args[1..]);
    }
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let flags = match Xtask::from_args(&["cargo xtask"], &words) {
        Ok(flags) => flags,
        Err(early) if early.status.is_ok() => {
            print!("{}", early.output);
            return ExitCode::SUCCESS;
        }
        Err(early) => return usage_error(early.output.trim_end()),
    };
    match flags.subcommand {
        Subcommand::Check(flags) => xtask::check::run(flags),
        Subcommand::Demo(flags) => xtask::demo::run(flags),
        Subcommand::Exercises(flags) => xtask::exercises::run(flags),
        Subcommand::Stress(flags) => xtask::stress::run(flags),
        Subcommand::Bench(flags) => xtask::bench::run(&flags.args),
        Subcommand::Workbook(flags) => xtask::workbook::run(flags),
        Subcommand::Progress(flags) => xtask::watch::progress(flags),
        Subcommand::Watch(flags) => xtask::watch::watch(flags),
        Subcommand::Book(flags) => xtask::book::run(flags),
    }
}

/// One line on stderr, and where to read more: the error stays on screen
/// instead of scrolling away under the whole help text.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    eprintln!("(`cargo xtask --help` lists the subcommands and their options)");
    ExitCode::from(EXIT_USAGE)
}
