//! `cargo xtask check`: runs the lessons' end-to-end tests as a grader
//! would, and gives one verdict per check: a line for people, and on
//! request JUnit XML and JSON for machines.
//!
//! The tests themselves live in each lesson's `tests/e2e.rs` and drive the
//! binaries through `lesson_testing`, which takes a binary's path from
//! `LESSON_BIN_<NAME>` when it is set: that is how `--impl` grades another
//! implementation with the very same tests. xtask adds what a plain
//! `cargo test` does not promise: a time limit per lesson that a hanging
//! program cannot stretch, no process left behind whatever the program
//! under test does (see [`crate::procs`]), and for each failure the rule
//! of the contract that broke and the section of the book that explains it
//! (from the check's doc comment, see [`crate::checkdoc`]).

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::checkdoc::{self, CheckDoc};
use crate::lessons::{self, Lesson};
use crate::libtest::{self, Libtest, Verdict};
use crate::spawn::{self, Ended, Stream};
use crate::term::{self, Color, Style};
use crate::{procs, usage_error};

crate::help_text! {
    /// Run the lessons' end-to-end checks; print a verdict per check.
    ///
    /// usage: cargo xtask check [LESSON...] [--impl DIR] [--no-readiness-line]
    ///                          [--timeout SECS] [--junit FILE] [--json FILE]
    ///
    /// LESSON is 01..06 (or 1, or a directory name such as 01-tcp-basic);
    /// none means every lesson. The workspace's tests are built first; then
    /// each lesson's tests/e2e.rs runs, four checks at a time. Each check
    /// prints `PASS  NN name` or `FAIL  NN name` (`SKIP` for an ignored
    /// one); after them, each failure says which rule of the contract broke,
    /// which section of the book explains it, and what the check expected
    /// and saw. The last line is `N passed, N failed`. Exit status: 0 when
    /// everything passed, 1 when something failed (the build included), 2
    /// for a usage error.
    ///
    /// options:
    ///   --impl DIR           grade another implementation: take the lessons'
    ///                        servers and clients from DIR (DIR/tcp-server, ...,
    ///                        through LESSON_BIN_TCP_SERVER=... and so on)
    ///   --no-readiness-line  its servers print no `listening on` line (the
    ///                        tutorial's C does not): the checks then watch the
    ///                        kernel's socket tables (LESSON_NO_READINESS_LINE=1)
    ///   --timeout SECS       time limit for each lesson's checks, default 28;
    ///                        a check still running then fails as timed out
    ///   --junit FILE         also write the verdicts as JUnit XML
    ///   --json FILE          also write the verdicts as JSON
    pub const HELP;
}

/// Default time limit for one lesson's checks. A correct implementation
/// needs a few seconds (lesson 06, the longest, about 5 s on two idle
/// cores, and several times that on a machine busy with other work); a
/// broken one must not make a class's grading run crawl: each lesson's
/// verdict within 30 s, six lessons cut off here within three minutes.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(28);

/// Checks run at once within a lesson. Most of a check's time is spent
/// waiting on the program under test, so four at once on CI's two cores
/// keep a correct implementation's run short, and let a broken one that
/// makes checks wait out their bounds fail most of its checks, not just
/// the first few, within the lesson's time.
const TEST_THREADS: &str = "--test-threads=4";

/// Time limit for listing a lesson's checks (`--list`), needed only to name
/// the checks a killed run never started.
const LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// What the command line asked for.
struct Options {
    lessons: Vec<&'static Lesson>,
    /// `--impl DIR`, made absolute (the tests run in their crate's dir).
    implementation: Option<PathBuf>,
    no_readiness_line: bool,
    timeout: Duration,
    junit: Option<PathBuf>,
    json: Option<PathBuf>,
}

/// Why parsing stopped instead of producing [`Options`].
enum Stop {
    Help,
    Usage(String),
}

/// One verdict, and what to tell about it.
#[derive(Debug)]
pub struct Check {
    /// `01`, or `--` for the build.
    pub lesson: String,
    /// The test's name, or a description in parentheses when a whole
    /// lesson failed (`(the tests did not build)`).
    pub name: String,
    pub verdict: Verdict,
    /// Said after the name on the verdict line: `timed out`.
    pub note: Option<String>,
    /// What the check printed when it failed (expected and seen), or
    /// cargo's last lines.
    pub detail: Option<String>,
    /// How long it ran, when known.
    pub seconds: Option<f64>,
    /// The contract rule it checks, and where the book explains it.
    pub doc: CheckDoc,
}

