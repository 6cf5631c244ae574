//! The workbook: a crate of the student's own per lesson, under
//! `workbook/`, where they write the lesson's programs themselves, starting
//! from the lesson's starter ([`crate::starter`]) and guided by the checks
//! (`cargo xtask check NN --workbook`).
//!
//! `workbook/` is a Cargo workspace of its own, next to the course's, so
//! that the student's crate builds, and is graded, without touching the
//! lessons (its binaries carry the contract's names, which the course's
//! own lessons use too); it builds into `target/workbook/`. Its lesson
//! crates depend on `crates/lesson` and on the earlier lessons as they
//! are: a later lesson starts from the earlier lessons' steps written.
//!
//! Nothing of the student's is ever lost: making a lesson's crate that
//! exists changes nothing and says so, and `--reset` moves the crate to
//! `workbook/.before-reset/` before it makes a fresh one.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::flags;
use crate::lessons::{self, Lesson};
use crate::starter::{self, Step};
use crate::usage_error;

/// The variable that puts the workbook elsewhere than `workbook/` (the
/// tests make theirs in a temporary directory, never in a student's).
pub const VARIABLE: &str = "XTASK_WORKBOOK";

/// The workbook's directory: `workbook/`, or `$XTASK_WORKBOOK`.
pub fn dir() -> PathBuf {
    match std::env::var_os(VARIABLE).filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => lessons::workspace_root().join("workbook"),
    }
}

/// `lesson`'s crate in the workbook.
pub fn crate_dir(lesson: &Lesson) -> PathBuf {
    dir().join(lesson.dir)
}

/// Whether the student has started `lesson`.
pub fn is_started(lesson: &Lesson) -> bool {
    crate_dir(lesson).join("Cargo.toml").is_file()
}

/// Where the workbook builds: beside the course's own build (or in the
/// workbook's directory, when it was put elsewhere).
pub fn target_dir() -> PathBuf {
    match std::env::var_os(VARIABLE).filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("target"),
        None => lessons::target_dir().join("workbook"),
    }
}

/// Where the workbook's binaries are once built.
pub fn binaries() -> PathBuf {
    target_dir().join("debug")
}

/// `lesson`'s steps, in its chapter's order, numbered from 1: the
/// chapter's steps that can be left blank.
pub fn steps(lesson: &Lesson) -> Vec<Step> {
    let chapter = fs::read_to_string(lesson.chapter_path()).unwrap_or_default();
    let mut steps: Vec<Step> = starter::steps(&chapter, lesson.dir)
        .into_iter()
        .filter(|step| {
            let text = fs::read_to_string(lesson.path().join(&step.file)).unwrap_or_default();
            starter::can_blank(&text, &step.anchor)
        })
        .collect();
    for (index, step) in steps.iter_mut().enumerate() {
        step.number = index + 1;
    }
    steps
}

