//! The grader against hostile programs and classic bugs: each program in
//! `tests/hostile/` (small C, one behaviour each) is swapped into our own
//! implementation of its lesson, and `cargo xtask check LESSON --impl DIR`
//! grades the mixture. Each test asserts what a grader run must give
//! whatever the program does:
//!
//! - a verdict in time: exit status 1, the `N passed, N failed` line,
//!   JUnit and JSON written, within the lesson's time;
//! - the grader's own memory bounded (xtask and the checks' process, read
//!   from /proc while it runs);
//! - nothing left behind: no process of the run, no sandbox directory;
//! - the failure text naming the cause in a student's terms.
//!
//! They run hostile programs, so they are safe on a laptop by design: every
//! storm is bounded (the fixtures stop themselves, and the grader's limits
//! stop them again), and the one that signals widely (`kill(-1)`) runs
//! only inside the grader's sandbox; without one it is skipped, saying so.
//! They take a minute or two, so they are `#[ignore]`d in a plain
//! `cargo test`; `.ci/run` runs them:
//!
//! ```text
//! cargo test -p xtask --test hostile -- --ignored
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lesson_testing::procfs;

/// One hostile program and what the grader must say about it.
struct Fixture {
    /// Its source, `tests/hostile/NAME.c`.
    name: &'static str,
    /// The lesson it is graded as.
    lesson: &'static str,
    /// The binary of ours it replaces (ours is kept as `real/NAME` for
    /// the fixtures that start it).
    replaces: &'static str,
    /// Text the failures must contain, with a sandbox and without one.
    cause: &'static str,
    cause_without_sandbox: &'static str,
    /// Runs only inside the sandbox (it signals widely).
    sandbox_only: bool,
    /// More options for `xtask check`.
    flags: &'static [&'static str],
}

/// The lesson's binaries, ours.
fn binaries(lesson: &str) -> [&'static str; 2] {
    match lesson {
        "01" => ["tcp-server", "tcp-client"],
        "02" => ["fork-server", "fork-client"],
        "04" => ["udp-server", "udp-client"],
        other => panic!("no fixture is graded as lesson {other}"),
    }
}

/// The longest a lesson's verdict may take, build check included.
const VERDICT_TIME: Duration = Duration::from_secs(45);

/// The most memory the grader's own processes may hold.
const GRADER_MEMORY_KIB: u64 = 256 * 1024;

/// Where cargo put our binaries: beside this test's own directory.
fn our_binaries() -> PathBuf {
    let test = std::env::current_exe().expect("the test's own path");
    // target/debug/deps/hostile-HASH -> target/debug
    test.parent()
        .and_then(Path::parent)
        .expect("target/debug")
        .to_path_buf()
}

/// Compiles the fixture into a fresh directory holding the mixture: the
/// fixture under its lesson's name, our other binary, and ours under
/// `real/`. Returns the directory (removed on drop).
fn mixture(fixture: &Fixture) -> Mixture {
    let dir = std::env::temp_dir().join(format!("hostile-{}-{}", fixture.name, std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("real")).expect("a fixture directory");
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile");
    let compiled = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_string()))
        .args(["-O2", "-Wall", "-o"])
        .arg(dir.join(fixture.replaces))
        .arg(sources.join(format!("{}.c", fixture.name)))
        .arg("-I")
        .arg(&sources)
        .status()
        .expect("a C compiler (cc)");
    assert!(compiled.success(), "{}.c did not compile", fixture.name);
    let ours = our_binaries();
    for binary in binaries(fixture.lesson) {
        let built = ours.join(binary);
        assert!(
            built.is_file(),
            "{} is missing: build the workspace first",
            built.display()
        );
        std::os::unix::fs::symlink(&built, dir.join("real").join(binary)).expect("a symlink");
        if binary != fixture.replaces {
            std::os::unix::fs::symlink(&built, dir.join(binary)).expect("a symlink");
        }
    }
    Mixture(dir)
}

struct Mixture(PathBuf);

impl Drop for Mixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether the grader's sandbox can be had on this machine.
fn sandbox_available() -> bool {
    let status = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["__sandbox", "/tmp", "--", "true"])
        .stderr(Stdio::null())
        .status();
    status.is_ok_and(|s| s.success())
}

