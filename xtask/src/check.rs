//! `cargo xtask check`: runs the lessons' end-to-end checks as a grader
//! would, and gives one verdict per check: a line for people, and on
//! request JUnit XML and JSON for machines.
//!
//! The checks themselves live in each lesson's `tests/e2e.rs` and drive the
//! binaries through `lesson_testing`, which takes a binary's path from
//! `LESSON_BIN_<NAME>` when it is set: that is how `--impl` grades another
//! implementation with the very same checks. The runner
//! ([`crate::runner`]) adds what a plain `cargo test` does not promise: a
//! time limit per lesson that a hanging program cannot stretch, a verdict
//! for every check whatever happened, and nothing left behind. This module
//! adds, for each failure, the rule of the contract that broke and the
//! section of the book that explains it (from the check's doc comment, see
//! [`crate::checks_source`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use lesson_testing::supervisor::Limits;

use crate::checks_source;
use crate::flags;
use crate::lessons::{self, Lesson};
use crate::libtest::Verdict;
use crate::runner::{self, BuildFailure, Check, Options};
use crate::term::{self, Color, Style};
use crate::{usage_error, workbook};

/// `cargo xtask check ...`
pub fn run(flags: flags::Check) -> ExitCode {
    let mut chosen = match lessons::resolve_all(&flags.lessons) {
        Ok(chosen) => chosen,
        Err(e) => return usage_error(&e, "check"),
    };
    if flags.workbook && flags.implementation.is_some() {
        return usage_error(
            "--workbook and --impl name two implementations: give one",
            "check",
        );
    }
    let implementation = match &flags.implementation {
        Some(dir) if !dir.is_dir() => {
            let shown = dir.display();
            return usage_error(&format!("--impl: {shown} is not a directory"), "check");
        }
        Some(dir) => Some(absolute(dir)),
        None if flags.workbook => Some(workbook::binaries()),
        None => None,
    };
    let limits = match limits(&flags) {
        Ok(limits) => limits,
        Err(e) => return usage_error(&e, "check"),
    };
    let time = match flags.timeout {
        Some(0) => return usage_error("--timeout: give a number of seconds above 0", "check"),
        Some(secs) => Duration::from_secs(secs),
        None => runner::LESSON_TIME,
    };
    let points = match flags.points {
        Some(p) if !(p.is_finite() && p > 0.0) => {
            return usage_error("--points: give a number of points above 0", "check")
        }
        Some(p) => p,
        None => DEFAULT_POINTS,
    };
    term::catch_interrupts();
    if let Err(e) = lesson_testing::supervisor::become_subreaper() {
        eprintln!("warning: {e}; a process that escapes its group may survive");
    }
    let style = Style::for_stdout();
    let started = Instant::now();
    let mut not_started = Vec::new();
    if flags.workbook {
        let (started_ones, others): (Vec<&Lesson>, Vec<&Lesson>) =
            chosen.iter().partition(|l| workbook::is_started(l));
        not_started = others;
        chosen = started_ones;
        for lesson in &not_started {
            println!(
                "{}  {} (not started: `cargo xtask workbook {}` makes it)",
                style.paint(Color::Dim, "----"),
                lesson.id(),
                lesson.id()
            );
        }
    }
    let mut env = overrides(&chosen, implementation.as_deref(), flags.no_readiness_line);
    if !flags.workbook {
        show_overrides(&env);
    }
    env.push((Limits::VARIABLE.to_string(), limits.to_variable().into()));
    let options = Options { env, time };
    match runner::sandbox() {
        Ok(()) => println!("    sandbox: namespaces of its own for each lesson's run"),
        Err(why) => println!("note: no sandbox ({why}): the checks run as plain processes"),
    }
    let checks = if chosen.is_empty() {
        Vec::new()
    } else if flags.workbook && !build_workbook(&style) {
        let build = Check::failed(
            "--",
            "(your workbook did not build: see cargo's errors above)",
            None,
            None,
        );
        print_verdict(&build, &style);
        vec![build]
    } else {
        grade(&chosen, &options, Some(&style))
    };
    lesson_testing::supervisor::kill_orphans();

    report(&checks, started.elapsed(), &style);
    if flags.workbook {
        println!();
        for line in workbook::progress(&chosen, &not_started, &checks) {
            println!("{line}");
        }
    }
    let written = [
        flags
            .junit
            .as_ref()
            .map(|f| (f, crate::verdicts::junit(&checks))),
        flags
            .json
            .as_ref()
            .map(|f| (f, crate::verdicts::json(&checks))),
        flags
            .gradescope
            .as_ref()
            .map(|f| (f, crate::verdicts::gradescope(&checks, points))),
    ];
    let mut write_failed = false;
    for (file, contents) in written.into_iter().flatten() {
        if let Err(e) = contents.and_then(|c| std::fs::write(file, c).map_err(|e| e.to_string())) {
            eprintln!("error: writing {}: {e}", file.display());
            write_failed = true;
        }
    }
    let failures = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    if term::interrupted() {
        ExitCode::from(term::EXIT_INTERRUPTED)
    } else if failures == 0 && !write_failed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Points per lesson in Gradescope's results, unless `--points` says.
const DEFAULT_POINTS: f64 = 10.0;

/// Builds the checks, then runs each chosen lesson's; a failed build is one
/// failed verdict. With `style` `None`, prints nothing.
pub fn grade(chosen: &[&Lesson], options: &Options, style: Option<&Style>) -> Vec<Check> {
    if let Some(style) = style {
        println!(
            "{}",
            style.paint(Color::Bold, "==> cargo test --workspace --no-run")
        );
    }
    match runner::build(&lessons::workspace_root(), None, style.is_some()) {
        Ok(binaries) => {
            let mut checks = Vec::new();
            for lesson in chosen {
                if term::interrupted() {
                    break;
                }
                let binary = binaries.get(&lesson.number).map(PathBuf::as_path);
                checks.extend(check_lesson(lesson, binary, options, style));
            }
            checks
        }
        Err(failure) => {
            let name = match failure {
                BuildFailure::Interrupted => "(interrupted during the build)".to_string(),
                BuildFailure::Failed { .. } => {
                    "(the workspace did not build: see cargo's errors above)".to_string()
                }
                BuildFailure::Broken(why) => format!("({why})"),
            };
            let build = Check::failed("--", &name, None, None);
            if let Some(style) = style {
                print_verdict(&build, style);
            }
            vec![build]
        }
    }
}

/// Builds the student's workbook (its errors go to the terminal); whether
/// it built.
pub fn build_workbook(style: &Style) -> bool {
    println!(
        "{}",
        style.paint(Color::Bold, "==> your workbook: cargo build")
    );
    match workbook::build() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("{e}");
            false
        }
    }
}