/// `cargo xtask workbook NN [--reset]`
pub fn run(flags: flags::Workbook) -> ExitCode {
    let lesson = match lessons::resolve(&flags.lesson) {
        Ok(lesson) => lesson,
        Err(e) => return usage_error(&e, "workbook"),
    };
    let target = crate_dir(lesson);
    let shown = shown_path(&target);
    if target.exists() && !flags.reset {
        println!(
            "{shown} exists already: nothing changed. Grade it with `cargo xtask check {} \
             --workbook`; start it again with `cargo xtask workbook {} --reset` (your files \
             are kept in workbook/.before-reset/).",
            lesson.id(),
            lesson.id()
        );
        return ExitCode::SUCCESS;
    }
    if target.exists() {
        match keep_aside(lesson) {
            Ok(kept) => println!("your {shown} is kept in {}", shown_path(&kept)),
            Err(e) => {
                eprintln!("error: {e}; nothing changed");
                return ExitCode::FAILURE;
            }
        }
    }
    match create(lesson) {
        Ok(steps) => {
            println!(
                "made {shown}: the lesson's programs, with {} steps left for you:",
                steps.len()
            );
            for step in &steps {
                println!("  {:>2}. {}  ({})", step.number, step.heading, step.file);
            }
            println!(
                "\nEach is a `todo!()` that says which section of docs/src/{} to read. \
                 Grade your work with `cargo xtask check {} --workbook` (or `cargo xtask watch \
                 {}`, which grades it again whenever you save); see the book's chapter \"Write \
                 it yourself\". The lesson's own crate, crates/{}, is the solution: look once a \
                 step passes, or when you are stuck.",
                lesson.chapter(),
                lesson.id(),
                lesson.id(),
                lesson.dir
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `path` relative to the workspace, for messages.
fn shown_path(path: &Path) -> String {
    path.strip_prefix(lessons::workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Moves the student's crate for `lesson` to
/// `workbook/.before-reset/DIR-N` (N: the first number free); returns
/// where it went.
fn keep_aside(lesson: &Lesson) -> Result<PathBuf, String> {
    let aside = dir().join(".before-reset");
    fs::create_dir_all(&aside).map_err(|e| format!("cannot make {}: {e}", aside.display()))?;
    let kept = (1..)
        .map(|n| aside.join(format!("{}-{n}", lesson.dir)))
        .find(|p| !p.exists())
        .expect("a free name");
    fs::rename(crate_dir(lesson), &kept)
        .map_err(|e| format!("cannot move your crate to {}: {e}", kept.display()))?;
    Ok(kept)
}

/// Makes `lesson`'s crate in the workbook (which must not exist), and the
/// workbook's workspace around it; returns the steps left blank.
pub fn create(lesson: &Lesson) -> Result<Vec<Step>, String> {
    let steps = steps(lesson);
    let target = crate_dir(lesson);
    let source = lesson.path();
    let mut files = Vec::new();
    collect_files(&source.join("src"), &mut files);
    for file in &files {
        let relative = file
            .strip_prefix(&source)
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        let text = fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
        let mine: Vec<&Step> = steps.iter().filter(|s| s.file == relative).collect();
        let blanked = starter::blank(&text, &mine, &lesson.chapter());
        write_new(
            &target.join(&relative),
            &starter_header(&blanked, !mine.is_empty()),
        )?;
    }
    let manifest = fs::read_to_string(source.join("Cargo.toml"))
        .map_err(|e| format!("the lesson's Cargo.toml: {e}"))?;
    write_new(
        &target.join("Cargo.toml"),
        &crate_manifest(lesson, &manifest),
    )?;
    write_workspace()?;
    Ok(steps)
}

/// Every file under `dir`, in a stable order.
fn collect_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect_files(&path, found);
        } else {
            found.push(path);
        }
    }
}

/// Writes `text` to `path`, making its directory; never over a file.
fn write_new(path: &Path, text: &str) -> Result<(), String> {
    if path.exists() {
        return Err(format!("{} exists: not overwritten", path.display()));
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("cannot make {}: {e}", parent.display()))?;
    }
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// A starter file: with blanks, the lints that blanks set off (code after
/// a `todo!()` is unreachable, bindings unused) are allowed, and a line
/// says so, after the file's `//!` comment.
fn starter_header(text: &str, has_blanks: bool) -> String {
    if !has_blanks {
        return text.to_string();
    }
    let doc_lines = text.lines().take_while(|l| l.starts_with("//!")).count();
    let mut lines: Vec<&str> = text.lines().collect();
    let allow = "\n// Until every step is written: a `todo!()` leaves the code after it\n\
                 // unreachable and its names unused. Take this line out when you are done.\n\
                 #![allow(unreachable_code, unused)]";
    lines.insert(doc_lines, allow);
    lines.join("\n") + "\n"
}

/// The student's crate's manifest, from the lesson's: its own package
/// name (the library keeps the lesson's name, which its binaries use),
/// the earlier lessons found where they are, no tests.
fn crate_manifest(lesson: &Lesson, manifest: &str) -> String {
    let package = lesson.package();
    let mut out = format!(
        "# Your crate for lesson {}, made by `cargo xtask workbook {}` from the lesson's\n\
         # (crates/{}). Its library keeps the lesson's name, so that its binaries\n\
         # read as the lesson's do.\n",
        lesson.id(),
        lesson.id(),
        lesson.dir
    );
    for line in manifest.lines() {
        if line.trim() == "[dev-dependencies]" {
            break;
        }
        let line = line.replace(
            &format!("name = \"{package}\""),
            &format!("name = \"work{package}\""),
        );
        let course_root = relative_path(&crate_dir(lesson), &lessons::workspace_root());
        let line = line.replace("path = \"../", &format!("path = \"{course_root}/crates/"));
        out.push_str(&line);
        out.push('\n');
    }
    if !out.contains("\n[lib]") {
        out.push_str(&format!(
            "\n[lib]\nname = \"{}\"\npath = \"src/lib.rs\"\n",
            package.replace('-', "_")
        ));
    }
    out
}

/// A path from `from` to `to`, both absolute: `..` as far up as needed,
/// then down (the manifests' paths to the course's crates).
fn relative_path(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

/// The workbook's workspace manifest: every lesson started, the course's
/// package settings and dependency versions (paths pointing back into the
/// course), its build profile. Rewritten whenever a lesson is added; it is
/// the tooling's, not the student's. The course's Cargo.lock is copied
/// once, so the workbook builds with the same versions.
fn write_workspace() -> Result<(), String> {
    let root = lessons::workspace_root();
    let course = fs::read_to_string(root.join("Cargo.toml"))
        .map_err(|e| format!("the course's Cargo.toml: {e}"))?;
    let members: Vec<String> = lessons::LESSONS
        .iter()
        .filter(|l| is_started(l))
        .map(|l| format!("\"{}\"", l.dir))
        .collect();
    let course_root = relative_path(&dir(), &root);
    let mut text = format!(
        "# The workbook: your crates, one per lesson you have started (`cargo xtask\n\
         # workbook NN`). A workspace of its own, so that your programs build, and are\n\
         # graded, apart from the course's. Written by xtask; your code is in the\n\
         # lessons' directories.\n[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
        members.join(", ")
    );
    let mut keep = false;
    for line in course.lines() {
        if line.starts_with('[') {
            keep = line.starts_with("[workspace.package]")
                || line.starts_with("[workspace.dependencies]")
                || line.starts_with("[profile");
            if keep {
                text.push('\n');
            }
        }
        if keep && !line.starts_with('#') {
            text.push_str(&line.replace(
                "path = \"crates/",
                &format!("path = \"{course_root}/crates/"),
            ));
            text.push('\n');
        }
    }
    let manifest = dir().join("Cargo.toml");
    fs::create_dir_all(dir()).map_err(|e| format!("cannot make workbook/: {e}"))?;
    fs::write(&manifest, text).map_err(|e| format!("cannot write {}: {e}", manifest.display()))?;
    let lock = dir().join("Cargo.lock");
    if !lock.exists() {
        let _ = fs::copy(root.join("Cargo.lock"), lock);
    }
    Ok(())
}

/// Builds the workbook: `cargo build` in workbook/, into
/// target/workbook/, cargo's messages on the terminal.
pub fn build() -> Result<(), String> {
    let mut command = std::process::Command::new(lessons::cargo());
    command
        .args(["build", "--quiet", "--manifest-path"])
        .arg(dir().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir());
    let ended = lesson_testing::supervisor::run_to_end(
        &mut command,
        std::time::Instant::now() + std::time::Duration::from_secs(1200),
        &crate::term::interrupted,
        |_, line, _| eprintln!("{line}"),
    )
    .map_err(|e| format!("cannot run cargo: {e}"))?;
    match ended {
        lesson_testing::supervisor::Ended::Exited(status) if status.success() => Ok(()),
        _ => Err("your workbook did not build: the errors above say where".to_string()),
    }
}

/// The heading of the step a failed check ran into, when its program
/// stopped at a blank (its message: `not written yet: HEADING (read ...)`,
/// perhaps quoted inside the check's own message).
pub fn blank_hit(detail: &str) -> Option<String> {
    let at = detail.find(starter::NOT_WRITTEN)?;
    let rest = &detail[at + starter::NOT_WRITTEN.len()..];
    let end = rest.find(" (read ")?;
    Some(rest[..end].to_string())
}

/// Whether `options` grade the workbook: the binaries under test are the
/// workbook's.
pub fn is_graded(options: &crate::runner::Options) -> bool {
    let binaries = binaries().into_os_string();
    options.env.iter().any(|(name, value)| {
        name.starts_with("LESSON_BIN_")
            && value
                .to_string_lossy()
                .starts_with(&*binaries.to_string_lossy())
    })
}

/// A check that ran into a blank says so, and nothing more: which step is
/// not written yet, and where to read (not the program's panic message).
pub fn explain_blank(check: &mut crate::runner::Check) {
    let Some(heading) = check.detail.as_deref().and_then(blank_hit) else {
        return;
    };
    let chapter = lessons::resolve(&check.lesson)
        .map(|l| l.chapter())
        .unwrap_or_default();
    check.note = Some(format!("not written yet: {heading}"));
    check.detail = Some(format!(
        "not written yet: {heading}: read docs/src/{chapter}, section \"{heading}\", then \
         write it in place of its todo!()"
    ));
}

/// One line per lesson: how many of its checks pass, and the next step,
/// the earliest of the chapter's steps that a failing check points to
/// (by the blank it ran into, or the section its `Read:` line names).
pub fn progress(
    chosen: &[&Lesson],
    not_started: &[&Lesson],
    checks: &[crate::runner::Check],
) -> Vec<String> {
    use crate::libtest::Verdict;
    let mut lines = Vec::new();
    for lesson in lessons::LESSONS {
        if not_started.iter().any(|l| l.number == lesson.number) {
            lines.push(format!(
                "lesson {}: not started (`cargo xtask workbook {}` makes it)",
                lesson.id(),
                lesson.id()
            ));
            continue;
        }
        if !chosen.iter().any(|l| l.number == lesson.number) {
            continue;
        }
        let mine: Vec<&crate::runner::Check> = checks
            .iter()
            .filter(|c| c.lesson == lesson.id() && !c.name.starts_with('('))
            .collect();
        let passed = mine.iter().filter(|c| c.verdict == Verdict::Pass).count();
        let steps = steps(lesson);
        let next = mine
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
            .filter_map(|c| {
                let heading = match c
                    .note
                    .as_deref()
                    .and_then(|n| n.strip_prefix("not written yet: "))
                {
                    Some(heading) => heading.to_string(),
                    None => c.doc.heading.clone()?,
                };
                steps.iter().position(|s| s.heading == heading)
            })
            .min()
            .map(|index| &steps[index]);
        let failing = mine.len() - passed;
        let line = match (failing, next) {
            (0, _) if !mine.is_empty() => format!(
                "lesson {}: all {} checks pass: the lesson is done",
                lesson.id(),
                mine.len()
            ),
            (_, Some(step)) => format!(
                "lesson {}: {passed} of {} checks pass; next: {} (docs/src/{})",
                lesson.id(),
                mine.len(),
                step.heading,
                lesson.chapter()
            ),
            _ => format!(
                "lesson {}: {passed} of {} checks pass; next: the failures above",
                lesson.id(),
                mine.len()
            ),
        };
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every lesson's starter, made in memory: every step left blank (no
    /// line of its solution stays), the given code kept, and filled with
    /// the lesson's own code, it is the lesson again, line for line.
    #[test]
    fn every_starter_blanks_its_steps_and_fills_back_into_its_lesson() {
        for lesson in lessons::LESSONS {
            let steps = steps(lesson);
            assert!(!steps.is_empty(), "lesson {} has no steps", lesson.id());
            let source = lesson.path();
            let mut files = Vec::new();
            collect_files(&source.join("src"), &mut files);
            let mut blanked_anchors = Vec::new();
            for file in files {
                let relative = file
                    .strip_prefix(&source)
                    .expect("inside")
                    .to_string_lossy()
                    .into_owned();
                let text = fs::read_to_string(&file).expect("readable");
                let mine: Vec<&Step> = steps.iter().filter(|s| s.file == relative).collect();
                let blanked = starter::blank(&text, &mine, &lesson.chapter());
                for step in &mine {
                    assert!(
                        blanked.contains(&format!("{:?}", step.message(&lesson.chapter()))),
                        "lesson {} {relative}: step {} ({}) left no blank",
                        lesson.id(),
                        step.number,
                        step.anchor
                    );
                    blanked_anchors.push(step.anchor.clone());
                }
                assert_eq!(
                    starter::fill(&blanked, &text),
                    starter::without_anchors(&text),
                    "lesson {} {relative}: filled back, the starter is not the lesson",
                    lesson.id()
                );
            }
            assert_eq!(
                blanked_anchors.len(),
                steps.len(),
                "lesson {}: every step is in some file",
                lesson.id()
            );
        }
    }
}
