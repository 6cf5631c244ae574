//! End-to-end checks of lesson 04 against the contract (section 04 and the
//! rules for every binary). They drive the real binaries: ours by default,
//! or any other implementation named by `LESSON_BIN_UDP_SERVER` and
//! `LESSON_BIN_UDP_CLIENT` (with `LESSON_NO_READINESS_LINE=1` for programs
//! that print no readiness line, such as the tutorial's C).
//!
//! Every server binds port 0 and is found through the kernel's socket
//! table (`/proc/net/udp`), every wait is bounded, and every process is
//! killed on drop. A client is watched through the only window a datagram
//! client has: a stand-in server (`lesson_testing::udp::FakeServer`) that
//! counts what arrives and answers, drops or ignores it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use lesson_testing::run::predicate;
use lesson_testing::stream::PROMPT;
use lesson_testing::udp::{self, FakeServer};
use lesson_testing::{binary, client, rules, Interactive, Server, Transport};
use nix::sys::signal::Signal;

/// The server's answer on the wire: the tutorial's 17 bytes.
const REPLY: &[u8] = b"Got your message\n";

/// What the client prints after its prompt when the answer is [`REPLY`].
const PRINTED_REPLY: &str = "Got your message\n";

fn server_bin() -> PathBuf {
    binary("udp-server", env!("CARGO_BIN_EXE_udp-server"))
}

fn client_bin() -> PathBuf {
    binary("udp-client", env!("CARGO_BIN_EXE_udp-client"))
}

fn start_server() -> Server {
    Server::start(&server_bin(), &["0"], Transport::Udp)
}

/// The client under test, bounded by `WAIT`, pointed at loopback `port`,
/// with `options` (`--timeout`, `--retries`) after the positionals.
fn client_to(port: u16, options: &[&str]) -> lesson_testing::run::Command {
    let mut command = client(&client_bin());
    command.args(["127.0.0.1", &port.to_string()]).args(options);
    command
}

/// Sends `message` to the server from a fresh socket and returns the
/// answer, checking that it came from the server's own address.
fn ask(server: &Server, message: &[u8]) -> Vec<u8> {
    let peer = udp::socket();
    peer.send_to(message, server.loopback())
        .expect("sending a datagram");
    let (answer, sender) = udp::receive(&peer);
    assert_eq!(sender, server.loopback(), "the answer's sender");
    answer
}

/// The tutorial's session: the client sends `hello` as one datagram, the
/// server prints it once (its newline not doubled) and answers, the
/// client prints the answer and exits 0, and the server keeps running.
///
/// Rule: 04: each datagram prints `Received a datagram: <msg>` and is answered; the client prints the reply and exits 0; the server runs until stopped
/// Read: "The server, step by step"
#[test]
fn client_and_server_exchange_one_message() {
    let mut server = start_server();
    client_to(server.port(), &[])
        .write_stdin("hello\n")
        .assert()
        .success()
        .stdout(format!("{PROMPT}{PRINTED_REPLY}"));
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Received a datagram: hello"]
    );
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server runs until stopped; stderr: {}",
        server.stderr_text()
    );
}

/// `localhost` works as HOST, whichever of ::1 and 127.0.0.1 the resolver
/// returns first (the server is bound to IPv4 only).
///
/// Rule: 04: HOST is a name or an address, resolved by the system resolver
/// Read: "Looking up the host"
#[test]
fn client_reaches_the_server_through_localhost() {
    let server = start_server();
    client(&client_bin())
        .args(["localhost", &server.port().to_string()])
        .write_stdin("via localhost\n")
        .assert()
        .success()
        .stdout(format!("{PROMPT}{PRINTED_REPLY}"));
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Received a datagram: via localhost"]
    );
}

/// On the wire, the server answers each datagram with exactly the 17
/// bytes `Got your message\n`, sent from its port to the sender's.
///
/// Rule: 04: the reply is `Got your message` plus a newline, exactly 17 bytes, sent to the datagram's sender
/// Read: "Step 5: `sendto()`"
#[test]
fn server_replies_with_exactly_seventeen_bytes() {
    let server = start_server();
    assert_eq!(ask(&server, b"raw peer\n"), REPLY);
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Received a datagram: raw peer"]
    );
}

