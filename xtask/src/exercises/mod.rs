//! `cargo xtask exercises`: proves the book's exercises. Each chapter's
//! numbered exercises are data in its lesson's `exercises.toml` (the
//! format: [`entry`]): the change to make, and what the chapter says will
//! happen. For each entry this applies the change to a copy of the
//! workspace ([`mirror`]; the student's files are never touched), builds
//! it, runs the lesson's end-to-end checks through the one runner
//! ([`crate::runner`]), exactly as `cargo xtask check` grades a student,
//! and compares what happened with the prediction.
//!
//! The tidy tests (`crate::tidy`) keep the entries, the chapters and the
//! tests in step; this module proves that the predictions are true.

pub mod entry;
pub mod mirror;

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use lesson_testing::supervisor::Ended;

use crate::flags;
use crate::lessons::{self, Lesson};
use crate::libtest::Verdict;
use crate::runner::{self, BuildFailure, Options};
use crate::term::{self, Color, Style};
use crate::usage_error;
use entry::{Exercise, Expect};

/// `cargo xtask exercises ...`
pub fn run(flags: flags::Exercises) -> ExitCode {
    let chosen = match choose(&flags.chosen) {
        Ok(chosen) => chosen,
        Err(message) => return usage_error(&message, "exercises"),
    };
    // Read every file first: a broken file is found before anything runs.
    let mut selected: Vec<(&Lesson, Exercise)> = Vec::new();
    for (lesson, numbers) in &chosen {
        let exercises = match load(lesson) {
            Ok(Some(exercises)) => exercises,
            Ok(None) => {
                println!(
                    "{}: no exercises (crates/{}/exercises.toml does not exist)",
                    lesson.id(),
                    lesson.dir
                );
                continue;
            }
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(crate::EXIT_USAGE);
            }
        };
        if let Some(number) = numbers
            .iter()
            .find(|n| !exercises.iter().any(|e| e.number == **n))
        {
            let message = format!(
                "lesson {} has no exercise {number} in crates/{}/exercises.toml",
                lesson.id(),
                lesson.dir
            );
            return usage_error(&message, "exercises");
        }
        selected.extend(
            exercises
                .into_iter()
                .filter(|e| numbers.is_empty() || numbers.contains(&e.number))
                .map(|e| (*lesson, e)),
        );
    }
    if flags.list {
        list(&selected);
        return ExitCode::SUCCESS;
    }
    if selected.is_empty() {
        println!("no exercises to run");
        return ExitCode::SUCCESS;
    }

    term::catch_interrupts();
    if let Err(e) = lesson_testing::supervisor::become_subreaper() {
        eprintln!("warning: {e}; a process that escapes its group may survive");
    }
    let style = Style::for_stdout();
    let places = Places::new();
    // One copy, so one run at a time: two would edit each other's copy.
    let _lock = match Lock::take(&places.base) {
        Ok(Some(lock)) => lock,
        Ok(None) => return ExitCode::from(term::EXIT_INTERRUPTED),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let started = Instant::now();
    let table = Table::new(&selected);
    println!(
        "{}",
        style.paint(
            Color::Bold,
            &format!(
                "==> the workspace copied to {}, built in {}",
                places.shown(&places.copy),
                places.shown(&places.target)
            )
        )
    );
    table.header(&style);
    let mut outcomes = Vec::new();
    for (lesson, exercise) in &selected {
        if term::interrupted() {
            break;
        }
        let outcome = try_exercise(lesson, exercise, &places);
        table.row(lesson, exercise, &outcome, &style);
        outcomes.push((*lesson, exercise, outcome));
    }
    lesson_testing::supervisor::kill_orphans();

    let differing: Vec<_> = outcomes
        .iter()
        .filter(|(_, e, o)| o.verdict(&e.expect) == Agreement::Differs)
        .collect();
    if !differing.is_empty() {
        println!("\ndifferences:");
        for (lesson, exercise, outcome) in &differing {
            let title = format!("---- {} {} ----", name(lesson, exercise), exercise.title);
            println!("\n{}", style.paint(Color::Bold, &title));
            println!("{}", outcome.explain(&exercise.expect).trim_end());
        }
    }
    let count = |agreement: Agreement| {
        outcomes
            .iter()
            .filter(|(_, e, o)| o.verdict(&e.expect) == agreement)
            .count()
    };
    println!();
    let took = started.elapsed().as_secs_f64();
    if term::interrupted() {
        println!("interrupted after {took:.1} s");
    } else {
        println!("took {took:.1} s");
    }
    println!(
        "{} as predicted, {} differ, {} by hand",
        count(Agreement::Holds),
        differing.len(),
        count(Agreement::ByHand)
    );
    if term::interrupted() {
        ExitCode::from(term::EXIT_INTERRUPTED)
    } else if differing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// What `LESSON[/N]...` names: each lesson with the exercise numbers
/// chosen (empty: all of them); every lesson when nothing is named.
fn choose(names: &[String]) -> Result<Vec<(&'static Lesson, Vec<u32>)>, String> {
    // `None`: the whole lesson; `Some`: these exercises of it.
    let mut chosen: Vec<(&'static Lesson, Option<Vec<u32>>)> = Vec::new();
    for arg in names {
        let (name, number) = match arg.split_once('/') {
            Some((name, number)) => match number.parse::<u32>() {
                Ok(n) if n > 0 => (name, Some(n)),
                _ => return Err(format!("`{arg}`: expected LESSON/N, such as 03/2")),
            },
            None => (arg.as_str(), None),
        };
        let lesson = lessons::resolve(name)?;
        let at = match chosen.iter().position(|(l, _)| l.number == lesson.number) {
            Some(at) => at,
            None => {
                chosen.push((lesson, Some(Vec::new())));
                chosen.len() - 1
            }
        };
        match (number, &mut chosen[at].1) {
            // The whole lesson, even if single ones were named too.
            (None, slot) => *slot = None,
            (Some(n), Some(numbers)) if !numbers.contains(&n) => numbers.push(n),
            (Some(_), _) => {}
        }
    }
    if chosen.is_empty() {
        return Ok(lessons::LESSONS.iter().map(|l| (l, Vec::new())).collect());
    }
    Ok(chosen
        .into_iter()
        .map(|(lesson, numbers)| (lesson, numbers.unwrap_or_default()))
        .collect())
}

/// A lesson's entries; `Ok(None)` if it has no exercises file.
pub fn load(lesson: &Lesson) -> Result<Option<Vec<Exercise>>, String> {
    let path = lesson.exercises_file();
    let shown = format!("crates/{}/exercises.toml", lesson.dir);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    };
    entry::parse(&text)
        .map(Some)
        .map_err(|e| format!("{shown}: {e}"))
}

/// `01/3`, as the table names an exercise.
fn name(lesson: &Lesson, exercise: &Exercise) -> String {
    format!("{}/{}", lesson.id(), exercise.number)
}

/// `--list`: each entry and its prediction.
fn list(selected: &[(&Lesson, Exercise)]) {
    for (lesson, exercise) in selected {
        println!(
            "{}  {} — {}{}",
            name(lesson, exercise),
            exercise.title,
            exercise.expect.summary(),
            if exercise.in_book {
                ""
            } else {
                " (a common mistake, not in the book)"
            }
        );
        match &exercise.expect {
            Expect::Fail(names) => {
                for check in names {
                    println!("        fails {check}");
                }
            }
            Expect::ByHand(why) => println!("        {why}"),
            Expect::Pass | Expect::CompileError(_) => {}
        }
        for edit in &exercise.edits {
            println!("        edits {}", edit.file);
        }
    }
}

/// Where the copy and its build live.
struct Places {
    root: PathBuf,
    /// `target/exercises`, holding both, and the lock.
    base: PathBuf,
    /// The copy of the workspace.
    copy: PathBuf,
    /// Its CARGO_TARGET_DIR, shared by every exercise.
    target: PathBuf,
}

impl Places {
    fn new() -> Places {
        let root = lessons::workspace_root();
        // Beside the usual build output: `cargo clean` removes it, and git
        // ignores it.
        let base = lessons::target_dir().join("exercises");
        Places {
            copy: base.join("workspace"),
            target: base.join("target"),
            base,
            root,
        }
    }

    /// `path` relative to the workspace root, where it is inside it.
    fn shown(&self, path: &std::path::Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// The right to use the copy: a directory `lock` holding the owner's
/// process ID, made with one `mkdir` (which only one process can win) and
/// removed on drop. A lock whose owner has died is taken over.
struct Lock(PathBuf);

impl Lock {
    /// Waits for the lock; `Ok(None)` if the user interrupted the wait.
    fn take(base: &std::path::Path) -> std::io::Result<Option<Lock>> {
        fs::create_dir_all(base)?;
        let dir = base.join("lock");
        let mut told = false;
        loop {
            match fs::create_dir(&dir) {
                Ok(()) => {
                    fs::write(dir.join("pid"), std::process::id().to_string())?;
                    return Ok(Some(Lock(dir)));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            // Its owner may not have written its ID yet: give it a moment.
            let owner = fs::read_to_string(dir.join("pid"))
                .ok()
                .and_then(|pid| pid.trim().parse::<i32>().ok());
            match owner {
                Some(pid) if lesson_testing::procfs::process(pid).is_none() => {
                    let _ = fs::remove_dir_all(&dir);
                    continue;
                }
                Some(pid) if !told => {
                    println!(
                        "waiting for another `cargo xtask exercises` (process {pid}) to finish"
                    );
                    told = true;
                }
                _ => {}
            }
            if term::interrupted() {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// What happened when an exercise was tried.
#[derive(Debug)]
enum Observed {
    /// The tests ran to their end; these failed (none: all passed).
    Ran {
        failed: BTreeSet<String>,
        details: Vec<(String, String)>,
    },
    /// The build failed, with these rustc error codes (maybe none).
    BuildFailed {
        codes: BTreeSet<String>,
        output: String,
    },
    /// The checks did not finish within the lesson's time, as a grading
    /// run would not: the checks that reported a failure, and those cut
    /// off (still running, or never started).
    TimedOut {
        failed: BTreeSet<String>,
        cut: BTreeSet<String>,
        output: String,
    },
    /// The run ended abnormally (a crashed test binary, cargo itself).
    Broken(String),
    /// The entry's edit does not apply to today's code.
    BadEdit(String),
    /// Nothing was run: a by-hand exercise.
    NotRun,
    /// The user pressed Ctrl-C.
    Interrupted,
}

/// One exercise's outcome and how long it took.
struct Outcome {
    observed: Observed,
    took: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agreement {
    Holds,
    Differs,
    ByHand,
}

impl Outcome {
    fn verdict(&self, expect: &Expect) -> Agreement {
        match (expect, &self.observed) {
            (Expect::ByHand(_), _) => Agreement::ByHand,
            (Expect::Pass, Observed::Ran { failed, .. }) if failed.is_empty() => Agreement::Holds,
            (Expect::Fail(names), Observed::Ran { failed, .. }) if names == failed => {
                Agreement::Holds
            }
            // A mistake that makes checks wait in vain can make their waits
            // add up past the lesson's time; the run is then stopped, as a
            // grading run is, and which checks it cut off depends on the
            // machine's speed. The prediction holds if no check outside it
            // failed, and every check in it failed or was cut off.
            (Expect::Fail(names), Observed::TimedOut { failed, cut, .. })
                if failed.is_subset(names)
                    && names.iter().all(|n| failed.contains(n) || cut.contains(n)) =>
            {
                Agreement::Holds
            }
            (Expect::CompileError(code), Observed::BuildFailed { codes, .. })
                if codes.contains(code) =>
            {
                Agreement::Holds
            }
            _ => Agreement::Differs,
        }
    }

    /// The table's "observed" column.
    fn summary(&self) -> String {
        match &self.observed {
            Observed::Ran { failed, .. } if failed.is_empty() => "pass".to_string(),
            Observed::Ran { failed, .. } => format!("fail ({})", failed.len()),
            Observed::BuildFailed { codes, .. } if codes.is_empty() => "build failed".to_string(),
            Observed::BuildFailed { codes, .. } => {
                codes.iter().cloned().collect::<Vec<_>>().join(" ")
            }
            Observed::TimedOut { .. } => "timed out".to_string(),
            Observed::Broken(_) => "run failed".to_string(),
            Observed::BadEdit(_) => "bad entry".to_string(),
            Observed::NotRun => "-".to_string(),
            Observed::Interrupted => "interrupted".to_string(),
        }
    }

    /// What differs, for the details after the table.
    fn explain(&self, expect: &Expect) -> String {
        let mut text = String::new();
        let mut line = |s: String| {
            text.push_str(&s);
            text.push('\n');
        };
        line(format!("predicted: {}", describe(expect)));
        match &self.observed {
            Observed::Ran { failed, details } => {
                let predicted = match expect {
                    Expect::Fail(names) => names.clone(),
                    _ => BTreeSet::new(),
                };
                let missing: Vec<&String> = predicted.difference(failed).collect();
                let extra: Vec<&String> = failed.difference(&predicted).collect();
                if failed.is_empty() {
                    line("observed: every check passed".to_string());
                } else {
                    line(format!("observed: {} check(s) failed", failed.len()));
                }
                for name in missing {
                    line(format!("  predicted to fail, but passed: {name}"));
                }
                for name in &extra {
                    line(format!("  failed, not predicted:         {name}"));
                }
                if matches!(expect, Expect::CompileError(_)) {
                    line("  (the build succeeded)".to_string());
                }
                for (name, detail) in details {
                    if extra.contains(&name) {
                        // The panic message, not the backtrace under it
                        // (RUST_BACKTRACE may be set).
                        let message = detail.split("\nstack backtrace:").next().unwrap_or(detail);
                        line(format!("\n  -- {name} --\n{}", indent(message)));
                    }
                }
            }
            Observed::BuildFailed { codes, output } => {
                let codes: Vec<&str> = codes.iter().map(String::as_str).collect();
                line(format!(
                    "observed: the build failed{}; cargo's last lines:\n{}",
                    if codes.is_empty() {
                        String::new()
                    } else {
                        format!(" with {}", codes.join(", "))
                    },
                    indent(output)
                ));
            }
            Observed::TimedOut {
                failed,
                cut,
                output,
            } => {
                line(format!(
                    "observed: the checks did not finish within the lesson's {} s",
                    runner::LESSON_TIME.as_secs()
                ));
                for name in failed {
                    line(format!("  failed:  {name}"));
                }
                for name in cut {
                    line(format!("  cut off: {name}"));
                }
                line(format!("the run's last lines:\n{}", indent(output)));
            }
            Observed::Broken(output) => line(format!(
                "observed: the test run failed outside any check; its last lines:\n{}",
                indent(output)
            )),
            Observed::BadEdit(why) => line(format!("the entry is broken: {why}")),
            Observed::NotRun | Observed::Interrupted => {}
        }
        text
    }
}

/// A prediction in words.
fn describe(expect: &Expect) -> String {
    match expect {
        Expect::Fail(names) => format!(
            "exactly these checks fail: {}",
            names.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
        Expect::Pass => "every check passes".to_string(),
        Expect::CompileError(code) => format!("the build fails with error[{code}]"),
        Expect::ByHand(why) => format!("by hand: {why}"),
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// Copies the workspace, applies the exercise, builds and runs the
/// lesson's checks, and tells what happened.
fn try_exercise(lesson: &Lesson, exercise: &Exercise, places: &Places) -> Outcome {
    if matches!(exercise.expect, Expect::ByHand(_)) {
        return Outcome {
            observed: Observed::NotRun,
            took: None,
        };
    }
    let started = Instant::now();
    let observed = (|| {
        if let Err(e) = mirror::sync(&places.root, &places.copy) {
            return Observed::Broken(format!(
                "cannot copy the workspace to {}: {e}",
                places.copy.display()
            ));
        }
        if let Err(broken) = mirror::apply(&places.copy, &exercise.edits) {
            return Observed::BadEdit(broken.0);
        }
        run_checks(lesson, places)
    })();
    Outcome {
        observed,
        took: Some(started.elapsed()),
    }
}

/// Builds the copy and runs the lesson's checks there, through the one
/// runner, exactly as `cargo xtask check` runs them.
fn run_checks(lesson: &Lesson, places: &Places) -> Observed {
    let binaries = match runner::build(&places.copy, Some(&places.target), false) {
        Ok(binaries) => binaries,
        Err(BuildFailure::Failed { codes, output }) => {
            return Observed::BuildFailed { codes, output }
        }
        Err(BuildFailure::Interrupted) => return Observed::Interrupted,
        Err(BuildFailure::Broken(why)) => return Observed::Broken(why),
    };
    let Some(binary) = binaries.get(&lesson.number) else {
        return Observed::Broken("the lesson's checks were not built".to_string());
    };
    let dir = places.copy.join("crates").join(lesson.dir);
    let run = match runner::run(binary, &dir, &Options::default(), |_, _, _| {}) {
        Ok(run) => run,
        Err(e) => return Observed::Broken(format!("cannot run the checks: {e}")),
    };
    let checks = run.checks(lesson, &|name| name.to_string());
    let failed: BTreeSet<String> = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| c.name.clone())
        .collect();
    match run.ended {
        Ended::Interrupted => Observed::Interrupted,
        Ended::TimedOut => {
            let reported: BTreeSet<&String> = run.libtest.results.iter().map(|(n, _)| n).collect();
            let (failed, cut) = failed.into_iter().partition(|n| reported.contains(n));
            Observed::TimedOut {
                failed,
                cut,
                output: run.stderr.text(),
            }
        }
        Ended::Exited(status) if !status.success() && failed.is_empty() => {
            Observed::Broken(run.stderr.text())
        }
        Ended::Exited(_) => {
            let details = checks
                .into_iter()
                .filter(|c| c.verdict == Verdict::Fail)
                .map(|c| (c.name, c.detail.unwrap_or_default()))
                .collect();
            Observed::Ran { failed, details }
        }
    }
}

/// The table printed as exercises finish.
struct Table {
    title_width: usize,
}

impl Table {
    const COLUMN: usize = 14;

    fn new(selected: &[(&Lesson, Exercise)]) -> Table {
        let widest = selected
            .iter()
            .map(|(_, e)| e.title.chars().count())
            .max()
            .unwrap_or(0);
        Table {
            title_width: widest.max("exercise".len()),
        }
    }

    fn header(&self, style: &Style) {
        let line = format!(
            "{:<5} {:<w$}  {:<c$} {:<c$} {:>8}",
            "",
            "exercise",
            "predicted",
            "observed",
            "time",
            w = self.title_width,
            c = Self::COLUMN
        );
        println!("{}", style.paint(Color::Bold, line.trim_end()));
    }

    fn row(&self, lesson: &Lesson, exercise: &Exercise, outcome: &Outcome, style: &Style) {
        let (word, color) = match outcome.verdict(&exercise.expect) {
            Agreement::Holds => ("ok", Color::Green),
            Agreement::Differs => ("DIFFERS", Color::Red),
            Agreement::ByHand => ("by hand", Color::Yellow),
        };
        let took = outcome
            .took
            .map(|t| format!("{:.1} s", t.as_secs_f64()))
            .unwrap_or_else(|| "-".to_string());
        println!(
            "{:<5} {:<w$}  {:<c$} {:<c$} {:>8}  {}",
            name(lesson, exercise),
            exercise.title,
            exercise.expect.summary(),
            outcome.summary(),
            took,
            style.paint(color, word),
            w = self.title_width,
            c = Self::COLUMN
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lessons_and_single_exercises_are_chosen_by_name() {
        let chosen: Vec<(u8, Vec<u32>)> = choose(&args(&["03/2", "3/4", "01"]))
            .expect("valid")
            .iter()
            .map(|(l, n)| (l.number, n.clone()))
            .collect();
        assert_eq!(chosen, [(3, vec![2, 4]), (1, vec![])]);
        let whole = choose(&args(&["03/2", "03"])).expect("valid");
        assert!(whole[0].1.is_empty(), "03 means all of 03");
        let all = choose(&[]).expect("valid");
        assert_eq!(all.len(), lessons::LESSONS.len());
        assert!(choose(&args(&["03/x"])).is_err());
        assert!(choose(&args(&["99"])).is_err());
    }

    #[test]
    fn an_observation_agrees_only_with_its_own_prediction() {
        let ran = |failed: &[&str]| Outcome {
            observed: Observed::Ran {
                failed: failed.iter().map(|s| s.to_string()).collect(),
                details: Vec::new(),
            },
            took: None,
        };
        let fails = |names: &[&str]| Expect::Fail(names.iter().map(|s| s.to_string()).collect());
        assert_eq!(ran(&[]).verdict(&Expect::Pass), Agreement::Holds);
        assert_eq!(ran(&["a"]).verdict(&Expect::Pass), Agreement::Differs);
        assert_eq!(
            ran(&["a", "b"]).verdict(&fails(&["b", "a"])),
            Agreement::Holds
        );
        assert_eq!(ran(&["a"]).verdict(&fails(&["a", "b"])), Agreement::Differs);
        assert_eq!(ran(&["a", "c"]).verdict(&fails(&["a"])), Agreement::Differs);
        let built = Outcome {
            observed: Observed::BuildFailed {
                codes: ["E0382".to_string()].into(),
                output: String::new(),
            },
            took: None,
        };
        assert_eq!(
            built.verdict(&Expect::CompileError("E0382".into())),
            Agreement::Holds
        );
        assert_eq!(
            built.verdict(&Expect::CompileError("E0499".into())),
            Agreement::Differs
        );
        assert_eq!(
            ran(&[]).verdict(&Expect::CompileError("E0382".into())),
            Agreement::Differs
        );
        let cut_off = |failed: &[&str], cut: &[&str]| Outcome {
            observed: Observed::TimedOut {
                failed: failed.iter().map(|s| s.to_string()).collect(),
                cut: cut.iter().map(|s| s.to_string()).collect(),
                output: String::new(),
            },
            took: None,
        };
        assert_eq!(
            cut_off(&["a"], &["b", "c"]).verdict(&fails(&["a", "b"])),
            Agreement::Holds,
            "cut off, a predicted failure may not have reported"
        );
        assert_eq!(
            cut_off(&["a", "d"], &["b"]).verdict(&fails(&["a", "b"])),
            Agreement::Differs,
            "a failure outside the prediction"
        );
        assert_eq!(
            cut_off(&["a"], &[]).verdict(&fails(&["a", "b"])),
            Agreement::Differs,
            "a predicted failure that passed"
        );
    }
}