impl Check {
    fn new(lesson: &Lesson, name: &str, verdict: Verdict) -> Check {
        Check {
            lesson: lesson.id(),
            name: name.to_string(),
            verdict,
            note: None,
            detail: None,
            seconds: None,
            doc: CheckDoc::default(),
        }
    }

    fn failed(lesson: &Lesson, name: &str, note: Option<String>, detail: Option<String>) -> Check {
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

    /// Prints it, and returns it.
    fn printed(self, style: &Style) -> Check {
        self.print(style);
        self
    }

    /// Prints its verdict line, coloured on a terminal.
    fn print(&self, style: &Style) {
        let (word, color) = match self.verdict {
            Verdict::Pass => ("PASS", Color::Green),
            Verdict::Fail => ("FAIL", Color::Red),
            Verdict::Skip => ("SKIP", Color::Yellow),
        };
        let note = self
            .note
            .as_ref()
            .map(|n| format!(" ({n})"))
            .unwrap_or_default();
        println!(
            "{}  {} {}{note}",
            style.paint(color, word),
            self.lesson,
            self.name
        );
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

/// `cargo xtask check ...`
pub fn run(args: &[String]) -> ExitCode {
    let options = match parse(args) {
        Ok(options) => options,
        Err(Stop::Help) => {
            crate::print_help(HELP);
            return ExitCode::SUCCESS;
        }
        Err(Stop::Usage(message)) => return usage_error(&message, HELP),
    };
    term::catch_interrupts();
    if let Err(e) = procs::become_subreaper() {
        eprintln!("warning: {e}; a process that escapes its group may survive");
    }
    let style = Style::for_stdout();
    let started = Instant::now();

    let checks = match build_tests(&style) {
        Ok(binaries) => {
            let overrides = overrides(&options);
            let mut checks = Vec::new();
            for lesson in &options.lessons {
                if term::interrupted() {
                    break;
                }
                let binary = binaries.get(lesson.package).map(PathBuf::as_path);
                checks.extend(check_lesson(
                    lesson,
                    binary,
                    &overrides,
                    options.timeout,
                    &style,
                ));
            }
            checks
        }
        Err(why) => {
            let name = if term::interrupted() {
                "(interrupted during the build)".to_string()
            } else {
                format!("({why})")
            };
            let mut build = Check::new(&lessons::LESSONS[0], &name, Verdict::Fail);
            build.lesson = "--".to_string();
            vec![build.printed(&style)]
        }
    };
    procs::kill_orphans();

    report(&checks, started.elapsed(), &style);
    let written = [
        options
            .junit
            .as_ref()
            .map(|f| (f, crate::verdicts::junit(&checks))),
        options
            .json
            .as_ref()
            .map(|f| (f, crate::verdicts::json(&checks))),
    ];
    let mut write_failed = false;
    for (file, contents) in written.into_iter().flatten() {
        if let Err(e) = contents.and_then(|c| std::fs::write(file, c).map_err(|e| e.to_string())) {
            eprintln!("error: writing {}: {e}", file.display());
            write_failed = true;
        }
    }
    let failures = checks.iter().filter(|c| c.verdict == Verdict::Fail).count();
    if term::interrupted() {
        ExitCode::from(term::EXIT_INTERRUPTED)
    } else if failures == 0 && !write_failed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Prints the failures' explanations and the summary line CI reads.
fn report(checks: &[Check], took: Duration, style: &Style) {
    let failures: Vec<&Check> = checks
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .collect();
    if !failures.is_empty() {
        println!("\nfailures:");
        for check in &failures {
            let title = format!("---- {} {} ----", check.lesson, check.name);
            println!("\n{}", style.paint(Color::Bold, &title));
            print!("{}", check.explanation());
        }
    }
    let passed = checks.iter().filter(|c| c.verdict == Verdict::Pass).count();
    println!();
    let how = if term::interrupted() {
        "interrupted after"
    } else {
        "took"
    };
    println!("{how} {:.1} s", took.as_secs_f64());
    // The summary line CI reads: exactly this form, alone on its line.
    println!("{passed} passed, {} failed", failures.len());
}

fn parse(args: &[String]) -> Result<Options, Stop> {
    let mut names = Vec::new();
    let mut options = Options {
        lessons: Vec::new(),
        implementation: None,
        no_readiness_line: false,
        timeout: DEFAULT_TIMEOUT,
        junit: None,
        json: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        // `--name VALUE` or `--name=VALUE`.
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if arg.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |what: &str| match inline.clone().or_else(|| args.next().cloned()) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(Stop::Usage(format!("{flag} needs {what}"))),
        };
        match flag {
            "-h" | "--help" => return Err(Stop::Help),
            "--impl" => {
                let dir = absolute(&value("a directory")?);
                if !dir.is_dir() {
                    let shown = dir.display();
                    return Err(Stop::Usage(format!("--impl: {shown} is not a directory")));
                }
                options.implementation = Some(dir);
            }
            "--junit" => options.junit = Some(absolute(&value("a file name")?)),
            "--json" => options.json = Some(absolute(&value("a file name")?)),
            "--timeout" => {
                let secs = value("a number of seconds")?;
                options.timeout = match secs.parse::<u64>() {
                    Ok(s) if s > 0 => Duration::from_secs(s),
                    _ => {
                        return Err(Stop::Usage(format!(
                            "--timeout: `{secs}` is not a number of seconds"
                        )))
                    }
                };
            }
            "--no-readiness-line" if inline.is_none() => options.no_readiness_line = true,
            _ if arg.starts_with('-') => {
                return Err(Stop::Usage(format!("unknown option `{arg}`")))
            }
            _ => names.push(arg.clone()),
        }
    }
    if names.is_empty() {
        options.lessons = lessons::LESSONS.iter().collect();
    }
    for name in &names {
        let lesson = lessons::resolve(name).map_err(Stop::Usage)?;
        if !options.lessons.iter().any(|l| l.number == lesson.number) {
            options.lessons.push(lesson);
        }
    }
    Ok(options)
}

/// `path` as given on the command line, made absolute (the tests run in
/// their crate's directory, not here).
fn absolute(path: &str) -> PathBuf {
    std::env::current_dir().unwrap_or_default().join(path)
}

/// The environment variables that point the tests at another
/// implementation (`LESSON_BIN_TCP_SERVER=DIR/tcp-server`, ...) or tell
/// them its servers print no readiness line.
fn overrides(options: &Options) -> Vec<(String, OsString)> {
    let mut vars = Vec::new();
    if let Some(dir) = &options.implementation {
        for lesson in &options.lessons {
            for name in lesson.binaries() {
                let path = dir.join(name);
                if !path.is_file() {
                    eprintln!(
                        "warning: {} does not exist; lesson {}'s checks that run it will fail",
                        path.display(),
                        lesson.id()
                    );
                }
                let variable = lesson_testing::override_variable(name);
                println!("    {variable}={}", path.display());
                vars.push((variable, path.into_os_string()));
            }
        }
    }
    if options.no_readiness_line {
        println!("    LESSON_NO_READINESS_LINE=1");
        vars.push(("LESSON_NO_READINESS_LINE".to_string(), "1".into()));
    }
    vars
}

/// `cargo test --workspace --no-run`: builds every test (and the binaries
/// they run), its diagnostics going straight to the terminal. Returns each
/// package's end-to-end test binary, as cargo reports it.
fn build_tests(style: &Style) -> Result<BTreeMap<String, PathBuf>, String> {
    println!(
        "{}",
        style.paint(Color::Bold, "==> cargo test --workspace --no-run")
    );
    let output = Command::new(lessons::cargo())
        .args(["test", "--workspace", "--no-run"])
        .arg("--message-format=json-render-diagnostics")
        .current_dir(lessons::workspace_root())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        return Err("the workspace did not build: see cargo's errors above".to_string());
    }
    let mut binaries = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" || message["target"]["name"] != "e2e" {
            continue;
        }
        let manifest = message["manifest_path"].as_str().map(Path::new);
        let lesson = lessons::LESSONS
            .iter()
            .find(|l| manifest == Some(l.path().join("Cargo.toml").as_path()));
        if let (Some(lesson), Some(path)) = (lesson, message["executable"].as_str()) {
            binaries.insert(lesson.package.to_string(), PathBuf::from(path));
        }
    }
    Ok(binaries)
}