/// The most resident memory any of the grader's own processes (`xtask`,
/// and the checks' `e2e-*` process below it) has had so far, in KiB.
fn grader_peak_kib(xtask: i32) -> u64 {
    let mut peak = 0;
    let mut pending = vec![xtask];
    while let Some(pid) = pending.pop() {
        let exe = procfs::executable(pid).unwrap_or_default();
        let name = exe.file_name().unwrap_or_default().to_string_lossy();
        if pid == xtask || name.starts_with("e2e-") {
            peak = peak.max(procfs::peak_resident_kib(pid).unwrap_or(0));
        }
        pending.extend(procfs::children_of(pid).iter().map(|p| p.pid));
    }
    peak
}

/// Every process on the machine whose command line contains `text`.
fn processes_mentioning(text: &str) -> Vec<String> {
    procfs::all_processes()
        .into_iter()
        .filter(|p| p.pid != std::process::id() as i32)
        .filter_map(|p| {
            let line = procfs::command_line(p.pid)?;
            line.contains(text).then(|| format!("{}: {line}", p.pid))
        })
        .collect()
}

/// Grades the fixture's mixture and asserts everything a run must give.
fn grade(fixture: &Fixture) {
    let sandbox = sandbox_available();
    if fixture.sandbox_only && !sandbox {
        eprintln!(
            "skipped: {} signals every process it may, and this machine offers no sandbox to \
             contain it",
            fixture.name
        );
        return;
    }
    let mixture = mixture(fixture);
    let json = mixture.0.join("verdicts.json");
    let junit = mixture.0.join("verdicts.xml");
    let started = Instant::now();
    let mut xtask = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["check", fixture.lesson, "--impl"])
        .arg(&mixture.0)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .args(fixture.flags)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running xtask");
    let pid = xtask.id() as i32;
    // Read its output on threads, so that a full pipe never stalls it.
    let mut stdout_pipe = xtask.stdout.take().expect("stdout");
    let mut stderr_pipe = xtask.stderr.take().expect("stderr");
    let stdout = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout_pipe, &mut text);
        text
    });
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr_pipe, &mut text);
        text
    });
    let mut peak = 0;
    let status = loop {
        peak = peak.max(grader_peak_kib(pid));
        if let Some(status) = xtask.try_wait().expect("waiting for xtask") {
            break status;
        }
        if started.elapsed() > VERDICT_TIME {
            let _ = xtask.kill();
            let _ = xtask.wait();
            panic!(
                "{}: no verdict within {VERDICT_TIME:?}; stdout so far:\n{}",
                fixture.name,
                stdout.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let took = started.elapsed();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed") && l.contains(" passed, "))
        .unwrap_or("(no summary line)")
        .to_string();
    eprintln!(
        "{}: {summary} in {:.1} s, grader peak {:.0} MiB",
        fixture.name,
        took.as_secs_f64(),
        peak as f64 / 1024.0
    );
    assert_eq!(
        status.code(),
        Some(1),
        "{}: xtask should exit 1 (something failed); stdout:\n{stdout}\nstderr:\n{stderr}",
        fixture.name
    );
    assert!(
        summary != "(no summary line)" && !summary.starts_with("0 passed, 0 failed"),
        "{}: no verdicts; stdout:\n{stdout}",
        fixture.name
    );
    let verdicts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("the JSON verdicts were written"))
            .expect("the JSON verdicts parse");
    let xml = std::fs::read_to_string(&junit).expect("the JUnit verdicts were written");
    assert!(xml.contains("<testsuite"), "JUnit without a test suite");
    assert!(
        peak < GRADER_MEMORY_KIB,
        "{}: the grader's own memory peaked at {peak} KiB",
        fixture.name
    );
    let failures: String = verdicts["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| {
            c["failure"]
                .as_str()
                .map(|f| format!("{} {}", c["note"], f))
        })
        .collect();
    let cause = if sandbox {
        fixture.cause
    } else {
        fixture.cause_without_sandbox
    };
    assert!(
        failures.contains(cause),
        "{}: no failure says {cause:?}; stdout:\n{stdout}",
        fixture.name
    );
    if let Some(line) = failures.lines().find(|l| l.contains(cause)) {
        eprintln!("{}: the failure says: {}", fixture.name, line.trim());
    }
    // Nothing left behind: no process of the run (the fixtures' own are
    // started from the mixture's directory, their children sleep 3599 s),
    // and no sandbox directory.
    let left: Vec<String> = processes_mentioning(&mixture.0.to_string_lossy())
        .into_iter()
        .chain(processes_mentioning("sleep 3599"))
        .collect();
    assert!(
        left.is_empty(),
        "{}: processes left behind: {left:?}",
        fixture.name
    );
    let sandbox_dirs: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("xtask-sandbox-{pid}-")))
        .collect();
    assert!(
        sandbox_dirs.is_empty(),
        "{}: sandbox directories left behind: {sandbox_dirs:?}",
        fixture.name
    );
}