/// The limits for programs under test: the harness's defaults, with what
/// the flags change.
fn limits(flags: &flags::Check) -> Result<Limits, String> {
    const MIB: u64 = 1 << 20;
    let mut limits = Limits::DEFAULT;
    let given = [
        ("--memory", flags.memory, &mut limits.memory, MIB),
        ("--processes", flags.processes, &mut limits.processes, 1),
        ("--cpu", flags.cpu, &mut limits.cpu_seconds, 1),
        ("--file-size", flags.file_size, &mut limits.file_size, MIB),
    ];
    for (flag, value, slot, unit) in given {
        match value {
            Some(0) => return Err(format!("{flag}: a limit of 0 leaves nothing to run")),
            Some(value) => *slot = value.saturating_mul(unit),
            None => {}
        }
    }
    Ok(limits)
}

/// Prints a verdict line, coloured on a terminal.
pub fn print_verdict(check: &Check, style: &Style) {
    let (word, color) = match check.verdict {
        Verdict::Pass => ("PASS", Color::Green),
        Verdict::Fail => ("FAIL", Color::Red),
        Verdict::Skip => ("SKIP", Color::Yellow),
    };
    let note = check
        .note
        .as_ref()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    println!(
        "{}  {} {}{note}",
        style.paint(color, word),
        check.lesson,
        check.name
    );
}

/// Prints the failures' explanations and the summary line CI reads.
fn report(checks: &[Check], took: Duration, style: &Style) {
    let failures: Vec<&Check> = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .collect();
    let causes = crate::causes::common(checks);
    if !causes.is_empty() {
        println!(
            "\n{}",
            style.paint(
                Color::Bold,
                "first, what most of the failures have in common:"
            )
        );
        for cause in &causes {
            println!("- {cause}");
        }
    }
    if !failures.is_empty() {
        println!("\nfailures:");
        for check in &failures {
            let title = format!("---- {} {} ----", check.lesson, check.name);
            println!("\n{}", style.paint(Color::Bold, &title));
            print!("{}", check.explanation());
        }
    }
    let passed = checks.iter().filter(|c| c.verdict == Verdict::Pass).count();
    println!();
    let how = if term::interrupted() {
        "interrupted after"
    } else {
        "took"
    };
    println!("{how} {:.1} s", took.as_secs_f64());
    // The summary line CI reads: exactly this form, alone on its line.
    println!("{passed} passed, {} failed", failures.len());
}

