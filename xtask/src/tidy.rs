//! House rules, checked by a test (after rust-analyzer's `tidy`): small
//! promises that no compiler checks but that readers rely on.
//!
//! - Every Rust file opens with a `//!` comment saying what it is for.
//! - The book quotes code only through `{{#include}}` and anchors that
//!   exist, and every chapter in its table of contents exists.
//! - The lesson registry ([`crate::lessons`]) and the crates agree: every
//!   `crates/NN-*` directory has a row and every row a crate, whose package
//!   and binaries are the row's (as `cargo metadata` reads the manifests);
//!   every binary is documented in the README and the contract chapter,
//!   and every lesson's chapter is in the book.
//!
//! Each test collects every problem it finds and fails once, naming each
//! file, anchor or binary that is wrong.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::lessons::{workspace_root, Lesson, LESSONS};

/// `path` relative to the workspace root, for messages.
fn shown(path: &Path) -> String {
    let root = workspace_root();
    path.strip_prefix(&root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Reads a file the test needs, or fails naming it.
fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", shown(path)))
}

/// Every file under `dir` whose name ends with `extension`, in a stable
/// order, skipping `target` directories (build output) and hidden ones.
fn files_with_extension(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    pending.push(path);
                }
            } else if name.ends_with(extension) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Fails with every problem found, one per line, if there are any.
#[track_caller]
fn assert_no_problems(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// A reader who opens any Rust file of the workspace (the lesson crates,
/// the support crate, the xtask, their tests) learns from its very first
/// line what the file is for: the file starts with a `//!` comment, with
/// no blank line before it.
#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let root = workspace_root();
    let mut files = files_with_extension(&root.join("crates"), ".rs");
    files.extend(files_with_extension(&root.join("xtask"), ".rs"));
    assert!(
        !files.is_empty(),
        "no .rs files found under crates/ and xtask/"
    );

    let mut problems = Vec::new();
    for file in &files {
        let text = read(file);
        let first = text.lines().next().unwrap_or("");
        if !first.starts_with("//!") {
            let why = if first.trim().is_empty() {
                "starts with a blank line (or is empty)".to_string()
            } else {
                format!("starts with {first:?}")
            };
            problems.push(format!("{}: {why}, not a `//!` module doc", shown(file)));
        }
    }
    assert_no_problems("Rust files without a leading `//!` doc", &problems);
}

/// One `{{#include ...}}` or `{{#rustdoc_include ...}}` in a chapter.
struct Include {
    /// 1-based line of the chapter it is on.
    line: usize,
    /// The path as written, relative to the chapter's directory.
    path: String,
    /// The anchor after `:`, if one is named (a line range such as `:3:9`
    /// is not an anchor).
    anchor: Option<String>,
}

/// Finds the includes in a chapter's text, skipping escaped ones
/// (`\{{#include ...}}` shows the directive instead of running it).
fn includes(text: &str) -> Vec<Include> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(start) = rest.find("{{#") {
            let escaped = rest[..start].ends_with('\\');
            let after = &rest[start + 3..];
            let Some(end) = after.find("}}") else { break };
            let directive = &after[..end];
            rest = &after[end + 2..];
            let argument = match directive.split_once(char::is_whitespace) {
                Some(("include" | "rustdoc_include", argument)) if !escaped => argument.trim(),
                _ => continue,
            };
            let (path, selector) = match argument.split_once(':') {
                Some((path, selector)) => (path, selector),
                None => (argument, ""),
            };
            let is_line_range = selector.chars().all(|c| c.is_ascii_digit() || c == ':');
            found.push(Include {
                line: index + 1,
                path: path.to_string(),
                anchor: (!is_line_range).then(|| selector.to_string()),
            });
        }
    }
    found
}

/// The lines on which `file_text` has `MARKER: name` (mdBook's rule: the
/// name is the run of letters, digits, `_` and `-` after the marker).
fn marker_lines(file_text: &str, marker: &str, name: &str) -> Vec<usize> {
    let needle = format!("{marker}:");
    file_text
        .lines()
        .enumerate()
        .filter(|(_, line)| {
            line.match_indices(&needle).any(|(at, _)| {
                // `ANCHOR:` must not match inside `ANCHOR_END:` and vice versa.
                let before_ok = !line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
                let found: String = line[at + needle.len()..]
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
                    .collect();
                before_ok && found == name
            })
        })
        .map(|(index, _)| index + 1)
        .collect()
}

