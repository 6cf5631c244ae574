//! A lesson's starter, derived from the lesson's own code: the same files
//! with each of the lesson's steps left blank, as a `todo!()` that names
//! the step and the chapter section that teaches it. The steps are the
//! regions the book quotes (`// ANCHOR: name` ... `// ANCHOR_END: name`),
//! so a starter cannot drift from the book, and no copy is kept anywhere.
//!
//! Which regions are steps, and in which order, the chapter says: every
//! anchor of the lesson's own crate that the chapter includes, in the order
//! the chapter includes them, is a step named by the heading it is
//! included under; but the contract's boilerplate, which a student is
//! given ([`GIVEN`]: parsing the arguments, putting the stop signals back,
//! the wiring in `main`, the constants, what the tutorial does not do),
//! and whatever the chapter quotes under "The program". Code the chapter does not quote is given too, and so are the
//! earlier lessons a lesson builds on: a starter depends on them as they
//! are.
//!
//! How a region is left blank depends on what it holds:
//!
//! - functions (and their doc comments): each keeps its signature, and its
//!   body becomes `todo!(...)`; other items (a `const`, a `struct`) stay;
//! - `match` arms: each keeps its pattern, and its body becomes `todo!(...)`;
//! - statements: the comments stay, the code goes, and one `todo!(...)`
//!   takes its place; a `let` with a type (`let listener: Socket = ...`)
//!   stays as `let listener: Socket = todo!(...)`, so that code after the
//!   region that uses the binding still builds.
//!
//! [`fill`] puts the lesson's code back into the blanks: a starter filled
//! is the lesson, line for line, which the tests prove for every lesson.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Anchors that hold the contract's boilerplate: given in every starter.
pub const GIVEN: &[&str] = &[
    "args", "stop", "main", "timeout", "backlog", "limits", "limit", "reuse",
];

/// The chapter heading whose quotes are given (the program's outline).
pub const GIVEN_HEADING: &str = "The program";

/// One step of a lesson: an anchor of its code that its chapter teaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Its place in the chapter's order, from 1.
    pub number: usize,
    /// The anchor's name.
    pub anchor: String,
    /// The file that holds it, relative to the lesson's crate (`src/bin/tcp-server.rs`).
    pub file: String,
    /// The chapter heading it is taught under: `Step 4: `accept()``.
    pub heading: String,
}

impl Step {
    /// What the blank says when a program runs into it: which step, and
    /// where to read. A run of the program prints it after Rust's `not
    /// yet implemented: `.
    pub fn message(&self, chapter: &str) -> String {
        format!(
            "{NOT_WRITTEN}{} (read docs/src/{chapter}, section \"{}\")",
            self.heading, self.heading
        )
    }
}

/// How every blank's message starts: what the checks look for in a
/// program's output to say that a step is not written yet.
pub const NOT_WRITTEN: &str = "not written yet: ";

/// The steps of a lesson, in its chapter's order: the chapter's includes
/// of files under `crates/DIR/` (`{{#include ../../crates/DIR/FILE:ANCHOR}}`),
/// each with the heading it sits under, but the given ones.
pub fn steps(chapter: &str, dir: &str) -> Vec<Step> {
    let prefix = format!("crates/{dir}/");
    let mut steps: Vec<Step> = Vec::new();
    let mut heading = String::new();
    for line in chapter.lines() {
        if let Some(title) = line.strip_prefix('#') {
            heading = title.trim_start_matches('#').trim().to_string();
            continue;
        }
        let Some(at) = line.find("{{#include ") else {
            continue;
        };
        let inner = &line[at + "{{#include ".len()..];
        let Some(end) = inner.find("}}") else {
            continue;
        };
        let (path, anchor) = match inner[..end].trim().rsplit_once(':') {
            Some((path, anchor)) => (path, anchor),
            None => continue,
        };
        let Some(file) = path.split(&prefix).nth(1) else {
            continue;
        };
        let given = GIVEN.contains(&anchor) || heading == GIVEN_HEADING;
        let known = steps.iter().any(|s| s.anchor == anchor && s.file == file);
        if !given && !known {
            steps.push(Step {
                number: steps.len() + 1,
                anchor: anchor.to_string(),
                file: file.to_string(),
                heading: heading.clone(),
            });
        }
    }
    steps
}

