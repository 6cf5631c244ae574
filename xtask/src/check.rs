//! `cargo xtask check`: runs the lessons' end-to-end tests and turns
//! libtest's output into one verdict line per check and a summary line
//! that CI reads.
//!
//! The tests themselves live in each lesson's `tests/e2e.rs` and drive the
//! binaries through `lesson::testing`, which takes a binary's path from
//! `LESSON_BIN_<NAME>` when it is set: that is how `--impl` grades another
//! implementation with the very same tests. xtask adds what a plain
//! `cargo test` does not promise: a time limit per lesson, and no process
//! left behind, whatever the program under test does (see [`crate::procs`]).

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use crate::lessons::{self, Lesson};
use crate::libtest::{Libtest, Verdict};
use crate::spawn::{self, Ended, Stream};
use crate::term::{self, Color, Style};
use crate::{procs, usage_error};

crate::help_text! {
    /// Run the lessons' end-to-end checks; print a verdict per check.
    ///
    /// usage: cargo xtask check [LESSON...] [--impl DIR] [--no-readiness-line] [--timeout SECS]
    ///
    /// LESSON is 01..06 (or 1, or a directory name such as 01-tcp-basic);
    /// none means every lesson under crates/. The workspace is built first;
    /// then, for each lesson, `cargo test -p PACKAGE --test e2e` runs its
    /// tests/e2e.rs. Each check prints `PASS  NN name` or `FAIL  NN name`
    /// (`SKIP` for an ignored one); the captured output of the failures
    /// follows, and the last line is `N passed, N failed`. The exit status
    /// is 1 if anything failed, the build included.
    ///
    /// options:
    ///   --impl DIR           grade another implementation: take the lessons'
    ///                        servers and clients from DIR (DIR/tcp-server, ...,
    ///                        through LESSON_BIN_TCP_SERVER=... and so on)
    ///   --no-readiness-line  its servers print no `listening on` line (the
    ///                        tutorial's C does not): the checks then watch the
    ///                        kernel's socket tables (LESSON_NO_READINESS_LINE=1)
    ///   --timeout SECS       time limit for each lesson's tests, default 300;
    ///                        the checks unfinished by then fail as timed out
    pub const HELP;
}

/// Default time limit for one lesson's tests.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How long cargo may spend before a lesson's tests start: compiling, or
/// waiting for the build directory's lock while others compile. Counted
/// apart from the tests' own limit, which starts at cargo's `Running` line.
const BUILD_ALLOWANCE: Duration = Duration::from_secs(1200);

/// Time limit for listing a lesson's tests (`--list`), needed only to name
/// the checks a killed run never reported.
const LIST_TIMEOUT: Duration = Duration::from_secs(120);

/// What the command line asked for.
struct Options {
    lessons: Vec<&'static Lesson>,
    /// `--impl DIR`, made absolute (the tests run in their crate's dir).
    implementation: Option<PathBuf>,
    no_readiness_line: bool,
    timeout: Duration,
}

/// Why parsing stopped instead of producing [`Options`].
enum Stop {
    Help,
    Usage(String),
}

/// One verdict line, and what to show about it below the verdicts.
#[derive(Debug)]
struct Check {
    lesson: String,
    /// The test's name, or a description in parentheses when a whole
    /// lesson failed (`(tests did not build)`).
    name: String,
    verdict: Verdict,
    /// Said after the name on the verdict line: `timed out`.
    note: Option<String>,
    /// Shown after all verdicts: the test's captured output, or cargo's.
    detail: Option<String>,
}

impl Check {
    fn new(lesson: &Lesson, name: &str, verdict: Verdict) -> Check {
        Check {
            lesson: lesson.id(),
            name: name.to_string(),
            verdict,
            note: None,
            detail: None,
        }
    }

    /// Prints it, and returns it.
    fn printed(self, style: &Style) -> Check {
        self.print(style);
        self
    }

