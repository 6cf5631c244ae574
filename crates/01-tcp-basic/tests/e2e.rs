//! End-to-end checks of lesson 01 against the contract (section 01 and the
//! rules for every binary). They drive the real binaries: ours by default,
//! or any other implementation named by `LESSON_BIN_TCP_SERVER` and
//! `LESSON_BIN_TCP_CLIENT` (with `LESSON_NO_READINESS_LINE=1` for programs
//! that print no readiness line, such as the tutorial's C).
//!
//! Every server listens on port 0 and is found through the kernel's socket
//! table, every wait is bounded, and every process is killed on drop.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::path::PathBuf;
use std::time::Duration;

use lesson_testing::run::predicate;
use lesson_testing::stream::{exchange, read_line, PROMPT};
use lesson_testing::tcp::{self, fake_server};
use lesson_testing::{binary, client, rules, Interactive, Server, Transport, WAIT};
use nix::sys::signal::Signal;

/// The server's 18-byte reply, as text (the client prints it on a line).
const REPLY: &str = "I got your message";

fn server_bin() -> PathBuf {
    binary("tcp-server", env!("CARGO_BIN_EXE_tcp-server"))
}

fn client_bin() -> PathBuf {
    binary("tcp-client", env!("CARGO_BIN_EXE_tcp-client"))
}

/// The client under test, bounded by `WAIT`, pointed at loopback `port`.
fn client_to(port: u16) -> lesson_testing::run::Command {
    let mut command = client(&client_bin());
    command.args(["127.0.0.1", &port.to_string()]);
    command
}

fn start_server() -> Server {
    Server::start(&server_bin(), &["0"], Transport::Tcp)
}

/// The tutorial's session: the client sends `hello`, the server prints it
/// once (its newline not doubled) and answers, and both exit 0.
///
/// Rule: 01: the server reads one message, prints `Here is the message: <msg>`, writes `I got your message` back and exits 0; the client prints the reply
/// Read: "The server, step by step"
#[test]
fn client_and_server_exchange_one_message() {
    let mut server = start_server();
    client_to(server.port())
        .write_stdin("hello\n")
        .assert()
        .success()
        .stdout(format!("{PROMPT}{REPLY}\n"));
    let status = server
        .wait_for_exit(WAIT)
        .expect("the server exits after one client");
    assert!(
        status.success(),
        "server exit status {status}; stderr: {}",
        server.stderr_text()
    );
    assert_eq!(server.stdout_bytes(), b"Here is the message: hello\n");
}

/// `localhost` works as HOST. The server listens on IPv4 only, and the
/// resolver may list `::1` first, second or not at all, so the check
/// relays `[::1]` to the server: whatever the order, the first address
/// leads to it. This checks the name; trying the next address when one
/// refuses is `client_tries_every_address_in_turn`'s business, on a name
/// whose addresses do not depend on the machine.
///
/// Rule: 01: HOST is a name or an address literal, resolved by the system resolver
/// Read: "From gethostbyname to getaddrinfo"
#[test]
fn client_reaches_the_server_through_localhost() {
    let server = start_server();
    let _relay = tcp::relay_from_ipv6_loopback(server.port());
    client(&client_bin())
        .args(["localhost", &server.port().to_string()])
        .write_stdin("via localhost\n")
        .assert()
        .success()
        .stdout(predicate::str::ends_with(format!("{REPLY}\n")));
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Here is the message: via localhost"]
    );
}

/// A host with two addresses, the first refusing (127.0.0.2, where
/// nothing listens) and the second answering (127.0.0.1): the client is
/// refused at the first and connects to the second. The name is one that
/// only a library the check preloads resolves, so the check is the same on
/// every machine, whatever its resolver makes of `localhost`.
///
/// Rule: 01: HOST's addresses are tried in the resolver's order until one connects
/// Read: "Connecting"
#[test]
fn client_tries_every_address_in_turn() {
    rules::assert_every_address_tried(&client_bin());
}

/// A reply that arrives in two pieces, the second only after the client
/// has read the first, is printed whole: the client reads until the
/// server closes the connection, not once.
///
/// Rule: 01: the client reads the reply until the server closes the connection (a stream may deliver it in pieces)
/// Read: "Reading the reply"
#[test]
fn client_reads_the_reply_until_the_server_closes() {
    rules::assert_reply_read_until_closed(&client_bin(), None);
}