/// The book quotes code, never copies it, so a quote must point at
/// something real: every `{{#include PATH}}`, `{{#include PATH:ANCHOR}}` and
/// `{{#rustdoc_include ...}}` in `docs/src` names an existing file (relative
/// to the chapter), and a named anchor is opened (`ANCHOR: name`) and then
/// closed (`ANCHOR_END: name`) in that file. Otherwise mdBook would render
/// a warning, or nothing, where the code should be.
#[test]
fn book_includes_name_existing_files_and_anchors() {
    let docs = workspace_root().join("docs/src");
    let chapters = files_with_extension(&docs, ".md");
    assert!(!chapters.is_empty(), "no chapters found in docs/src");

    let mut problems = Vec::new();
    for chapter in &chapters {
        let text = read(chapter);
        for include in includes(&text) {
            let at = format!("{}:{}", shown(chapter), include.line);
            let target = chapter.parent().unwrap_or(&docs).join(&include.path);
            let Ok(quoted) = fs::read_to_string(&target) else {
                problems.push(format!(
                    "{at}: includes {}, which does not exist",
                    include.path
                ));
                continue;
            };
            let Some(anchor) = include.anchor else {
                continue;
            };
            let opens = marker_lines(&quoted, "ANCHOR", &anchor);
            let closes = marker_lines(&quoted, "ANCHOR_END", &anchor);
            match (opens.first(), closes.first()) {
                (None, _) => problems.push(format!(
                    "{at}: anchor `{anchor}` is not in {} (no `ANCHOR: {anchor}` line)",
                    include.path
                )),
                (Some(_), None) => problems.push(format!(
                    "{at}: anchor `{anchor}` in {} is never closed (no `ANCHOR_END: {anchor}` line)",
                    include.path
                )),
                (Some(open), Some(close)) if close < open => problems.push(format!(
                    "{at}: anchor `{anchor}` in {} closes (line {close}) before it opens (line {open})",
                    include.path
                )),
                _ => {}
            }
        }
    }
    assert_no_problems("broken includes in the book", &problems);
}

/// The links of a SUMMARY.md: `(line, target)` for each `[title](target)`
/// with a non-empty target (an empty one is mdBook's draft chapter).
fn summary_links(text: &str) -> Vec<(usize, String)> {
    let mut links = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(open) = rest.find("](") {
            let after = &rest[open + 2..];
            let Some(close) = after.find(')') else { break };
            let target = after[..close].trim();
            if !target.is_empty() {
                links.push((index + 1, target.to_string()));
            }
            rest = &after[close + 1..];
        }
    }
    links
}

/// Every chapter the book's table of contents (`docs/src/SUMMARY.md`)
/// lists exists; otherwise mdBook creates an empty file in its place
/// instead of failing, and the book silently shows a blank chapter.
#[test]
fn every_chapter_in_the_summary_exists() {
    let docs = workspace_root().join("docs/src");
    let summary = docs.join("SUMMARY.md");
    let links = summary_links(&read(&summary));
    assert!(!links.is_empty(), "{} lists no chapters", shown(&summary));

    let problems: Vec<String> = links
        .iter()
        .filter(|(_, target)| {
            !docs
                .join(target.split('#').next().unwrap_or(target))
                .is_file()
        })
        .map(|(line, target)| {
            format!(
                "{}:{line}: lists {target}, which does not exist in docs/src",
                shown(&summary)
            )
        })
        .collect();
    assert_no_problems("missing chapters", &problems);
}

/// Whether `word` occurs in `text` as a whole name: not as part of a
/// longer name such as `tcp-server2` or `my-tcp-server`.
fn mentions(text: &str, word: &str) -> bool {
    let part_of_name = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
    })
}

/// Every binary of every lesson is documented in the README, which is where
/// a user looks for a program's synopsis first, and in the book's contract
/// chapter.
#[test]
fn readme_and_contract_chapter_document_every_binary() {
    let root = workspace_root();
    let mut problems = Vec::new();
    for page in ["README.md", "docs/src/contract.md"] {
        let text = read(&root.join(page));
        for lesson in LESSONS {
            for binary in lesson.binaries() {
                if !mentions(&text, binary) {
                    problems.push(format!(
                        "{page} never mentions `{binary}` (lesson {})",
                        lesson.id()
                    ));
                }
            }
        }
    }
    assert_no_problems("binaries missing from the documentation", &problems);
}

