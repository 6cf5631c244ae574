//! Checks of the rules every binary of the contract follows, whatever its
//! lesson and transport: port validation, extra arguments, `--help`, the
//! readiness line, a busy address, nothing listening, an unknown host,
//! stopping on SIGINT and SIGTERM. Each
//! lesson's `tests/e2e.rs` calls them from tests of its own, so a grader
//! sees one verdict per rule and lesson.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::{sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};

use crate::run::predicate;
use crate::{client, expects_readiness_line, tcp, udp, Server, Transport};

/// Ports the contract rejects: not decimal, out of range, signed, empty.
pub const BAD_PORTS: &[&str] = &[
    "abc",
    "70000",
    "65536",
    "-1",
    "+80",
    "",
    "12ab",
    "99999999999999999999",
];

/// The contract's bound on stopping after SIGINT or SIGTERM.
pub const STOP_LIMIT: Duration = Duration::from_secs(1);

/// `bin BEFORE... BAD AFTER...` is a usage error (exit 2) whose message
/// mentions the port, for every bad port; and so is leaving the port out
/// (`bin BEFORE... AFTER...`), where the usage line's `PORT` may be the
/// mention.
pub fn assert_bad_ports_rejected(bin: &Path, before: &[&str], after: &[&str]) {
    for bad in BAD_PORTS {
        let args = [before, &[bad], after].concat();
        client(bin)
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("port"));
    }
    client(bin)
        .args([before, after].concat())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("port").or(predicate::str::contains("PORT")));
}

/// `-h` and `--help`, alone or after `valid_args`: usage on stdout, exit 0.
pub fn assert_help(bin: &Path, valid_args: &[&str]) {
    let after_args = [valid_args, &["--help"]].concat();
    for args in [&["--help"][..], &["-h"], &after_args] {
        client(bin)
            .args(args)
            .assert()
            .success()
            .stdout(predicate::str::contains("usage"));
    }
}

/// The readiness line names where the kernel really bound the server:
/// `listening on 0.0.0.0:PORT` (the chosen port, for port 0), or
/// `listening on PATH`; exactly once. When the implementation under test
/// is known to print none (`LESSON_NO_READINESS_LINE=1`), a line it does
/// print must still be right.
pub fn assert_readiness_line(server: &Server) {
    let expected = format!("listening on {}", server.address().shown());
    if expects_readiness_line() {
        let line = server.wait_for_stderr_line("listening on ");
        assert_eq!(
            line.as_deref(),
            Some(expected.as_str()),
            "stderr: {}",
            server.stderr_text()
        );
        assert_eq!(
            server.stderr_text().matches("listening on").count(),
            1,
            "exactly one readiness line"
        );
    } else if let Some(line) = server
        .stderr_text()
        .lines()
        .find(|l| l.starts_with("listening on "))
    {
        assert_eq!(line, expected);
    }
}

/// Sends `signal` to the server and asserts that it has ended within 1 s.
pub fn assert_stops_on(server: &mut Server, signal: Signal) {
    server.signal(signal);
    assert!(
        server.wait_for_exit(STOP_LIMIT).is_some(),
        "the server still runs {STOP_LIMIT:?} after {signal}"
    );
}