#[test]
#[ignore = "runs hostile programs for a minute: cargo test -p xtask --test hostile -- --ignored"]
fn endless_output_is_bounded_and_named() {
    grade(&Fixture {
        name: "endless-output",
        lesson: "01",
        replaces: "tcp-server",
        cause: "read() returns 0",
        cause_without_sandbox: "read() returns 0",
        sandbox_only: false,
        flags: &[],
    });
}

#[test]
#[ignore = "runs hostile programs for a minute: cargo test -p xtask --test hostile -- --ignored"]
fn a_server_that_kills_its_parent_still_gets_a_verdict() {
    grade(&Fixture {
        name: "kills-parent",
        lesson: "01",
        replaces: "tcp-server",
        cause: "killed by SIGKILL, sent by a program under test",
        cause_without_sandbox: "crashed",
        sandbox_only: false,
        flags: &[],
    });
}

#[test]
#[ignore = "runs hostile programs for a minute: cargo test -p xtask --test hostile -- --ignored"]
fn a_server_that_kills_everyone_it_can_is_contained() {
    grade(&Fixture {
        name: "kills-everyone",
        lesson: "01",
        replaces: "tcp-server",
        cause: "killed by SIGKILL, sent by a program under test",
        cause_without_sandbox: "",
        sandbox_only: true,
        flags: &[],
    });
}

#[test]
#[ignore = "runs hostile programs for a minute: cargo test -p xtask --test hostile -- --ignored"]
fn a_server_that_eats_memory_is_stopped_and_named() {
    grade(&Fixture {
        name: "memory-hog",
        lesson: "04",
        replaces: "udp-server",
        // 256 MiB a datagram: the limit, lowered from its default of 1 GiB,
        // stops it at its third.
        cause: "more than 512.0 MiB of memory",
        cause_without_sandbox: "more than 512.0 MiB of memory",
        sandbox_only: false,
        flags: &["--memory", "512"],
    });
}

#[test]
#[ignore = "runs hostile programs for a minute: cargo test -p xtask --test hostile -- --ignored"]
fn children_that_leave_processes_behind_are_caught() {
    grade(&Fixture {
        name: "leaves-processes",
        lesson: "02",
        replaces: "fork-server",
        cause: "were still running, not zombies",
        cause_without_sandbox: "were still running, not zombies",
        sandbox_only: false,
        flags: &[],
    });
}

#[test]
#[ignore = "runs hostile programs for a minute: cargo test -p xtask --test hostile -- --ignored"]
fn a_server_that_daemonizes_is_judged_and_cleaned_up() {
    grade(&Fixture {
        name: "daemonizes",
        lesson: "02",
        replaces: "fork-server",
        cause: "in the background",
        cause_without_sandbox: "in the background",
        sandbox_only: false,
        flags: &[],
    });
}

#[test]
#[ignore = "runs hostile programs for a minute: cargo test -p xtask --test hostile -- --ignored"]
fn children_that_leave_the_process_group_are_judged_and_cleaned_up() {
    grade(&Fixture {
        name: "leaves-group",
        lesson: "02",
        replaces: "fork-server",
        cause: "were still running, not zombies",
        cause_without_sandbox: "were still running, not zombies",
        sandbox_only: false,
        flags: &[],
    });
}

#[test]
#[ignore = "runs hostile programs for a minute: cargo test -p xtask --test hostile -- --ignored"]
fn a_server_that_ignores_sigterm_is_named() {
    grade(&Fixture {
        name: "ignores-sigterm",
        lesson: "02",
        replaces: "fork-server",
        cause: "the server still runs 1s after SIG",
        cause_without_sandbox: "the server still runs 1s after SIG",
        sandbox_only: false,
        flags: &[],
    });
}