/// Every lesson's chapter exists and is in the book's table of contents.
#[test]
fn every_lesson_has_its_chapter_in_the_book() {
    let summary = read(&workspace_root().join("docs/src/SUMMARY.md"));
    let listed: Vec<String> = summary_links(&summary)
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    let problems: Vec<String> = LESSONS
        .iter()
        .filter(|l| !l.chapter_path().is_file() || !listed.iter().any(|t| *t == l.chapter()))
        .map(|l| {
            format!(
                "lesson {}: docs/src/{} is missing or not listed in SUMMARY.md",
                l.id(),
                l.chapter()
            )
        })
        .collect();
    assert_no_problems("lessons without a chapter", &problems);
}

/// A package as `cargo metadata` describes it: its name and the names of
/// its binary targets.
struct Package {
    name: String,
    binaries: Vec<String>,
}

/// The workspace's packages by the directory of their manifest, read by
/// cargo itself (`cargo metadata --no-deps`): the one reader of the
/// workspace's Cargo.toml files.
fn workspace_packages() -> BTreeMap<PathBuf, Package> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(workspace_root())
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let mut packages = BTreeMap::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let Some(manifest) = package["manifest_path"].as_str() else {
            continue;
        };
        let binaries = package["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| {
                t["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"))
            })
            .filter_map(|t| t["name"].as_str().map(str::to_string))
            .collect();
        let dir = Path::new(manifest)
            .parent()
            .unwrap_or(Path::new(""))
            .to_path_buf();
        packages.insert(
            dir,
            Package {
                name: package["name"].as_str().unwrap_or_default().to_string(),
                binaries,
            },
        );
    }
    packages
}

/// The registry and `crates/` agree. Every directory named like a lesson
/// (`NN-name`) has a row, so `check` and `demo` know it; every row has its
/// directory, a workspace member whose package is the row's package and
/// which builds the row's server and client under the contract's names.
#[test]
fn the_lesson_registry_matches_the_crates() {
    let crates = workspace_root().join("crates");
    let packages = workspace_packages();
    let mut problems = Vec::new();
    let entries = fs::read_dir(&crates).unwrap_or_else(|e| panic!("cannot list crates/: {e}"));
    let mut dirs: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| {
            name.len() > 3
                && name.as_bytes()[..2].iter().all(u8::is_ascii_digit)
                && name.as_bytes()[2] == b'-'
        })
        .collect();
    dirs.sort();
    for dir in &dirs {
        if !LESSONS.iter().any(|l| l.dir == dir) {
            problems.push(format!(
                "crates/{dir} looks like a lesson but has no row in xtask/src/lessons.rs"
            ));
        }
    }
    for lesson in LESSONS {
        problems.extend(row_problems(lesson, &packages));
    }
    assert_no_problems("the lesson registry and crates/ disagree", &problems);
}

/// What is wrong with one registry row, given the workspace's packages.
fn row_problems(lesson: &Lesson, packages: &BTreeMap<PathBuf, Package>) -> Vec<String> {
    let row = format!("lesson {} (crates/{})", lesson.id(), lesson.dir);
    let Some(package) = packages.get(&lesson.path()) else {
        return vec![format!(
            "{row}: no such workspace member (the row names a crate that does not exist)"
        )];
    };
    let mut problems = Vec::new();
    if package.name != lesson.package() {
        problems.push(format!(
            "{row}: its package must be named `{}` (`lesson` + its directory), its Cargo.toml \
             says `{}`",
            lesson.package(),
            package.name
        ));
    }
    for binary in lesson.binaries() {
        if !package.binaries.iter().any(|b| b == binary) {
            problems.push(format!(
                "{row}: builds no binary `{binary}` (its binaries: {:?})",
                package.binaries
            ));
        }
    }
    problems
}