    fn failed(lesson: &Lesson, name: &str, note: Option<String>, detail: Option<String>) -> Check {
        Check {
            lesson: lesson.id(),
            name: name.to_string(),
            verdict: Verdict::Fail,
            note,
            detail,
        }
    }

    /// Prints its verdict line, coloured on a terminal.
    fn print(&self, style: &Style) {
        let (word, color) = match self.verdict {
            Verdict::Pass => ("PASS", Color::Green),
            Verdict::Fail => ("FAIL", Color::Red),
            Verdict::Skip => ("SKIP", Color::Yellow),
        };
        let note = self
            .note
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        println!(
            "{}  {} {}{note}",
            style.paint(color, word),
            self.lesson,
            self.name
        );
    }
}

/// `cargo xtask check ...`
pub fn run(args: &[String]) -> ExitCode {
    let options = match parse(args) {
        Ok(options) => options,
        Err(Stop::Help) => {
            crate::print_help(HELP);
            return ExitCode::SUCCESS;
        }
        Err(Stop::Usage(message)) => return usage_error(&message, HELP),
    };
    term::catch_interrupts();
    if let Err(e) = procs::become_subreaper() {
        eprintln!("warning: {e}; a process that escapes its group may survive");
    }
    let style = Style::for_stdout();
    let started = Instant::now();

    let mut checks = Vec::new();
    if build_workspace(&style) {
        let overrides = overrides(&options);
        for lesson in &options.lessons {
            if term::interrupted() {
                break;
            }
            checks.extend(check_lesson(lesson, &overrides, options.timeout, &style));
        }
    } else {
        let name = if term::interrupted() {
            "(interrupted during the build)"
        } else {
            "(the workspace did not build: see cargo's errors above)"
        };
        let build = Check {
            lesson: "--".to_string(),
            name: name.to_string(),
            verdict: Verdict::Fail,
            note: None,
            detail: None,
        };
        build.print(&style);
        checks.push(build);
    }
    procs::kill_orphans();

    let failures: Vec<&Check> = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .collect();
    let with_detail: Vec<&&Check> = failures.iter().filter(|c| c.detail.is_some()).collect();
    if !with_detail.is_empty() {
        println!("\nfailures:");
        for check in with_detail {
            let title = format!("---- {} {} ----", check.lesson, check.name);
            println!("\n{}", style.paint(Color::Bold, &title));
            println!("{}", check.detail.as_deref().unwrap_or_default().trim_end());
        }
    }
    let passed = checks.iter().filter(|c| c.verdict == Verdict::Pass).count();
    println!();
    if term::interrupted() {
        println!("interrupted after {:.1} s", started.elapsed().as_secs_f64());
    } else {
        println!("took {:.1} s", started.elapsed().as_secs_f64());
    }
    // The summary line CI reads: exactly this form, alone on its line.
    println!("{passed} passed, {} failed", failures.len());
    if term::interrupted() {
        ExitCode::from(term::EXIT_INTERRUPTED)
    } else if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn parse(args: &[String]) -> Result<Options, Stop> {
    let mut names = Vec::new();
    let mut implementation = None;
    let mut no_readiness_line = false;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        // `--name VALUE` or `--name=VALUE`.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if arg.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |what: &str| match inline.clone().or_else(|| args.next().cloned()) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(Stop::Usage(format!("{flag} needs {what}"))),
        };
        match flag {
            "-h" | "--help" => return Err(Stop::Help),
            "--impl" => implementation = Some(value("a directory")?),
            "--timeout" => {
                let secs = value("a number of seconds")?;
                timeout = match secs.parse::<u64>() {
                    Ok(s) if s > 0 => Duration::from_secs(s),
                    _ => {
                        return Err(Stop::Usage(format!(
                            "--timeout: `{secs}` is not a number of seconds"
                        )))
                    }
                };
            }
            "--no-readiness-line" if inline.is_none() => no_readiness_line = true,
            _ if arg.starts_with('-') => {
                return Err(Stop::Usage(format!("unknown option `{arg}`")))
            }
            _ => names.push(arg.clone()),
        }
    }

    let mut chosen: Vec<&'static Lesson> = Vec::new();
    if names.is_empty() {
        chosen = lessons::LESSONS.iter().collect();
    }
    for name in &names {
        let lesson = lessons::resolve(name).map_err(Stop::Usage)?;
        if !chosen.iter().any(|l| l.number == lesson.number) {
            chosen.push(lesson);
        }
    }

    let implementation = match implementation {
        None => None,
        Some(dir) => {
            let dir = std::env::current_dir().unwrap_or_default().join(dir);
            if !dir.is_dir() {
                return Err(Stop::Usage(format!(
                    "--impl: {} is not a directory",
                    dir.display()
                )));
            }
            Some(dir)
        }
    };
    Ok(Options {
        lessons: chosen,
        implementation,
        no_readiness_line,
        timeout,
    })
}

