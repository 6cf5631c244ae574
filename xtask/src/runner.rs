//! The one test runner: `check`, `exercises` and `stress` all build the
//! lessons' end-to-end checks and run a lesson's check binary here, the
//! same way, so that an exercise is proven, and a check proven stable,
//! under exactly the conditions that grade a student:
//!
//! - the same binary: each lesson's `tests/e2e.rs`, built by
//!   `cargo test --workspace --no-run` ([`build`]);
//! - the same reader: libtest's JSON events ([`crate::libtest`]);
//! - the same threads ([`TEST_THREADS`]) and the same bound per lesson
//!   ([`LESSON_TIME`], unless the grader asks for another);
//! - the same confinement: the run and everything it starts lives in the
//!   sandbox where one can be had ([`crate::sandbox`]: namespaces of its
//!   own), under the harness's one supervisor, in a process group of its
//!   own, killed at the end, orphans included; and each program under
//!   test runs under the harness's limits (memory, processes, CPU time,
//!   file size, no core files);
//! - the same verdicts: every check gets one, also when the run hung, was
//!   cut off or crashed ([`Run::checks`]).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lesson_testing::supervisor::{self, Ended, Stream};

use crate::checks_source::CheckDoc;
use crate::lessons::{self, Lesson};
use crate::libtest::{self, Libtest, Verdict};
use crate::term;

/// Checks run at once within a lesson. Most of a check's time is spent
/// waiting on the program under test, so four at once on CI's two cores
/// keep a correct implementation's run short, and let a broken one that
/// makes checks wait out their bounds fail most of its checks, not just
/// the first few, within the lesson's time.
pub const TEST_THREADS: usize = 4;

/// The time limit for one lesson's checks. A correct implementation needs
/// a few seconds (lesson 06, the longest, about 5 s on two idle cores, and
/// several times that on a machine busy with other work); a broken one
/// must not make a class's grading run crawl: each lesson's verdict within
/// 30 s.
pub const LESSON_TIME: Duration = Duration::from_secs(28);

/// How long cargo may take to build the checks.
const BUILD_TIME: Duration = Duration::from_secs(1200);

/// Time limit for listing a lesson's checks (`--list`).
const LIST_TIME: Duration = Duration::from_secs(30);

/// One verdict, and what to tell about it.
#[derive(Debug, Clone)]
pub struct Check {
    /// `01`, or `--` for the build.
    pub lesson: String,
    /// The test's name, or a description in parentheses when a whole
    /// lesson failed (`(the tests did not build)`).
    pub name: String,
    pub verdict: Verdict,
    /// Said after the name on the verdict line: `timed out`.
    pub note: Option<String>,
    /// What the check printed when it failed (expected and seen), or the
    /// run's last lines.
    pub detail: Option<String>,
    /// How long it ran, when known.
    pub seconds: Option<f64>,
    /// The contract rule it checks, and where the book explains it.
    pub doc: CheckDoc,
}

impl Check {
    pub fn new(lesson: &str, name: &str, verdict: Verdict) -> Check {
        Check {
            lesson: lesson.to_string(),
            name: name.to_string(),
            verdict,
            note: None,
            detail: None,
            seconds: None,
            doc: CheckDoc::default(),
        }
    }

    pub fn failed(lesson: &str, name: &str, note: Option<String>, detail: Option<String>) -> Check {
        Check {
            note,
            detail,
            ..Check::new(lesson, name, Verdict::Fail)
        }
    }

    /// `02/parent_descriptor_count_does_not_grow`: unique across lessons.
    pub fn id(&self) -> String {
        format!("{}/{}", self.lesson, self.name)
    }

