//! The classroom demos as an instructor meets them: the built `xtask`
//! binary runs `demo NN` with its stdout a pipe, where lines are laid out
//! for 80 columns and nothing pauses, so each demo takes seconds.
//!
//! - every line of every demo fits in 80 columns;
//! - `--trace` shows the calls the chapter is about, from the right side:
//!   in demo 02 the parent's accept4() and clone(), a child's read (as
//!   recvfrom()), write (as sendto()) and exit_group(), among the
//!   narration; in demo 03 the wait4() calls of the SIGCHLD handler. These
//!   need strace, and ptrace allowed; without either they say so and pass;
//! - `--pace` waits for a line on stdin before each step, and at the end
//!   of input stops the demo cleanly, leaving nothing running;
//! - a usage error is one line and a pointer to `--help`; `--list` is a
//!   line per demo.
//!
//! Every program runs through the harness's supervisor, each demo is its
//! own xtask (its own subreaper, its own ports and directories), so the
//! tests run in parallel. The first run of a demo builds its lesson's
//! binaries, which the time limit allows for.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use lesson_testing::supervisor::Supervised;

/// The longest one demo may take, a first build of its lesson included
/// (once built, each takes seconds).
const LIMIT: Duration = Duration::from_secs(180);

/// The width of a pipe's lines.
const WIDTH: usize = 80;

/// What a run of xtask printed, and how it ended.
struct Ran {
    status: ExitStatus,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

impl Ran {
    /// Stdout and stderr, for a failure's message.
    fn shown(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.stdout.join("\n"),
            self.stderr.join("\n")
        )
    }
}

/// `xtask ARGS...` with stdin null and stdout a pipe, run to its end.
fn xtask(args: &[&str]) -> Ran {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .args(args)
        .env_remove("COLUMNS")
        .stdin(Stdio::null());
    let mut run = Supervised::start(&mut command).expect("xtask starts");
    let Some(status) = run.wait_for_exit(LIMIT) else {
        stop(&mut run);
        panic!(
            "`xtask {}` still ran after {} s; it printed:\n{}",
            args.join(" "),
            LIMIT.as_secs(),
            run.stdout().shown()
        );
    };
    Ran {
        status,
        stdout: run.stdout().lines(),
        stderr: run.stderr().lines(),
    }
}

/// Stops a demo that overran as Ctrl-C would, so that it stops what it
/// started (dropping it kills only its own group).
fn stop(run: &mut Supervised) {
    run.signal(nix::sys::signal::Signal::SIGINT);
    run.wait_for_exit(Duration::from_secs(10));
}

/// Runs `demo NN` and checks that it succeeded and every line fits.
fn fits(lesson: &str) {
    let ran = xtask(&["demo", lesson]);
    assert!(
        ran.status.success(),
        "demo {lesson} failed\n{}",
        ran.shown()
    );
    let narrations = ran.stdout.iter().filter(|l| l.starts_with("==> ")).count();
    assert!(
        narrations > 3,
        "demo {lesson} narrated nothing\n{}",
        ran.shown()
    );
    let wide: Vec<String> = ran
        .stdout
        .iter()
        .chain(&ran.stderr)
        .filter(|line| line.chars().count() > WIDTH)
        .map(|line| format!("{:>3} | {line}", line.chars().count()))
        .collect();
    assert!(
        wide.is_empty(),
        "demo {lesson}: {} lines wider than {WIDTH} columns:\n{}",
        wide.len(),
        wide.join("\n")
    );
}

#[test]
fn demo_01_fits_80_columns() {
    fits("01");
}

#[test]
fn demo_02_fits_80_columns() {
    fits("02");
}

#[test]
fn demo_03_fits_80_columns() {
    fits("03");
}

#[test]
fn demo_04_fits_80_columns() {
    fits("04");
}

#[test]
fn demo_05_fits_80_columns() {
    fits("05");
}

#[test]
fn demo_06_fits_80_columns() {
    fits("06");
}

/// One shown line of a demo: a narration, or a labelled line (`|` for a
/// program's output, `>` for a system call) with its continuation lines
/// joined; `index` is where it starts in stdout.
#[derive(Debug)]
struct Shown {
    index: usize,
    label: String,
    mark: char,
    text: String,
}