/// The environment variables that point the tests at another
/// implementation (`LESSON_BIN_TCP_SERVER=DIR/tcp-server`, ...) or tell
/// them its servers print no readiness line.
fn overrides(options: &Options) -> Vec<(String, OsString)> {
    let mut vars = Vec::new();
    if let Some(dir) = &options.implementation {
        for lesson in &options.lessons {
            for name in lesson.binaries() {
                let path = dir.join(name);
                if !path.is_file() {
                    eprintln!(
                        "warning: {} does not exist; lesson {}'s checks that run it will fail",
                        path.display(),
                        lesson.id()
                    );
                }
                let variable = lesson_testing::override_variable(name);
                println!("    {variable}={}", path.display());
                vars.push((variable, path.into_os_string()));
            }
        }
    }
    if options.no_readiness_line {
        println!("    LESSON_NO_READINESS_LINE=1");
        vars.push(("LESSON_NO_READINESS_LINE".to_string(), "1".into()));
    }
    vars
}

/// `cargo build --workspace --all-targets`, its output going straight to
/// the terminal. Whether it succeeded.
fn build_workspace(style: &Style) -> bool {
    println!(
        "{}",
        style.paint(Color::Bold, "==> cargo build --workspace --all-targets")
    );
    let status = Command::new(lessons::cargo())
        .args(["build", "--workspace", "--all-targets"])
        .current_dir(lessons::workspace_root())
        .status();
    match status {
        Ok(status) => status.success(),
        Err(e) => {
            eprintln!("error: cannot run cargo: {e}");
            false
        }
    }
}

/// Runs one lesson's end-to-end tests, printing each verdict as it
/// arrives; returns them all, including a failed verdict for every check
/// that never reported (the run timed out, crashed, or did not build).
fn check_lesson(
    lesson: &Lesson,
    env: &[(String, OsString)],
    timeout: Duration,
    style: &Style,
) -> Vec<Check> {
    let header = format!(
        "==> {} ({}): cargo test -p {} --test e2e -- --test-threads=2",
        lesson.id(),
        lesson.transport.name(),
        lesson.package
    );
    println!("{}", style.paint(Color::Bold, &header));
    if !lesson.e2e_tests().is_file() {
        let detail = format!("{} does not exist.", lesson.e2e_tests().display());
        return vec![
            Check::failed(lesson, "(no end-to-end tests)", None, Some(detail)).printed(style),
        ];
    }
    let run = match run_tests(lesson, env, timeout, style) {
        Ok(run) => run,
        Err(e) => {
            let check = Check::failed(lesson, "(cannot run cargo test)", None, Some(e.to_string()));
            return vec![check.printed(style)];
        }
    };
    let mut checks = run.reported_checks(lesson);
    let extra = unfinished_checks(lesson, env, &run, &checks, timeout);
    for check in &extra {
        check.print(style);
    }
    checks.extend(extra);
    checks
}

/// What one lesson's `cargo test` run produced.
struct TestRun {
    libtest: Libtest,
    /// cargo's (and a crashed test binary's) last stderr lines.
    cargo_output: Tail,
    ended: Ended,
    /// Whether cargo got as far as starting the test binary.
    tests_started: bool,
}

