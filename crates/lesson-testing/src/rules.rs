//! Checks of the rules every binary of the contract follows, whatever its
//! lesson and transport: port validation, extra arguments, `--help`, the
//! readiness line, a busy address, nothing listening, an unknown host,
//! stopping on SIGINT and SIGTERM; and lesson 01's client, which lessons
//! 02, 03 and 05 share: every address tried, a reply read until the end,
//! a line too long for any buffer. Each
//! lesson's `tests/e2e.rs` calls them from tests of its own, so a grader
//! sees one verdict per rule and lesson.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use nix::sys::signal::{sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use socket2::{Domain, SockAddr, Socket, Type};

use crate::run::predicate;
use crate::stream::{read_line, Stream, PROMPT, REPLY};
use crate::supervisor::Supervised;
use crate::{
    client, expects_readiness_line, faults, tcp, udp, unix, Address, Server, Transport, WAIT,
};

/// Which lessons' binaries a shared rule concerns, by what they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concerns {
    /// Every lesson's.
    Every,
    /// Servers that take a PORT (TCP and UDP).
    PortServers,
    /// Clients that take HOST and PORT (TCP and UDP).
    HostClients,
    /// Clients that connect over TCP.
    TcpClients,
}

impl Concerns {
    /// Whether a lesson whose server is reached over `transport` has
    /// binaries this rule concerns.
    pub fn includes(self, transport: Transport) -> bool {
        match self {
            Concerns::Every => true,
            Concerns::PortServers | Concerns::HostClients => transport != Transport::Unix,
            Concerns::TcpClients => transport == Transport::Tcp,
        }
    }
}

/// A rule of the contract that several lessons' binaries follow, checked
/// the same way in each lesson: one check name, and one wording, the
/// contract's own.
#[derive(Debug, Clone, Copy)]
pub struct Shared {
    /// The check's name, the same in every lesson it concerns.
    pub check: &'static str,
    /// The `Rule:` line of every such check: `every binary: TOPIC — ` and
    /// the contract's words (docs/src/contract.md holds them verbatim).
    pub rule: &'static str,
    /// The function of this module every such check calls.
    pub calls: &'static str,
    pub concerns: Concerns,
}

/// The rules every lesson's binaries share. Each lesson's tests/e2e.rs
/// holds a check of each rule that concerns it, under this name, with
/// this `Rule:` line, calling this function; a tidy test
/// (`xtask/src/tidy.rs`) holds every lesson to it.
pub const SHARED: &[Shared] = &[
    Shared {
        check: "help_prints_usage_and_exits_zero",
        rule: "every binary: help — `-h` or `--help`, anywhere on the line, prints a usage text on stdout (it contains the word `usage`) and exits with status 0",
        calls: "assert_help",
        concerns: Concerns::Every,
    },
    Shared {
        check: "extra_arguments_are_usage_errors",
        rule: "every binary: arguments — Missing or extra arguments, or an argument that does not parse, are a usage error",
        calls: "assert_extra_argument_rejected",
        concerns: Concerns::Every,
    },
    Shared {
        check: "bad_or_missing_ports_are_usage_errors",
        rule: "every binary: ports — A port is a decimal number from 0 to 65535. Port 0 asks the kernel to pick a free port. Anything else (`abc`, `-1`, `70000`) is a usage error",
        calls: "assert_bad_ports_rejected",
        concerns: Concerns::PortServers,
    },
    Shared {
        check: "readiness_line_names_the_real_address",
        rule: "every binary: the readiness line — A server prints exactly one line on stderr as soon as its socket is bound, and, for stream sockets, listening",
        calls: "assert_readiness_line",
        concerns: Concerns::Every,
    },
    Shared {
        check: "server_reports_a_port_in_use",
        rule: "every binary: errors — The line names the step that failed and gives the operating system's reason, in the tutorial's style",
        calls: "port_in_use_reported",
        concerns: Concerns::PortServers,
    },
    Shared {
        check: "stop_signals_end_the_server_within_a_second",
        rule: "every binary: stopping a server — SIGINT (Ctrl-C) or SIGTERM ends any server within a second",
        calls: "assert_stops_on",
        concerns: Concerns::Every,
    },
    Shared {
        check: "sigint_stops_a_server_started_with_sigint_ignored",
        rule: "every binary: stopping a server — Servers restore the default action of both signals when they start, because a shell may start a background job with SIGINT ignored",
        calls: "assert_sigint_restored",
        concerns: Concerns::Every,
    },
    Shared {
        check: "signals_stop_a_server_started_with_them_blocked",
        rule: "every binary: stopping a server — and unblock them, because a process inherits its parent's blocked-signal mask and restoring the action does not change it",
        calls: "assert_stop_signals_unblocked",
        concerns: Concerns::Every,
    },
    Shared {
        check: "client_reports_an_unknown_host",
        rule: "every binary: errors — If HOST cannot be resolved, the client exits with status 1 and stderr says `no such host`",
        calls: "assert_unknown_host_reported",
        concerns: Concerns::HostClients,
    },
    Shared {
        check: "client_reports_connection_refused",
        rule: "every binary: errors — If nothing listens on the port, it exits with status 1 and stderr says `ERROR connecting` and `Connection refused`",
        calls: "assert_connection_refused",
        concerns: Concerns::TcpClients,
    },
];

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

