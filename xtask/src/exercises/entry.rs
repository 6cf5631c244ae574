//! The exercises format: what one entry of a lesson's `exercises.toml`
//! says, read into plain structs by serde (unknown keys and tables are
//! refused) and checked for sense before anything runs; and, for the tidy
//! tests, the chapter's `## Exercises` list that the entries must agree
//! with.
//!
//! ```toml
//! [[exercise]]              # or [[mistake]]: see below
//! number = 1                # its number in the chapter's Exercises list
//! title = "No reply"
//! expect = "fail"           # or "pass", "compile-error", "by-hand"
//! fails = ["client_and_server_exchange_one_message"]   # with "fail"
//! # error_code = "E0382"    # with "compile-error"
//! # why = "..."             # with "by-hand": what the student watches
//! [[exercise.edit]]         # one or more; none for "by-hand"
//! file = "crates/01-tcp-basic/src/bin/tcp-server.rs"
//! find = '''text that occurs exactly once in the file'''
//! replace = '''its replacement'''
//! ```
//!
//! A `[[mistake]]` (with its `[[mistake.edit]]`s) takes the same keys: a
//! mistake students make that no exercise of the chapter covers, proven
//! caught by the checks in the same way. Its number is its own (numbers
//! are unique in the file, exercises and mistakes alike; mistakes start
//! at 101 by convention), and the chapter does not list it.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Component, Path};

use serde::Deserialize;

/// What the chapter predicts for one exercise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Exactly these checks fail; every other check of the lesson passes.
    Fail(BTreeSet<String>),
    /// Every check passes.
    Pass,
    /// The build fails with this rustc error code (`E0382`).
    CompileError(String),
    /// Nothing to run: the student watches something (`ps`, a compiler
    /// message). Says why.
    ByHand(String),
}

impl Expect {
    /// For the table's "predicted" column.
    pub fn summary(&self) -> String {
        match self {
            Expect::Fail(names) => format!("fail ({})", names.len()),
            Expect::Pass => "pass".to_string(),
            Expect::CompileError(code) => code.clone(),
            Expect::ByHand(_) => "by hand".to_string(),
        }
    }
}

/// One literal edit: `find` must occur exactly once in `file`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// Relative to the workspace root, `/`-separated.
    pub file: String,
    pub find: String,
    pub replace: String,
}

/// One exercise of a chapter, or a common mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exercise {
    /// Its number in the chapter's `## Exercises` list (a mistake's own,
    /// from 101).
    pub number: u32,
    pub title: String,
    pub expect: Expect,
    pub edits: Vec<Edit>,
    /// An exercise of the chapter (`[[exercise]]`), or a common mistake
    /// that the chapter does not list (`[[mistake]]`).
    pub in_book: bool,
}

/// The file as written: the two lists of tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    exercise: Vec<Entry>,
    #[serde(default)]
    mistake: Vec<Entry>,
}

/// One `[[exercise]]` or `[[mistake]]` table as written; [`parse`] checks
/// that its keys make sense together.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    number: u32,
    title: String,
    expect: Kind,
    fails: Option<Vec<String>>,
    error_code: Option<String>,
    why: Option<String>,
    #[serde(default)]
    edit: Vec<Edit>,
}

/// `expect = "..."`.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Kind {
    Fail,
    Pass,
    CompileError,
    ByHand,
}

/// What is wrong with an exercises file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads the text of an exercises file: every entry, exercises then
/// mistakes, each checked for sense on its own (the chapter and the tests
/// are the tidy tests' business). Numbers must be unique. An unknown key or
/// table is an error naming its line, never a silent misreading.
pub fn parse(text: &str) -> Result<Vec<Exercise>, Error> {
    let file: File = toml::from_str(text).map_err(|e| Error(e.to_string().trim().to_string()))?;
    let tables = file
        .exercise
        .into_iter()
        .map(|e| (true, e))
        .chain(file.mistake.into_iter().map(|e| (false, e)));
    let mut exercises: Vec<Exercise> = Vec::new();
    for (in_book, entry) in tables {
        let kind = if in_book { "exercise" } else { "mistake" };
        let exercise =
            exercise(entry, in_book).map_err(|why| Error(format!("[[{kind}]] {why}")))?;
        if exercises.iter().any(|e| e.number == exercise.number) {
            return Err(Error(format!(
                "number {} is given twice (numbers are unique in the file)",
                exercise.number
            )));
        }
        exercises.push(exercise);
    }
    Ok(exercises)
}