/// Step 1: run the lesson's tests under supervision, printing each
/// verdict as libtest announces it. The time limit starts when the tests
/// do; before that, cargo gets [`BUILD_ALLOWANCE`].
fn run_tests(
    lesson: &Lesson,
    env: &[(String, OsString)],
    timeout: Duration,
    style: &Style,
) -> std::io::Result<TestRun> {
    let mut command = e2e_command(lesson.package, "--test-threads=2", env);
    let mut libtest = Libtest::default();
    let mut cargo_output = Tail::default();
    let mut tests_started = false;
    let started = Instant::now();
    let ended = spawn::supervise(
        &mut command,
        started + BUILD_ALLOWANCE,
        |stream, line, deadline| match stream {
            Stream::Stdout => {
                if let Some((name, verdict)) = libtest.line(line) {
                    Check::new(lesson, &name, verdict).print(style);
                }
            }
            Stream::Stderr => {
                if !tests_started && line.trim_start().starts_with("Running ") {
                    tests_started = true;
                    *deadline = Instant::now() + timeout;
                }
                cargo_output.push(line);
            }
        },
    )?;
    println!("    ({:.1} s)", started.elapsed().as_secs_f64());
    Ok(TestRun {
        libtest,
        cargo_output,
        ended,
        tests_started,
    })
}

impl TestRun {
    /// Step 2: the checks that reported, with the captured output of the
    /// failed ones.
    fn reported_checks(&self, lesson: &Lesson) -> Vec<Check> {
        self.libtest
            .results
            .iter()
            .map(|(name, verdict)| Check {
                detail: self.libtest.details.get(name).cloned(),
                ..Check::new(lesson, name, *verdict)
            })
            .collect()
    }

    /// Why some checks may never have reported: the verdict line's note,
    /// and the start of the explanation shown with the failures. `None`
    /// when the run succeeded.
    fn why_unfinished(&self, timeout: Duration) -> Option<(String, String)> {
        match self.ended {
            Ended::Exited(status) if status.success() => None,
            // Failed tests make the run fail; if they account for it, good.
            Ended::Exited(status) => Some((
                "the test run ended first".to_string(),
                format!("The test run ended ({status}) before these checks reported"),
            )),
            Ended::TimedOut if self.tests_started => Some((
                format!("timed out after {} s", timeout.as_secs()),
                format!(
                    "The lesson's tests ran out of time ({} s) and were killed before these \
                     checks reported, queued ones included",
                    timeout.as_secs()
                ),
            )),
            Ended::TimedOut => Some((
                "the tests never started".to_string(),
                format!(
                    "cargo did not start the tests within {} s (compiling, or waiting for the \
                     build directory's lock) and was killed",
                    BUILD_ALLOWANCE.as_secs()
                ),
            )),
            Ended::Interrupted => Some(("interrupted".to_string(), String::new())),
        }
    }
}

/// Step 3: a failed verdict for each check the run never reported, found
/// by listing the lesson's tests; or one line for the whole lesson when
/// even that is impossible (the tests do not build).
fn unfinished_checks(
    lesson: &Lesson,
    env: &[(String, OsString)],
    run: &TestRun,
    reported: &[Check],
    timeout: Duration,
) -> Vec<Check> {
    let Some((note, explanation)) = run.why_unfinished(timeout) else {
        return if reported.is_empty() {
            let detail = Some(run.cargo_output.text());
            vec![Check::failed(lesson, "(no checks ran)", None, detail)]
        } else {
            Vec::new()
        };
    };
    // The user wants out: no listing, one line for the lesson.
    if matches!(run.ended, Ended::Interrupted) {
        return vec![Check::failed(lesson, "(interrupted)", None, None)];
    }
    let mut extra = Vec::new();
    match list_tests(lesson, env) {
        Ok(names) => {
            let seen: HashSet<&str> = reported.iter().map(|c| c.name.as_str()).collect();
            let unfinished: Vec<String> = names
                .into_iter()
                .filter(|n| !seen.contains(n.as_str()))
                .collect();
            // One explanation for them all, under the first.
            let count = match unfinished.len() {
                1 => "1 check".to_string(),
                n => format!("{n} checks"),
            };
            let mut detail = Some(format!(
                "{explanation} ({count}). cargo's last lines:\n{}",
                run.cargo_output.text()
            ));
            for name in unfinished {
                extra.push(Check::failed(
                    lesson,
                    &name,
                    Some(note.clone()),
                    detail.take(),
                ));
            }
        }
        Err(_) => extra.push(Check::failed(
            lesson,
            "(the tests did not build or run)",
            None,
            Some(run.cargo_output.text()),
        )),
    }
    let any_failed = reported.iter().any(|c| c.verdict == Verdict::Fail);
    if extra.is_empty() && !any_failed {
        // Everything reported passed, yet the run failed.
        extra.push(Check::failed(
            lesson,
            "(the test run failed)",
            Some(note),
            Some(format!(
                "{explanation}. cargo's last lines:\n{}",
                run.cargo_output.text()
            )),
        ));
    }
    extra
}