/// A line of many megabytes (20 MB, or more than this machine's socket
/// buffers can hold): the server reads 255 bytes, answers and closes with
/// the rest unread, so the client's write fails; the client still prints
/// the reply and exits 0, and the server exits too.
///
/// Rule: 01: a line longer than 255 bytes makes neither side crash or hang: the client still prints the reply and exits 0 (the server closes with input unread, so the client may see a reset)
/// Read: "Sending"
#[test]
fn a_line_of_many_megabytes_still_gets_the_reply() {
    let mut server = start_server();
    rules::assert_huge_line_still_answered(&client_bin(), &server);
    assert!(server.wait_for_exit(WAIT).is_some(), "the server exits");
}

/// On the wire, the server answers with exactly the 18 bytes
/// `I got your message`: no newline, no NUL.
///
/// Rule: 01: the server writes exactly `I got your message` (18 bytes) back
/// Read: "Step 6: `write()`"
#[test]
fn server_replies_with_exactly_eighteen_bytes() {
    let server = start_server();
    let reply = exchange(server.connect(), b"raw peer\n");
    assert_eq!(reply, REPLY.as_bytes());
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Here is the message: raw peer"]
    );
}

/// On the wire, the client sends the typed line with its newline, and
/// prints whatever the server replies on a line of its own.
///
/// Rule: 01: the client sends the line it read, newline included, and prints the reply on its own line
/// Read: "Sending"
#[test]
fn client_sends_the_line_with_its_newline() {
    let (port, peer) = fake_server(|mut stream| {
        let line = read_line(&mut stream);
        assert_eq!(line, b"exact bytes\n");
        stream.write_all(b"fake reply").expect("fake reply");
    });
    client_to(port)
        .write_stdin("exact bytes\n")
        .assert()
        .success()
        .stdout(format!("{PROMPT}fake reply\n"));
    peer.join().expect("the fake server saw the expected bytes");
}

/// The prompt appears before the client reads its input, even though its
/// stdout is a pipe (no buffering holds it back).
///
/// Rule: 01: the client prints the prompt `Please enter the message: ` before it reads its line; every binary: stdout is flushed even into a pipe
/// Read: "Reading the message"
#[test]
fn client_prompts_before_reading_input() {
    let (port, peer) = fake_server(|mut stream| {
        let line = read_line(&mut stream);
        stream.write_all(&line).expect("echo");
    });
    let mut typist = Interactive::start(&client_bin(), &["127.0.0.1", &port.to_string()]);
    assert!(
        typist.wait_for_stdout(PROMPT.as_bytes()),
        "no prompt while the client waits for input; stdout {:?}, stderr {:?}",
        String::from_utf8_lossy(&typist.stdout_bytes()),
        typist.stderr_text()
    );
    typist.type_and_close(b"typed after the prompt\n");
    let status = typist.wait_for_exit().expect("the client exits");
    assert!(
        status.success(),
        "client exit status {status}: {}",
        typist.stderr_text()
    );
    assert_eq!(
        typist.stdout_bytes(),
        format!("{PROMPT}typed after the prompt\n").as_bytes()
    );
    peer.join().expect("fake server");
}

/// Bytes that are not UTF-8 cross intact and are shown lossily, each bad
/// sequence as U+FFFD, on both sides.
///
/// Rule: every binary: messages — bytes, not necessarily UTF-8, shown lossily
/// Read: "Step 5: `read()`"
#[test]
fn non_utf8_bytes_are_shown_lossily() {
    let server = start_server();
    client_to(server.port())
        .write_stdin(&b"caf\xe9 \xff ok\n"[..])
        .assert()
        .success();
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Here is the message: caf\u{FFFD} \u{FFFD} ok"]
    );

    let (port, peer) = fake_server(|mut stream| {
        read_line(&mut stream);
        stream.write_all(b"r\xc3\x28eply").expect("fake reply");
    });
    client_to(port)
        .write_stdin("x\n")
        .assert()
        .success()
        .stdout(format!("{PROMPT}r\u{FFFD}(eply\n"));
    peer.join().expect("fake server");
}