/// The demo's stdout, read back into narrations and labelled lines.
fn read_back(stdout: &[String]) -> Vec<Shown> {
    let mut shown: Vec<Shown> = Vec::new();
    for (index, line) in stdout.iter().enumerate() {
        if let Some(text) = line.strip_prefix("==> ") {
            shown.push(Shown {
                index,
                label: String::new(),
                mark: '=',
                text: text.to_string(),
            });
            continue;
        }
        let Some(rest) = line.strip_prefix("  ") else {
            continue;
        };
        // `LABEL(17) M text`: the label column, then the mark.
        let (Some(label), Some(mark)) = (rest.get(..17), rest.chars().nth(18)) else {
            if let (Some(last), Some(more)) = (shown.last_mut(), line.strip_prefix("    ")) {
                if last.mark == '=' {
                    last.text = format!("{} {more}", last.text);
                }
            }
            continue;
        };
        let text = rest.get(20..).unwrap_or_default();
        if !matches!(mark, '|' | '>') {
            continue;
        }
        match shown.last_mut() {
            Some(last) if label.trim().is_empty() && last.mark == mark => {
                last.text = format!("{} {}", last.text, text.trim_start());
            }
            _ => shown.push(Shown {
                index,
                label: label.trim().to_string(),
                mark,
                text: text.to_string(),
            }),
        }
    }
    shown
}

/// Runs `demo NN --trace`; `None` (having said why) when this machine
/// cannot trace: no strace, or ptrace forbidden.
fn traced(lesson: &str) -> Option<Vec<Shown>> {
    let mut probe = Command::new("strace");
    probe.arg("-V").stdin(Stdio::null());
    if Supervised::start(&mut probe).is_err() {
        eprintln!("skipped: strace is not installed (apt-get install strace)");
        return None;
    }
    let ran = xtask(&["demo", lesson, "--trace"]);
    assert!(
        ran.status.success(),
        "demo {lesson} --trace failed\n{}",
        ran.shown()
    );
    if ran
        .stdout
        .iter()
        .any(|l| l.contains("strace cannot trace here"))
    {
        eprintln!("skipped: strace cannot trace here (ptrace is not allowed)");
        return None;
    }
    let wide: Vec<&String> = ran
        .stdout
        .iter()
        .filter(|line| line.chars().count() > WIDTH)
        .collect();
    assert!(wide.is_empty(), "lines wider than {WIDTH}: {wide:#?}");
    Some(read_back(&ran.stdout))
}

/// The first call `who` (a label, or `child` for any child) made that
/// starts with one of `calls`, shown after narration `after` (by its
/// start) and before narration `before`.
fn call_between<'a>(
    shown: &'a [Shown],
    who: &str,
    calls: &[&str],
    after: &str,
    before: &str,
) -> Option<&'a Shown> {
    let narration = |start: &str| {
        shown
            .iter()
            .find(|s| s.mark == '=' && s.text.starts_with(start))
            .map(|s| s.index)
            .unwrap_or_else(|| panic!("no narration starting {start:?}: {shown:#?}"))
    };
    let (from, to) = (narration(after), narration(before));
    shown.iter().find(|s| {
        let side = if who == "child" {
            s.label.starts_with("child ")
        } else {
            s.label == who
        };
        side && s.mark == '>'
            && s.index > from
            && s.index < to
            && calls.iter().any(|call| s.text.starts_with(call))
    })
}

#[test]
fn demo_02_traces_the_parent_and_its_children() {
    let Some(shown) = traced("02") else {
        return;
    };
    let (silent, clients, served) = (
        "First a silent client",
        "Now 5 clients",
        "All 5 clients were served",
    );
    for (who, calls, after, before) in [
        ("server", &["accept4(", "accept("][..], silent, clients),
        ("server", &["clone(", "fork("], silent, clients),
        ("child", &["recvfrom(", "read("], clients, served),
        ("child", &["sendto(", "write("], clients, served),
        ("child", &["exit_group("], clients, served),
    ] {
        assert!(
            call_between(&shown, who, calls, after, before).is_some(),
            "no {calls:?} from {who} between \"{after}\" and \"{before}\": {shown:#?}"
        );
    }
    // The child's read got the client's line: the trace shows data.
    assert!(
        shown
            .iter()
            .any(|s| s.label.starts_with("child ") && s.text.contains("Hello from client 1")),
        "no child read \"Hello from client 1\": {shown:#?}"
    );
}

