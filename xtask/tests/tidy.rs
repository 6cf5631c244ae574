//! House rules, checked by a test (after rust-analyzer's `tidy`): small
//! promises that no compiler checks but that readers rely on.
//!
//! - Every Rust file opens with a `//!` comment saying what it is for.
//! - The book quotes code only through `{{#include}}` and anchors that
//!   exist, and every chapter in its table of contents exists.
//! - Every binary the lesson contract names is documented in the README,
//!   and the lessons that exist declare the binaries the contract gives
//!   them.
//!
//! Only std is used, so this test adds nothing to the xtask's build. Each
//! test collects every problem it finds and fails once, naming each file,
//! anchor or binary that is wrong.

use std::fs;
use std::path::{Path, PathBuf};

/// Every binary the contract names, with the directory of its lesson's
/// crate under `crates/`. Lessons not written yet are listed too: their
/// binaries must already be documented, and are checked in their crate as
/// soon as its directory exists.
const CONTRACT_BINARIES: &[(&str, &[&str])] = &[
    ("01-tcp-basic", &["tcp-server", "tcp-client"]),
    ("02-fork-server", &["fork-server", "fork-client"]),
    ("03-zombie-reaping", &["reaping-server", "reaping-client"]),
    ("04-udp", &["udp-server", "udp-client"]),
    ("05-unix-domain", &["unix-server", "unix-client"]),
    ("06-select-server", &["select-server", "select-client"]),
];

/// The workspace root: the parent of this package's directory.
fn workspace_root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

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

/// Every binary the lesson contract names — the written lessons' and the
/// coming ones' — is documented in the README, which is where a user
/// looks for a program's synopsis first.
#[test]
fn readme_documents_every_contract_binary() {
    let readme_path = workspace_root().join("README.md");
    let readme = read(&readme_path);
    let problems: Vec<String> = CONTRACT_BINARIES
        .iter()
        .flat_map(|(lesson, binaries)| binaries.iter().map(move |binary| (lesson, binary)))
        .filter(|(_, binary)| !mentions(&readme, binary))
        .map(|(lesson, binary)| {
            format!("README.md never mentions `{binary}` (lesson {lesson} of the contract)")
        })
        .collect();
    assert_no_problems("binaries missing from the README", &problems);
}

/// One `[[bin]]` table of a Cargo.toml: its `name` and `path`, if given.
#[derive(Default)]
struct BinTable {
    name: Option<String>,
    path: Option<String>,
}

/// What a crate's Cargo.toml says about its binaries: its `[[bin]]`
/// tables, and whether cargo also finds `src/bin/*.rs` by itself
/// (`autobins`, true unless set to false). A line-based reading of TOML,
/// enough for the simple manifests of this workspace.
fn declared_binaries(manifest: &str) -> (Vec<BinTable>, bool) {
    let mut bins: Vec<BinTable> = Vec::new();
    let mut autobins = true;
    let mut section = String::new();
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            section = line.to_string();
            if section == "[[bin]]" {
                bins.push(BinTable::default());
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim().trim_matches('"').to_string());
        match (section.as_str(), key, bins.last_mut()) {
            ("[[bin]]", "name", Some(bin)) => bin.name = Some(value),
            ("[[bin]]", "path", Some(bin)) => bin.path = Some(value),
            ("[package]", "autobins", _) => autobins = value != "false",
            _ => {}
        }
    }
    (bins, autobins)
}

/// Whether the crate in `dir` builds a binary called `binary`: a `[[bin]]`
/// of that name, or a `src/bin/NAME.rs` (or `src/bin/NAME/main.rs`) that
/// cargo discovers by itself — which it does not when `autobins` is off,
/// nor for a file that a `[[bin]]` of another name already claims.
fn builds_binary(dir: &Path, bins: &[BinTable], autobins: bool, binary: &str) -> bool {
    if bins.iter().any(|bin| bin.name.as_deref() == Some(binary)) {
        return true;
    }
    let candidates = [
        format!("src/bin/{binary}.rs"),
        format!("src/bin/{binary}/main.rs"),
    ];
    autobins
        && candidates.iter().any(|file| {
            let claimed = bins.iter().any(|bin| {
                bin.path.as_deref().map(|p| p.trim_start_matches("./")) == Some(file.as_str())
            });
            dir.join(file).is_file() && !claimed
        })
}

/// A lesson that exists has the binaries the contract gives it: for each
/// lesson directory under `crates/`, every binary of that lesson is a
/// `[[bin]]` of its Cargo.toml or a `src/bin/NAME.rs` (or
/// `src/bin/NAME/main.rs`) that cargo finds by itself. A lesson directory
/// is recognised by its number, so a misnamed one is reported too.
#[test]
fn existing_lessons_declare_their_contract_binaries() {
    let crates = workspace_root().join("crates");
    let mut problems = Vec::new();
    let mut lessons_found = 0;
    for (lesson, binaries) in CONTRACT_BINARIES {
        let number = &lesson[..3]; // "01-"
        let mut dirs: Vec<PathBuf> = fs::read_dir(&crates)
            .unwrap_or_else(|e| panic!("cannot list crates/: {e}"))
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| {
                path.is_dir()
                    && path
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(number))
            })
            .collect();
        dirs.sort();
        for dir in dirs {
            lessons_found += 1;
            if dir.file_name().is_some_and(|n| n != *lesson) {
                problems.push(format!(
                    "{}: lesson {} belongs in crates/{lesson}, the name the README and the book use",
                    shown(&dir),
                    &lesson[..2]
                ));
            }
            let manifest_path = dir.join("Cargo.toml");
            let Ok(manifest) = fs::read_to_string(&manifest_path) else {
                problems.push(format!("{}: no Cargo.toml", shown(&dir)));
                continue;
            };
            let (bins, autobins) = declared_binaries(&manifest);
            for binary in *binaries {
                if !builds_binary(&dir, &bins, autobins, binary) {
                    problems.push(format!(
                        "{}: declares no binary `{binary}` (no [[bin]] name = \"{binary}\", and no src/bin/{binary}.rs that cargo would build under that name)",
                        shown(&manifest_path)
                    ));
                }
            }
        }
    }
    assert!(
        lessons_found > 0,
        "no lesson directories (01-..., 02-...) under crates/"
    );
    assert_no_problems("lessons without their contract binaries", &problems);
}