    /// What a student reads about a failure: the rule, the book's section,
    /// then what the check expected and saw.
    pub fn explanation(&self) -> String {
        let mut text = String::new();
        if let Some(rule) = &self.doc.rule {
            text.push_str(&format!("rule: {rule}\n"));
        }
        if let Some(read) = &self.doc.read {
            text.push_str(&format!("read: {read}\n"));
        }
        if let Some(scenario) = &self.doc.scenario {
            text.push_str(&format!("the check: {scenario}\n"));
        }
        if let Some(detail) = &self.detail {
            text.push_str(&format!("what happened:\n{}\n", indent(detail)));
        }
        text
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why the checks could not be built.
#[derive(Debug)]
pub enum BuildFailure {
    /// cargo failed: these rustc error codes (maybe none), and its last
    /// lines.
    Failed {
        codes: BTreeSet<String>,
        output: String,
    },
    /// cargo could not be run, or ran out of time.
    Broken(String),
    /// The user pressed Ctrl-C.
    Interrupted,
}

/// `cargo test --workspace --no-run` in `root` (the workspace, or a copy
/// of it), building in `target` (cargo's default when `None`). Returns each
/// lesson's end-to-end check binary, by lesson number. When `echo` is set,
/// cargo's messages go to the terminal as they come.
pub fn build(
    root: &Path,
    target: Option<&Path>,
    echo: bool,
) -> Result<BTreeMap<u8, PathBuf>, BuildFailure> {
    let mut command = Command::new(lessons::cargo());
    command
        .args(["test", "--workspace", "--no-run"])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(root)
        .env("CARGO_TERM_COLOR", if echo { "auto" } else { "never" });
    if let Some(target) = target {
        command.env("CARGO_TARGET_DIR", target);
    }
    let mut binaries = BTreeMap::new();
    let mut codes = BTreeSet::new();
    let mut tail = Tail::default();
    let ended = supervisor::run_to_end(
        &mut command,
        Instant::now() + BUILD_TIME,
        &term::interrupted,
        |stream, line, _| match stream {
            Stream::Stdout => {
                if let Some((number, path)) = e2e_artifact(root, line) {
                    binaries.insert(number, path);
                }
            }
            Stream::Stderr => {
                if echo {
                    eprintln!("{line}");
                }
                codes.extend(error_code(line));
                tail.push(line);
            }
        },
    )
    .map_err(|e| BuildFailure::Broken(format!("cannot run cargo: {e}")))?;
    match ended {
        Ended::Exited(status) if status.success() => Ok(binaries),
        Ended::Exited(_) => Err(BuildFailure::Failed {
            codes,
            output: tail.text(),
        }),
        Ended::TimedOut => Err(BuildFailure::Broken(format!(
            "the build took longer than {} s",
            BUILD_TIME.as_secs()
        ))),
        Ended::Interrupted => Err(BuildFailure::Interrupted),
    }
}

/// A lesson's e2e test binary, from one of cargo's JSON messages.
fn e2e_artifact(root: &Path, line: &str) -> Option<(u8, PathBuf)> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" || message["target"]["name"] != "e2e" {
        return None;
    }
    let manifest = Path::new(message["manifest_path"].as_str()?);
    let lesson = lessons::LESSONS.iter().find(|l| {
        manifest == root.join("crates").join(l.dir).join("Cargo.toml")
            || manifest == l.path().join("Cargo.toml")
    })?;
    Some((
        lesson.number,
        PathBuf::from(message["executable"].as_str()?),
    ))
}

/// `E0382` from rustc's `error[E0382]: ...` line.
pub fn error_code(line: &str) -> Option<String> {
    let at = line.find("error[E")?;
    let rest = &line[at + "error[".len()..];
    let code: String = rest.chars().take_while(|c| *c != ']').collect();
    (code.len() == 5 && code[1..].bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// How a lesson's checks run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Variables for the check binary: which implementation to grade
    /// (`LESSON_BIN_TCP_SERVER=...`), whether it prints readiness lines,
    /// the limits of programs under test (`LESSON_LIMITS`).
    pub env: Vec<(String, OsString)>,
    /// The lesson's time limit.
    pub time: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            env: Vec::new(),
            time: LESSON_TIME,
        }
    }
}

/// Whether the checks run in the sandbox: probed once per run of xtask.
/// `Err` says, in one line, why they run as plain processes instead.
pub fn sandbox() -> &'static Result<(), String> {
    static PROBED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    PROBED.get_or_init(crate::sandbox::probe)
}

