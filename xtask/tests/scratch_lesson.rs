//! The lesson registry is the one source: a scratch lesson 07, made in a
//! copy of the workspace from lesson 01 under other names (its crate, its
//! chapter in the book's table of contents, and one row in the registry,
//! nothing else), is found everywhere it must be. In the copy:
//!
//! - the tidy tests fail, and every problem they name is a document that
//!   must now mention the new programs (the README's and the contract
//!   chapter's tables): they find every place that must change;
//! - `cargo xtask check 07` grades the new lesson, every check passing, and
//!   `cargo xtask workbook 07` makes its starter: no other edit was needed.
//!
//! It builds a copy of the workspace (a minute or two), so it is
//! `#[ignore]`d in a plain `cargo test`, and `.ci/run` runs it:
//!
//! ```text
//! cargo test -p xtask --test scratch_lesson -- --ignored
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use xtask::exercises::mirror;
use xtask::lessons;

/// Copies `from` (a directory) to `to`, replacing, in every file's text
/// and name, each `(old, new)` pair.
fn copy_renamed(from: &Path, to: &Path, renames: &[(&str, &str)]) {
    fs::create_dir_all(to).expect("a directory");
    for entry in fs::read_dir(from).expect("readable").flatten() {
        let mut name = entry.file_name().to_string_lossy().into_owned();
        for (old, new) in renames {
            name = name.replace(old, new);
        }
        let path = entry.path();
        if path.is_dir() {
            copy_renamed(&path, &to.join(name), renames);
        } else {
            let mut text = fs::read_to_string(&path).expect("a text file");
            for (old, new) in renames {
                text = text.replace(old, new);
            }
            fs::write(to.join(name), text).expect("writing");
        }
    }
}

/// Runs cargo in `copy`, building into `target`.
fn cargo(copy: &Path, target: &Path, args: &[&str], extra: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .args(args)
        .current_dir(copy)
        .env("CARGO_TARGET_DIR", target);
    for (name, value) in extra {
        command.env(name, value);
    }
    command.output().expect("running cargo")
}

#[test]
#[ignore = "builds a copy of the workspace (a minute or two): cargo test -p xtask --test scratch_lesson -- --ignored"]
fn a_new_lesson_needs_its_crate_its_chapter_and_one_row() {
    let root = lessons::workspace_root();
    let base: PathBuf = lessons::target_dir().join("scratch-lesson");
    let copy = base.join("workspace");
    let target = base.join("target");
    mirror::sync(&root, &copy).expect("copying the workspace");

    // The crate: lesson 01's, under other names.
    let renames = [
        ("lesson01-tcp-basic", "lesson07-scratch"),
        ("lesson01_tcp_basic", "lesson07_scratch"),
        ("01-tcp-basic", "07-scratch"),
        ("tcp-server", "scratch-server"),
        ("tcp-client", "scratch-client"),
        ("TCP_SERVER", "SCRATCH_SERVER"),
        ("TCP_CLIENT", "SCRATCH_CLIENT"),
    ];
    let _ = fs::remove_dir_all(copy.join("crates/07-scratch"));
    copy_renamed(
        &root.join("crates/01-tcp-basic"),
        &copy.join("crates/07-scratch"),
        &renames,
    );
    // Its chapter, in the table of contents: lesson 01's, quoting the new
    // crate (and still the C of lesson 01, which the scratch lesson has not).
    let mut chapter = fs::read_to_string(root.join("docs/src/01-tcp-basic.md")).expect("ch 01");
    for (old, new) in [
        ("crates/01-tcp-basic", "crates/07-scratch"),
        ("bin/tcp-server.rs", "bin/scratch-server.rs"),
        ("bin/tcp-client.rs", "bin/scratch-client.rs"),
    ] {
        chapter = chapter.replace(old, new);
    }
    fs::write(copy.join("docs/src/07-scratch.md"), chapter).expect("the chapter");
    let summary = fs::read_to_string(root.join("docs/src/SUMMARY.md")).expect("SUMMARY.md");
    let summary = summary.replace(
        "- [Lesson 06",
        "- [Lesson 07: Scratch](07-scratch.md)\n- [Lesson 06",
    );
    fs::write(copy.join("docs/src/SUMMARY.md"), summary).expect("SUMMARY.md");
    // One row.
    let registry = fs::read_to_string(root.join("xtask/src/lessons.rs")).expect("lessons.rs");
    let row = "    Lesson {\n        number: 7,\n        dir: \"07-scratch\",\n        \
               server: \"scratch-server\",\n        client: \"scratch-client\",\n        \
               transport: Transport::Tcp,\n    },\n];";
    let registry = registry.replacen("\n];", &format!("\n{row}"), 1);
    fs::write(copy.join("xtask/src/lessons.rs"), registry).expect("lessons.rs");

    // Tidy names every place that must change, and those are documents.
    let tidy = cargo(
        &copy,
        &target,
        &["test", "-p", "xtask", "--lib", "tidy"],
        &[],
    );
    let said = String::from_utf8_lossy(&tidy.stdout);
    assert!(
        !tidy.status.success(),
        "tidy found nothing to change:\n{said}"
    );
    let problems: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains("scratch"))
        .collect();
    assert!(!problems.is_empty(), "tidy named no place:\n{said}");
    for problem in &problems {
        assert!(
            problem.contains("README.md") || problem.contains("docs/src/contract.md"),
            "a place that is not a document must change: {problem}\n{said}"
        );
    }
    let failed: Vec<&str> = said
        .lines()
        .filter(|l| l.starts_with("test ") && l.ends_with("FAILED"))
        .collect();
    assert_eq!(
        failed,
        ["test tidy::readme_and_contract_chapter_document_every_binary ... FAILED"],
        "{said}"
    );

    // Everything else follows from the row: the checks grade it, the
    // workbook makes its starter.
    let checked = cargo(&copy, &target, &["xtask", "check", "07"], &[]);
    let said = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "check 07 failed:\n{said}");
    let checks = xtask::checks_source::names(lessons::resolve("01").expect("lesson 01")).len();
    assert!(
        said.contains(&format!("{checks} passed, 0 failed")),
        "{said}"
    );
    let workbook = base.join("workbook");
    let _ = fs::remove_dir_all(&workbook);
    let made = cargo(
        &copy,
        &target,
        &["xtask", "workbook", "07"],
        &[(xtask::workbook::VARIABLE, &workbook)],
    );
    let said = String::from_utf8_lossy(&made.stdout);
    assert!(made.status.success(), "workbook 07 failed:\n{said}");
    assert!(said.contains("Step 1: `socket()`"), "{said}");
}
