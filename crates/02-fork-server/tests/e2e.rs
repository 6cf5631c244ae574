//! End-to-end checks of lesson 02 against the contract (section 02 and the
//! rules for every binary). They drive the real binaries: ours by default,
//! or any other implementation named by `LESSON_BIN_FORK_SERVER` and
//! `LESSON_BIN_FORK_CLIENT` (with `LESSON_NO_READINESS_LINE=1` for programs
//! that print no readiness line, such as the tutorial's C).
//!
//! Every server listens on port 0 and is found through the kernel's socket
//! table, every wait is bounded, and dropping a server kills its whole
//! process group, its children and zombies included. Connection counts
//! stay in the hundreds: each zombie holds a process ID until its server
//! is killed.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use lesson::testing::{
    binary, client, connected_tcp_sockets, exchange, expects_readiness_line, refused_port,
    wait_until, Endpoint, Server, WAIT,
};
use nix::sys::signal::{SigHandler, Signal};
use predicates::prelude::*;

const PROMPT: &str = "Please enter the message: ";
const REPLY: &str = "I got your message";

fn server_bin() -> PathBuf {
    binary("fork-server", env!("CARGO_BIN_EXE_fork-server"))
}

fn client_bin() -> PathBuf {
    binary("fork-client", env!("CARGO_BIN_EXE_fork-client"))
}

fn start_server() -> Server {
    Server::start(&server_bin(), &["0"], Endpoint::TcpListener)
}

/// Starts the server with `signal` ignored, as a shell or a parent may
/// leave it: an ignored disposition survives exec.
fn start_server_with_ignored(signal: Signal) -> Server {
    let mut command = Command::new(server_bin());
    command.arg("0");
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
    Server::start_command(command, Endpoint::TcpListener)
}

/// Runs the real client once, sending `message`, and checks what it shows.
fn run_client(server: &Server, message: &str) {
    client(&client_bin())
        .args(["127.0.0.1", &server.port().to_string()])
        .write_stdin(format!("{message}\n"))
        .assert()
        .success()
        .stdout(format!("{PROMPT}{REPLY}\n"));
}

/// `count` distinct messages of about 200 bytes, newline included, so
/// that an interleaved line would show.
fn long_messages(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("client {i:03} {}\n", "abcdefghij".repeat(19)))
        .collect()
}

/// The stdout line the server prints for `message`.
fn printed(message: &str) -> String {
    format!("Here is the message: {}", message.trim_end_matches('\n'))
}

/// A burst: opens one connection per message, all of them before any is
/// used, so that every child exists at once; then sends each its message
/// and half-closes; then reads every reply to its end (the child's exit).
/// Returns the replies in order.
fn burst(server: &Server, messages: &[String]) -> Vec<Vec<u8>> {
    let mut peers: Vec<TcpStream> = messages.iter().map(|_| server.connect()).collect();
    for (peer, message) in peers.iter_mut().zip(messages) {
        peer.write_all(message.as_bytes())
            .expect("sending a message");
        let _ = peer.shutdown(Shutdown::Write);
    }
    // One deadline for all the reads, so that a server that never closes
    // costs the test WAIT once, not WAIT per connection.
    let deadline = Instant::now() + WAIT;
    peers
        .into_iter()
        .map(|mut peer| {
            let left = deadline.saturating_duration_since(Instant::now());
            peer.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .ok();
            let mut reply = Vec::new();
            // A reset after the reply is fine; what arrived before it stays.
            let _ = peer.read_to_end(&mut reply);
            reply
        })
        .collect()
}

/// Waits until the parent holds no connected socket (it closes its copy
/// just after fork() returns, which may be a moment after the child has
/// answered), then counts its open descriptors.
fn settled_descriptors(server: &Server) -> usize {
    let settled = wait_until(WAIT, || connected_tcp_sockets(server.pid()) == 0);
    assert!(
        settled,
        "the parent still holds {} connected socket(s) {WAIT:?} after its clients were answered: \
         it must close each connection after fork()",
        connected_tcp_sockets(server.pid())
    );
    server.open_descriptors()
}

/// The tutorial's session, through a fork: the client sends `hello`, the
/// child prints it once and answers, and the server keeps running.
#[test]
fn client_and_server_exchange_one_message() {
    let mut server = start_server();
    run_client(&server, "hello");
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Here is the message: hello"]
    );
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server must keep running"
    );
}