/// Starts `bin args...` with `signal` ignored, as a shell leaves SIGINT
/// for a background job, or a parent that ignores SIGCHLD leaves that: an
/// ignored disposition survives `exec`.
pub fn start_with_ignored(
    bin: &Path,
    args: &[&str],
    signal: Signal,
    transport: Transport,
) -> Server {
    let mut command = Command::new(bin);
    command.args(args);
    // SAFETY: the closure runs in the forked child just before exec, where
    // only async-signal-safe calls are allowed: signal() is one, and it
    // touches no memory shared with the test process.
    unsafe {
        command.pre_exec(move || {
            nix::sys::signal::signal(signal, SigHandler::SigIgn)
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    Server::start_command(command, transport)
}

/// A server started with SIGINT ignored has put the default action back:
/// SIGINT still stops it within 1 s.
pub fn assert_sigint_restored(bin: &Path, args: &[&str], transport: Transport) {
    let mut server = start_with_ignored(bin, args, Signal::SIGINT, transport);
    server.signal(Signal::SIGINT);
    assert!(
        server.wait_for_exit(STOP_LIMIT).is_some(),
        "the server ignores SIGINT: it did not restore the default action at start"
    );
}

/// A TCP server (`bin PORT AFTER...`) given a port that another socket
/// listens on: exit 1, and one error line naming the step (`binding`) and
/// the OS reason. Bounded like every client run: a server that wrongly
/// binds anyway would otherwise wait in accept() forever.
pub fn assert_port_in_use_reported(bin: &Path, after: &[&str]) {
    let holder = tcp::occupied_port();
    let port = holder.local_addr().expect("held port").port();
    assert_bind_fails_on(bin, port, after);
}

/// As [`assert_port_in_use_reported`], for a UDP server and a UDP port
/// another socket has bound.
pub fn assert_udp_port_in_use_reported(bin: &Path, after: &[&str]) {
    let holder = udp::occupied_port();
    let port = holder.local_addr().expect("held port").port();
    assert_bind_fails_on(bin, port, after);
}

fn assert_bind_fails_on(bin: &Path, port: u16, after: &[&str]) {
    let port = port.to_string();
    let run = client(bin)
        .args([&[port.as_str()], after].concat())
        .assert()
        .code(1);
    let stderr = run.stderr_text();
    assert!(stderr.contains("ERROR on binding"), "{stderr}");
    assert!(stderr.contains("Address already in use"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one error line: {stderr}");
}

/// A TCP client (`bin HOST PORT`) with nothing listening: exit 1, and
/// stderr has `ERROR connecting` and the OS reason.
pub fn assert_connection_refused(bin: &Path) {
    client(bin)
        .args(["127.0.0.1", &tcp::refused_port().to_string()])
        .write_stdin("hello\n")
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("ERROR connecting")
                .and(predicate::str::contains("Connection refused")),
        );
}

/// A client (`bin HOST PORT`) given a host the resolver cannot know
/// (`.invalid` never resolves): exit 1, and stderr says `no such host`.
pub fn assert_unknown_host_reported(bin: &Path) {
    client(bin)
        .args(["no-such-host.invalid", "51717"])
        .write_stdin("hello\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no such host"));
}

/// `bin VALID_ARGS... 1`: one argument too many is a usage error (exit 2),
/// not silently ignored.
pub fn assert_extra_argument_rejected(bin: &Path, valid_args: &[&str]) {
    client(bin)
        .args([valid_args, &["1"]].concat())
        .assert()
        .code(2);
}

/// Starts `bin args...` with `signals` blocked. A process inherits its
/// parent's signal mask, and keeps it across `exec`: a supervisor that
/// blocks signals (to take them with `sigwait` or `signalfd`) and starts
/// programs without unblocking them leaves them blocked there too. A
/// blocked signal stays pending and does nothing, whatever its
/// disposition, until the program unblocks it.
pub fn start_with_blocked(
    bin: &Path,
    args: &[&str],
    signals: &[Signal],
    transport: Transport,
) -> Server {
    let blocked: SigSet = signals.iter().copied().collect();
    let mut command = Command::new(bin);
    command.args(args);
    // SAFETY: the closure runs in the forked child just before exec, where
    // only async-signal-safe calls are allowed: sigprocmask() is one, and
    // the set it reads was built before the fork and is only read.
    unsafe {
        command.pre_exec(move || {
            sigprocmask(SigmaskHow::SIG_BLOCK, Some(&blocked), None).map_err(std::io::Error::from)
        });
    }
    Server::start_command(command, transport)
}

/// A server started with SIGINT and SIGTERM blocked has unblocked them:
/// each of the two still stops it within 1 s. Restoring their default
/// action, which [`assert_sigint_restored`] checks, is not enough for this.
pub fn assert_stop_signals_unblocked(bin: &Path, args: &[&str], transport: Transport) {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let mut server =
            start_with_blocked(bin, args, &[Signal::SIGINT, Signal::SIGTERM], transport);
        server.signal(signal);
        assert!(
            server.wait_for_exit(STOP_LIMIT).is_some(),
            "started with SIGINT and SIGTERM blocked, the server still runs {STOP_LIMIT:?} \
             after {signal}: it must unblock them at start (sigprocmask), since a blocked \
             signal stays pending whatever its disposition"
        );
    }
}

/// A Unix-domain server (`bin PATH AFTER...`) given a path where a live
/// listener is bound: exit 1, and one error line that says `already in
/// use`. The listener keeps its path: its socket file is still there, and
/// a client can still reach it.
pub fn assert_unix_path_in_use_reported(bin: &Path, after: &[&str]) {
    let dir = crate::unix::SocketDir::new();
    let path = dir.join("taken.sock");
    let holder = crate::unix::live_listener(&path);
    let run = client(bin).arg(&path).args(after).assert().code(1);
    let stderr = run.stderr_text();
    assert!(stderr.contains("already in use"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one error line: {stderr}");
    assert!(
        crate::unix::is_socket_file(&path),
        "the live listener's socket file is gone"
    );
    std::os::unix::net::UnixStream::connect(&path)
        .expect("the live listener must still be reachable at its path");
    drop(holder);
}

/// A Unix-domain client (`bin PATH`) with nothing at PATH: exit 1, and
/// stderr has `ERROR connecting` and the OS reason.
pub fn assert_no_such_path(bin: &Path) {
    let dir = crate::unix::SocketDir::new();
    client(bin)
        .arg(dir.join("nothing.sock"))
        .write_stdin("hello\n")
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("ERROR connecting")
                .and(predicate::str::contains("No such file or directory")),
        );
}
