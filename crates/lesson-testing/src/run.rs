//! Running a program under test to its end, as a check runs a client or a
//! server that should exit: `client(bin).args([...]).write_stdin("hi\n")
//! .assert().success().stdout("...")`, the fluent style of `assert_cmd`,
//! but through the one supervisor, so that
//!
//! - the program runs confined (the harness's limits) in a process group
//!   of its own, and whatever it leaves behind is killed;
//! - what it prints is kept bounded, however much that is;
//! - it is given at most its time ([`crate::WAIT`] by default), and a
//!   program still running then is reported as exactly that, with what
//!   was expected of it;
//! - a failure reads as text a student understands: what the command was,
//!   what was expected, how it ended, what it printed (cut to a readable
//!   length), never a list of byte values.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use crate::report;
use crate::supervisor::{describe_ending, Limits, Supervised};

/// A program to run to its end, and what it is given.
pub struct Command {
    bin: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    limit: Duration,
}

impl Command {
    /// `bin`, with no arguments, stdin closed, [`crate::WAIT`] to finish.
    pub fn new(bin: impl AsRef<Path>) -> Command {
        Command {
            bin: bin.as_ref().to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            limit: crate::WAIT,
        }
    }

    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Command {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<S: AsRef<OsStr>>(&mut self, args: impl IntoIterator<Item = S>) -> &mut Command {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn env(&mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Command {
        self.env
            .push((name.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// What its stdin holds; it then reads end of input.
    pub fn write_stdin(&mut self, input: impl Into<Vec<u8>>) -> &mut Command {
        self.stdin = Some(input.into());
        self
    }

    /// How long it may take to end.
    pub fn timeout(&mut self, limit: Duration) -> &mut Command {
        self.limit = limit;
        self
    }

    /// The command as a student would type it: `tcp-client localhost 80`.
    pub fn shown(&self) -> String {
        let name = self
            .bin
            .file_name()
            .unwrap_or(self.bin.as_os_str())
            .to_string_lossy();
        let mut shown = name.into_owned();
        for arg in &self.args {
            let arg = arg.to_string_lossy();
            if arg.is_empty() || arg.contains(' ') {
                shown.push_str(&format!(" {arg:?}"));
            } else {
                shown.push_str(&format!(" {arg}"));
            }
        }
        shown
    }

    /// Runs it to its end, as [`Command::assert`] does, and hands back what
    /// it did, for a check's own assertions; killed at its time limit, it
    /// shows as killed by SIGKILL.
    pub fn output(&mut self) -> std::io::Result<std::process::Output> {
        use std::os::unix::process::ExitStatusExt;
        let run = self.assert();
        Ok(std::process::Output {
            status: run.status.unwrap_or_else(|| ExitStatus::from_raw(9)),
            stdout: run.stdout,
            stderr: run.stderr,
        })
    }

    /// Runs it to its end (or its time limit), and returns what happened,
    /// ready for assertions.
    pub fn assert(&mut self) -> Assert {
        let mut command = std::process::Command::new(&self.bin);
        command
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            });
        let shown = self.shown();
        let mut run = Supervised::confined(&mut command, Limits::for_programs_under_test())
            .unwrap_or_else(|e| panic!("cannot start `{shown}`: {e}"));
        // Fed by a thread of its own: a program that does not read its
        // input, or reads it slowly, must not hold the check up.
        let feeder = match (run.take_stdin(), self.stdin.clone()) {
            (Some(mut pipe), Some(input)) => Some(std::thread::spawn(move || {
                // A program that exits without reading all of it closes
                // the pipe: not an error of the check's.
                let _ = pipe.write_all(&input);
            })),
            _ => None,
        };
        let status = run.wait_for_exit(self.limit);
        if status.is_none() {
            run.finish();
        }
        if let Some(feeder) = feeder {
            let _ = feeder.join();
        }
        Assert {
            shown,
            stdin: self.stdin.clone(),
            status,
            limit: self.limit,
            stdout: run.stdout().bytes(),
            stderr: run.stderr().bytes(),
            stdout_overflow: run.stdout().overflow(),
            stderr_overflow: run.stderr().overflow(),
        }
    }
}

/// What a finished run did, and assertions on it that fail with text.
#[derive(Debug)]
pub struct Assert {
    shown: String,
    stdin: Option<Vec<u8>>,
    /// `None`: still running at the limit, and killed.
    status: Option<ExitStatus>,
    limit: Duration,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    stdout_overflow: Option<String>,
    stderr_overflow: Option<String>,
}

/// What it printed, for assertions of a check's own.
pub struct Output<'a> {
    pub status: Option<ExitStatus>,
    pub stdout: &'a [u8],
    pub stderr: &'a [u8],
}

impl Assert {
    /// Its exit status, stdout and stderr.
    pub fn get_output(&self) -> Output<'_> {
        Output {
            status: self.status,
            stdout: &self.stdout,
            stderr: &self.stderr,
        }
    }

    /// Its stdout, shown lossily.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Its stderr, shown lossily.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// It exited with status 0.
    #[track_caller]
    pub fn success(self) -> Assert {
        self.code(0)
    }

    /// It exited with status `code`.
    #[track_caller]
    pub fn code(self, code: i32) -> Assert {
        if self.status.and_then(|s| s.code()) != Some(code) {
            self.fail(&format!("should have exited with status {code}"));
        }
        self
    }

    /// Its stdout is exactly `expected`, or matches it.
    #[track_caller]
    pub fn stdout(self, expected: impl Into<Expected>) -> Assert {
        let expected = expected.into();
        if !expected.matches(&self.stdout) {
            self.fail(&format!(
                "should have written on stdout {}",
                expected.shown()
            ));
        }
        self
    }

    /// Its stderr is exactly `expected`, or matches it.
    #[track_caller]
    pub fn stderr(self, expected: impl Into<Expected>) -> Assert {
        let expected = expected.into();
        if !expected.matches(&self.stderr) {
            self.fail(&format!(
                "should have written on stderr {}",
                expected.shown()
            ));
        }
        self
    }

    /// Fails the check: `` `COMMAND` should have ...; how it ended, what it
    /// printed ``.
    #[track_caller]
    fn fail(&self, expected: &str) -> ! {
        let stdin = match &self.stdin {
            Some(input) => format!(" (given {} on stdin)", shown_input(input)),
            None => String::new(),
        };
        let ended = match self.status {
            Some(status) => describe_ending(
                status,
                &self.stderr_text(),
                Some(Limits::for_programs_under_test()),
            ),
            None => format!(
                "it was still running after {} s, and was killed",
                self.limit.as_secs_f64()
            ),
        };
        let mut text = format!("`{}`{stdin} {expected}, but {ended}.", self.shown);
        for (name, bytes, overflow) in [
            ("stdout", &self.stdout, &self.stdout_overflow),
            ("stderr", &self.stderr, &self.stderr_overflow),
        ] {
            if bytes.is_empty() {
                text.push_str(&format!("\nits {name}: nothing"));
            } else {
                text.push_str(&format!("\nits {name}: {}", quoted(bytes)));
            }
            if let Some(overflow) = overflow {
                text.push_str(&format!("\n[{overflow}]"));
            }
        }
        report::install();
        panic!("{text}");
    }
}

/// `bytes` as a quoted string, cut for a message: `"I got your message\n"`.
fn quoted(bytes: &[u8]) -> String {
    let text = report::shown(bytes);
    if text.contains('\n') && text.lines().count() > 1 {
        format!("\n{}", indent(&text))
    } else {
        format!(
            "{:?}",
            String::from_utf8_lossy(bytes)
                .chars()
                .take(300)
                .collect::<String>()
        )
    }
}

/// Input as a message shows it: quoted when short, its size when long.
fn shown_input(input: &[u8]) -> String {
    if input.len() <= 80 {
        format!("{:?}", String::from_utf8_lossy(input))
    } else {
        format!(
            "{} bytes ({:?}...)",
            input.len(),
            String::from_utf8_lossy(&input[..40])
        )
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What an output should be: exactly some bytes, or a test on its text.
pub enum Expected {
    Exactly(Vec<u8>),
    Matching(predicate::Predicate),
}

impl Expected {
    fn matches(&self, actual: &[u8]) -> bool {
        match self {
            Expected::Exactly(bytes) => actual == bytes.as_slice(),
            Expected::Matching(test) => test.holds(&String::from_utf8_lossy(actual)),
        }
    }

    fn shown(&self) -> String {
        match self {
            Expected::Exactly(bytes) => format!("exactly {}", quoted(bytes)),
            Expected::Matching(test) => test.shown(),
        }
    }
}

impl From<&str> for Expected {
    fn from(text: &str) -> Expected {
        Expected::Exactly(text.as_bytes().to_vec())
    }
}

impl From<String> for Expected {
    fn from(text: String) -> Expected {
        Expected::Exactly(text.into_bytes())
    }
}

impl From<&[u8]> for Expected {
    fn from(bytes: &[u8]) -> Expected {
        Expected::Exactly(bytes.to_vec())
    }
}

impl From<Vec<u8>> for Expected {
    fn from(bytes: Vec<u8>) -> Expected {
        Expected::Exactly(bytes)
    }
}

impl From<predicate::Predicate> for Expected {
    fn from(test: predicate::Predicate) -> Expected {
        Expected::Matching(test)
    }
}

/// Tests on an output's text, in the shape of the `predicates` crate's
/// (`predicate::str::contains("port").or(...)`), each able to say in words
/// what it wanted.
pub mod predicate {
    /// A test on text.
    pub enum Predicate {
        Contains(String),
        EndsWith(String),
        And(Box<Predicate>, Box<Predicate>),
        Or(Box<Predicate>, Box<Predicate>),
    }

    impl Predicate {
        pub fn holds(&self, text: &str) -> bool {
            match self {
                Predicate::Contains(part) => text.contains(part.as_str()),
                Predicate::EndsWith(end) => text.ends_with(end.as_str()),
                Predicate::And(a, b) => a.holds(text) && b.holds(text),
                Predicate::Or(a, b) => a.holds(text) || b.holds(text),
            }
        }

        pub fn and(self, other: Predicate) -> Predicate {
            Predicate::And(Box::new(self), Box::new(other))
        }

        pub fn or(self, other: Predicate) -> Predicate {
            Predicate::Or(Box::new(self), Box::new(other))
        }

        /// What it wants, in words: `something containing "port"`.
        pub fn shown(&self) -> String {
            match self {
                Predicate::Contains(part) => format!("something containing {part:?}"),
                Predicate::EndsWith(end) => format!("something ending with {end:?}"),
                Predicate::And(a, b) => format!("{}, and {}", a.shown(), b.shown()),
                Predicate::Or(a, b) => format!("{}, or {}", a.shown(), b.shown()),
            }
        }
    }

    /// Tests on strings.
    pub mod str {
        use super::Predicate;

        pub fn contains(part: impl Into<String>) -> Predicate {
            Predicate::Contains(part.into())
        }

        pub fn ends_with(end: impl Into<String>) -> Predicate {
            Predicate::EndsWith(end.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure_of(check: impl FnOnce() + std::panic::UnwindSafe) -> String {
        let payload = std::panic::catch_unwind(check).expect_err("the assertion must fail");
        match payload.downcast::<String>() {
            Ok(text) => *text,
            Err(_) => panic!("a panic without a message"),
        }
    }

    #[test]
    fn a_run_that_does_what_is_expected_passes() {
        Command::new("sh")
            .args(["-c", "read line; echo \"got $line\"; echo oops >&2; exit 3"])
            .write_stdin("hi\n")
            .assert()
            .code(3)
            .stdout("got hi\n")
            .stderr(predicate::str::contains("oops").and(predicate::str::ends_with("\n")));
    }

    #[test]
    fn failures_read_as_text_with_the_command_and_how_it_ended() {
        let text = failure_of(|| {
            Command::new("sh")
                .args(["-c", "echo hello?; exit 1"])
                .assert()
                .success();
        });
        assert!(text.contains("`sh -c \"echo hello?; exit 1\"` should have exited with status 0, but it exited with status 1"), "{text}");
        assert!(text.contains("its stdout: \"hello?\\n\""), "{text}");
        assert!(!text.contains("[104, 101"), "bytes, not text: {text}");
    }

    #[test]
    fn a_program_still_running_is_reported_as_such() {
        let text = failure_of(|| {
            Command::new("sleep")
                .arg("30")
                .timeout(Duration::from_millis(300))
                .assert()
                .code(2);
        });
        assert!(
            text.contains(
                "`sleep 30` should have exited with status 2, but it was still running after 0.3 s"
            ),
            "{text}"
        );
    }

    #[test]
    fn endless_output_is_bounded_and_named() {
        let start = std::time::Instant::now();
        let text = failure_of(|| {
            Command::new("sh")
                .args([
                    "-c",
                    "yes 'Here is the message: ' | head -c 50000000; exit 1",
                ])
                .timeout(Duration::from_secs(20))
                .assert()
                .success();
        });
        assert!(start.elapsed() < Duration::from_secs(20));
        assert!(text.contains("it wrote 47.7 MiB on stdout"), "{text}");
        assert!(text.contains("read() returns 0"), "{text}");
        assert!(text.len() < 20_000, "a message of {} bytes", text.len());
    }
}