/// On the wire, each child answers with exactly the 18 bytes
/// `I got your message`, as lesson 01's server did.
#[test]
fn server_replies_with_exactly_eighteen_bytes() {
    let server = start_server();
    assert_eq!(exchange(server.connect(), b"raw peer\n"), REPLY.as_bytes());
    assert_eq!(
        exchange(server.connect(), b"second peer\n"),
        REPLY.as_bytes()
    );
    assert_eq!(
        server
            .wait_for_stdout_lines(2)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        BTreeSet::from([printed("raw peer"), printed("second peer")])
    );
}

/// A client that connects and then says nothing must not hold up the next
/// client: the fork server gives each connection its own process.
#[test]
fn silent_client_does_not_delay_another() {
    let server = start_server();
    let silent = server.connect();
    run_client(&server, "not kept waiting");
    assert_eq!(
        server.wait_for_stdout_lines(1),
        [printed("not kept waiting")]
    );
    // The silent client is still being served, and is answered once it talks.
    assert_eq!(exchange(silent, b"finally\n"), REPLY.as_bytes());
}

/// Fifty clients one after another, each the real client binary: every one
/// is answered, and every message printed once.
#[test]
fn fifty_sequential_clients_are_all_answered() {
    let server = start_server();
    let messages: Vec<String> = (0..50).map(|i| format!("sequential {i}")).collect();
    for message in &messages {
        run_client(&server, message);
    }
    let lines: BTreeSet<String> = server.wait_for_stdout_lines(50).into_iter().collect();
    assert_eq!(lines, messages.iter().map(|m| printed(m)).collect());
}

/// Twenty clients at the same time, each the real client binary on a
/// thread of its own: all answered, every message printed once.
#[test]
fn twenty_concurrent_clients_are_all_answered() {
    let server = start_server();
    let messages: Vec<String> = (0..20).map(|i| format!("concurrent {i}")).collect();
    thread::scope(|scope| {
        for message in &messages {
            let server = &server;
            scope.spawn(move || run_client(server, message));
        }
    });
    let lines: BTreeSet<String> = server.wait_for_stdout_lines(20).into_iter().collect();
    assert_eq!(lines, messages.iter().map(|m| printed(m)).collect());
}

/// The parent closes every connection it hands to a child: its count of
/// open descriptors is the same after 100 connections as after 1.
#[test]
fn parent_descriptor_count_does_not_grow() {
    let server = start_server();
    assert_eq!(exchange(server.connect(), b"first\n"), REPLY.as_bytes());
    let after_one = settled_descriptors(&server);
    let messages: Vec<String> = (1..100).map(|i| format!("connection {i}\n")).collect();
    for reply in burst(&server, &messages) {
        assert_eq!(reply, REPLY.as_bytes());
    }
    let after_hundred = settled_descriptors(&server);
    assert_eq!(
        after_one, after_hundred,
        "descriptors after 1 connection vs after 100"
    );
}

/// Fifty concurrent children print through one stdout; each line is
/// written whole, so every line is exactly one expected line and each
/// message appears once.
#[test]
fn stdout_lines_stay_whole_under_fifty_concurrent_clients() {
    let server = start_server();
    let messages = long_messages(50);
    for reply in burst(&server, &messages) {
        assert_eq!(reply, REPLY.as_bytes());
    }
    let lines = server.wait_for_stdout_lines(50);
    let expected: BTreeSet<String> = messages.iter().map(|m| printed(m)).collect();
    for line in &lines {
        assert!(
            expected.contains(line),
            "a mixed or unexpected line: {line:?}"
        );
    }
    assert_eq!(lines.len(), 50, "one line per client");
    assert_eq!(lines.into_iter().collect::<BTreeSet<_>>(), expected);
}

/// This server never waits for its children: once their clients are done,
/// they stay zombies (state Z) for as long as the server runs.
#[test]
fn finished_children_stay_zombies() {
    let server = start_server();
    let messages: Vec<String> = (0..5).map(|i| format!("zombie {i}\n")).collect();
    for reply in burst(&server, &messages) {
        assert_eq!(reply, REPLY.as_bytes());
    }
    let all_zombies = wait_until(WAIT, || {
        let children = server.children();
        children.len() == 5 && children.iter().all(|c| c.is_zombie())
    });
    assert!(
        all_zombies,
        "expected 5 zombie children, found {:?}",
        server.children()
    );
}

