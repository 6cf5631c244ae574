//! A reader of libtest's JSON events: which tests started, passed, failed
//! or were ignored, how long each took, and what each failed test printed.
//! The runner ([`crate::runner`]) turns them into verdicts.
//!
//! libtest offers the events (`--format json --report-time`) only behind
//! `-Z unstable-options`, which a stable test binary accepts when
//! `RUSTC_BOOTSTRAP=1` is in *its* environment ([`JSON_ARGS`],
//! [`JSON_ENV`]), so nothing is rebuilt for it.

use std::collections::HashMap;

/// The test binary's arguments for JSON events with durations.
pub const JSON_ARGS: [&str; 5] = [
    "-Z",
    "unstable-options",
    "--format",
    "json",
    "--report-time",
];

/// The variable the test binary needs in its environment for [`JSON_ARGS`].
pub const JSON_ENV: (&str, &str) = ("RUSTC_BOOTSTRAP", "1");

/// A test's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    /// `#[ignore]`d: neither passed nor failed.
    Skip,
}

/// What the events said so far.
#[derive(Default)]
pub struct Libtest {
    /// Each test's verdict, in the order they finished.
    pub results: Vec<(String, Verdict)>,
    /// The captured output of each failed test.
    pub details: HashMap<String, String>,
    /// How long each test ran, in seconds.
    pub durations: HashMap<String, f64>,
    /// The tests that started, in order: those without a result were still
    /// running when the run ended.
    pub started: Vec<String>,
}

impl Libtest {
    /// Takes one line of the test binary's stdout; returns the verdict it
    /// announces, if any. A line that is not an event (a test printing on
    /// stdout outside libtest's capture) is ignored.
    pub fn line(&mut self, line: &str) -> Option<(String, Verdict)> {
        if !line.starts_with('{') {
            return None;
        }
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
    fn json_events_become_verdicts_durations_and_details() {
        let events = [
            r#"{ "type": "suite", "event": "started", "test_count": 3 }"#,
            r#"{ "type": "test", "event": "started", "name": "passes" }"#,
            r#"{ "type": "test", "event": "started", "name": "hangs" }"#,
            r#"{ "type": "test", "name": "passes", "event": "ok", "exec_time": 0.25 }"#,
            "a line some test printed outside the capture",
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
