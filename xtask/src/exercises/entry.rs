//! The exercises format: what one entry of a lesson's `exercises.toml`
//! says, read and checked for sense before anything runs; and the two
//! texts an entry must agree with, the chapter's `## Exercises` list and
//! the lesson's `tests/e2e.rs`, read the same way for the tidy tests.
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
use std::path::{Component, Path};

use super::toml::{self, Pair, Table, Value};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    /// Relative to the workspace root, `/`-separated.
    pub file: String,
    pub find: String,
    pub replace: String,
}

/// One exercise of a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exercise {
    /// Its number in the chapter's `## Exercises` list.
    pub number: u32,
    pub title: String,
    pub expect: Expect,
    pub edits: Vec<Edit>,
    /// The line of its `[[exercise]]` header, for messages.
    pub line: usize,
    /// An exercise of the chapter (`[[exercise]]`), or a common mistake
    /// that the chapter does not list (`[[mistake]]`).
    pub in_book: bool,
}

/// A problem in an exercises file, with its line: the reader's own.
pub use super::toml::Error;

/// Reads the text of an exercises file: every entry, in file order, each
/// checked for sense on its own (the chapter and the tests are the tidy
/// tests' business). Numbers must be unique.
pub fn parse(text: &str) -> Result<Vec<Exercise>, Error> {
    let mut exercises: Vec<Exercise> = Vec::new();
    for table in toml::parse(text)? {
        match table.name.as_str() {
            kind @ ("exercise" | "mistake") => exercises.push(Exercise {
                in_book: kind == "exercise",
                ..exercise(&table)?
            }),
            kind @ ("exercise.edit" | "mistake.edit") => {
                let in_book = kind == "exercise.edit";
                let Some(exercise) = exercises.last_mut().filter(|e| e.in_book == in_book) else {
                    let owner = if in_book { "exercise" } else { "mistake" };
                    return Err(Error {
                        line: table.line,
                        message: format!("[[{kind}]] does not follow an [[{owner}]]"),
                    });
                };
                exercise.edits.push(edit(&table)?);
            }
            other => {
                return Err(Error {
                    line: table.line,
                    message: format!(
                    "unknown table [[{other}]]: expected [[exercise]], [[mistake]] or their .edit"
                ),
                })
            }
        }
    }
    for (index, exercise) in exercises.iter().enumerate() {
        if let Some(earlier) = exercises[..index]
            .iter()
            .find(|e| e.number == exercise.number)
        {
            return Err(Error {
                line: exercise.line,
                message: format!(
                    "exercise {} is given twice (also on line {})",
                    exercise.number, earlier.line
                ),
            });
        }
        let runs = !matches!(exercise.expect, Expect::ByHand(_));
        if runs && exercise.edits.is_empty() {
            return Err(Error {
                line: exercise.line,
                message: format!(
                    "exercise {} has no [[exercise.edit]]: nothing to apply",
                    exercise.number
                ),
            });
        }
        if !runs && !exercise.edits.is_empty() {
            return Err(Error {
                line: exercise.line,
                message: format!(
                    "exercise {} is by hand, yet has edits: nothing would apply them",
                    exercise.number
                ),
            });
        }
    }
    Ok(exercises)
}

/// The keys of a table, checked: each known, each of the right kind.
struct Keys<'a> {
    table: &'a Table,
}

impl<'a> Keys<'a> {
    fn new(table: &'a Table, known: &[&str]) -> Result<Keys<'a>, Error> {
        if let Some(pair) = table
            .pairs
            .iter()
            .find(|p| !known.contains(&p.key.as_str()))
        {
            return Err(Error {
                line: pair.line,
                message: format!(
                    "unknown key `{}` in [[{}]]: expected one of {}",
                    pair.key,
                    table.name,
                    known.join(", ")
                ),
            });
        }
        Ok(Keys { table })
    }

    fn pair(&self, key: &str) -> Option<&'a Pair> {
        self.table.pairs.iter().find(|p| p.key == key)
    }

