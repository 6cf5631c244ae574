//! A reader of libtest's default ("pretty") output, the lines `cargo test`
//! prints: which tests passed, failed or were ignored, and what each
//! failed test printed. `check` turns them into verdicts.

use std::collections::HashMap;

/// A test's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// `#[ignore]`d: neither passed nor failed.
    Skip,
}

/// A reader of libtest's default ("pretty") output:
///
/// ```text
/// test happy_path_prints_the_message ... ok
/// test silent_client_does_not_block_others ... FAILED
/// test slow_one ... ignored, needs a network
///
/// failures:
///
/// ---- silent_client_does_not_block_others stdout ----
/// thread 'silent_client_does_not_block_others' panicked at ...
///
/// failures:
///     silent_client_does_not_block_others
///
/// test result: FAILED. 1 passed; 1 failed; 1 ignored; ...
/// ```
#[derive(Default)]
pub struct Libtest {
    /// Each test's verdict, in the order they finished.
    pub results: Vec<(String, Verdict)>,
    /// The captured output of each failed test.
    pub details: HashMap<String, String>,
    /// Past the first `failures:` line: no more results, only details.
    in_failures: bool,
    /// The test whose captured output is being read, and the lines so far.
    capturing: Option<(String, Vec<String>)>,
}

impl Libtest {
    /// Takes one line of output; returns the verdict it announces, if any.
    pub fn line(&mut self, line: &str) -> Option<(String, Verdict)> {
        if !self.in_failures {
            if line == "failures:" {
                self.in_failures = true;
                return None;
            }
            let (name, outcome) = line.strip_prefix("test ")?.rsplit_once(" ... ")?;
            let verdict = match outcome {
                "ok" => Verdict::Pass,
                "FAILED" => Verdict::Fail,
                _ if outcome.starts_with("ignored") => Verdict::Skip,
                _ => return None,
            };
            let name = name
                .strip_suffix(" - should panic")
                .unwrap_or(name)
                .to_string();
            self.results.push((name.clone(), verdict));
            return Some((name, verdict));
        }
        // `---- NAME stdout ----` opens a failed test's captured output;
        // the next header, the list of names or the result line closes it.
        let header = line
            .strip_prefix("---- ")
            .and_then(|l| l.strip_suffix(" ----"))
            .and_then(|l| {
                l.strip_suffix(" stdout")
                    .or_else(|| l.strip_suffix(" stderr"))
            });
        if header.is_some() || line == "failures:" || line.starts_with("test result:") {
            if let Some((name, lines)) = self.capturing.take() {
                let text = lines.join("\n").trim_matches('\n').trim_end().to_string();
                self.details
                    .entry(name)
                    .and_modify(|d| *d = format!("{d}\n{text}"))
                    .or_insert(text);
            }
            self.capturing = header.map(|name| (name.to_string(), Vec::new()));
        } else if let Some((_, lines)) = &mut self.capturing {
            lines.push(line.to_string());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_output_becomes_verdicts_and_details() {
        let output = "\
running 4 tests
test passes ... ok
test fails ... FAILED
test skipped ... ignored, needs a network
test panics_as_expected - should panic ... ok

failures:

---- fails stdout ----

thread 'fails' panicked at tests/e2e.rs:1:1:
expected 18 bytes

failures:
    fails

test result: FAILED. 2 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out";
        let mut libtest = Libtest::default();
        let announced: Vec<_> = output.lines().filter_map(|l| libtest.line(l)).collect();
        assert_eq!(
            announced,
            [
                ("passes".to_string(), Verdict::Pass),
                ("fails".to_string(), Verdict::Fail),
                ("skipped".to_string(), Verdict::Skip),
                ("panics_as_expected".to_string(), Verdict::Pass),
            ]
        );
        assert_eq!(
            libtest.details.get("fails").map(String::as_str),
            Some("thread 'fails' panicked at tests/e2e.rs:1:1:\nexpected 18 bytes")
        );
        assert_eq!(libtest.details.len(), 1);
    }
}