/// A TCP client (`bin HOST PORT`) given a host with two addresses, the
/// first refusing (127.0.0.2, where nothing listens) and the second
/// answering (127.0.0.1, a stand-in server): it tries the second after
/// the first refuses, and exchanges its message there.
///
/// The host is [`faults::TWO_ADDRESSES`], which only the preloaded library
/// resolves, so the check does not depend on what this machine's resolver
/// makes of `localhost`. A client that never asks the library (a
/// statically linked one) reports `no such host`, and the check says why.
pub fn assert_every_address_tried(bin: &Path) {
    let (port, peer) = tcp::fake_server(|mut stream| {
        let line = read_line(&mut stream);
        assert_eq!(line, b"every address\n", "the stand-in server's input");
        stream.write_all(REPLY).expect("the stand-in's reply");
    });
    let output = client(bin)
        .args([faults::TWO_ADDRESSES, &port.to_string()])
        .env("LD_PRELOAD", faults::ld_preload())
        .write_stdin("every address\n")
        .output()
        .expect("running the client");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("no such host"),
        "the client could not resolve {}: {}; stderr: {stderr}",
        faults::TWO_ADDRESSES,
        faults::NOT_LOADED
    );
    assert!(
        output.status.success(),
        "{} resolves to {}, where nothing listens, then to {}, where a server does: the \
         client must try the next address when one refuses, not give up ({}); stderr: {stderr}",
        faults::TWO_ADDRESSES,
        faults::REFUSING,
        faults::ANSWERING,
        output.status
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("{PROMPT}{}\n", String::from_utf8_lossy(REPLY))
    );
    peer.join()
        .expect("the stand-in server at the second address saw the message");
}

/// Where a client of lesson 01's kind reaches `address`: `127.0.0.1 PORT`
/// over TCP, `PATH` in the Unix domain.
fn client_arguments(address: &Address) -> Vec<OsString> {
    match address {
        Address::Tcp(port) => vec!["127.0.0.1".into(), port.to_string().into()],
        Address::Unix(path) => vec![path.clone().into_os_string()],
        Address::Udp(_) => panic!("lesson 01's client speaks to stream servers only"),
    }
}

/// The two pieces of the reply in [`assert_reply_read_until_closed`].
const FIRST_PIECE: &[u8] = b"I got ";