/// A chapter's numbered exercises and its lesson's `exercises.toml` are
/// one list: each exercise has an entry with its number, and each entry
/// an exercise. (`cargo xtask exercises` proves what the entries predict;
/// this keeps the book from gaining an exercise that nothing proves.)
#[test]
fn every_chapter_exercise_has_an_entry_and_every_entry_an_exercise() {
    let mut problems = Vec::new();
    for lesson in LESSONS {
        let chapter = format!("docs/src/{}", lesson.chapter());
        let file = format!("crates/{}/exercises.toml", lesson.dir);
        let text = fs::read_to_string(lesson.chapter_path()).unwrap_or_default();
        let numbered: Vec<u32> = crate::exercises::entry::chapter_exercises(&text)
            .iter()
            .map(|e| e.number)
            .collect();
        let entries = match crate::exercises::load(lesson) {
            Ok(Some(entries)) => entries,
            Ok(None) if numbered.is_empty() => continue,
            Ok(None) => {
                problems.push(format!(
                    "{chapter} has {} numbered exercise(s) under `## Exercises`, and {file} does not exist",
                    numbered.len()
                ));
                continue;
            }
            Err(message) => {
                problems.push(message);
                continue;
            }
        };
        for number in &numbered {
            if !entries.iter().any(|e| e.in_book && e.number == *number) {
                problems.push(format!(
                    "{chapter}: exercise {number} has no entry in {file}"
                ));
            }
        }
        for entry in entries.iter().filter(|e| e.in_book) {
            if !numbered.contains(&entry.number) {
                problems.push(format!(
                    "{file}: entry {} (\"{}\") is not a numbered exercise of {chapter}'s `## Exercises`",
                    entry.number, entry.title
                ));
            }
        }
    }
    assert_no_problems("exercises and their entries disagree", &problems);
}

/// An entry predicts failures by check name: each name is a `#[test] fn`
/// of that lesson's tests/e2e.rs, so a renamed check cannot leave a
/// prediction that nothing could ever meet.
#[test]
fn exercise_entries_name_real_checks() {
    let mut problems = Vec::new();
    for lesson in LESSONS {
        let Ok(Some(entries)) = crate::exercises::load(lesson) else {
            continue;
        };
        let checks = crate::checks_source::names(lesson);
        for entry in entries {
            let crate::exercises::entry::Expect::Fail(names) = &entry.expect else {
                continue;
            };
            for name in names.iter().filter(|n| !checks.contains(*n)) {
                problems.push(format!(
                    "crates/{}/exercises.toml: exercise {} names `{name}`, which is not a #[test] fn of crates/{}/tests/e2e.rs",
                    lesson.dir, entry.number, lesson.dir
                ));
            }
        }
    }
    assert_no_problems("predictions naming checks that do not exist", &problems);
}

/// The names a chapter's exercise writes in backticks are real: a
/// snake_case name (`handler_reaps_every_child_of_a_burst_of_200`) is
/// either a check of the lesson (a `#[test] fn` of its tests/e2e.rs) or a
/// name that the workspace's code uses (`write_all`, `print_message`).
/// A check renamed in the tests, or misspelt in the book, is neither.
#[test]
fn chapter_exercises_name_only_real_checks() {
    // Every identifier of the code the book can talk about: the crates'
    // sources, not their tests (a test file's comments may still carry an
    // old check's name).
    let mut vocabulary = std::collections::BTreeSet::new();
    for file in files_with_extension(&workspace_root().join("crates"), ".rs") {
        if file.components().any(|c| c.as_os_str() == "tests") {
            continue;
        }
        let text = read(&file);
        vocabulary.extend(
            text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.contains('_'))
                .map(str::to_string),
        );
    }
    let mut problems = Vec::new();
    for lesson in LESSONS {
        let text = fs::read_to_string(lesson.chapter_path()).unwrap_or_default();
        let checks = crate::checks_source::names(lesson);
        for exercise in crate::exercises::entry::chapter_exercises(&text) {
            for name in crate::exercises::entry::backticked_names(&exercise.text) {
                if !checks.contains(&name) && !vocabulary.contains(&name) {
                    problems.push(format!(
                        "docs/src/{}:{}: exercise {} names `{name}`, which is neither a check of crates/{}/tests/e2e.rs nor a name in the code",
                        lesson.chapter(), exercise.line, exercise.number, lesson.dir
                    ));
                }
            }
        }
    }
    assert_no_problems("exercises naming checks that do not exist", &problems);
}