/// `path` as given on the command line, made absolute (the checks run in
/// their crate's directory, not here).
fn absolute(path: &Path) -> PathBuf {
    std::env::current_dir().unwrap_or_default().join(path)
}

/// The environment variables that point the checks at another
/// implementation (`LESSON_BIN_TCP_SERVER=DIR/tcp-server`, ...) or tell
/// them its servers print no readiness line.
pub fn overrides(
    chosen: &[&Lesson],
    implementation: Option<&Path>,
    no_readiness_line: bool,
) -> Vec<(String, OsString)> {
    let mut vars = Vec::new();
    if let Some(dir) = implementation {
        for lesson in chosen {
            for name in lesson.binaries() {
                let variable = lesson_testing::override_variable(name);
                vars.push((variable, dir.join(name).into_os_string()));
            }
        }
    }
    if no_readiness_line {
        vars.push(("LESSON_NO_READINESS_LINE".to_string(), "1".into()));
    }
    vars
}

/// Shows which binaries are graded, and warns of those missing.
fn show_overrides(vars: &[(String, OsString)]) {
    for (name, value) in vars {
        println!("    {name}={}", value.to_string_lossy());
        let path = Path::new(value);
        if name.starts_with("LESSON_BIN_") && !path.is_file() {
            eprintln!(
                "warning: {} does not exist; the checks that run it will fail",
                path.display()
            );
        }
    }
}

/// Runs one lesson's end-to-end checks, printing each verdict as it
/// arrives (with a `style`); returns them all, including a failed verdict
/// for every check that never reported.
fn check_lesson(
    lesson: &Lesson,
    binary: Option<&Path>,
    options: &Options,
    style: Option<&Style>,
) -> Vec<Check> {
    let print = |check: &Check| {
        if let Some(style) = style {
            print_verdict(check, style);
        }
    };
    if let Some(style) = style {
        let header = format!(
            "==> {} ({}): crates/{}/tests/e2e.rs",
            lesson.id(),
            lesson.transport.name(),
            lesson.dir
        );
        println!("{}", style.paint(Color::Bold, &header));
    }
    let Some(binary) = binary else {
        let detail = format!("{} was not built.", lesson.e2e_tests().display());
        let check = Check::failed(&lesson.id(), "(no end-to-end tests)", None, Some(detail));
        print(&check);
        return vec![check];
    };
    let run = runner::run(binary, &lesson.path(), options, |name, verdict, detail| {
        let mut check = Check::new(&lesson.id(), name, verdict);
        check.detail = detail.map(str::to_string);
        if workbook::is_graded(options) {
            workbook::explain_blank(&mut check);
        }
        print(&check)
    });
    let run = match run {
        Ok(run) => run,
        Err(e) => {
            let check = Check::failed(
                &lesson.id(),
                "(cannot run the tests)",
                None,
                Some(e.to_string()),
            );
            print(&check);
            return vec![check];
        }
    };
    if style.is_some() {
        println!("    ({:.1} s)", run.took.as_secs_f64());
    }
    // The variables that point the checks at the implementation under
    // test, so that the command a student is shown runs the same binaries.
    let variables: String = options
        .env
        .iter()
        .filter(|(name, _)| {
            lesson
                .binaries()
                .iter()
                .any(|b| *name == lesson_testing::override_variable(b))
                || name.starts_with("LESSON_NO")
        })
        .map(|(name, value)| format!("{name}={} ", value.to_string_lossy()))
        .collect();
    let rerun = |name: &str| {
        format!(
            "{variables}cargo test -p {} --test e2e -- --exact {name}",
            lesson.package()
        )
    };
    let mut checks = run.checks(lesson, &rerun);
    let reported = run.libtest.results.len();
    for check in &checks[reported..] {
        print(check);
    }
    let docs = checks_source::read(lesson);
    for check in &mut checks {
        check.doc = docs.get(&check.name).cloned().unwrap_or_default();
        if workbook::is_graded(options) {
            workbook::explain_blank(check);
        }
    }
    checks
}
