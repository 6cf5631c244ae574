//! `cargo xtask stress`: runs lessons' end-to-end tests over and over with
//! every core kept busy, and counts the failures. A check that fails now
//! and then on a loaded machine is a defect (a student stops trusting it,
//! and a CI run fails for nothing), and this is how one is found, and how
//! a fix is shown to hold.

use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Instant;

use crate::lessons::{self, Lesson};
use crate::{term, usage_error};

crate::help_text! {
    /// Run end-to-end tests many times with every core loaded; count failures.
    ///
    /// usage: cargo xtask stress [LESSON...] [--runs N] [--load N]
    ///
    /// Builds each lesson's end-to-end test binary once, then runs it N
    /// times (default 100) while N busy threads (default: one per core)
    /// keep the machine loaded, as a busy CI machine is. Prints each
    /// failure's test names and, per lesson, `runs, failures`; the last
    /// line is `N passed, N failed` counting runs. The binaries under test
    /// can be overridden as for `check` (LESSON_BIN_TCP_SERVER=..., ...).
    pub const HELP;
}

/// `cargo xtask stress ...`
pub fn run(args: &[String]) -> ExitCode {
    let mut runs = 100usize;
    let mut load = thread::available_parallelism().map_or(2, usize::from);
    let mut chosen: Vec<&'static Lesson> = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut number = |what: &str| match args.next().map(|v| v.parse::<usize>()) {
            Some(Ok(n)) => Ok(n),
            _ => Err(format!("{arg} needs {what}")),
        };
        let parsed = match arg.as_str() {
            "-h" | "--help" => {
                crate::print_help(HELP);
                return ExitCode::SUCCESS;
            }
            "--runs" => number("a number of runs").map(|n| runs = n.max(1)),
            "--load" => number("a number of busy threads").map(|n| load = n),
            name => lessons::resolve(name).map(|l| chosen.push(l)),
        };
        if let Err(message) = parsed {
            return usage_error(&message, HELP);
        }
    }
    if chosen.is_empty() {
        chosen = lessons::LESSONS.iter().collect();
    }
    term::catch_interrupts();

    // Copies of the test binaries, so that a build running meanwhile (the
    // student editing, another cargo) cannot replace one between runs.
    let copies = std::env::temp_dir().join(format!("xtask-stress-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&copies);
    let mut binaries = Vec::new();
    for lesson in &chosen {
        let copied = test_binary(lesson).and_then(|built| {
            let copy = copies.join(format!("e2e-{}", lesson.id()));
            std::fs::copy(&built, &copy)
                .map(|_| copy)
                .map_err(|e| format!("cannot copy {}: {e}", built.display()))
        });
        match copied {
            Ok(path) => binaries.push((lesson, path)),
            Err(e) => {
                eprintln!("error: lesson {}: {e}", lesson.id());
                return ExitCode::FAILURE;
            }
        }
    }

    let busy = AtomicBool::new(true);
    let (mut passed, mut failed) = (0, 0);
    thread::scope(|scope| {
        for _ in 0..load {
            scope.spawn(|| {
                while busy.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            });
        }
        println!("{load} busy threads; {runs} runs per lesson");
        for (lesson, binary) in &binaries {
            let started = Instant::now();
            let mut failures = 0;
            for round in 1..=runs {
                if term::interrupted() {
                    break;
                }
                let output = Command::new(binary)
                    .current_dir(lesson.path())
                    .stdin(Stdio::null())
                    .output();
                let failing = match output {
                    Ok(out) if out.status.success() => None,
                    Ok(out) => Some(failed_tests(&out.stdout, &out.stderr)),
                    Err(e) => Some(vec![format!("(cannot run: {e})")]),
                };
                if let Some(names) = failing {
                    failures += 1;
                    println!("  {} run {round}: FAILED {}", lesson.id(), names.join(", "));
                }
            }
            println!(
                "{}: {runs} runs, {failures} failures ({:.0} s)",
                lesson.id(),
                started.elapsed().as_secs_f64()
            );
            passed += runs - failures;
            failed += failures;
        }
        busy.store(false, Ordering::Relaxed);
    });
    let _ = std::fs::remove_dir_all(&copies);
    println!("{passed} passed, {failed} failed");
    if failed == 0 && !term::interrupted() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Builds `lesson`'s end-to-end tests and returns the test binary's path,
/// as cargo reports it (`--message-format=json`).
fn test_binary(lesson: &Lesson) -> Result<std::path::PathBuf, String> {
    let output = Command::new(lessons::cargo())
        .args(["test", "-p", lesson.package, "--test", "e2e", "--no-run"])
        .args(["--message-format=json"])
        .current_dir(lessons::workspace_root())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err("the tests did not build".to_string());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "e2e")
        .find_map(|m| m["executable"].as_str().map(std::path::PathBuf::from))
        .ok_or_else(|| "cargo built no e2e test binary".to_string())
}

/// The names of the failed tests in libtest's output, or, when the test
/// binary failed without naming one (it crashed, or was killed), the last
/// lines it wrote.
fn failed_tests(stdout: &[u8], stderr: &[u8]) -> Vec<String> {
    let stdout = String::from_utf8_lossy(stdout);
    let names: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test ")?.strip_suffix(" ... FAILED"))
        .map(str::to_string)
        .collect();
    if !names.is_empty() {
        return names;
    }
    let stderr = String::from_utf8_lossy(stderr);
    let tail: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
    let tail = tail[tail.len().saturating_sub(5)..].join(" | ");
    vec![format!("(no test named; last lines: {tail})")]
}