/// `mdbook test docs` compiles every `rust` code block of the book. The
/// blocks that quote the lessons with `{{#include ...}}` are excerpts,
/// which cannot compile on their own (the crates compile them whole, and
/// their tests run them), so each is marked `rust,ignore`: the test then
/// passes, and the book still shows them highlighted.
#[test]
fn book_excerpts_are_marked_for_mdbook_test_to_skip() {
    let docs = workspace_root().join("docs/src");
    let mut problems = Vec::new();
    for chapter in files_with_extension(&docs, ".md") {
        let text = read(&chapter);
        let mut open: Option<(usize, String)> = None;
        for (index, line) in text.lines().enumerate() {
            let Some(info) = line.trim_start().strip_prefix("```") else {
                if let Some((start, info)) = &open {
                    let quotes = line.contains("{{#include") || line.contains("{{#rustdoc_include");
                    let language: Vec<&str> = info.split(',').map(str::trim).collect();
                    if quotes && language.first() == Some(&"rust") && !language.contains(&"ignore")
                    {
                        problems.push(format!(
                            "{}:{start}: a `rust` block quoting {} is not marked `rust,ignore`",
                            shown(&chapter),
                            line.trim()
                        ));
                    }
                }
                continue;
            };
            open = match open {
                Some(_) => None,
                None => Some((index + 1, info.trim().to_string())),
            };
        }
    }
    assert_no_problems("book excerpts that `mdbook test` would compile", &problems);
}

/// The headings of a chapter (`#`, `##`, ... lines), as written.
fn headings(chapter: &str) -> Vec<String> {
    let mut in_code = false;
    let mut found = Vec::new();
    for line in chapter.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            found.push(line.trim_start_matches('#').trim().to_string());
        }
    }
    found
}

/// A failing check tells a student which rule broke and where the book
/// explains it (see `crate::checkdoc`): so every check in every lesson's
/// `tests/e2e.rs` has a `Rule:` line and a `Read:` line in its doc
/// comment, and the heading after `Read:` exists in the lesson's chapter.
#[test]
fn every_check_names_its_rule_and_its_section_of_the_book() {
    let mut problems = Vec::new();
    for lesson in LESSONS {
        let chapter = fs::read_to_string(lesson.chapter_path()).unwrap_or_default();
        let headings = headings(&chapter);
        let docs = crate::checks_source::read(lesson);
        if docs.is_empty() {
            problems.push(format!(
                "lesson {}: no checks found in tests/e2e.rs",
                lesson.id()
            ));
        }
        for (name, doc) in docs {
            let at = format!("crates/{}/tests/e2e.rs: {name}", lesson.dir);
            if doc.rule.is_none() {
                problems.push(format!("{at}: no `/// Rule: ...` line in its doc comment"));
            }
            match doc.heading {
                None => problems.push(format!("{at}: no `/// Read: \"Heading\"` line")),
                Some(heading) if !headings.contains(&heading) => problems.push(format!(
                    "{at}: `Read: \"{heading}\"` is not a heading of docs/src/{}",
                    lesson.chapter()
                )),
                Some(_) => {}
            }
        }
    }
    assert_no_problems("checks that cannot point a student to the book", &problems);
}

/// Every exercise's edits still apply to the code as it is: each `find`
/// occurs exactly once in its file (after the entry's earlier edits), so
/// a change to a lesson that breaks an entry is caught by `cargo test`,
/// in a second, and not only by the minutes-long `cargo xtask exercises`.
#[test]
fn exercise_edits_apply_to_the_code_as_it_is() {
    let root = workspace_root();
    let mut problems = Vec::new();
    for lesson in LESSONS {
        let Ok(Some(entries)) = crate::exercises::load(lesson) else {
            continue;
        };
        for entry in entries {
            let mut edited: BTreeMap<String, String> = BTreeMap::new();
            for (index, edit) in entry.edits.iter().enumerate() {
                let text = match edited.get(&edit.file) {
                    Some(text) => text.clone(),
                    None => match fs::read_to_string(root.join(&edit.file)) {
                        Ok(text) => text,
                        Err(e) => {
                            problems.push(format!(
                                "crates/{}/exercises.toml: exercise {}, edit {}: cannot read {}: {e}",
                                lesson.dir, entry.number, index + 1, edit.file
                            ));
                            break;
                        }
                    },
                };
                let found = text.matches(edit.find.as_str()).count();
                if found != 1 {
                    problems.push(format!(
                        "crates/{}/exercises.toml: exercise {}, edit {}: its `find` occurs {found} times in {} (must be exactly once)",
                        lesson.dir, entry.number, index + 1, edit.file
                    ));
                    break;
                }
                edited.insert(
                    edit.file.clone(),
                    text.replacen(edit.find.as_str(), &edit.replace, 1),
                );
            }
        }
    }
    assert_no_problems("exercise edits that no longer apply", &problems);
}