/// A parent that ignores SIGCHLD passes that on, and the kernel would then
/// reap the children behind the server's back. The server restores the
/// default, so its finished children still show as zombies.
#[test]
fn inherited_ignored_sigchld_does_not_hide_the_zombies() {
    let server = start_server_with_ignored(Signal::SIGCHLD);
    let messages: Vec<String> = (0..3).map(|i| format!("hidden? {i}\n")).collect();
    for reply in burst(&server, &messages) {
        assert_eq!(reply, REPLY.as_bytes());
    }
    let all_zombies = wait_until(WAIT, || {
        let children = server.children();
        children.len() == 3 && children.iter().all(|c| c.is_zombie())
    });
    assert!(
        all_zombies,
        "expected 3 zombie children (SIGCHLD's default action restored), found {:?}",
        server.children()
    );
}

/// SIGINT and SIGTERM stop the server within 1 s, also after it has forked
/// children.
#[test]
fn signals_stop_the_server_within_a_second() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let mut server = start_server();
        assert_eq!(
            exchange(server.connect(), b"before the signal\n"),
            REPLY.as_bytes()
        );
        server.signal(signal);
        assert!(
            server.wait_for_exit(Duration::from_secs(1)).is_some(),
            "the server still runs 1 s after {signal}"
        );
    }
}

/// A shell starts a background job with SIGINT ignored; the server puts
/// the default action back, so SIGINT still stops it within 1 s.
#[test]
fn sigint_stops_a_server_started_with_sigint_ignored() {
    let mut server = start_server_with_ignored(Signal::SIGINT);
    server.signal(Signal::SIGINT);
    assert!(
        server.wait_for_exit(Duration::from_secs(1)).is_some(),
        "the server ignores SIGINT: it did not restore the default action at start"
    );
}

/// Ports are decimal integers 0..=65535; anything else, or none, is a
/// usage error (exit 2) whose message mentions the port.
#[test]
fn bad_or_missing_ports_are_usage_errors() {
    for bad in ["abc", "70000", "-1", ""] {
        client(&server_bin())
            .arg(bad)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("port"));
        client(&client_bin())
            .args(["localhost", bad])
            .assert()
            .code(2)
            .stderr(predicate::str::contains("port"));
    }
    let mentions_port = || predicate::str::contains("port").or(predicate::str::contains("PORT"));
    client(&server_bin())
        .assert()
        .code(2)
        .stderr(mentions_port());
    client(&client_bin())
        .arg("localhost")
        .assert()
        .code(2)
        .stderr(mentions_port());
    client(&server_bin()).args(["0", "1"]).assert().code(2);
}

/// `-h` and `--help`: usage on stdout, exit 0, for server and client.
#[test]
fn help_prints_usage_and_exits_zero() {
    for bin in [server_bin(), client_bin()] {
        for args in [&["--help"][..], &["-h"], &["0", "--help"]] {
            client(&bin)
                .args(args)
                .assert()
                .success()
                .stdout(predicate::str::contains("usage"));
        }
    }
}

/// The readiness line names the port the kernel really chose for port 0.
#[test]
fn readiness_line_names_the_real_port() {
    let server = start_server();
    let expected = format!("listening on 0.0.0.0:{}", server.port());
    if expects_readiness_line() {
        let line = server.wait_for_stderr_line("listening on ");
        assert_eq!(
            line.as_deref(),
            Some(expected.as_str()),
            "stderr: {}",
            server.stderr_text()
        );
    } else if let Some(line) = server
        .stderr_text()
        .lines()
        .find(|l| l.starts_with("listening on "))
    {
        // Optional for this implementation, but if printed, it must be right.
        assert_eq!(line, expected);
    }
}

/// The client is lesson 01's: with nothing listening it exits 1 and says
/// `ERROR connecting` and `Connection refused`.
#[test]
fn client_reports_connection_refused() {
    client(&client_bin())
        .args(["127.0.0.1", &refused_port().to_string()])
        .write_stdin("hello\n")
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("ERROR connecting")
                .and(predicate::str::contains("Connection refused")),
        );
}