    fn missing(&self, key: &str) -> Error {
        Error {
            line: self.table.line,
            message: format!("[[{}]] has no `{key}`", self.table.name),
        }
    }

    fn wrong(pair: &Pair, what: &str) -> Error {
        Error {
            line: pair.line,
            message: format!("`{}` must be {what}", pair.key),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, Error> {
        match self.pair(key) {
            None => Ok(None),
            Some(Pair {
                value: Value::String(s),
                ..
            }) => Ok(Some(s.clone())),
            Some(pair) => Err(Self::wrong(pair, "a string")),
        }
    }

    fn required_string(&self, key: &str) -> Result<String, Error> {
        self.string(key)?.ok_or_else(|| self.missing(key))
    }
}

fn exercise(table: &Table) -> Result<Exercise, Error> {
    let keys = Keys::new(
        table,
        &["number", "title", "expect", "fails", "error_code", "why"],
    )?;
    let number = match keys.pair("number") {
        Some(Pair {
            value: Value::Integer(n),
            ..
        }) if *n > 0 => *n as u32,
        Some(pair) => return Err(Keys::wrong(pair, "a positive integer")),
        None => return Err(keys.missing("number")),
    };
    let title = keys.required_string("title")?;
    let expect_pair = keys.pair("expect").ok_or_else(|| keys.missing("expect"))?;
    let fails = match keys.pair("fails") {
        None => None,
        Some(Pair {
            value: Value::Array(names),
            ..
        }) => Some((names.clone(), keys.pair("fails").map_or(0, |p| p.line))),
        Some(pair) => return Err(Keys::wrong(pair, "an array of check names")),
    };
    let error_code = keys.string("error_code")?;
    let why = keys.string("why")?;
    // Each kind of prediction takes its own key, and only that one.
    let only = |allowed: Option<&str>| -> Result<(), Error> {
        for key in ["fails", "error_code", "why"] {
            if Some(key) != allowed {
                if let Some(pair) = keys.pair(key) {
                    return Err(Error {
                        line: pair.line,
                        message: format!(
                            "`{key}` does not go with expect = {:?}",
                            keys.string("expect").ok().flatten().unwrap_or_default()
                        ),
                    });
                }
            }
        }
        Ok(())
    };
    let expect = match keys.required_string("expect")?.as_str() {
        "fail" => {
            only(Some("fails"))?;
            let (names, line) = fails.ok_or_else(|| Error {
                line: table.line,
                message: "expect = \"fail\" needs `fails`, the checks that fail \
                          (use expect = \"pass\" when none does)"
                    .to_string(),
            })?;
            let set: BTreeSet<String> = names.iter().cloned().collect();
            if set.is_empty() || set.len() != names.len() {
                return Err(Error {
                    line,
                    message: "`fails` must name at least one check, each once".to_string(),
                });
            }
            if let Some(bad) = set.iter().find(|n| !is_identifier(n)) {
                return Err(Error {
                    line,
                    message: format!("`{bad}` is not a test function's name"),
                });
            }
            Expect::Fail(set)
        }
        "pass" => {
            only(None)?;
            Expect::Pass
        }
        "compile-error" => {
            only(Some("error_code"))?;
            let code = error_code.ok_or_else(|| keys.missing("error_code"))?;
            let well_formed = code.len() == 5
                && code.starts_with('E')
                && code[1..].bytes().all(|b| b.is_ascii_digit());
            if !well_formed {
                return Err(Keys::wrong(
                    keys.pair("error_code").unwrap_or(expect_pair),
                    "a rustc error code such as \"E0382\"",
                ));
            }
            Expect::CompileError(code)
        }
        "by-hand" => {
            only(Some("why"))?;
            let why = why.filter(|w| !w.trim().is_empty()).ok_or_else(|| Error {
                line: table.line,
                message: "expect = \"by-hand\" needs `why`: what the student watches, \
                          and why no check can"
                    .to_string(),
            })?;
            Expect::ByHand(why)
        }
        other => {
            return Err(Error {
                line: expect_pair.line,
                message: format!(
                "expect = {other:?}: expected \"fail\", \"pass\", \"compile-error\" or \"by-hand\""
            ),
            })
        }
    };
    Ok(Exercise {
        number,
        title,
        expect,
        edits: Vec::new(),
        line: table.line,
        in_book: true,
    })
}

fn edit(table: &Table) -> Result<Edit, Error> {
    let keys = Keys::new(table, &["file", "find", "replace"])?;
    let file = keys.required_string("file")?;
    let inside = !file.is_empty()
        && Path::new(&file)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if !inside {
        return Err(Error {
            line: keys.pair("file").map_or(table.line, |p| p.line),
            message: format!(
                "file = {file:?}: must be a path relative to the workspace root, without `..`"
            ),
        });
    }
    let find = keys.required_string("find")?;
    if find.is_empty() {
        return Err(Error {
            line: keys.pair("find").map_or(table.line, |p| p.line),
            message: "`find` is empty".to_string(),
        });
    }
    Ok(Edit {
        file,
        find,
        replace: keys.required_string("replace")?,
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

/// The names of the `#[test]` functions of a test file: an attribute line
/// `#[test]`, then (after doc comments or other attributes) `fn NAME`.
#[cfg(test)]
pub fn test_functions(source: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut after_test = false;
    for line in source.lines().map(str::trim) {
        if line == "#[test]" {
            after_test = true;
        } else if after_test {
            if let Some(rest) = line
                .strip_prefix("fn ")
                .or_else(|| line.strip_prefix("async fn "))
            {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                names.insert(name);
                after_test = false;
            } else if !(line.starts_with("#[") || line.starts_with("//") || line.is_empty()) {
                after_test = false;
            }
        }
    }
    names
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
        assert_eq!(exercises[0].line, 2);
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
        let refused = |text: &str| parse(text).expect_err("must be refused").message;
        let head = "[[exercise]]\nnumber = 1\ntitle = \"t\"\n";
        let edit = "[[exercise.edit]]\nfile = \"a.rs\"\nfind = \"x\"\nreplace = \"y\"\n";
        assert!(refused(&format!("{head}expect = \"fail\"\n{edit}")).contains("needs `fails`"));
        assert!(
            refused(&format!("{head}expect = \"pass\"\nfails = [\"a\"]\n{edit}"))
                .contains("does not go with")
        );
        assert!(refused(&format!("{head}expect = \"pass\"\n")).contains("no [[exercise.edit]]"));
        assert!(refused(&format!("{head}expect = \"by-hand\"\n")).contains("needs `why`"));
        assert!(refused(&format!(
            "{head}expect = \"compile-error\"\nerror_code = \"382\"\n{edit}"
        ))
        .contains("rustc error code"));
        assert!(refused(&format!("{head}expect = \"maybe\"\n{edit}")).contains("expected \"fail\""));
        assert!(
            refused(&format!("{head}expect = \"pass\"\nfail = [\"a\"]\n{edit}"))
                .contains("unknown key `fail`")
        );
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
    fn test_functions_and_named_checks_are_found() {
        let source = "#[test]\n/// doc\n#[ignore]\nfn slow_one() {}\n\nfn helper() {}\n\
                      #[test]\nfn quick() {}\n#[test]\nconst X: u8 = 1;\nfn not_a_test() {}\n";
        let names: Vec<String> = test_functions(source).into_iter().collect();
        assert_eq!(names, ["quick", "slow_one"]);
        let text = "The check `a_check` and `b_check`, `ErrorKind::Interrupted`, `fork()`, \
                    `SA_RESTART`, `listen`, `set_only_v6(false)`";
        assert_eq!(backticked_names(text), ["a_check", "b_check"]);
    }
}