/// Runs one lesson's end-to-end checks, printing each verdict as it
/// arrives; returns them all, including a failed verdict for every check
/// that never reported (it hung past the time limit, or never started).
fn check_lesson(
    lesson: &Lesson,
    binary: Option<&Path>,
    env: &[(String, OsString)],
    timeout: Duration,
    style: &Style,
) -> Vec<Check> {
    let header = format!(
        "==> {} ({}): {}/tests/e2e.rs",
        lesson.id(),
        lesson.transport.name(),
        lesson.dir
    );
    println!("{}", style.paint(Color::Bold, &header));
    let Some(binary) = binary else {
        let detail = format!("{} was not built.", lesson.e2e_tests().display());
        let check = Check::failed(lesson, "(no end-to-end tests)", None, Some(detail));
        return vec![check.printed(style)];
    };
    let docs = checkdoc::read(lesson);
    let mut run = match run_tests(lesson, binary, env, timeout, style) {
        Ok(run) => run,
        Err(e) => {
            let check = Check::failed(lesson, "(cannot run the tests)", None, Some(e.to_string()));
            return vec![check.printed(style)];
        }
    };
    let mut checks = run.reported_checks(lesson);
    let extra = unfinished_checks(lesson, binary, env, &run, &checks, timeout);
    for check in &extra {
        check.print(style);
    }
    checks.extend(extra);
    for check in &mut checks {
        check.doc = docs.get(&check.name).cloned().unwrap_or_default();
        check.seconds = run.libtest.durations.remove(&check.name);
    }
    checks
}