/// What one run of a lesson's checks produced.
pub struct Run {
    pub libtest: Libtest,
    /// The check binary's last stderr lines (a crash's message).
    pub stderr: Tail,
    pub ended: Ended,
    /// Every check of the lesson, as `--list` named them before the run.
    pub listed: Result<Vec<String>, String>,
    pub took: Duration,
    /// The time limit it ran under.
    pub limit: Duration,
}

/// Runs a lesson's check binary, from its crate's directory (`dir`), the
/// one way; hands each verdict to `on_verdict` as it arrives: the check's
/// name, its verdict, and what it printed if it failed.
pub fn run(
    binary: &Path,
    dir: &Path,
    options: &Options,
    mut on_verdict: impl FnMut(&str, Verdict, Option<&str>),
) -> std::io::Result<Run> {
    let listed = list(binary, dir, options);
    let mut command = Command::new(binary);
    command
        .args(libtest::JSON_ARGS)
        .arg(format!("--test-threads={TEST_THREADS}"))
        .current_dir(dir)
        .env(libtest::JSON_ENV.0, libtest::JSON_ENV.1)
        // A student reads what the check expected and saw, not a stack
        // trace of the test harness.
        .env("RUST_BACKTRACE", "0")
        .envs(options.env.iter().map(|(k, v)| (k, v)));
    // Only the variables given count: ones that a grader's shell set
    // would point the checks elsewhere without anybody seeing it.
    for (variable, _) in std::env::vars_os() {
        let name = variable.to_string_lossy();
        if name.starts_with("LESSON_") && !options.env.iter().any(|(k, _)| *k == name) {
            command.env_remove(&variable);
        }
    }
    let temp = match sandbox() {
        Ok(()) => Some(crate::sandbox::TempMount::new().map_err(std::io::Error::other)?),
        Err(_) => None,
    };
    if let Some(temp) = &temp {
        command = crate::sandbox::command(&command, temp).map_err(std::io::Error::other)?;
    }
    let mut libtest = Libtest::default();
    let mut stderr = Tail::default();
    let started = Instant::now();
    let ended = supervisor::run_to_end(
        &mut command,
        started + options.time,
        &term::interrupted,
        |stream, line, _| match stream {
            Stream::Stdout => {
                if let Some((name, verdict)) = libtest.line(line) {
                    on_verdict(
                        &name,
                        verdict,
                        libtest.details.get(&name).map(String::as_str),
                    );
                }
            }
            Stream::Stderr => stderr.push(line),
        },
    )?;
    Ok(Run {
        libtest,
        stderr,
        ended,
        listed,
        took: started.elapsed(),
        limit: options.time,
    })
}

/// The names of a lesson's checks (`e2e --list`).
fn list(binary: &Path, dir: &Path, options: &Options) -> Result<Vec<String>, String> {
    let mut command = Command::new(binary);
    command
        .args(["--list", "--format", "terse"])
        .current_dir(dir)
        .envs(options.env.iter().map(|(k, v)| (k, v)));
    let mut names = Vec::new();
    let mut stderr = Tail::default();
    let ended = supervisor::run_to_end(
        &mut command,
        Instant::now() + LIST_TIME,
        &term::interrupted,
        |stream, line, _| match stream {
            // `name: test` for each test (benchmarks say `: bench`).
            Stream::Stdout => names.extend(line.strip_suffix(": test").map(str::to_string)),
            Stream::Stderr => stderr.push(line),
        },
    )
    .map_err(|e| e.to_string())?;
    match ended {
        Ended::Exited(status) if status.success() => Ok(names),
        _ => Err(stderr.text()),
    }
}

