//! The one reader of the checks' source: each lesson's `tests/e2e.rs`,
//! read for its `#[test]` functions and what their doc comments say, so
//! that a failing check can tell a student which rule of the contract
//! broke and where the book explains it, and the tidy tests can tie the
//! checks to the chapters and the exercises. The doc comment of each check
//! ends with two lines:
//!
//! ```text
//! /// The parent closes every connection it hands to a child: ...
//! ///
//! /// Rule: 02, the parent leaks no descriptors.
//! /// Read: "Step 7: the parent, and who closes what"
//! #[test]
//! fn parent_descriptor_count_does_not_grow() { ... }
//! ```
//!
//! `Rule:` names the contract's rule (a rule for every binary, or the
//! lesson's own section); `Read:` is a heading of the lesson's chapter.
//! The tidy tests check that every check has both and that the heading
//! exists, so the pointer a student follows always leads somewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use crate::lessons::Lesson;

/// A check's doc comment, as a grader shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckDoc {
    /// The first paragraph: the scenario, in one line.
    pub scenario: Option<String>,
    /// The contract rule it checks.
    pub rule: Option<String>,
    /// Where the book explains it: `docs/src/CHAPTER, "Heading"`.
    pub read: Option<String>,
    /// The heading alone, as written after `Read:`.
    pub heading: Option<String>,
}

/// The doc comment of every `#[test]` function in `lesson`'s end-to-end
/// tests, by function name. A lesson without the file has none.
pub fn read(lesson: &Lesson) -> BTreeMap<String, CheckDoc> {
    let text = fs::read_to_string(lesson.e2e_tests()).unwrap_or_default();
    parse(&text, &lesson.chapter())
}

/// The names of `lesson`'s checks: the `#[test]` functions of its
/// tests/e2e.rs.
pub fn names(lesson: &Lesson) -> BTreeSet<String> {
    read(lesson).into_keys().collect()
}

/// The body of check `name` in `source` (the text of a `tests/e2e.rs`):
/// from its `fn` line to the `}` that closes it at the start of a line.
pub fn body<'a>(source: &'a str, name: &str) -> Option<&'a str> {
    let start = source.find(&format!("fn {name}("))?;
    let end = source[start..]
        .find("\n}\n")
        .map_or(source.len(), |e| start + e + 3);
    Some(&source[start..end])
}

/// Parses the text of a `tests/e2e.rs` (see [`read`]): a `#[test]` line,
/// then (after doc comments, other attributes or blank lines) `fn NAME`.
pub fn parse(text: &str, chapter: &str) -> BTreeMap<String, CheckDoc> {
    let mut docs = BTreeMap::new();
    let mut comment: Vec<&str> = Vec::new();
    let mut is_test = false;
    for line in text.lines().map(str::trim) {
        if let Some(doc) = line.strip_prefix("///") {
            comment.push(doc.strip_prefix(' ').unwrap_or(doc));
        } else if line.starts_with("#[test]") {
            is_test = true;
        } else if line.starts_with("#[") || (is_test && line.is_empty()) {
            // Other attributes (`#[ignore]`) keep the comment.
        } else if let Some(rest) = line.strip_prefix("fn ") {
            if is_test {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                docs.insert(name, doc_from(&comment, chapter));
            }
            comment.clear();
            is_test = false;
        } else {
            comment.clear();
            is_test = false;
        }
    }
    docs
}

fn doc_from(comment: &[&str], chapter: &str) -> CheckDoc {
    let scenario: Vec<&str> = comment
        .iter()
        .take_while(|l| !l.trim().is_empty())
        .copied()
        .collect();
    let tagged = |tag: &str| {
        comment
            .iter()
            .find_map(|l| l.strip_prefix(tag))
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let heading = tagged("Read:").map(|h| h.trim_matches('"').to_string());
    CheckDoc {
        scenario: (!scenario.is_empty()).then(|| scenario.join(" ")),
        rule: tagged("Rule:"),
        read: heading
            .as_ref()
            .map(|h| format!("docs/src/{chapter}, section \"{h}\"")),
        heading,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_lines_and_the_scenario_are_read() {
        let text = r#"
/// Not a test's.
fn helper() {}

/// The parent closes every connection
/// it hands to a child.
///
/// Rule: 02, the parent leaks no descriptors.
/// Read: "Step 7: the parent"
#[test]
fn parent_descriptor_count_does_not_grow() {
}

#[test]
/// Untagged.
fn untagged() {}
"#;
        let docs = parse(text, "02-fork-server.md");
        assert_eq!(docs.len(), 2);
        let doc = &docs["parent_descriptor_count_does_not_grow"];
        assert_eq!(
            doc.scenario.as_deref(),
            Some("The parent closes every connection it hands to a child.")
        );
        assert_eq!(
            doc.rule.as_deref(),
            Some("02, the parent leaks no descriptors.")
        );
        assert_eq!(doc.heading.as_deref(), Some("Step 7: the parent"));
        assert_eq!(
            doc.read.as_deref(),
            Some("docs/src/02-fork-server.md, section \"Step 7: the parent\"")
        );
        assert_eq!(docs["untagged"].rule, None);
    }
}