/// One entry, checked: each kind of prediction takes its own key, and only
/// that one; every edit stays inside the workspace.
fn exercise(entry: Entry, in_book: bool) -> Result<Exercise, String> {
    let name = format!("{} ({:?})", entry.number, entry.title);
    if entry.number == 0 {
        return Err(format!("{name}: `number` must be a positive integer"));
    }
    let given = [
        ("fails", entry.fails.is_some()),
        ("error_code", entry.error_code.is_some()),
        ("why", entry.why.is_some()),
    ];
    let own = match entry.expect {
        Kind::Fail => Some("fails"),
        Kind::CompileError => Some("error_code"),
        Kind::ByHand => Some("why"),
        Kind::Pass => None,
    };
    if let Some((key, _)) = given.iter().find(|(key, set)| *set && Some(*key) != own) {
        return Err(format!(
            "{name}: `{key}` does not go with expect = {:?}",
            entry.expect
        ));
    }
    let expect = match entry.expect {
        Kind::Fail => {
            let names = entry.fails.unwrap_or_default();
            let set: BTreeSet<String> = names.iter().cloned().collect();
            if set.is_empty() || set.len() != names.len() {
                return Err(format!(
                    "{name}: expect = \"fail\" needs `fails`, naming at least one check, each \
                     once (use expect = \"pass\" when none fails)"
                ));
            }
            if let Some(bad) = set.iter().find(|n| !is_identifier(n)) {
                return Err(format!("{name}: `{bad}` is not a test function's name"));
            }
            Expect::Fail(set)
        }
        Kind::Pass => Expect::Pass,
        Kind::CompileError => {
            let code = entry.error_code.unwrap_or_default();
            let well_formed = code.len() == 5
                && code.starts_with('E')
                && code[1..].bytes().all(|b| b.is_ascii_digit());
            if !well_formed {
                return Err(format!(
                    "{name}: expect = \"compile-error\" needs `error_code`, a rustc error code \
                     such as \"E0382\""
                ));
            }
            Expect::CompileError(code)
        }
        Kind::ByHand => match entry.why.filter(|w| !w.trim().is_empty()) {
            Some(why) => Expect::ByHand(why),
            None => {
                return Err(format!(
                    "{name}: expect = \"by-hand\" needs `why`: what the student watches, and \
                     why no check can"
                ))
            }
        },
    };
    let runs = !matches!(expect, Expect::ByHand(_));
    if runs && entry.edit.is_empty() {
        return Err(format!("{name}: no [[.edit]]: nothing to apply"));
    }
    if !runs && !entry.edit.is_empty() {
        return Err(format!(
            "{name}: by hand, yet has edits: nothing would apply them"
        ));
    }
    for edit in &entry.edit {
        let inside = !edit.file.is_empty()
            && Path::new(&edit.file)
                .components()
                .all(|c| matches!(c, Component::Normal(_)));
        if !inside {
            return Err(format!(
                "{name}: file = {:?} must be a path relative to the workspace root, without `..`",
                edit.file
            ));
        }
        if edit.find.is_empty() {
            return Err(format!("{name}: an edit's `find` is empty"));
        }
    }
    Ok(Exercise {
        number: entry.number,
        title: entry.title,
        expect,
        edits: entry.edit,
        in_book,
    })
}

/// Whether `name` could be a Rust function's name.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// The rest is read by the tidy tests (`crate::tidy`) only.

/// One numbered item of a chapter's `## Exercises` section.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChapterExercise {
    pub number: u32,
    /// The chapter's line where it starts.
    pub line: usize,
    /// Its text, up to the next numbered item or the section's end.
    pub text: String,
}

/// The numbered list of a chapter's `## Exercises` section: lines that
/// start (unindented) with `N. `. Empty when there is no such section.
#[cfg(test)]
pub fn chapter_exercises(chapter: &str) -> Vec<ChapterExercise> {
    let mut found: Vec<ChapterExercise> = Vec::new();
    let mut in_section = false;
    let mut in_fence = false;
    for (index, line) in chapter.lines().enumerate() {
        if line.starts_with("```") {
            in_fence = !in_fence;
        }
        if !in_fence && line.starts_with("## ") {
            in_section = line.trim_end() == "## Exercises";
            continue;
        }
        if !in_section {
            continue;
        }
        let number = (!in_fence)
            .then(|| line.split_once(". "))
            .flatten()
            .filter(|(digits, _)| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|(digits, _)| digits.parse().ok());
        match (number, found.last_mut()) {
            (Some(number), _) => found.push(ChapterExercise {
                number,
                line: index + 1,
                text: format!("{line}\n"),
            }),
            (None, Some(current)) => {
                current.text.push_str(line);
                current.text.push('\n');
            }
            (None, None) => {}
        }
    }
    found
}

/// The snake_case names a text writes alone in backticks (`` `name` ``):
/// how a chapter names a check (and many other things).
#[cfg(test)]
pub fn backticked_names(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| quoted.contains('_') && is_identifier(quoted))
        .filter(|quoted| quoted.chars().all(|c| !c.is_ascii_uppercase()))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
[[exercise]]
number = 1
title = "No reply"
expect = "fail"
fails = ["b_check", "a_check"]
[[exercise.edit]]
file = "crates/x/src/lib.rs"
find = '''
    write();
'''
replace = ""
[[exercise.edit]]
file = "crates/x/src/main.rs"
find = "a"
replace = "b"