/// A client of lesson 01's kind (`bin 127.0.0.1 PORT`, or `bin PATH` when
/// `unix_path` is given, in the Unix domain) reads the reply
/// until the server closes the connection: a stand-in server sends
/// `I got your message` in two pieces, and the second only once the client
/// has read the first (the kernel's queues tell, so no timing is assumed).
/// A client that reads once prints half the reply.
pub fn assert_reply_read_until_closed(bin: &Path, unix_path: Option<&Path>) {
    let serve = |mut stream: Stream| {
        read_line(&mut stream);
        stream.write_all(FIRST_PIECE).expect("the first piece");
        assert!(
            match &stream {
                Stream::Tcp(s) => tcp::wait_until_peer_has_read(s),
                Stream::Unix(s) => unix::wait_until_peer_has_read(s),
            },
            "the client did not read the first piece of the reply within {WAIT:?}"
        );
        // A client that stopped after the first piece may be gone.
        let _ = stream.write_all(&REPLY[FIRST_PIECE.len()..]);
    };
    let (address, peer) = match unix_path {
        None => {
            let (port, peer) = tcp::fake_server(move |s| serve(Stream::Tcp(s)));
            (Address::Tcp(port), peer)
        }
        Some(path) => {
            let peer = unix::fake_server(path, move |s| serve(Stream::Unix(s)));
            (Address::Unix(path.to_path_buf()), peer)
        }
    };
    let output = client(bin)
        .args(client_arguments(&address))
        .write_stdin("hello\n")
        .output()
        .expect("running the client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let whole = format!("{PROMPT}{}\n", String::from_utf8_lossy(REPLY));
    let half = format!("{PROMPT}{}\n", String::from_utf8_lossy(FIRST_PIECE));
    assert!(
        stdout != half,
        "the reply came in two pieces and the client printed the first only ({:?}): it must \
         read until the server closes the connection, since a stream may deliver a reply in \
         pieces",
        String::from_utf8_lossy(FIRST_PIECE)
    );
    assert_eq!(
        stdout,
        whole,
        "exit {}; stderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "exit {}", output.status);
    peer.join()
        .expect("the stand-in server saw the client read the first piece");
}

/// How long a line must be so that no socket buffer can hold it: the
/// contract's 20 MB, or more where the kernel lets a TCP sender buffer
/// more (its largest send buffer, `tcp_wmem`'s last field, plus the
/// receive buffer of a server that never reads, `tcp_rmem`'s middle one;
/// a Unix-domain socket buffers less). Then the client is still writing
/// when the server closes, and its write fails: the case to check.
pub fn line_longer_than_any_buffer() -> usize {
    const CONTRACT: usize = 20 * 1024 * 1024;
    let field = |file: &str, index: usize| -> usize {
        std::fs::read_to_string(file)
            .ok()
            .and_then(|t| t.split_whitespace().nth(index)?.parse().ok())
            .unwrap_or(0)
    };
    let buffered =
        field("/proc/sys/net/ipv4/tcp_wmem", 2) + field("/proc/sys/net/ipv4/tcp_rmem", 1);
    CONTRACT.max(2 * buffered)
}

/// A client of lesson 01's kind sends a line of many megabytes
/// ([`line_longer_than_any_buffer`]) to the real `server`, which reads
/// 255 bytes, answers and closes with the rest unread. The client's write
/// then fails (a reset, or a broken pipe), yet the reply has arrived: it
/// prints it and exits 0. The server shows at most 255 bytes of the line.
///
/// The line goes to the client's stdin from a thread of its own: a client
/// that never reads all of it must not hold up the test, whose wait for
/// the client is bounded; killing the client ends the thread's write.
pub fn assert_huge_line_still_answered(bin: &Path, server: &Server) {
    let mut line = vec![b'a'; line_longer_than_any_buffer()];
    line.push(b'\n');
    let mut command = Command::new(bin);
    command
        .args(client_arguments(server.address()))
        .stdin(Stdio::piped());
    let mut run = Supervised::start(&mut command).expect("starting the client");
    let stdin = run.take_stdin();
    let writer = thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            // The client may stop reading its input: that is its business.
            let _ = stdin.write_all(&line);
        }
    });
    let status = run.wait_for_exit(WAIT);
    let stdout = String::from_utf8_lossy(&run.stdout().bytes()).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr().bytes()).into_owned();
    drop(run);
    let _ = writer.join();
    let status = status.unwrap_or_else(|| {
        panic!("the client still ran {WAIT:?} after it was given a line of many megabytes; stderr: {stderr}")
    });
    assert!(
        status.success(),
        "the server closed with most of the line unread, so the client's write failed; the \
         reply had arrived all the same: the client must print it and exit 0, not {status}; \
         stderr: {stderr}"
    );
    assert_eq!(
        stdout,
        format!("{PROMPT}{}\n", String::from_utf8_lossy(REPLY)),
        "stderr: {stderr}"
    );
    let lines = server.wait_for_stdout_lines(1);
    let shown = lines[0]
        .strip_prefix("Here is the message: ")
        .unwrap_or_else(|| panic!("not a message line: {:?}", lines[0]));
    assert!(
        !shown.is_empty() && shown.len() <= 255 && shown.bytes().all(|b| b == b'a'),
        "the server should show at most 255 bytes of the line, showed {} bytes",
        shown.len()
    );
}