/// Whether the region `anchor` of `text` can be left blank: a region of
/// items with no function in it (a `struct`, a `const`) cannot, and is
/// given.
pub fn can_blank(text: &str, anchor: &str) -> bool {
    match regions(text).get(anchor) {
        Some(region) => {
            let lines: Vec<&str> = region.lines().collect();
            shape(&lines) != Shape::Items || find_fn(region, 0).is_some()
        }
        None => false,
    }
}

/// The marker a blank leaves in the starter, from which [`fill`] knows
/// which step's code goes back there.
fn marker(anchor: &str) -> String {
    format!("// blank: {anchor}")
}

/// `text` (a source file of the lesson) with the regions of `steps` left
/// blank, and every anchor line taken out. `chapter` is the chapter's
/// file name, for the blanks' messages.
pub fn blank(text: &str, steps: &[&Step], chapter: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index];
        if let Some(name) = anchor_of(line, "ANCHOR") {
            let end = (index + 1..lines.len())
                .find(|&i| anchor_of(lines[i], "ANCHOR_END").as_deref() == Some(name.as_str()))
                .unwrap_or(lines.len());
            if let Some(step) = steps.iter().find(|s| s.anchor == name) {
                let indent = indentation(line);
                let _ = writeln!(out, "{indent}{}", marker(&name));
                out.push_str(&blank_region(
                    &lines[index + 1..end],
                    &step.message(chapter),
                ));
                let _ = writeln!(out, "{indent}// blank end");
                index = end + 1;
                continue;
            }
            // A given region: kept, without its markers (nested ones are
            // handled line by line).
            index += 1;
            continue;
        }
        if anchor_of(line, "ANCHOR_END").is_none() {
            out.push_str(line);
            out.push('\n');
        }
        index += 1;
    }
    out
}