/// Three datagrams sent back to back, without waiting for answers, are
/// three messages: three lines (never merged into one, never split) and
/// three answers.
///
/// Rule: 04: datagrams are never merged or split: one line and one reply per datagram
/// Read: "Streams and datagrams"
#[test]
fn three_datagrams_give_three_lines_and_three_replies() {
    let server = start_server();
    let peer = udp::socket();
    let messages = ["first\n", "second\n", "third\n"];
    for message in messages {
        peer.send_to(message.as_bytes(), server.loopback())
            .expect("sending a datagram");
    }
    for _ in &messages {
        let (answer, sender) = udp::receive(&peer);
        assert_eq!(answer, REPLY);
        assert_eq!(sender, server.loopback());
    }
    let mut lines = server.wait_for_stdout_lines(3);
    // UDP does not promise order; it promises boundaries.
    lines.sort();
    assert_eq!(
        lines,
        [
            "Received a datagram: first",
            "Received a datagram: second",
            "Received a datagram: third",
        ]
    );
}

/// A 2000-byte datagram: one line with its first 1024 bytes that says the
/// datagram was truncated, an answer all the same, and the rest of it
/// discarded, not served as a second datagram.
///
/// Rule: 04: a datagram over 1024 bytes does not crash the server: it prints the first 1024 bytes, says the datagram was truncated, and replies
/// Read: "Step 4: one line per datagram"
#[test]
fn a_long_datagram_is_cut_reported_and_still_answered() {
    let server = start_server();
    assert_eq!(ask(&server, &[b'x'; 2000]), REPLY);
    assert_eq!(ask(&server, b"next\n"), REPLY);
    let lines = server.wait_for_stdout_lines(2);
    let first = lines[0]
        .strip_prefix("Received a datagram: ")
        .unwrap_or_else(|| panic!("the datagram's line: {:?}", lines[0]));
    let shown = first.bytes().take_while(|&b| b == b'x').count();
    assert_eq!(shown, 1024, "the line shows the first 1024 bytes");
    assert!(
        first.contains("truncated"),
        "the line says the datagram was truncated: {first:?}"
    );
    assert_eq!(lines[1], "Received a datagram: next");
    assert_eq!(
        server.stdout_lines().len(),
        2,
        "{:?}",
        server.stdout_lines()
    );
    let stderr = server.stderr_text();
    assert!(!stderr.contains("panicked"), "server panicked: {stderr}");
}

/// An empty datagram is a datagram: it gets its line and its answer.
///
/// Rule: 04: each datagram, an empty one too, prints one line and gets the reply
/// Read: "The message"
#[test]
fn an_empty_datagram_is_served_too() {
    let server = start_server();
    assert_eq!(ask(&server, b""), REPLY);
    assert_eq!(server.wait_for_stdout_lines(1), ["Received a datagram: "]);
}

/// Bytes that are not UTF-8 cross intact and are shown lossily, each bad
/// sequence as U+FFFD, on both sides.
///
/// Rule: every binary: messages — bytes, not necessarily UTF-8, shown lossily
/// Read: "Step 4: one line per datagram"
#[test]
fn non_utf8_bytes_are_shown_lossily() {
    let server = start_server();
    assert_eq!(ask(&server, b"caf\xe9 \xff ok\n"), REPLY);
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Received a datagram: caf\u{FFFD} \u{FFFD} ok"]
    );

    let fake = FakeServer::answering_after(0, b"r\xc3\x28eply");
    client_to(fake.port(), &[])
        .write_stdin("x\n")
        .assert()
        .success()
        .stdout(format!("{PROMPT}r\u{FFFD}(eply\n"));
}

/// A client that sent a datagram and vanished before the answer does not
/// stop the server: the next client is served.
///
/// Rule: 04: the server runs until stopped: a client that vanished before its reply does not stop it
/// Read: "Step 5: `sendto()`"
#[test]
fn a_vanished_client_does_not_stop_the_server() {
    let server = start_server();
    let gone = udp::socket();
    gone.send_to(b"gone\n", server.loopback())
        .expect("sending a datagram");
    drop(gone);
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Received a datagram: gone"]
    );
    assert_eq!(ask(&server, b"still there?\n"), REPLY);
    assert_eq!(
        server.wait_for_stdout_lines(2)[1],
        "Received a datagram: still there?"
    );
}

