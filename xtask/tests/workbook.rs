//! The workbook, proven for every lesson, in a workbook of the test's own
//! (`XTASK_WORKBOOK`, never a student's):
//!
//! - a fresh starter builds;
//! - every check of the lesson fails with a `not written yet` note naming
//!   a step, except those the starter's given parts already satisfy;
//! - no failure shows a panic location or a hint about backtraces;
//! - making a lesson's crate again changes no file;
//! - the same starter with every blank filled with the lesson's own code
//!   passes every check.
//!
//! It builds six crates twice and grades six lessons twice: minutes, so it
//! is `#[ignore]`d in a plain `cargo test`, and `.ci/run` runs it:
//!
//! ```text
//! cargo test -p xtask --test workbook -- --ignored
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use xtask::lessons::LESSONS;
use xtask::starter;

/// Runs `cargo xtask ARGS` (this build of it) with the test's workbook.
fn xtask(workbook: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env(xtask::workbook::VARIABLE, workbook)
        .output()
        .expect("running xtask")
}

/// Every file under `dir` with its contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if entry.file_name() != "target" {
                    pending.push(path);
                }
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    files
}

/// The verdicts of a `check --workbook --json FILE` run.
fn verdicts(json: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read(json).expect("the JSON verdicts were written");
    let document: serde_json::Value = serde_json::from_slice(&text).expect("JSON");
    document["checks"].as_array().cloned().unwrap_or_default()
}

#[test]
#[ignore = "builds and grades every lesson's starter twice (minutes): cargo test -p xtask --test workbook -- --ignored"]
fn every_starter_builds_points_to_its_steps_and_filled_passes() {
    let workbook = std::env::temp_dir().join(format!("workbook-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&workbook);

    for lesson in LESSONS {
        let made = xtask(&workbook, &["workbook", &lesson.id()]);
        assert!(
            made.status.success(),
            "workbook {}: {}",
            lesson.id(),
            String::from_utf8_lossy(&made.stderr)
        );
    }
    // Making one again changes nothing, and says so.
    let before = snapshot(&workbook);
    let again = xtask(&workbook, &["workbook", "01"]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing changed"));
    assert_eq!(
        snapshot(&workbook),
        before,
        "making a workbook again changed files"
    );

    // The fresh starters: every failure is a step not written yet.
    let json = workbook.join("starters.json");
    let graded = xtask(
        &workbook,
        &[
            "check",
            "--workbook",
            "--json",
            json.to_str().expect("a UTF-8 path"),
        ],
    );
    let stdout = String::from_utf8_lossy(&graded.stdout);
    assert_eq!(graded.status.code(), Some(1), "{stdout}");
    let mut given_ones = Vec::new();
    for check in verdicts(&json) {
        let id = check["id"].as_str().unwrap_or("?").to_string();
        let failure = check["failure"].as_str().unwrap_or("");
        assert!(
            !failure.contains("panicked at") && !failure.contains("RUST_BACKTRACE"),
            "{id}: harness internals in what a student reads:\n{failure}"
        );
        match check["verdict"].as_str() {
            Some("pass") => given_ones.push(id),
            _ => assert!(
                check["note"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("not written yet: ")),
                "{id} fails without naming a step:\n{failure}"
            ),
        }
    }
    eprintln!("checks the starters' given parts satisfy: {given_ones:?}");
    for lesson in LESSONS {
        let line = format!("lesson {}: ", lesson.id());
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&line) && l.contains("; next: ")),
            "no progress line for lesson {}:\n{stdout}",
            lesson.id()
        );
    }

    // Every blank filled with the lesson's own code: every check passes.
    for lesson in LESSONS {
        let source = lesson.path().join("src");
        let mine = workbook.join(lesson.dir).join("src");
        for (path, text) in snapshot(&mine) {
            let relative = path.strip_prefix(&mine).expect("inside");
            let original =
                std::fs::read_to_string(source.join(relative)).expect("the lesson's file");
            let filled = starter::fill(&String::from_utf8_lossy(&text), &original);
            std::fs::write(&path, filled).expect("writing the filled file");
        }
    }
    let json = workbook.join("filled.json");
    let graded = xtask(
        &workbook,
        &[
            "check",
            "--workbook",
            "--json",
            json.to_str().expect("a UTF-8 path"),
        ],
    );
    let stdout = String::from_utf8_lossy(&graded.stdout);
    assert!(
        graded.status.success(),
        "the filled starters fail:\n{stdout}"
    );
    for lesson in LESSONS {
        assert!(
            stdout.contains(&format!("lesson {}: all ", lesson.id())),
            "{stdout}"
        );
    }
    let _ = std::fs::remove_dir_all(&workbook);
}