/// What one lesson's test run produced.
struct TestRun {
    libtest: Libtest,
    /// The test binary's last stderr lines (a crash's message).
    stderr: Tail,
    ended: Ended,
}

/// Step 1: run the lesson's test binary under supervision, JSON events
/// on, printing each verdict as it arrives.
fn run_tests(
    lesson: &Lesson,
    binary: &Path,
    env: &[(String, OsString)],
    timeout: Duration,
    style: &Style,
) -> std::io::Result<TestRun> {
    let mut command = Command::new(binary);
    command
        .args(libtest::JSON_ARGS)
        .arg(TEST_THREADS)
        .current_dir(lesson.path())
        .env("RUSTC_BOOTSTRAP", "1")
        // A student reads what the check expected and saw, not a stack
        // trace of the test harness.
        .env("RUST_BACKTRACE", "0")
        .envs(env.iter().map(|(k, v)| (k, v)));
    let mut libtest = Libtest::default();
    let mut stderr = Tail::default();
    let started = Instant::now();
    let ended = spawn::supervise(
        &mut command,
        started + timeout,
        |stream, line, _| match stream {
            Stream::Stdout => {
                if let Some((name, verdict)) = libtest.line(line) {
                    Check::new(lesson, &name, verdict).print(style);
                }
            }
            Stream::Stderr => stderr.push(line),
        },
    )?;
    println!("    ({:.1} s)", started.elapsed().as_secs_f64());
    Ok(TestRun {
        libtest,
        stderr,
        ended,
    })
}

impl TestRun {
    /// Step 2: the checks that reported, with what the failed ones printed.
    fn reported_checks(&self, lesson: &Lesson) -> Vec<Check> {
        self.libtest
            .results
            .iter()
            .map(|(name, verdict)| Check {
                detail: self.libtest.details.get(name).cloned(),
                ..Check::new(lesson, name, *verdict)
            })
            .collect()
    }
}

