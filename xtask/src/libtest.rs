//! A reader of libtest's output: which tests passed, failed or were
//! ignored, how long each took, and what each failed test printed. `check`
//! turns them into verdicts.
//!
//! Two forms are understood. The default ("pretty") lines are what `cargo
//! test` prints. The JSON events (`--format json --report-time`) add each
//! test's start and duration, which a grader wants; libtest offers them
//! only behind `-Z unstable-options`, which a stable test binary accepts
//! when `RUSTC_BOOTSTRAP=1` is in *its* environment ([`JSON_ARGS`]), so
//! nothing is rebuilt for it.

use std::collections::HashMap;

/// The test binary's arguments for JSON events with durations; the binary
/// also needs `RUSTC_BOOTSTRAP=1` in its environment.
pub const JSON_ARGS: [&str; 5] = [
    "-Z",
    "unstable-options",
    "--format",
    "json",
    "--report-time",
];

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
    /// How long each test ran, in seconds (JSON events only).
    pub durations: HashMap<String, f64>,
    /// The tests that started, in order (JSON events only): those without
    /// a result were still running when the run ended.
    pub started: Vec<String>,
    /// Past the first `failures:` line: no more results, only details.
    in_failures: bool,
    /// The test whose captured output is being read, and the lines so far.
    capturing: Option<(String, Vec<String>)>,
}

impl Libtest {
    /// Takes one line of output; returns the verdict it announces, if any.
    pub fn line(&mut self, line: &str) -> Option<(String, Verdict)> {
        if line.starts_with('{') {
            return self.event(line);
        }
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

impl Libtest {
    /// One JSON event: `{ "type": "test", "event": "started" | "ok" |
    /// "failed" | "ignored", "name": ..., "exec_time": ..., "stdout": ... }`.
    fn event(&mut self, line: &str) -> Option<(String, Verdict)> {
        let event: serde_json::Value = serde_json::from_str(line).ok()?;
        if event["type"] != "test" {
            return None;
        }
        let name = event["name"].as_str()?.to_string();
        let verdict = match event["event"].as_str()? {
            "started" => {
                self.started.push(name);
                return None;
            }
            "ok" => Verdict::Pass,
            "failed" => Verdict::Fail,
            "ignored" => Verdict::Skip,
            _ => return None,
        };
        if let Some(seconds) = event["exec_time"].as_f64() {
            self.durations.insert(name.clone(), seconds);
        }
        if let Some(output) = event["stdout"].as_str() {
            let text = output.trim_matches('\n').trim_end().to_string();
            if !text.is_empty() {
                self.details.insert(name.clone(), text);
            }
        }
        self.results.push((name.clone(), verdict));
        Some((name, verdict))
    }

    /// The tests that started and never reported: still running when the
    /// run ended (a hang, or the lesson's time ran out).
    pub fn unfinished(&self) -> Vec<String> {
        self.started
            .iter()
            .filter(|n| !self.results.iter().any(|(r, _)| r == *n))
            .cloned()
            .collect()
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

    #[test]
    fn json_events_become_verdicts_durations_and_details() {
        let events = [
            r#"{ "type": "suite", "event": "started", "test_count": 3 }"#,
            r#"{ "type": "test", "event": "started", "name": "passes" }"#,
            r#"{ "type": "test", "event": "started", "name": "hangs" }"#,
            r#"{ "type": "test", "name": "passes", "event": "ok", "exec_time": 0.25 }"#,
            r#"{ "type": "test", "event": "started", "name": "fails" }"#,
            r#"{ "type": "test", "name": "fails", "event": "failed", "exec_time": 1.5, "stdout": "thread 'fails' panicked:\nexpected 18 bytes\n" }"#,
        ];
        let mut libtest = Libtest::default();
        let announced: Vec<_> = events.iter().filter_map(|l| libtest.line(l)).collect();
        assert_eq!(
            announced,
            [
                ("passes".to_string(), Verdict::Pass),
                ("fails".to_string(), Verdict::Fail),
            ]
        );
        assert_eq!(libtest.durations.get("fails"), Some(&1.5));
        assert_eq!(
            libtest.details.get("fails").map(String::as_str),
            Some("thread 'fails' panicked:\nexpected 18 bytes")
        );
        assert_eq!(libtest.unfinished(), ["hangs"]);
    }
}