/// Puts the lesson's code back into a starter's blanks: `starter` with each
/// blank replaced by the region of `lesson` (the original file) it came
/// from; anchor lines are not restored. For a starter made by [`blank`],
/// the result is the lesson without its anchor lines.
pub fn fill(starter: &str, lesson: &str) -> String {
    let regions = regions(lesson);
    let mut out = String::new();
    let mut skipping = false;
    for line in starter.lines() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix("// blank: ") {
            if let Some(region) = regions.get(name) {
                out.push_str(region);
            }
            skipping = true;
            continue;
        }
        if skipping {
            skipping = trimmed != "// blank end";
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `text` without its anchor lines.
pub fn without_anchors(text: &str) -> String {
    text.lines()
        .filter(|l| anchor_of(l, "ANCHOR").is_none() && anchor_of(l, "ANCHOR_END").is_none())
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Each anchor's region of `text` (its lines, anchors inside it removed),
/// by name.
fn regions(text: &str) -> BTreeMap<String, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut regions = BTreeMap::new();
    for (index, line) in lines.iter().enumerate() {
        if let Some(name) = anchor_of(line, "ANCHOR") {
            let end = (index + 1..lines.len())
                .find(|&i| anchor_of(lines[i], "ANCHOR_END").as_deref() == Some(name.as_str()))
                .unwrap_or(lines.len());
            regions.insert(name, without_anchors(&lines[index + 1..end].join("\n")));
        }
    }
    regions
}

/// The name on a `// ANCHOR: name` (or `ANCHOR_END`) line, if it is one.
fn anchor_of(line: &str, marker: &str) -> Option<String> {
    let rest = line
        .trim()
        .strip_prefix("//")?
        .trim()
        .strip_prefix(marker)?;
    let name = rest.strip_prefix(':')?.trim();
    (!name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-'))
    .then(|| name.to_string())
}

fn indentation(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// What a region holds, by its first line of code.
#[derive(Debug, PartialEq, Eq)]
enum Shape {
    Items,
    Arms,
    Statements,
}

fn shape(region: &[&str]) -> Shape {
    let code = region.iter().map(|l| l.trim()).find(|l| {
        !l.is_empty() && !l.starts_with("//") && !l.starts_with("#[") && !l.starts_with("#![")
    });
    let Some(code) = code else {
        return Shape::Statements;
    };
    let item = [
        "fn ", "const ", "static ", "struct ", "enum ", "impl", "type ", "mod ", "use ",
    ];
    let code_no_vis = code
        .trim_start_matches("pub(crate) ")
        .trim_start_matches("pub ")
        .trim_start_matches("unsafe ")
        .trim_start_matches("extern \"C\" ");
    if item.iter().any(|k| code_no_vis.starts_with(k)) {
        Shape::Items
    } else if !code.starts_with("let ") && arrow_at_depth_zero(code).is_some() {
        Shape::Arms
    } else {
        Shape::Statements
    }
}

/// Blanks one region's lines (without its anchor lines).
fn blank_region(region: &[&str], message: &str) -> String {
    let todo = format!("todo!({message:?})");
    match shape(region) {
        Shape::Items => blank_items(region, &todo),
        Shape::Arms => blank_arms(region, &todo),
        Shape::Statements => blank_statements(region, &todo),
    }
}

/// Functions keep their signatures, their bodies become `todo`; other
/// items, comments and attributes stay.
fn blank_items(region: &[&str], todo: &str) -> String {
    let text = region.join("\n") + "\n";
    let mut out = String::new();
    let mut at = 0;
    while let Some(found) = find_fn(&text, at) {
        // The body: the first `{` after the signature.
        let Some(open) = find_code(&text, found, '{') else {
            break;
        };
        let Some(close) = matching(&text, open) else {
            break;
        };
        let indent = indentation(line_at(&text, found));
        out.push_str(&text[at..=open]);
        let _ = write!(out, "\n{indent}    {todo}\n{indent}}}");
        at = close + 1;
    }
    out.push_str(&text[at..]);
    out
}

/// Each arm keeps its pattern; its body becomes `todo`.
fn blank_arms(region: &[&str], todo: &str) -> String {
    let mut out = String::new();
    let mut index = 0;
    while index < region.len() {
        let line = region[index];
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("//") || trimmed.starts_with("#[") {
            out.push_str(line);
            out.push('\n');
            index += 1;
            continue;
        }
        // An arm: `PATTERN => BODY`, the body a block or an expression up to
        // the arm's comma, over as many lines as it takes.
        let text = region[index..].join("\n");
        let Some(arrow) = arrow_at_depth_zero(&text) else {
            out.push_str(line);
            out.push('\n');
            index += 1;
            continue;
        };
        let body_start = arrow + 2;
        let rest = &text[body_start..];
        let skipped = rest.len() - rest.trim_start().len();
        let end = if rest.trim_start().starts_with('{') {
            matching(&text, body_start + skipped).map(|close| {
                let after = &text[close + 1..];
                if after.trim_start().starts_with(',') {
                    close + 1 + (after.len() - after.trim_start().len()) + 1
                } else {
                    close + 1
                }
            })
        } else {
            comma_at_depth_zero(&text, body_start).map(|comma| comma + 1)
        };
        let end = end.unwrap_or(text.len());
        let _ = writeln!(out, "{} {todo},", text[..arrow + 2].trim_end());
        let consumed = text[..end].lines().count().max(1);
        index += consumed;
    }
    out
}

/// The comments stay; the code goes, replaced by one `todo` statement;
/// `let NAME: TYPE = ...;` stays as `let NAME: TYPE = todo;`.
fn blank_statements(region: &[&str], todo: &str) -> String {
    let indent = region
        .iter()
        .find(|l| !l.trim().is_empty())
        .map(|l| indentation(l))
        .unwrap_or("");
    let mut out = String::new();
    let mut code_seen = false;
    let text = region.join("\n");
    let mut typed_lets: Vec<String> = Vec::new();
    // `let PATTERN: TYPE =` at the start of a statement, at depth zero.
    for statement in statements(&text) {
        let code: String = statement
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        if let Some(rest) = code.trim().strip_prefix("let ") {
            if let Some(eq) = find_code(rest, 0, '=') {
                let binding = rest[..eq].trim();
                if binding.contains(':') {
                    typed_lets.push(format!("let {binding} = {todo};"));
                }
            }
        }
    }
    for line in region {
        let trimmed = line.trim();
        if trimmed.starts_with("//") || trimmed.is_empty() {
            out.push_str(line);
            out.push('\n');
        } else if !code_seen {
            code_seen = true;
            if typed_lets.is_empty() {
                let _ = writeln!(out, "{indent}{todo};");
            }
            for typed in &typed_lets {
                let _ = writeln!(out, "{indent}{typed}");
            }
        }
    }
    if !code_seen {
        let _ = writeln!(out, "{indent}{todo};");
    }
    out
}

/// The line of `text` that holds byte `at`.
fn line_at(text: &str, at: usize) -> &str {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    &text[start..end]
}

/// Walks `text`'s code from `from`, skipping comments, strings and
/// character literals; calls `visit` with each code character's byte
/// position until it returns true, and returns that position.
fn walk(text: &str, from: usize, mut visit: impl FnMut(usize, char) -> bool) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
            continue;
        }
        if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
            continue;
        }
        if rest.starts_with("r#\"") || rest.starts_with("r\"") || rest.starts_with("br\"") {
            let hashes = rest
                .chars()
                .skip_while(|c| *c != '#' && *c != '"')
                .take_while(|c| *c == '#')
                .count();
            let opening = rest.find('"').unwrap_or(0);
            let closing = format!("\"{}", "#".repeat(hashes));
            i += opening
                + 1
                + rest[opening + 1..]
                    .find(&closing)
                    .map_or(rest.len() - opening - 1, |e| e + closing.len());
            continue;
        }
        let c = rest.chars().next().unwrap_or(' ');
        if c == '"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            i = j + 1;
            continue;
        }
        if c == '\'' {
            // A character literal ('{', '\n', '\'') or a lifetime ('a).
            let literal =
                rest.len() >= 3 && (rest.as_bytes()[2] == b'\'' || (rest.as_bytes()[1] == b'\\'));
            if literal {
                let end = rest[2..].find('\'').map_or(rest.len(), |e| e + 3);
                i += end;
                continue;
            }
        }
        if visit(i, c) {
            return Some(i);
        }
        i += c.len_utf8();
    }
    None
}