/// A 1000-byte line: the server reads the first 255 bytes (one read, as
/// taught), the client still prints the reply and exits 0, nobody hangs.
///
/// Rule: 01: a line longer than 255 bytes makes neither side crash or hang: the server reads at most 255 bytes, the client still prints the reply and exits 0
/// Read: "Sending"
#[test]
fn a_line_longer_than_255_bytes_is_cut_not_fatal() {
    let mut server = start_server();
    let long = "a".repeat(1000);
    client_to(server.port())
        .write_stdin(format!("{long}\n"))
        .assert()
        .success()
        .stdout(format!("{PROMPT}{REPLY}\n"));
    let lines = server.wait_for_stdout_lines(1);
    let shown = lines[0]
        .strip_prefix("Here is the message: ")
        .expect("the message line");
    assert!(
        !shown.is_empty() && shown.len() <= 255 && shown.bytes().all(|b| b == b'a'),
        "the server should show at most 255 bytes of the line, showed {} bytes",
        shown.len()
    );
    assert!(server.wait_for_exit(WAIT).is_some(), "the server exits");
}

/// End of input before any line: the client sends nothing, half-closes,
/// and still prints the server's reply.
///
/// Rule: 01: end of input before any line: the client sends nothing, half-closes, and still prints the server's reply
/// Read: "Sending"
#[test]
fn empty_input_sends_nothing_and_still_gets_the_reply() {
    let (port, peer) = fake_server(|mut stream| {
        let mut received = Vec::new();
        // Returns only when the client half-closes.
        stream
            .read_to_end(&mut received)
            .expect("reading until the half-close");
        assert!(received.is_empty(), "client sent {received:?}");
        stream.write_all(REPLY.as_bytes()).expect("reply");
    });
    client_to(port)
        .write_stdin("")
        .assert()
        .success()
        .stdout(format!("{PROMPT}{REPLY}\n"));
    peer.join()
        .expect("the fake server saw a half-close and no bytes");

    let server = start_server();
    client_to(server.port())
        .write_stdin("")
        .assert()
        .success()
        .stdout(format!("{PROMPT}{REPLY}\n"));
    assert_eq!(server.wait_for_stdout_lines(1), ["Here is the message: "]);
}