/// `cargo test -p PACKAGE --test e2e -- LIBTEST_ARG`, from the workspace
/// root, with `env` (the binary overrides) set.
fn e2e_command(package: &str, libtest_arg: &str, env: &[(String, OsString)]) -> Command {
    let mut command = Command::new(lessons::cargo());
    command
        .args(["test", "-p", package, "--test", "e2e", "--", libtest_arg])
        .current_dir(lessons::workspace_root())
        // A quiet cargo (`term.quiet` in a config, or CARGO_TERM_QUIET)
        // would make libtest print dots instead of the lines we read.
        .env("CARGO_TERM_QUIET", "false")
        .envs(env.iter().map(|(k, v)| (k, v)));
    command
}

/// The names of a lesson's end-to-end tests (`cargo test ... -- --list`),
/// or cargo's last lines if it could not list them.
fn list_tests(lesson: &Lesson, env: &[(String, OsString)]) -> Result<Vec<String>, String> {
    let mut command = e2e_command(lesson.package, "--list", env);
    let mut names = Vec::new();
    let mut cargo_output = Tail::default();
    let ended = spawn::supervise(
        &mut command,
        Instant::now() + LIST_TIMEOUT,
        |stream, line, _| match stream {
            // `name: test` for each test (benchmarks say `: bench`).
            Stream::Stdout => names.extend(line.strip_suffix(": test").map(str::to_string)),
            Stream::Stderr => cargo_output.push(line),
        },
    )
    .map_err(|e| e.to_string())?;
    match ended {
        Ended::Exited(status) if status.success() => Ok(names),
        _ => Err(cargo_output.text()),
    }
}

/// The last lines of cargo's stderr (compiler errors, a crashed test
/// binary's message), to show when a run failed outside any one test.
#[derive(Default)]
struct Tail(Vec<String>);

impl Tail {
    const KEEP: usize = 60;

    fn push(&mut self, line: &str) {
        if self.0.len() == Self::KEEP {
            self.0.remove(0);
        }
        self.0.push(line.to_string());
    }

    fn text(&self) -> String {
        self.0.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lessons_are_named_by_number_or_directory() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let Ok(options) = parse(&args(&["1", "01-tcp-basic", "--timeout=7"])) else {
            panic!("a valid command line was refused");
        };
        assert_eq!(
            options.lessons.len(),
            1,
            "the same lesson twice is checked once"
        );
        assert_eq!(options.lessons[0].id(), "01");
        assert_eq!(options.timeout, Duration::from_secs(7));
        assert!(matches!(parse(&args(&["07"])), Err(Stop::Usage(_))));
        assert!(matches!(parse(&args(&["--bogus"])), Err(Stop::Usage(_))));
        assert!(matches!(parse(&args(&["--impl"])), Err(Stop::Usage(_))));
        assert!(matches!(parse(&args(&["--help"])), Err(Stop::Help)));
    }
}