/// On the wire, the client sends the typed line, newline included, as
/// ONE datagram, and prints whatever comes back on a line of its own.
///
/// Rule: 04: the client sends the line it read, newline included, as one datagram, and prints the reply
/// Read: "The message"
#[test]
fn client_sends_the_line_as_one_datagram() {
    let fake = FakeServer::answering_after(0, b"fake reply");
    client_to(fake.port(), &[])
        .write_stdin("exact bytes\n")
        .assert()
        .success()
        .stdout(format!("{PROMPT}fake reply\n"));
    assert_eq!(fake.finish(), [b"exact bytes\n".to_vec()]);
}

/// The prompt appears before the client reads its input, even though its
/// stdout is a pipe (no buffering holds it back).
///
/// Rule: 04: the client prints the prompt `Please enter the message: ` before it reads its line
/// Read: "The message"
#[test]
fn client_prompts_before_reading_input() {
    let fake = FakeServer::answering_after(0, REPLY);
    let mut typist = Interactive::start(&client_bin(), &["127.0.0.1", &fake.port().to_string()]);
    assert!(
        typist.wait_for_stdout(PROMPT.as_bytes()),
        "no prompt while the client waits for input; stdout {:?}, stderr {:?}",
        String::from_utf8_lossy(&typist.stdout_bytes()),
        typist.stderr_text()
    );
    assert_eq!(fake.count(), 0, "the client sent before it had a line");
    typist.type_and_close(b"typed after the prompt\n");
    let status = typist.wait_for_exit().expect("the client exits");
    assert!(
        status.success(),
        "client exit status {status}: {}",
        typist.stderr_text()
    );
    assert_eq!(
        typist.stdout_bytes(),
        format!("{PROMPT}{PRINTED_REPLY}").as_bytes()
    );
}

/// A stand-in server that drops the first datagram, as a lossy network
/// would, and answers the second: the client waits out its timeout, sends
/// the line again, prints the answer and exits 0. The stand-in saw
/// exactly two datagrams, both the line.
///
/// Rule: 04: the client waits at most `--timeout` seconds for a reply and resends up to `--retries` times
/// Read: "Send, wait, send again"
#[test]
fn client_sends_again_when_the_first_datagram_is_lost() {
    let fake = FakeServer::answering_after(1, REPLY);
    client_to(fake.port(), &["--timeout", "1", "--retries", "3"])
        .write_stdin("are you there?\n")
        .assert()
        .success()
        .stdout(format!("{PROMPT}{PRINTED_REPLY}"));
    let line = b"are you there?\n".to_vec();
    assert_eq!(fake.finish(), [line.clone(), line]);
}

/// A stand-in server that never answers: the client sends exactly
/// 1 + N datagrams (`--retries N`), waits `--timeout` after each, then
/// exits 1 with `no reply`. With `--timeout 0.2 --retries 2` that is 3
/// datagrams and about 0.6 s; with `--retries 0`, a single datagram.
///
/// Rule: 04: with no reply, the client sends exactly 1 + N datagrams and exits 1 with `no reply` after about (1 + N) × SECS
/// Read: "Send, wait, send again"
#[test]
fn client_sends_one_plus_retries_datagrams_then_gives_up() {
    for (timeout, retries, datagrams) in [("0.2", "2", 3), ("0.1", "0", 1)] {
        let fake = FakeServer::silent();
        let started = Instant::now();
        client_to(fake.port(), &["--timeout", timeout, "--retries", retries])
            .write_stdin("hello?\n")
            .assert()
            .code(1)
            .stderr(predicate::str::contains("no reply"));
        let took = started.elapsed();
        let received = fake.finish();
        assert_eq!(
            received,
            vec![b"hello?\n".to_vec(); datagrams],
            "--timeout {timeout} --retries {retries}"
        );
        let budget = Duration::from_secs_f64(timeout.parse::<f64>().unwrap() * datagrams as f64);
        assert!(
            took >= budget.mul_f64(0.9),
            "gave up after {took:?}, before waiting out {datagrams} timeouts of {timeout} s"
        );
        assert!(
            took < budget + Duration::from_secs(5),
            "gave up only after {took:?}; the budget was {budget:?}"
        );
    }
}

/// Nothing at all at the port: the kernel answers each datagram with an
/// ICMP "port unreachable", which must not end the client early. It still
/// waits out every attempt, then exits 1 with `no reply`.
///
/// Rule: 04: with nothing at the port, the client still waits out all 1 + N attempts, then exits 1 with `no reply`
/// Read: "`connect()` on a datagram socket"
#[test]
fn no_server_at_all_means_no_reply_after_every_attempt() {
    let started = Instant::now();
    client_to(udp::unused_port(), &["--timeout", "0.2", "--retries", "2"])
        .write_stdin("anyone?\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no reply"));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(540),
        "gave up after {took:?}, before waiting out 3 timeouts of 0.2 s"
    );
}