/// Every package cargo has locked declares a `rust_version` no newer than
/// the workspace's: the README's "Rust 1.85 or newer" is a promise, and
/// one dependency that needs a newer compiler breaks it for every student
/// with an older one (cargo refuses to build it). `.cargo/config.toml`
/// makes cargo choose such versions; this catches a lock file that was
/// written otherwise.
#[test]
fn locked_packages_build_with_the_declared_rust_version() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(workspace_root())
        .output()
        .expect("running cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata --locked failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    // `1.85` and `1.85.0` are the same version.
    let version = |text: &str| -> [u32; 3] {
        let mut parts = text.split('.').map(|part| part.parse().unwrap_or(0));
        [0; 3].map(|_| parts.next().unwrap_or(0))
    };
    let packages = metadata["packages"].as_array().expect("a package list");
    let declared = packages
        .iter()
        .find(|p| p["name"] == "xtask")
        .and_then(|p| p["rust_version"].as_str())
        .expect("the workspace declares a rust-version");
    let problems: Vec<String> = packages
        .iter()
        .filter_map(|p| {
            let needs = p["rust_version"].as_str()?;
            (version(needs) > version(declared)).then(|| {
                format!(
                    "{} {} needs Rust {needs}, newer than the workspace's {declared}",
                    p["name"].as_str().unwrap_or("?"),
                    p["version"].as_str().unwrap_or("?")
                )
            })
        })
        .collect();
    assert_no_problems("locked packages too new for the declared Rust", &problems);
}

/// The layout, as a list of patterns: a `*` stands for one path component
/// or part of one, `**` for any number of components.
const EXPECTED_FILES: &[&str] = &[
    ".cargo/config.toml",
    ".ci/run",
    ".gitignore",
    "ARCHITECTURE.md",
    "Cargo.lock",
    "Cargo.toml",
    "README.md",
    "c/Makefile",
    "c/*.c",
    "c/*.h",
    "crates/*/Cargo.toml",
    "crates/*/build.rs",
    "crates/*/src/**.rs",
    "crates/*/tests/*.rs",
    "crates/*/exercises.toml",
    "crates/lesson-testing/faults/Cargo.toml",
    "crates/lesson-testing/faults/src/*.rs",
    "docs/book.toml",
    "docs/src/*.md",
    "docs/src/bench.json",
    "docs/src/bench.svg",
    "docs/src/figures/*.svg",
    "docs/src/screenshots/*.png",
    "xtask/Cargo.toml",
    "xtask/src/**.rs",
    "xtask/tests/*.rs",
    "xtask/tests/hostile/*.c",
    "xtask/tests/hostile/*.h",
    "xtask/bench/Cargo.toml",
    "xtask/bench/src/*.rs",
];

/// Whether `path` (relative, `/`-separated) fits `pattern`.
fn fits(pattern: &str, path: &str) -> bool {
    fn glob(pattern: &[u8], text: &[u8], deep: bool) -> bool {
        match (pattern.first(), text.first()) {
            (None, None) => true,
            (Some(b'*'), _) if pattern.get(1) == Some(&b'*') => glob(&pattern[1..], text, true),
            (Some(b'*'), _) => {
                glob(&pattern[1..], text, deep)
                    || text
                        .first()
                        .is_some_and(|&c| (deep || c != b'/') && glob(pattern, &text[1..], deep))
            }
            (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..], deep),
            _ => false,
        }
    }
    glob(pattern.as_bytes(), path.as_bytes(), false)
}

/// Every file of the tree has a place in the layout above (after
/// rustlings' `check_unexpected_files`): no `.orig` or `.rej` left by a
/// patch, no note left for a colleague, no scratch output. Build output
/// (`target/`, `docs/book/`), hidden directories but `.cargo` and `.ci`,
/// and `.git` (a file in a `git worktree`) are not the tree's.
#[test]
fn no_unexpected_files() {
    let root = workspace_root();
    let mut problems = Vec::new();
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let relative = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            let name = entry.file_name().to_string_lossy().into_owned();
            // Git's own (a directory, or in a worktree a file).
            if name == ".git" {
                continue;
            }
            if path.is_dir() {
                let hidden = name.starts_with('.') && name != ".cargo" && name != ".ci";
                // Build output, the book as built, and a student's workbook
                // are not the course's files.
                let outside = ["target", "docs/book", "workbook"];
                if !hidden && !outside.contains(&relative.as_str()) && name != "target" {
                    pending.push(path);
                }
            } else if relative != ".git" && !EXPECTED_FILES.iter().any(|p| fits(p, &relative)) {
                problems.push(format!(
                    "{relative}: the layout has no place for it (see EXPECTED_FILES in \
                     xtask/src/tidy.rs, and ARCHITECTURE.md)"
                ));
            }
        }
    }
    problems.sort();
    assert_no_problems("unexpected files", &problems);
}