/// A Unix-domain server (`bin PATH AFTER...`) given a path where a live
/// socket is bound that does not listen: a stream socket bound and never
/// told to listen, a datagram socket (which never listens), and one
/// connected to another. Each time: exit 1, one error line that says
/// `already in use` and does not claim that anything listens there; the
/// socket keeps its path and still works there.
pub fn assert_unix_path_of_a_socket_not_listening_reported(bin: &Path, after: &[&str]) {
    use std::os::unix::net::UnixDatagram;

    let dir = unix::SocketDir::new();
    let refused = |path: &Path, what: &str| {
        let run = client(bin).arg(path).args(after).assert().code(1);
        let stderr = run.stderr_text();
        assert!(stderr.contains("already in use"), "{what}: {stderr}");
        assert_eq!(
            stderr.lines().count(),
            1,
            "{what}: one error line: {stderr}"
        );
        assert!(
            !stderr.contains("is listening") && !stderr.contains("listens"),
            "{what}: the message claims that something listens at the path, which nothing \
             does; a datagram probe cannot tell a listening stream socket from one only bound: \
             {stderr}"
        );
        assert!(
            unix::is_socket_file(path),
            "{what}: its socket file is gone"
        );
    };

    let stream_path = dir.join("bound.sock");
    let bound = Socket::new(Domain::UNIX, Type::STREAM, None).expect("a stream socket");
    bound
        .bind(&SockAddr::unix(&stream_path).expect("a socket address"))
        .expect("binding the stream socket");
    refused(&stream_path, "a stream socket bound, not listening");
    // It still owns the path: once it listens, a client reaches it there.
    bound.listen(1).expect("the bound socket may still listen");
    drop(unix::connect(&stream_path));
    drop(bound);

    let datagram_path = dir.join("datagram.sock");
    let datagram = UnixDatagram::bind(&datagram_path).expect("binding a datagram socket");
    datagram.set_read_timeout(Some(WAIT)).ok();
    refused(&datagram_path, "a datagram socket");
    UnixDatagram::unbound()
        .and_then(|probe| probe.send_to(b"still mine?", &datagram_path))
        .expect("a datagram to the socket that owns the path");
    let mut received = [0u8; 16];
    let length = datagram.recv(&mut received).expect("the datagram arrives");
    assert_eq!(&received[..length], b"still mine?");

    let connected_path = dir.join("connected.sock");
    let connected = UnixDatagram::bind(&connected_path).expect("binding a datagram socket");
    connected
        .connect(&datagram_path)
        .expect("connecting it to the other");
    refused(
        &connected_path,
        "a datagram socket connected to another one",
    );
    drop(connected);
}