/// A server that closes without replying: the client fails (exit 1) with
/// the reading step named, instead of printing an empty reply.
///
/// Rule: every binary: exit status — no reply is a runtime failure: exit 1, with `ERROR reading from socket`
/// Read: "Reading the reply"
#[test]
fn client_reports_a_missing_reply() {
    let (port, peer) = fake_server(|mut stream| {
        read_line(&mut stream);
        let _ = stream.shutdown(Shutdown::Both);
    });
    client_to(port)
        .write_stdin("anyone there?\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("ERROR reading from socket"));
    peer.join().expect("fake server");
}

/// A client that connects and vanishes (reset, nothing sent) does not make
/// the server panic: it ends with 0 or with a one-line ERROR and status 1.
///
/// Rule: every binary: errors — a failed call is one `ERROR on <step>: <reason>` line and exit 1, never a panic
/// Read: "Step 5: `read()`"
#[test]
fn a_vanishing_client_does_not_crash_the_server() {
    let mut server = start_server();
    let peer = socket2::Socket::from(server.connect().into_tcp());
    peer.set_linger(Some(Duration::ZERO)).expect("SO_LINGER 0");
    drop(peer); // close with linger 0: a reset
    let status = server.wait_for_exit(WAIT).expect("the server ends");
    let stderr = server.stderr_text();
    assert!(!stderr.contains("panicked"), "server panicked: {stderr}");
    match status.code() {
        Some(0) => {}
        Some(1) => assert!(
            stderr.contains("ERROR"),
            "exit 1 without an ERROR line: {stderr}"
        ),
        other => panic!("server ended with {other:?} ({status}); stderr: {stderr}"),
    }
}

/// A port another socket listens on: exit 1, and the error names the step
/// (`binding`) and the OS reason.
///
/// Rule: every binary: errors — The line names the step that failed and gives the operating system's reason, in the tutorial's style
/// Read: "Step 2: `bind()`"
#[test]
fn server_reports_a_port_in_use() {
    rules::assert_port_in_use_reported(&server_bin(), &[]);
}

/// Nothing listening: exit 1 with `ERROR connecting` and the OS reason.
///
/// Rule: every binary: errors — If nothing listens on the port, it exits with status 1 and stderr says `ERROR connecting` and `Connection refused`
/// Read: "Connecting"
#[test]
fn client_reports_connection_refused() {
    rules::assert_connection_refused(&client_bin());
}

/// A host the resolver does not know (`.invalid` never resolves): exit 1
/// with `no such host`.
///
/// Rule: every binary: errors — If HOST cannot be resolved, the client exits with status 1 and stderr says `no such host`
/// Read: "Looking up the host"
#[test]
fn client_reports_an_unknown_host() {
    rules::assert_unknown_host_reported(&client_bin());
}

/// Ports are decimal integers 0..=65535; anything else, or none, is a
/// usage error (exit 2) whose message mentions the port.
///
/// Rule: every binary: ports — A port is a decimal number from 0 to 65535. Port 0 asks the kernel to pick a free port. Anything else (`abc`, `-1`, `70000`) is a usage error
/// Read: "The port argument"
#[test]
fn bad_or_missing_ports_are_usage_errors() {
    rules::assert_bad_ports_rejected(&server_bin(), &[], &[]);
    rules::assert_bad_ports_rejected(&client_bin(), &["localhost"], &[]);
}

/// Extra arguments are usage errors too (exit 2), not silently ignored.
///
/// Rule: every binary: arguments — Missing or extra arguments, or an argument that does not parse, are a usage error
/// Read: "The port argument"
#[test]
fn extra_arguments_are_usage_errors() {
    rules::assert_extra_argument_rejected(&server_bin(), &["0"]);
    rules::assert_extra_argument_rejected(&client_bin(), &["localhost", "1"]);
}

/// `-h` and `--help`, anywhere on the line: usage on stdout, exit 0.
///
/// Rule: every binary: help — `-h` or `--help`, anywhere on the line, prints a usage text on stdout (it contains the word `usage`) and exits with status 0
/// Read: "The port argument"
#[test]
fn help_prints_usage_and_exits_zero() {
    rules::assert_help(&server_bin(), &["0"]);
    rules::assert_help(&client_bin(), &["localhost", "1"]);
}

/// The readiness line names the port the kernel really chose for port 0.
///
/// Rule: every binary: the readiness line — A server prints exactly one line on stderr as soon as its socket is bound, and, for stream sockets, listening
/// Read: "The readiness line, and why nobody sleeps"
#[test]
fn readiness_line_names_the_real_address() {
    rules::assert_readiness_line(&start_server());
}

/// SIGINT and SIGTERM stop a server waiting in accept within 1 s.
///
/// Rule: every binary: stopping a server — SIGINT (Ctrl-C) or SIGTERM ends any server within a second
/// Read: "The port argument"
#[test]
fn stop_signals_end_the_server_within_a_second() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        rules::assert_stops_on(&mut start_server(), signal);
    }
}

/// A shell starts a background job with SIGINT ignored; the server puts
/// the default action back, so SIGINT still stops it within 1 s.
///
/// Rule: every binary: stopping a server — Servers restore the default action of both signals when they start, because a shell may start a background job with SIGINT ignored
/// Read: "The port argument"
#[test]
fn sigint_stops_a_server_started_with_sigint_ignored() {
    rules::assert_sigint_restored(&server_bin(), &["0"], Transport::Tcp);
}

/// A process inherits its parent's signal mask, across fork and exec.
/// Started with SIGINT and SIGTERM blocked, the server unblocks them, so
/// each still stops it within 1 s while it waits in accept.
///
/// Rule: every binary: stopping a server — and unblock them, because a process inherits its parent's blocked-signal mask and restoring the action does not change it
/// Read: "The port argument"
#[test]
fn signals_stop_a_server_started_with_them_blocked() {
    rules::assert_stop_signals_unblocked(&server_bin(), &["0"], Transport::Tcp);
}