#[test]
fn the_layout_patterns_mean_what_they_say() {
    assert!(fits("c/*.c", "c/tcp-server.c"));
    assert!(!fits("c/*.c", "c/sub/tcp-server.c"));
    assert!(fits("xtask/src/**.rs", "xtask/src/demo/stage.rs"));
    assert!(!fits(
        "xtask/src/**.rs",
        "xtask/src/exercises/entry.rs.orig"
    ));
    assert!(!fits("crates/*/Cargo.toml", "crates/lesson-testing/READY"));
}

/// The modules of the crate whose sources are in `src`: each file or
/// directory directly under it, with every file that belongs to it.
fn modules(src: &Path) -> BTreeMap<String, Vec<PathBuf>> {
    let mut modules = BTreeMap::new();
    for entry in fs::read_dir(src).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let files = if path.is_dir() {
            files_with_extension(&path, ".rs")
        } else if name == "lib" || name == "main" || path.extension() != Some("rs".as_ref()) {
            continue;
        } else {
            vec![path.clone()]
        };
        modules.entry(name).or_insert_with(Vec::new).extend(files);
    }
    modules
}

/// No two modules of a crate depend on each other, however indirectly:
/// the code reads from the bottom up (the registry, the runner, then the
/// subcommands), and a change in one module cannot ripple back into
/// itself. A module uses another when it names it (`crate::name`, or
/// `super::name` from a sibling file at the top).
#[test]
fn no_two_modules_depend_on_each_other() {
    let root = workspace_root();
    let mut problems = Vec::new();
    for src in [
        root.join("xtask/src"),
        root.join("xtask/bench/src"),
        root.join("crates/lesson-testing/src"),
        root.join("crates/lesson/src"),
    ] {
        let modules = modules(&src);
        let uses: BTreeMap<&String, Vec<&String>> = modules
            .iter()
            .map(|(name, files)| {
                // Code only: a comment that names a module is no use of it.
                let text: String = files
                    .iter()
                    .flat_map(|f| {
                        read(f)
                            .lines()
                            .filter(|l| !l.trim_start().starts_with("//"))
                            .map(|l| format!("{l}\n"))
                            .collect::<Vec<_>>()
                    })
                    .collect();
                let used = modules
                    .keys()
                    .filter(|other| *other != name)
                    .filter(|other| {
                        names_module(&text, &format!("crate::{other}"))
                            || (files.len() == 1 && names_module(&text, &format!("super::{other}")))
                    })
                    .collect();
                (name, used)
            })
            .collect();
        // A cycle: a path from a module back to itself.
        for start in uses.keys() {
            let mut pending: Vec<Vec<&String>> = vec![vec![start]];
            while let Some(path) = pending.pop() {
                let last = path[path.len() - 1];
                for next in uses.get(last).into_iter().flatten() {
                    if next == start {
                        let mut cycle: Vec<&str> = path.iter().map(|m| m.as_str()).collect();
                        cycle.push(next);
                        let place = shown(&src);
                        if !problems
                            .iter()
                            .any(|p: &String| p.starts_with(&place) && same_cycle(p, &cycle))
                        {
                            problems.push(format!("{place}: {}", cycle.join(" -> ")));
                        }
                    } else if !path.contains(next) {
                        let mut longer = path.clone();
                        longer.push(next);
                        pending.push(longer);
                    }
                }
            }
        }
    }
    assert_no_problems("modules that depend on each other", &problems);
}