/// The first code `wanted` character at or after `from`.
fn find_code(text: &str, from: usize, wanted: char) -> Option<usize> {
    walk(text, from, |_, c| c == wanted)
}

/// The `}` (or `)`, `]`) that closes the bracket at `open`.
fn matching(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0i32;
    walk(text, open, |_, c| {
        match c {
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            _ => {}
        }
        depth == 0
    })
}

/// The next `fn` keyword in code at or after `from`, as the start of an
/// item: preceded by a line start, spaces, `pub`, `unsafe` or `"C"`.
fn find_fn(text: &str, from: usize) -> Option<usize> {
    let mut found = None;
    walk(text, from, |i, c| {
        if c == 'f' && text[i..].starts_with("fn ") {
            let before = text[..i].trim_end_matches(' ');
            let ok = before.is_empty()
                || before.ends_with('\n')
                || before.ends_with("pub")
                || before.ends_with("unsafe")
                || before.ends_with("\"C\"")
                || before.ends_with("pub(crate)");
            if ok {
                let start = text[..i].rfind('\n').map_or(0, |n| n + 1);
                found = Some(start);
                return true;
            }
        }
        false
    })?;
    found
}

/// The `=>` at bracket depth zero in `text`, if any.
fn arrow_at_depth_zero(text: &str) -> Option<usize> {
    let mut depth = 0i32;
    walk(text, 0, |i, c| {
        match c {
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            '=' if depth == 0 && text[i..].starts_with("=>") => return true,
            _ => {}
        }
        false
    })
}

