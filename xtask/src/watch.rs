//! `cargo xtask watch NN` and `cargo xtask progress`: the workbook's
//! guides. `progress` grades every lesson started and prints a line each;
//! `watch` grades one lesson whenever the student saves a file of it, and
//! shows only what changed since the last time and the next step, as
//! rustlings' `watch` does. File events come from the operating system
//! (the `notify` crate: inotify on Linux).

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use crate::check;
use crate::flags;
use crate::lessons::{self, Lesson};
use crate::libtest::Verdict;
use crate::runner::{self, Check, Options};
use crate::term::{self, Color, Style};
use crate::{usage_error, workbook};

/// The options that grade the workbook's `chosen` lessons.
fn workbook_options(chosen: &[&Lesson]) -> Options {
    Options {
        env: check::overrides(chosen, Some(&workbook::binaries()), false),
        time: runner::LESSON_TIME,
    }
}

/// Builds the workbook and grades `chosen`, quietly; `None` if the
/// workbook did not build (cargo's errors are on the terminal).
fn grade(chosen: &[&Lesson]) -> Option<Vec<Check>> {
    if workbook::build().is_err() {
        return None;
    }
    let checks = check::grade(chosen, &workbook_options(chosen), None);
    lesson_testing::supervisor::kill_orphans();
    Some(checks)
}

/// `cargo xtask progress`
pub fn progress(_: flags::Progress) -> ExitCode {
    term::catch_interrupts();
    let _ = lesson_testing::supervisor::become_subreaper();
    let (started, not_started): (Vec<&Lesson>, Vec<&Lesson>) = lessons::LESSONS
        .iter()
        .partition(|l| workbook::is_started(l));
    let checks = if started.is_empty() {
        Vec::new()
    } else {
        println!("grading your workbook's lessons {} ...", ids(&started));
        match grade(&started) {
            Some(checks) => checks,
            None => {
                println!("your workbook did not build: the errors above say where");
                return ExitCode::FAILURE;
            }
        }
    };
    for line in workbook::progress(&started, &not_started, &checks) {
        println!("{line}");
    }
    ExitCode::SUCCESS
}

fn ids(chosen: &[&Lesson]) -> String {
    chosen.iter().map(|l| l.id()).collect::<Vec<_>>().join(", ")
}

/// `cargo xtask watch NN`
pub fn watch(flags: flags::Watch) -> ExitCode {
    let lesson = match lessons::resolve(&flags.lesson) {
        Ok(lesson) => lesson,
        Err(e) => return usage_error(&e, "watch"),
    };
    if !workbook::is_started(lesson) {
        return usage_error(
            &format!(
                "lesson {} is not started: `cargo xtask workbook {}` makes it",
                lesson.id(),
                lesson.id()
            ),
            "watch",
        );
    }
    term::catch_interrupts();
    let _ = lesson_testing::supervisor::become_subreaper();
    let style = Style::for_stdout();
    let (sender, saves) = mpsc::channel();
    let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok_and(|e| e.kind.is_modify() || e.kind.is_create() || e.kind.is_remove()) {
            let _ = sender.send(());
        }
    });
    let mut watcher = match watcher {
        Ok(watcher) => watcher,
        Err(e) => {
            eprintln!("error: cannot watch your files: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sources = workbook::crate_dir(lesson).join("src");
    if let Err(e) = watcher.watch(&sources, RecursiveMode::Recursive) {
        eprintln!("error: cannot watch {}: {e}", sources.display());
        return ExitCode::FAILURE;
    }
    println!(
        "watching workbook/{}/src: each time you save, lesson {} is graded again (Ctrl-C ends)",
        lesson.dir,
        lesson.id()
    );
    let mut before: Option<BTreeMap<String, Verdict>> = None;
    loop {
        let checks = grade(&[lesson]);
        if let Some(checks) = checks {
            let now: BTreeMap<String, Verdict> =
                checks.iter().map(|c| (c.name.clone(), c.verdict)).collect();
            show_changes(before.as_ref(), &checks, &style);
            for line in workbook::progress(&[lesson], &[], &checks) {
                println!("{}", style.paint(Color::Bold, &line));
            }
            before = Some(now);
        } else {
            println!("your code did not build: the errors above say where");
        }
        println!(
            "{}",
            style.paint(Color::Dim, "(waiting for you to save a file)")
        );
        // One grading per save, however many events one save makes: wait
        // for the first, then let the rest of them arrive and go.
        loop {
            if term::interrupted() {
                return ExitCode::SUCCESS;
            }
            match saves.recv_timeout(Duration::from_millis(200)) {
                Ok(()) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                Err(mpsc::RecvTimeoutError::Disconnected) => return ExitCode::FAILURE,
            }
        }
        std::thread::sleep(Duration::from_millis(150));
        while saves.try_recv().is_ok() {}
        println!();
    }
}

/// What changed since the last grading: checks that now pass or now fail,
/// with the failing ones' explanation; the first time, every failure.
fn show_changes(before: Option<&BTreeMap<String, Verdict>>, checks: &[Check], style: &Style) {
    let mut shown = 0;
    for check in checks {
        let was = before.and_then(|b| b.get(&check.name)).copied();
        if was == Some(check.verdict) {
            continue;
        }
        match check.verdict {
            Verdict::Pass if was.is_some() => {
                println!(
                    "{}  {}",
                    style.paint(Color::Green, "now passes"),
                    check.name
                );
                shown += 1;
            }
            Verdict::Fail => {
                let word = if was.is_some() { "now fails" } else { "fails" };
                let note = check
                    .note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                println!("{}  {}{note}", style.paint(Color::Red, word), check.name);
                shown += 1;
            }
            _ => {}
        }
    }
    if shown == 0 && before.is_some() {
        println!("no check changed");
    }
}