/// Whether `text` has `path` as a whole path segment (`crate::check`, not
/// the start of `crate::checks_source`).
fn names_module(text: &str, path: &str) -> bool {
    text.match_indices(path).any(|(at, _)| {
        !text[at + path.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

/// Whether `reported` already names the modules of `cycle` (in another
/// rotation).
fn same_cycle(reported: &str, cycle: &[&str]) -> bool {
    cycle
        .iter()
        .all(|m| reported.contains(&format!(" {m} ")) || reported.ends_with(m))
}

/// The figures of the book are all used, and all there: every image a
/// chapter shows (`![...](figures/NAME.svg)`) exists, and every file in
/// `docs/src/figures` is shown by some chapter.
#[test]
fn every_figure_is_shown_and_every_figure_shown_exists() {
    let docs = workspace_root().join("docs/src");
    let mut shown_figures = Vec::new();
    let mut problems = Vec::new();
    for chapter in files_with_extension(&docs, ".md") {
        let text = read(&chapter);
        for (index, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(start) = rest.find("](figures/") {
                let after = &rest[start + 2..];
                let end = after.find(')').unwrap_or(after.len());
                let target = &after[..end];
                if !docs.join(target).is_file() {
                    problems.push(format!(
                        "{}:{}: shows {target}, which does not exist",
                        shown(&chapter),
                        index + 1
                    ));
                }
                shown_figures.push(target.to_string());
                rest = &after[end..];
            }
        }
    }
    for figure in files_with_extension(&docs.join("figures"), ".svg") {
        let name = format!(
            "figures/{}",
            figure.file_name().unwrap_or_default().to_string_lossy()
        );
        if !shown_figures.contains(&name) {
            problems.push(format!("docs/src/{name}: no chapter shows it"));
        }
    }
    assert_no_problems("figures missing or unused", &problems);
}

/// The mdBook that `cargo xtask book` asks for when none is installed is
/// the one CI installs and the README tells readers to install: one
/// version, named in [`crate::book::MDBOOK_VERSION`].
#[test]
fn one_mdbook_version_everywhere() {
    let root = workspace_root();
    let version = crate::book::MDBOOK_VERSION;
    let mut problems = Vec::new();
    for (file, wanted) in [
        (".ci/run", format!("cargo_install mdbook {version}\n")),
        (
            "README.md",
            format!("cargo install mdbook --locked --version {version} "),
        ),
        (
            "xtask/src/flags.rs",
            format!("cargo install mdbook --locked --version {version}`"),
        ),
    ] {
        if !read(&root.join(file)).contains(&wanted) {
            problems.push(format!("{file}: no `{}`", wanted.trim_end()));
        }
    }
    assert_no_problems("mdBook versions that disagree", &problems);
}

/// The rules every lesson's binaries share are one table
/// (`lesson_testing::rules::SHARED`), and every lesson follows it: each
/// rule that concerns a lesson is checked there under the table's name,
/// with the table's `Rule:` line, by the table's function; a check with
/// a shared rule's wording has its name; and every wording is the
/// contract's own, word for word as docs/src/contract.md has it.
#[test]
fn shared_rules_are_one_table_that_every_lesson_follows() {
    use lesson_testing::rules::SHARED;
    let root = workspace_root();
    let contract = read(&root.join("docs/src/contract.md"))
        .replace("**", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let mut problems = Vec::new();
    for shared in SHARED {
        let words = shared
            .rule
            .split_once(" — ")
            .map_or(shared.rule, |(_, w)| w);
        if !contract.contains(words) {
            problems.push(format!(
                "rules::SHARED `{}`: its wording is not the contract's ({words:?} is not in \
                 docs/src/contract.md)",
                shared.check
            ));
        }
    }
    for lesson in LESSONS {
        let source = fs::read_to_string(lesson.e2e_tests()).unwrap_or_default();
        let docs = crate::checks_source::read(lesson);
        let at = format!("crates/{}/tests/e2e.rs", lesson.dir);
        for shared in SHARED
            .iter()
            .filter(|s| s.concerns.includes(lesson.transport))
        {
            let Some(doc) = docs.get(shared.check) else {
                problems.push(format!("{at}: no check `{}`", shared.check));
                continue;
            };
            if doc.rule.as_deref() != Some(shared.rule) {
                problems.push(format!(
                    "{at}: `{}` says `Rule: {}`, the table says `Rule: {}`",
                    shared.check,
                    doc.rule.as_deref().unwrap_or(""),
                    shared.rule
                ));
            }
            if !crate::checks_source::body(&source, shared.check)
                .is_some_and(|b| b.contains(shared.calls))
            {
                problems.push(format!(
                    "{at}: `{}` does not call rules::{}",
                    shared.check, shared.calls
                ));
            }
        }
        for (name, doc) in &docs {
            let same_words = SHARED
                .iter()
                .find(|s| doc.rule.as_deref() == Some(s.rule) && s.check != name);
            if let Some(shared) = same_words {
                problems.push(format!(
                    "{at}: `{name}` checks the shared rule of `{}` under another name",
                    shared.check
                ));
            }
        }
    }
    assert_no_problems("lessons that do not follow the shared rules", &problems);
}