/// The `,` at bracket depth zero at or after `from`.
fn comma_at_depth_zero(text: &str, from: usize) -> Option<usize> {
    let mut depth = 0i32;
    walk(text, from, |_, c| {
        match c {
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => return true,
            _ => {}
        }
        false
    })
}

/// `text` cut into statements at `;` on bracket depth zero.
fn statements(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    walk(text, 0, |i, c| {
        match c {
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            ';' if depth == 0 => {
                found.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        false
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHAPTER: &str = "\
# Lesson 09

## The port argument

{{#include ../../crates/09-x/src/main.rs:args}}

## Step 1: `socket()`

{{#include ../../crates/09-x/src/main.rs:socket}}

## Step 2: the child

{{#include ../../crates/09-x/src/main.rs:child}}
{{#include ../../crates/09-x/src/main.rs:serve}}
";

    const CODE: &str = r#"//! A lesson.
fn main() {
    // ANCHOR: args
    let port = 80;
    // ANCHOR_END: args
    // ANCHOR: socket
    // 1. socket(): "an endpoint" {like this}
    let listener: Socket = Socket::new(port).or_die("ERROR opening socket");
    let unused = 3;
    // ANCHOR_END: socket
    match fork() {
        // ANCHOR: child
        // The child.
        Ok(Child) => {
            serve(&listener);
            exit(0)
        }
        // ANCHOR_END: child
        Err(e) => panic!("{e}"),
    }
}

// ANCHOR: serve
/// Serves one client.
fn serve(listener: &Socket) -> usize {
    let text = "}{";
    text.len()
}
// ANCHOR_END: serve
"#;

    #[test]
    fn steps_come_in_the_chapter_s_order_without_the_given_ones() {
        let steps = steps(CHAPTER, "09-x");
        let names: Vec<(&str, &str)> = steps
            .iter()
            .map(|s| (s.anchor.as_str(), s.heading.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("socket", "Step 1: `socket()`"),
                ("child", "Step 2: the child"),
                ("serve", "Step 2: the child")
            ]
        );
    }

    #[test]
    fn each_shape_of_region_is_left_blank_and_filled_back() {
        let steps = steps(CHAPTER, "09-x");
        let mine: Vec<&Step> = steps.iter().collect();
        let starter = blank(CODE, &mine, "09-x.md");
        assert!(
            starter.contains("let port = 80;"),
            "given code stays:\n{starter}"
        );
        assert!(
            !starter.contains("Socket::new"),
            "no solution left:\n{starter}"
        );
        assert!(
            starter.contains("let listener: Socket = todo!(\"not written yet: Step 1: `socket()`"),
            "{starter}"
        );
        assert!(starter.contains("// 1. socket(): \"an endpoint\" {like this}"));
        assert!(starter.contains("Ok(Child) => todo!("), "{starter}");
        assert!(!starter.contains("serve(&listener)"), "{starter}");
        assert!(
            starter.contains("fn serve(listener: &Socket) -> usize {"),
            "{starter}"
        );
        assert!(!starter.contains("text.len()"), "{starter}");
        assert!(
            starter.contains("Err(e) => panic!"),
            "code after a blank stays"
        );
        assert!(!starter.contains("ANCHOR"), "{starter}");
        assert_eq!(fill(&starter, CODE), without_anchors(CODE));
    }
}