/// Bad `--timeout` (not a number of seconds above 0) or `--retries` (not
/// a whole number, 0 or more) values are usage errors, exit 2, and so is
/// an option without its value.
///
/// Rule: 04: `--timeout` is a number of seconds above 0, `--retries` a whole number, 0 or more; anything else is a usage error, exit 2
/// Read: "Options: `--timeout` and `--retries`"
#[test]
fn bad_timeout_or_retries_values_are_usage_errors() {
    let port = udp::unused_port();
    let bad: &[&[&str]] = &[
        &["--timeout", "0"],
        &["--timeout", "-1"],
        &["--timeout", "abc"],
        &["--timeout", ""],
        &["--timeout", "1s"],
        &["--timeout=0"],
        &["--retries", "-1"],
        &["--retries", "1.5"],
        &["--retries", "abc"],
        &["--retries", ""],
        &["--retries=two"],
        &["--timeout"],
        &["--retries"],
    ];
    for options in bad {
        client_to(port, options)
            .write_stdin("hello\n")
            .assert()
            .code(2);
    }
}

/// Options may come before the positional arguments too.
///
/// Rule: every binary: arguments — options may come before or after the positional arguments
/// Read: "Options: `--timeout` and `--retries`"
#[test]
fn options_may_come_before_the_arguments() {
    let server = start_server();
    client(&client_bin())
        .args(["--retries", "1", "--timeout", "2", "127.0.0.1"])
        .arg(server.port().to_string())
        .write_stdin("options first\n")
        .assert()
        .success()
        .stdout(format!("{PROMPT}{PRINTED_REPLY}"));
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

/// A UDP port another socket has bound: exit 1, and the error names the
/// step (`binding`) and the OS reason.
///
/// Rule: every binary: errors — The line names the step that failed and gives the operating system's reason, in the tutorial's style
/// Read: "Step 2: `bind()`, and nothing else"
#[test]
fn server_reports_a_port_in_use() {
    rules::assert_udp_port_in_use_reported(&server_bin(), &[]);
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
/// Read: "Step 2: `bind()`, and nothing else"
#[test]
fn readiness_line_names_the_real_address() {
    rules::assert_readiness_line(&start_server());
}

/// SIGINT and SIGTERM stop a server waiting in recvfrom within 1 s.
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
    rules::assert_sigint_restored(&server_bin(), &["0"], Transport::Udp);
}

/// A server started with SIGINT and SIGTERM blocked unblocks them, so
/// each still stops it within 1 s.
///
/// Rule: every binary: stopping a server — and unblock them, because a process inherits its parent's blocked-signal mask and restoring the action does not change it
/// Read: "The port argument"
#[test]
fn signals_stop_a_server_started_with_them_blocked() {
    rules::assert_stop_signals_unblocked(&server_bin(), &["0"], Transport::Udp);
}

/// `--timeout` is obeyed, not only parsed: against a stand-in server that
/// never answers, `--timeout 0.1` makes the client send its line again
/// about 0.1 s after the first time, not after the default second. (How
/// many datagrams it sends, and when it gives up, is for
/// `client_sends_one_plus_retries_datagrams_then_gives_up`; a client that
/// never sends again is left to it.)
///
/// Rule: 04: the client waits at most `--timeout` seconds (fractions allowed) for a reply before it resends
/// Read: "A bounded wait"
#[test]
fn the_line_is_sent_again_after_the_given_timeout() {
    // The default timeout is 1 s; a resend later than this ignored 0.1 s.
    const LATE: Duration = Duration::from_millis(600);
    let fake = FakeServer::silent();
    let mut typist = Interactive::start(
        &client_bin(),
        &[
            "127.0.0.1",
            &fake.port().to_string(),
            "--timeout",
            "0.1",
            "--retries",
            "4",
        ],
    );
    typist.type_and_close(b"again?\n");
    let resent = lesson_testing::wait_until(Duration::from_secs(3), || fake.count() >= 2);
    if !resent {
        return;
    }
    let arrivals = fake.arrivals();
    let gap = arrivals[1].at.duration_since(arrivals[0].at);
    assert!(
        gap < LATE,
        "with --timeout 0.1 the line was sent again only {gap:?} after the first datagram"
    );
}