[[exercise]]
number = 2
title = "Compile"
expect = "compile-error"
error_code = "E0382"
[[exercise.edit]]
file = "crates/x/src/lib.rs"
find = "x"
replace = "y"

[[exercise]]
number = 3
title = "Watch"
expect = "by-hand"
why = "you watch ps"
"#;

    #[test]
    fn entries_are_read_with_their_edits() {
        let exercises = parse(SAMPLE).expect("parses");
        assert_eq!(exercises.len(), 3);
        assert_eq!(
            exercises[0].expect,
            Expect::Fail(["a_check".to_string(), "b_check".to_string()].into())
        );
        assert_eq!(exercises[0].edits.len(), 2);
        assert_eq!(exercises[0].edits[0].find, "    write();\n");
        assert_eq!(exercises[1].expect, Expect::CompileError("E0382".into()));
        assert_eq!(exercises[2].expect, Expect::ByHand("you watch ps".into()));
        assert!(exercises[2].edits.is_empty());
    }

    #[test]
    fn mistakes_are_entries_outside_the_book() {
        let text = format!(
            "{SAMPLE}\n[[mistake]]\nnumber = 101\ntitle = \"M\"\nexpect = \"fail\"\n\
             fails = [\"a_check\"]\n[[mistake.edit]]\nfile = \"a.rs\"\nfind = \"x\"\nreplace = \"y\"\n"
        );
        let entries = parse(&text).expect("parses");
        assert_eq!(entries.len(), 4);
        assert!(entries[..3].iter().all(|e| e.in_book));
        assert!(!entries[3].in_book);
        assert_eq!(entries[3].edits.len(), 1);
        let stray = "[[exercise]]\nnumber = 1\ntitle = \"t\"\nexpect = \"pass\"\n\
                     [[mistake.edit]]\nfile = \"a.rs\"\nfind = \"x\"\nreplace = \"y\"\n";
        assert!(
            parse(stray).is_err(),
            "a [[mistake.edit]] without its [[mistake]]"
        );
    }

    #[test]
    fn entries_that_make_no_sense_are_refused() {
        let refused = |text: &str| parse(text).expect_err("must be refused").0;
        let head = "[[exercise]]\nnumber = 1\ntitle = \"t\"\n";
        let edit = "[[exercise.edit]]\nfile = \"a.rs\"\nfind = \"x\"\nreplace = \"y\"\n";
        assert!(refused(&format!("{head}expect = \"fail\"\n{edit}")).contains("needs `fails`"));
        assert!(
            refused(&format!("{head}expect = \"pass\"\nfails = [\"a\"]\n{edit}"))
                .contains("does not go with")
        );
        assert!(refused(&format!("{head}expect = \"pass\"\n")).contains("nothing to apply"));
        assert!(refused(&format!("{head}expect = \"by-hand\"\n")).contains("needs `why`"));
        assert!(refused(&format!(
            "{head}expect = \"compile-error\"\nerror_code = \"382\"\n{edit}"
        ))
        .contains("rustc error code"));
        assert!(refused(&format!("{head}expect = \"maybe\"\n{edit}")).contains("unknown variant"));
        let unknown = refused(&format!("{head}expect = \"pass\"\nfail = [\"a\"]\n{edit}"));
        assert!(
            unknown.contains("unknown field `fail`") && unknown.contains("line 5"),
            "{unknown}"
        );
        assert!(refused("[[exercises]]\nnumber = 1\n").contains("unknown field `exercises`"));
        assert!(refused(&format!(
            "{head}expect = \"pass\"\n{}",
            edit.replace("a.rs", "../a.rs")
        ))
        .contains("relative"));
        assert!(refused(&format!(
            "{head}expect = \"pass\"\n{edit}{head}expect = \"pass\"\n{edit}"
        ))
        .contains("given twice"));
    }

    #[test]
    fn a_chapter_s_numbered_exercises_are_found() {
        let chapter = "# Title\n\n1. Not an exercise.\n\n## Exercises\n\nIntro.\n\n\
                       1. **One.** Check `first_check`.\n   More of one.\n\
                       2. **Two.**\n\n```console\n3. not an item\n```\n\
                       Between.\n\n10. **Ten.**\n\n## After\n\n4. Not one.\n";
        let found = chapter_exercises(chapter);
        let numbers: Vec<u32> = found.iter().map(|e| e.number).collect();
        assert_eq!(numbers, [1, 2, 10]);
        assert_eq!(found[0].line, 9);
        assert!(found[0].text.contains("More of one."));
        assert_eq!(backticked_names(&found[0].text), ["first_check"]);
    }

    #[test]
    fn named_checks_are_found() {
        let text = "The check `a_check` and `b_check`, `ErrorKind::Interrupted`, `fork()`, \
                    `SA_RESTART`, `listen`, `set_only_v6(false)`";
        assert_eq!(backticked_names(text), ["a_check", "b_check"]);
    }
}