impl Run {
    /// Every check's verdict: those that reported, with what the failed
    /// ones printed, then a failed verdict for each that never reported:
    /// still running when the time ran out (a hang: the program under test
    /// never answered, or never closed), never started, or cut off by a
    /// crash; or one line for the whole lesson when even listing them was
    /// impossible. `rerun` is the command that runs one check alone, for
    /// the hung ones' explanation.
    pub fn checks(&self, lesson: &Lesson, rerun: &dyn Fn(&str) -> String) -> Vec<Check> {
        let id = lesson.id();
        let mut checks: Vec<Check> = self
            .libtest
            .results
            .iter()
            .map(|(name, verdict)| Check {
                detail: self.libtest.details.get(name).cloned(),
                seconds: self.libtest.durations.get(name).copied(),
                ..Check::new(&id, name, *verdict)
            })
            .collect();
        let secs = self.time_limit_text();
        let (running_note, queued_note) = match self.ended {
            Ended::Exited(status) if status.success() => {
                if checks.is_empty() {
                    let detail = Some(self.stderr.text());
                    checks.push(Check::failed(&id, "(no checks ran)", None, detail));
                }
                return checks;
            }
            // The user wants out: one line for the lesson.
            Ended::Interrupted => {
                checks.push(Check::failed(&id, "(interrupted)", None, None));
                return checks;
            }
            Ended::Exited(_) => match self.killed_by() {
                Some(signal) => (
                    format!("the test run was killed by {signal}, sent by a program under test"),
                    format!("not run: the test run was killed by {signal} first"),
                ),
                None => (
                    "the test run crashed".to_string(),
                    "the test run crashed before it started".to_string(),
                ),
            },
            Ended::TimedOut => (
                format!("timed out: still running after the lesson's {secs}"),
                format!("not run: the lesson's {secs} ran out first"),
            ),
        };
        let any_failed = checks.iter().any(|c| c.verdict == Verdict::Fail);
        let hung = self.libtest.unfinished();
        for name in &hung {
            let detail = format!(
                "It was still running when the lesson's time ran out ({secs}), so something it \
                 waited for never happened: a reply that never came, a connection the server \
                 never closed, a process that never exited. Run it alone to see its own \
                 message:\n  {}\nstderr's last lines:\n{}",
                rerun(name),
                self.stderr.text()
            );
            checks.push(Check::failed(
                &id,
                name,
                Some(running_note.clone()),
                Some(detail),
            ));
        }
        let seen: HashSet<String> = checks.iter().map(|c| c.name.clone()).collect();
        match &self.listed {
            Ok(names) => {
                for name in names.iter().filter(|n| !seen.contains(n.as_str())) {
                    checks.push(Check::failed(&id, name, Some(queued_note.clone()), None));
                }
            }
            Err(e) => checks.push(Check::failed(
                &id,
                "(the tests could not be listed)",
                None,
                Some(e.clone()),
            )),
        }
        if checks.len() == seen.len() && !any_failed {
            // Everything reported passed, yet the run failed.
            checks.push(Check::failed(
                &id,
                "(the test run failed)",
                Some(running_note),
                Some(self.stderr.text()),
            ));
        }
        checks
    }

    /// The signal that killed the check binary, as the sandbox reported
    /// it. Nothing outside the sandbox can signal it but xtask, which
    /// would say so: it was a program under test.
    fn killed_by(&self) -> Option<String> {
        self.stderr
            .lines()
            .find_map(|l| l.strip_prefix(crate::sandbox::KILLED))
            .map(str::to_string)
    }

    fn time_limit_text(&self) -> String {
        format!("{} s", self.limit.as_secs())
    }
}

/// The last lines of a stream (a crashed run's message, cargo's errors),
/// to show when something failed outside any one check.
#[derive(Default)]
pub struct Tail(Vec<String>);

impl Tail {
    const KEEP: usize = 40;

    pub fn push(&mut self, line: &str) {
        if self.0.len() == Self::KEEP {
            self.0.remove(0);
        }
        self.0.push(line.to_string());
    }

    pub fn text(&self) -> String {
        self.0.join("\n")
    }

    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustc_error_codes_are_read_from_cargo_output() {
        assert_eq!(
            error_code("error[E0382]: use of moved value: `listener`").as_deref(),
            Some("E0382")
        );
        assert_eq!(error_code("error: could not compile `x`"), None);
        assert_eq!(error_code("warning: unused import"), None);
    }
}