#[test]
fn demo_03_traces_wait4_in_the_sigchld_handler() {
    let Some(shown) = traced("03") else {
        return;
    };
    let server: Vec<&Shown> = shown
        .iter()
        .filter(|s| s.label == "server" && s.mark == '>')
        .collect();
    let handled = server.windows(2).any(|pair| {
        pair[0].text.starts_with("--- SIGCHLD")
            && pair[1].text.starts_with("wait4(-1")
            && pair[1]
                .text
                .rsplit_once(") = ")
                .is_some_and(|(_, pid)| pid.parse::<u32>().is_ok_and(|pid| pid > 0))
    });
    assert!(
        handled,
        "no SIGCHLD followed by a wait4() that reaped a child: {server:#?}"
    );
}

/// How many narrations `run` has printed so far.
fn narrations(run: &Supervised) -> usize {
    run.stdout()
        .lines()
        .iter()
        .filter(|l| l.starts_with("==> "))
        .count()
}

#[test]
fn pace_waits_for_enter_and_stops_at_the_end_of_input() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
    command
        .args(["demo", "01", "--pace"])
        .env_remove("COLUMNS")
        .stdin(Stdio::piped());
    let mut run = Supervised::start(&mut command).expect("xtask starts");
    let mut enter = run.take_stdin().expect("a piped stdin");
    let until = |run: &Supervised, count: usize, limit: Duration| {
        lesson_testing::wait_until(limit, || narrations(run) >= count)
    };

    // The first narration comes at once; the second waits for Enter.
    assert!(until(&run, 1, LIMIT), "{}", run.stdout().shown());
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(narrations(&run), 1, "it went on without Enter");

    // Enter: the build's narration. Once more: the server's start, which
    // the next narration (it is ready) waits on Enter to say.
    for count in 2..=3 {
        enter.write_all(b"\n").expect("Enter");
        assert!(
            until(&run, count, LIMIT),
            "no narration {count} after Enter:\n{}",
            run.stdout().shown()
        );
    }
    assert!(
        lesson_testing::wait_until(LIMIT, || run
            .stderr()
            .lines()
            .iter()
            .chain(&run.stdout().lines())
            .any(|l| l.contains("listening on"))),
        "the server did not start:\n{}",
        run.stdout().shown()
    );
    let listening = run.stdout().lines().into_iter().find_map(|l| {
        l.split_once("listening on 0.0.0.0:")
            .map(|(_, p)| p.to_string())
    });
    std::thread::sleep(Duration::from_millis(1000));
    let waiting = narrations(&run);
    assert_eq!(waiting, 3, "{}", run.stdout().shown());

    // The end of input: the demo stops, cleanly, and its server with it.
    let ended = Instant::now();
    drop(enter);
    let status = run
        .wait_for_exit(Duration::from_secs(15))
        .expect("the demo ends at the end of input");
    assert!(status.success(), "{status}: {}", run.stderr().shown());
    assert!(ended.elapsed() < Duration::from_secs(10));
    assert_eq!(narrations(&run), waiting, "it went on after the end");
    assert!(
        run.stderr()
            .lines()
            .iter()
            .any(|l| l.starts_with("end of input")),
        "{}",
        run.stderr().shown()
    );
    let port: u16 = listening
        .expect("the readiness line")
        .trim()
        .parse()
        .expect("a port");
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    assert!(
        TcpStream::connect_timeout(&address, Duration::from_secs(2)).is_err(),
        "the server still listens on {port}"
    );
}

#[test]
fn pace_without_any_input_ends_after_the_first_narration() {
    let started = Instant::now();
    let ran = xtask(&["demo", "01", "--pace"]);
    assert!(ran.status.success(), "{}", ran.shown());
    let narrations = ran.stdout.iter().filter(|l| l.starts_with("==> ")).count();
    assert_eq!(narrations, 1, "{}", ran.shown());
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(ran.stderr.iter().any(|l| l.starts_with("end of input")));
}

#[test]
fn a_usage_error_is_one_line_and_a_pointer() {
    let ran = xtask(&["demo", "--no-such-option"]);
    assert_eq!(ran.status.code(), Some(2), "{}", ran.shown());
    assert!(ran.stdout.is_empty(), "{}", ran.shown());
    assert_eq!(ran.stderr.len(), 2, "{}", ran.shown());
    assert!(ran.stderr[1].contains("--help"), "{}", ran.shown());

    let listed = xtask(&["demo", "--list"]);
    assert!(listed.status.success());
    assert_eq!(listed.stdout.len(), 6, "{}", listed.shown());
}
