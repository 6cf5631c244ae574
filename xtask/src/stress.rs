//! `cargo xtask stress`: runs lessons' end-to-end checks over and over with
//! every core kept busy, and counts the failures. A check that fails now
//! and then on a loaded machine is a defect (a student stops trusting it,
//! and a CI run fails for nothing), and this is how one is found, and how
//! a fix is shown to hold. The runs are the runner's, exactly as
//! `cargo xtask check` makes them.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Instant;

use crate::flags;
use crate::lessons;
use crate::libtest::Verdict;
use crate::runner::{self, BuildFailure, Options};
use crate::{term, usage_error};

/// `cargo xtask stress ...`
pub fn run(flags: flags::Stress) -> ExitCode {
    let chosen = match lessons::resolve_all(&flags.lessons) {
        Ok(chosen) => chosen,
        Err(e) => return usage_error(&e, "stress"),
    };
    let runs = flags.runs.max(1);
    let load = flags
        .load
        .unwrap_or_else(|| thread::available_parallelism().map_or(2, usize::from));
    term::catch_interrupts();
    let _ = lesson_testing::supervisor::become_subreaper();
    let binaries = match runner::build(&lessons::workspace_root(), None, true) {
        Ok(binaries) => binaries,
        Err(BuildFailure::Interrupted) => return ExitCode::from(term::EXIT_INTERRUPTED),
        Err(e) => {
            eprintln!("error: the checks did not build: {e:?}");
            return ExitCode::FAILURE;
        }
    };
    // Copies of the check binaries, so that a build running meanwhile (the
    // student editing, another cargo) cannot replace one between runs.
    let copies = std::env::temp_dir().join(format!("xtask-stress-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&copies);
    let mut chosen_binaries = Vec::new();
    for lesson in &chosen {
        let Some(built) = binaries.get(&lesson.number) else {
            eprintln!("error: lesson {} has no end-to-end checks", lesson.id());
            return ExitCode::FAILURE;
        };
        let copy = copies.join(format!("e2e-{}", lesson.id()));
        if let Err(e) = std::fs::copy(built, &copy) {
            eprintln!("error: cannot copy {}: {e}", built.display());
            return ExitCode::FAILURE;
        }
        chosen_binaries.push((lesson, copy));
    }

    let options = Options::default();
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
        for (lesson, binary) in &chosen_binaries {
            let started = Instant::now();
            let mut failures = 0;
            for round in 1..=runs {
                if term::interrupted() {
                    break;
                }
                let failing: Vec<String> =
                    match runner::run(binary, &lesson.path(), &options, |_, _, _| {}) {
                        Ok(run) => run
                            .checks(lesson, &|name| name.to_string())
                            .into_iter()
                            .filter(|c| c.verdict == Verdict::Fail)
                            .map(|c| match c.note {
                                Some(note) => format!("{} ({note})", c.name),
                                None => c.name,
                            })
                            .collect(),
                        Err(e) => vec![format!("(cannot run: {e})")],
                    };
                if !failing.is_empty() {
                    failures += 1;
                    println!(
                        "  {} run {round}: FAILED {}",
                        lesson.id(),
                        failing.join(", ")
                    );
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
    lesson_testing::supervisor::kill_orphans();
    println!("{passed} passed, {failed} failed");
    if failed == 0 && !term::interrupted() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