/// Step 3: a failed verdict for each check the run never reported: those
/// still running when the time ran out (a hang: the program under test
/// never answered, or never closed), and those that never started; or one
/// line for the whole lesson when even listing them is impossible.
fn unfinished_checks(
    lesson: &Lesson,
    binary: &Path,
    env: &[(String, OsString)],
    run: &TestRun,
    reported: &[Check],
    timeout: Duration,
) -> Vec<Check> {
    let secs = timeout.as_secs();
    let (running_note, queued_note) = match run.ended {
        Ended::Exited(status) if status.success() => {
            return if reported.is_empty() {
                let detail = Some(run.stderr.text());
                vec![Check::failed(lesson, "(no checks ran)", None, detail)]
            } else {
                Vec::new()
            };
        }
        // The user wants out: one line for the lesson.
        Ended::Interrupted => return vec![Check::failed(lesson, "(interrupted)", None, None)],
        Ended::Exited(_) => (
            "the test run crashed".to_string(),
            "the test run crashed before it started".to_string(),
        ),
        Ended::TimedOut => (
            format!("timed out: still running after the lesson's {secs} s"),
            format!("not run: the lesson's {secs} s ran out first"),
        ),
    };
    let mut extra: Vec<Check> = Vec::new();
    let hung = run.libtest.unfinished();
    // The variables that point the tests at the implementation under test,
    // so that the command below runs the same binaries.
    let variables: String = env
        .iter()
        .filter(|(name, _)| {
            lesson
                .binaries()
                .iter()
                .any(|b| *name == lesson_testing::override_variable(b))
                || name.starts_with("LESSON_NO")
        })
        .map(|(name, value)| format!("{name}={} ", value.to_string_lossy()))
        .collect();
    for name in &hung {
        let detail = format!(
            "It was still running when the lesson's time ran out ({secs} s), so something it \
             waited for never happened: a reply that never came, a connection the server never \
             closed, a process that never exited. Run it alone to see its own message:\n  \
             {variables}cargo test -p {} --test e2e -- --exact {name}\nstderr's last lines:\n{}",
            lesson.package,
            run.stderr.text()
        );
        extra.push(Check::failed(
            lesson,
            name,
            Some(running_note.clone()),
            Some(detail),
        ));
    }
    let seen: HashSet<&str> = reported
        .iter()
        .map(|c| c.name.as_str())
        .chain(hung.iter().map(String::as_str))
        .collect();
    match list_tests(lesson, binary, env) {
        Ok(names) => {
            for name in names.iter().filter(|n| !seen.contains(n.as_str())) {
                extra.push(Check::failed(lesson, name, Some(queued_note.clone()), None));
            }
        }
        Err(e) => extra.push(Check::failed(
            lesson,
            "(the tests could not be listed)",
            None,
            Some(e),
        )),
    }
    let any_failed = reported.iter().any(|c| c.verdict == Verdict::Fail);
    if extra.is_empty() && !any_failed {
        // Everything reported passed, yet the run failed.
        extra.push(Check::failed(
            lesson,
            "(the test run failed)",
            Some(running_note),
            Some(run.stderr.text()),
        ));
    }
    extra
}

/// The names of a lesson's end-to-end checks (`e2e --list`).
fn list_tests(
    lesson: &Lesson,
    binary: &Path,
    env: &[(String, OsString)],
) -> Result<Vec<String>, String> {
    let mut command = Command::new(binary);
    command
        .args(["--list", "--format", "terse"])
        .current_dir(lesson.path())
        .envs(env.iter().map(|(k, v)| (k, v)));
    let mut names = Vec::new();
    let mut stderr = Tail::default();
    let ended = spawn::supervise(
        &mut command,
        Instant::now() + LIST_TIMEOUT,
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

/// The last lines of a stream (a crashed test binary's message), to show
/// when a run failed outside any one check.
#[derive(Default)]
struct Tail(Vec<String>);

impl Tail {
    const KEEP: usize = 40;

    fn push(&mut self, line: &str) {
        if self.0.len() == Self::KEEP {
            self.0.remove(0);
        }
        self.0.push(line.to_string());
    }

    fn text(&self) -> String {
        self.0.join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lessons_are_named_by_number_or_directory() {
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let Ok(options) = parse(&args(&[
            "1",
            "01-tcp-basic",
            "--timeout=7",
            "--json",
            "v.json",
        ])) else {
            panic!("a valid command line was refused");
        };
        assert_eq!(
            options.lessons.len(),
            1,
            "the same lesson twice is checked once"
        );
        assert_eq!(options.lessons[0].id(), "01");
        assert_eq!(options.timeout, Duration::from_secs(7));
        assert!(options.json.is_some_and(|f| f.ends_with("v.json")));
        assert!(matches!(parse(&args(&["07"])), Err(Stop::Usage(_))));
        assert!(matches!(parse(&args(&["--bogus"])), Err(Stop::Usage(_))));
        assert!(matches!(parse(&args(&["--impl"])), Err(Stop::Usage(_))));
        assert!(matches!(parse(&args(&["--junit"])), Err(Stop::Usage(_))));
        assert!(matches!(parse(&args(&["--help"])), Err(Stop::Help)));
    }
}
