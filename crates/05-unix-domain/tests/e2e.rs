//! End-to-end checks of lesson 05 against the contract (section 05 and the
//! rules for every binary). They drive the real binaries: ours by default,
//! or any other implementation named by `LESSON_BIN_UNIX_SERVER` and
//! `LESSON_BIN_UNIX_CLIENT` (with `LESSON_NO_READINESS_LINE=1` for programs
//! that print no readiness line, such as the tutorial's C).
//!
//! Every test puts its socket paths in a fresh private directory of its
//! own (`SocketDir`), so tests run in parallel without sharing a path, and
//! the directory is removed at the end. Servers are found through the
//! kernel's socket table (`/proc/net/unix`), every wait is bounded, and
//! every process is killed on drop.

use std::fs;
use std::io::Write;
use std::net::Shutdown;
use std::os::unix::fs::{symlink, FileTypeExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use lesson_testing::accepting;
use lesson_testing::procfs::socket_inodes;
use lesson_testing::rules::STOP_LIMIT;
use lesson_testing::run::predicate;
use lesson_testing::stream::{exchange, read_line, PROMPT, REPLY};
use lesson_testing::supervisor::Supervised;
use lesson_testing::unix::{self, SocketDir, MAX_PATH_LEN};
use lesson_testing::WAIT;
use lesson_testing::{binary, client, override_variable, rules, wait_until, Server, Transport};
use nix::sys::signal::Signal;
use nix::unistd::geteuid;

fn server_bin() -> PathBuf {
    binary("unix-server", env!("CARGO_BIN_EXE_unix-server"))
}

fn client_bin() -> PathBuf {
    binary("unix-client", env!("CARGO_BIN_EXE_unix-client"))
}

/// The reply as the client prints it: the 18 bytes, then a newline.
fn printed_reply() -> String {
    format!("{PROMPT}{}\n", String::from_utf8_lossy(REPLY))
}

/// The client under test, bounded by `WAIT`, pointed at `path`.
fn client_to(path: &Path) -> lesson_testing::run::Command {
    let mut command = client(&client_bin());
    command.arg(path);
    command
}

/// A server listening at `server.sock` in a fresh directory. The directory
/// comes back too: dropping it removes the path, so keep it (`_dir`) for as
/// long as the server runs.
fn start_server() -> (SocketDir, Server) {
    let dir = SocketDir::new();
    let server = unix::start_server(&server_bin(), &dir.join("server.sock"));
    (dir, server)
}

/// Sends `signal` and asserts the contract's end: within 1 s, exit status
/// 0, and the socket file gone.
fn assert_stops_and_cleans_up(server: &mut Server, signal: Signal) {
    let path = server.path().to_path_buf();
    server.signal(signal);
    let status = server
        .wait_for_exit(STOP_LIMIT)
        .unwrap_or_else(|| panic!("the server still runs {STOP_LIMIT:?} after {signal}"));
    assert_eq!(
        status.code(),
        Some(0),
        "after {signal} the server must exit 0, it ended with {status}; stderr: {}",
        server.stderr_text()
    );
    assert!(
        fs::symlink_metadata(&path).is_err(),
        "after {signal} the socket file {} is still there",
        path.display()
    );
}

/// The tutorial's session in the Unix domain: the client sends `hello`,
/// the server prints it once and answers, the client prints the reply and
/// exits 0, and the server keeps running for the next client.
///
/// Rule: 05: the server serves each connection exactly as 01 serves its one, and keeps running
/// Read: "Steps 5 to 7: `read()`, `write()`, `close()`"
#[test]
fn client_and_server_exchange_one_message() {
    let (_dir, mut server) = start_server();
    client_to(server.path())
        .write_stdin("hello\n")
        .assert()
        .success()
        .stdout(printed_reply());
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Here is the message: hello"]
    );
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server must keep running"
    );
}

/// On the wire, the server answers with exactly the 18 bytes
/// `I got your message`: no newline, no NUL.
///
/// Rule: 01 (05 serves as 01 does): the reply is exactly `I got your message`, 18 bytes
/// Read: "Steps 5 to 7: `read()`, `write()`, `close()`"
#[test]
fn server_replies_with_exactly_eighteen_bytes() {
    let (_dir, server) = start_server();
    assert_eq!(exchange(server.connect(), b"raw peer\n"), REPLY);
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Here is the message: raw peer"]
    );
}

/// Twenty clients one after another, each the real client binary: the
/// server serves them all, in order, and is still running afterwards.
///
/// Rule: 05: the server runs until stopped and serves connections one after another
/// Read: "Steps 5 to 7: `read()`, `write()`, `close()`"
#[test]
fn clients_one_after_another_are_all_served() {
    let (_dir, mut server) = start_server();
    let messages: Vec<String> = (1..=20).map(|i| format!("client number {i}")).collect();
    for message in &messages {
        client_to(server.path())
            .write_stdin(format!("{message}\n"))
            .assert()
            .success()
            .stdout(printed_reply());
    }
    let expected: Vec<String> = messages
        .iter()
        .map(|m| format!("Here is the message: {m}"))
        .collect();
    assert_eq!(server.wait_for_stdout_lines(expected.len()), expected);
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server must keep running"
    );
}

/// While the server runs, its address is a file of type socket at PATH
/// (what `ls -l` shows as `s`), of size 0.
///
/// Rule: 05: a stream socket in the Unix domain bound to PATH, which is a socket file while the server runs
/// Read: "Step 2: `bind()`, and the socket file"
#[test]
fn the_address_is_a_socket_file_while_the_server_runs() {
    let (_dir, server) = start_server();
    let found = fs::symlink_metadata(server.path()).expect("a file at PATH");
    assert!(
        found.file_type().is_socket(),
        "not a socket: {:?}",
        found.file_type()
    );
    assert_eq!(found.len(), 0);
}

/// With `--show-peer`, the server reports who connected, from the
/// kernel's record of the peer (SO_PEERCRED): one stderr line per
/// connection, `connection from pid PID, uid UID`, naming the client's
/// process and user. Without the flag it prints no such line: run as the
/// contract has it, it does what the tutorial's server does, and no more.
/// The flag is this course's addition to the contract: another
/// implementation (a grader's `LESSON_BIN_*`) is not asked for it, but a
/// line it prints must be right.
///
/// Rule: 05 (this course's addition): with `--show-peer`, each connection is reported as `connection from pid PID, uid UID`, from SO_PEERCRED; without it, no such line
/// Read: "Step 4: `accept()`, and who is there"
#[test]
fn each_connection_is_reported_with_the_peers_pid_and_uid() {
    let ours = std::env::var_os(override_variable("unix-server")).is_none();
    let dir = SocketDir::new();
    let path = dir.join("server.sock");
    let server = if ours {
        let args = [path.as_os_str(), "--show-peer".as_ref()];
        Server::start(&server_bin(), &args, Transport::Unix)
    } else {
        unix::start_server(&server_bin(), &path)
    };
    let uid = geteuid();

    // The real client: its process ID is known before it connects.
    let mut command = Command::new(client_bin());
    command.arg(server.path()).stdin(Stdio::piped());
    let mut run = Supervised::start(&mut command).expect("starting the client");
    let client_pid = run.pid();
    if let Some(mut stdin) = run.take_stdin() {
        stdin.write_all(b"who am I?\n").expect("typing the message");
    }
    let status = run.wait_for_exit(WAIT).expect("the client exits");
    assert!(status.success(), "client: {status}");

    // A second peer: this test process itself.
    assert_eq!(exchange(server.connect(), b"and me?\n"), REPLY);
    server.wait_for_stdout_lines(2);

    let expected = [
        format!("connection from pid {client_pid}, uid {uid}"),
        format!("connection from pid {}, uid {uid}", std::process::id()),
    ];
    let reported = |server: &Server| -> Vec<String> {
        server
            .stderr_lines()
            .into_iter()
            .filter(|l| l.starts_with("connection from"))
            .collect()
    };
    if ours {
        wait_until(WAIT, || reported(&server).len() >= 2);
    }
    let lines = reported(&server);
    if ours || !lines.is_empty() {
        assert_eq!(lines, expected, "stderr: {}", server.stderr_text());
    }

    if ours {
        // Without the flag: served the same, and nobody named.
        let (_quiet_dir, quiet) = start_server();
        assert_eq!(exchange(quiet.connect(), b"quiet\n"), REPLY);
        quiet.wait_for_stdout_lines(1);
        assert_eq!(
            reported(&quiet),
            Vec::<String>::new(),
            "without --show-peer the server must name nobody; stderr: {}",
            quiet.stderr_text()
        );
    }
}

/// SIGINT (Ctrl-C) stops the server waiting in accept within 1 s: it
/// removes its socket file and exits 0.
///
/// Rule: 05: on SIGINT or SIGTERM the server removes its socket file, then exits 0
/// Read: "Removing the file when stopped"
#[test]
fn sigint_stops_the_server_and_removes_its_socket_file() {
    let (_dir, mut server) = start_server();
    assert_stops_and_cleans_up(&mut server, Signal::SIGINT);
}

/// SIGTERM (`kill`) stops the server waiting in accept within 1 s: it
/// removes its socket file and exits 0.
///
/// Rule: 05: on SIGINT or SIGTERM the server removes its socket file, then exits 0
/// Read: "Removing the file when stopped"
#[test]
fn sigterm_stops_the_server_and_removes_its_socket_file() {
    let (_dir, mut server) = start_server();
    assert_stops_and_cleans_up(&mut server, Signal::SIGTERM);
}

/// A server busy with a client that connected and says nothing (blocked
/// in read, not in accept) still stops within 1 s of SIGTERM, and still
/// removes its socket file.
///
/// Rule: every binary: stopping — a server ends within 1 s of SIGINT or SIGTERM, also while it serves a client; 05: and removes its socket file
/// Read: "Removing the file when stopped"
#[test]
fn a_server_waiting_for_a_silent_client_still_stops_and_cleans_up() {
    let (_dir, mut server) = start_server();
    let _silent = server.connect();
    // Accepted: the server now holds a second socket, the connection.
    let pid = server.pid();
    assert!(
        wait_until(WAIT, || socket_inodes(pid).len() >= 2),
        "the server did not accept the silent client"
    );
    assert_stops_and_cleans_up(&mut server, Signal::SIGTERM);
}

/// A server removes only its own socket file. Here its file is removed
/// behind its back and a second server binds the same path; when the first
/// is stopped, the path leads to the second one's file, which stays, and
/// the second server is still reachable there.
///
/// Rule: 05: on SIGINT or SIGTERM the server removes its own socket file, and no other
/// Read: "Removing the file when stopped"
#[test]
fn a_stopped_server_leaves_a_newer_servers_socket_file_alone() {
    let (_dir, mut first) = start_server();
    let path = first.path().to_path_buf();
    fs::remove_file(&path).expect("removing the first server's file");
    let second = unix::start_server(&server_bin(), &path);
    first.signal(Signal::SIGTERM);
    assert!(
        first.wait_for_exit(STOP_LIMIT).is_some(),
        "the first server still runs {STOP_LIMIT:?} after SIGTERM"
    );
    assert!(
        unix::is_socket_file(&path),
        "stopping the first server removed the second server's socket file"
    );
    client_to(&path)
        .write_stdin("for the second\n")
        .assert()
        .success()
        .stdout(printed_reply());
    assert_eq!(
        second.wait_for_stdout_lines(1),
        ["Here is the message: for the second"]
    );
}

/// A shell starts a background job with SIGINT ignored; the server puts
/// the default action back (or takes SIGINT over), so SIGINT still stops
/// it within 1 s.
///
/// Rule: every binary: stopping a server — Servers restore the default action of both signals when they start, because a shell may start a background job with SIGINT ignored
/// Read: "Arguments and signals"
#[test]
fn sigint_stops_a_server_started_with_sigint_ignored() {
    let dir = SocketDir::new();
    let path = dir.join("server.sock");
    rules::assert_sigint_restored(
        &server_bin(),
        &[path.to_str().expect("a UTF-8 temp dir")],
        Transport::Unix,
    );
}

/// Started with SIGINT and SIGTERM blocked (an inherited signal mask), the
/// server unblocks them: each still stops it within 1 s.
///
/// Rule: every binary: stopping a server — and unblock them, because a process inherits its parent's blocked-signal mask and restoring the action does not change it
/// Read: "Arguments and signals"
#[test]
fn signals_stop_a_server_started_with_them_blocked() {
    let dir = SocketDir::new();
    let path = dir.join("server.sock");
    rules::assert_stop_signals_unblocked(
        &server_bin(),
        &[path.to_str().expect("a UTF-8 temp dir")],
        Transport::Unix,
    );
}

/// A socket file left behind by a crashed server (no socket behind it any
/// more) is removed and reused: the server starts and serves.
///
/// Rule: 05: PATH holds a socket nobody listens on (left by a crash): it is removed and reused
/// Read: "Step 2: `bind()`, and the socket file"
#[test]
fn a_stale_socket_file_is_reused() {
    let dir = SocketDir::new();
    let path = dir.join("server.sock");
    unix::stale_socket_file(&path);
    let server = unix::start_server(&server_bin(), &path);
    client_to(&path)
        .write_stdin("after a crash\n")
        .assert()
        .success()
        .stdout(printed_reply());
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Here is the message: after a crash"]
    );
}

/// A path where a live server listens is refused: exit 1, `already in
/// use`, and the live server keeps its path.
///
/// Rule: 05: a live server listens at PATH: exit 1, stderr has `already in use`
/// Read: "Live or stale: asking without disturbing"
#[test]
fn a_live_servers_path_is_refused() {
    rules::assert_unix_path_in_use_reported(&server_bin(), &[]);
}

/// Finding out that a server is live must not disturb it: after a second
/// server has been refused its path, the first one's next client is the
/// first connection it serves (no empty probe connection was queued before
/// it), and its socket file is still there.
///
/// Rule: 05: live and stale are told apart without disturbing a live server
/// Read: "Live or stale: asking without disturbing"
#[test]
fn a_refused_second_server_leaves_the_first_undisturbed() {
    let (_dir, mut server) = start_server();
    client(&server_bin())
        .arg(server.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already in use"));
    client_to(server.path())
        .write_stdin("first real client\n")
        .assert()
        .success()
        .stdout(printed_reply());
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Here is the message: first real client"]
    );
    assert!(unix::is_socket_file(server.path()));
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the first server must keep running"
    );
}

/// A path that exists but is not a socket is never removed: a regular
/// file keeps its content, a directory its files, a symbolic link stays a
/// link; each time the server exits 1.
///
/// Rule: 05: PATH exists and is not a socket: exit 1, and the file is left untouched
/// Read: "Step 2: `bind()`, and the socket file"
#[test]
fn a_path_that_is_not_a_socket_is_left_untouched() {
    let dir = SocketDir::new();

    let file = dir.join("notes.txt");
    fs::write(&file, "precious data\n").expect("writing the file");
    client(&server_bin()).arg(&file).assert().code(1);
    assert_eq!(
        fs::read_to_string(&file).expect("the file is still there"),
        "precious data\n"
    );

    let directory = dir.join("a-directory");
    fs::create_dir(&directory).expect("making the directory");
    fs::write(directory.join("inside"), "x").expect("a file inside");
    client(&server_bin()).arg(&directory).assert().code(1);
    assert!(
        directory.join("inside").is_file(),
        "the directory was emptied"
    );

    let link = dir.join("link.sock");
    symlink(&file, &link).expect("making the link");
    client(&server_bin()).arg(&link).assert().code(1);
    assert!(
        fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()),
        "the symbolic link was removed"
    );
    assert_eq!(
        fs::read_to_string(&file).expect("the link's target"),
        "precious data\n"
    );
}

/// A 108-byte path cannot fit in `sun_path` with its NUL: a usage error
/// (exit 2) whose message names the limit, 107, for the server and the
/// client alike; and nothing is created.
///
/// Rule: 05: a PATH longer than the address can hold (107 bytes on Linux): exit 2, and the message names the limit
/// Read: "The address: `struct sockaddr_un`"
#[test]
fn a_path_longer_than_107_bytes_is_a_usage_error_naming_the_limit() {
    let dir = SocketDir::new();
    let path = unix::path_of_length(&dir, MAX_PATH_LEN + 1);
    for bin in [server_bin(), client_bin()] {
        client(&bin)
            .arg(&path)
            .write_stdin("hello\n")
            .assert()
            .code(2)
            .stderr(predicate::str::contains(MAX_PATH_LEN.to_string()));
    }
    assert!(
        fs::symlink_metadata(&path).is_err(),
        "something was created"
    );
}

/// A path of exactly 107 bytes fits: the server listens there, announces
/// it, serves a client, and removes the file when stopped.
///
/// Rule: 05: a path of exactly 107 bytes works
/// Read: "The address: `struct sockaddr_un`"
#[test]
fn a_path_of_exactly_107_bytes_works() {
    let dir = SocketDir::new();
    let path = unix::path_of_length(&dir, MAX_PATH_LEN);
    let mut server = unix::start_server(&server_bin(), &path);
    rules::assert_readiness_line(&server);
    client_to(&path)
        .write_stdin("a long address\n")
        .assert()
        .success()
        .stdout(printed_reply());
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Here is the message: a long address"]
    );
    assert_stops_and_cleans_up(&mut server, Signal::SIGTERM);
}

/// Nothing at PATH: the client exits 1 with `ERROR connecting` and
/// `No such file or directory`.
///
/// Rule: 05: the client, no such PATH: exit 1, stderr has `No such file or directory`
/// Read: "The client"
#[test]
fn client_reports_no_such_file() {
    rules::assert_no_such_path(&client_bin());
}

/// A stale socket file (no server behind it): the client exits 1 with
/// `ERROR connecting` and `Connection refused`.
///
/// Rule: 05: the client is `tcp-client` with PATH: nothing listening there is exit 1, `ERROR connecting` and `Connection refused`
/// Read: "The client"
#[test]
fn client_reports_a_stale_socket_file_as_refused() {
    let dir = SocketDir::new();
    let path = dir.join("stale.sock");
    unix::stale_socket_file(&path);
    client_to(&path)
        .write_stdin("anyone?\n")
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("ERROR connecting")
                .and(predicate::str::contains("Connection refused")),
        );
}

/// On the wire, the client sends the typed line with its newline, and
/// prints whatever the server replies on a line of its own.
///
/// Rule: 01 (the client is `tcp-client` with PATH): it sends the line it read, newline included, and prints the reply
/// Read: "The client"
#[test]
fn client_sends_the_line_with_its_newline() {
    let dir = SocketDir::new();
    let path = dir.join("fake.sock");
    let peer = unix::fake_server(&path, |mut stream| {
        assert_eq!(read_line(&mut stream), b"exact bytes\n");
        stream.write_all(b"fake reply").expect("fake reply");
    });
    client_to(&path)
        .write_stdin("exact bytes\n")
        .assert()
        .success()
        .stdout(format!("{PROMPT}fake reply\n"));
    peer.join().expect("the fake server saw the expected bytes");
}

/// End of input before any line: the client sends nothing, half-closes,
/// and still prints the reply; the server prints an empty message.
///
/// Rule: 01 (the client is `tcp-client` with PATH): end of input before any line: it sends nothing, half-closes, and still prints the reply
/// Read: "The client"
#[test]
fn empty_input_sends_nothing_and_still_gets_the_reply() {
    let (_dir, server) = start_server();
    client_to(server.path())
        .write_stdin("")
        .assert()
        .success()
        .stdout(printed_reply());
    assert_eq!(server.wait_for_stdout_lines(1), ["Here is the message: "]);
}

/// A 1000-byte line: the server reads at most 255 bytes (one read, as
/// taught), the client still prints the reply and exits 0, and the server
/// goes on to serve the next client.
///
/// Rule: 01: a line longer than 255 bytes makes neither side crash or hang
/// Read: "Steps 5 to 7: `read()`, `write()`, `close()`"
#[test]
fn a_line_longer_than_255_bytes_is_cut_not_fatal() {
    let (_dir, server) = start_server();
    client_to(server.path())
        .write_stdin(format!("{}\n", "a".repeat(1000)))
        .assert()
        .success()
        .stdout(printed_reply());
    client_to(server.path())
        .write_stdin("next\n")
        .assert()
        .success();
    let lines = server.wait_for_stdout_lines(2);
    let shown = lines[0]
        .strip_prefix("Here is the message: ")
        .expect("the message line");
    assert!(
        !shown.is_empty() && shown.len() <= 255 && shown.bytes().all(|b| b == b'a'),
        "the server should show at most 255 bytes of the line, showed {} bytes",
        shown.len()
    );
    assert_eq!(lines[1], "Here is the message: next");
}

/// Clients that vanish (one closes without a word, one sends a long line
/// and closes without reading the reply) do not stop the server: the next
/// client is served.
///
/// Rule: 05: the server runs until stopped: a client that vanishes costs a line on stderr, not the server
/// Read: "Steps 5 to 7: `read()`, `write()`, `close()`"
#[test]
fn clients_that_vanish_do_not_stop_the_server() {
    let (_dir, mut server) = start_server();
    drop(server.connect());
    let mut rude = server.connect();
    rude.write_all(&[b'z'; 1000]).expect("sending");
    drop(rude);
    client_to(server.path())
        .write_stdin("still there?\n")
        .assert()
        .success()
        .stdout(printed_reply());
    let lines = server.wait_for_stdout_lines(3);
    assert_eq!(lines[2], "Here is the message: still there?");
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server must keep running; stderr: {}",
        server.stderr_text()
    );
    assert!(!server.stderr_text().contains("panicked"));
}

/// The readiness line is `listening on PATH`, exactly once.
///
/// Rule: every binary: the readiness line — A server prints exactly one line on stderr as soon as its socket is bound, and, for stream sockets, listening
/// Read: "Step 3: `listen()`"
#[test]
fn readiness_line_names_the_real_address() {
    let (_dir, server) = start_server();
    rules::assert_readiness_line(&server);
}

/// `-h` and `--help`, anywhere on the line: usage on stdout, exit 0.
///
/// Rule: every binary: help — `-h` or `--help`, anywhere on the line, prints a usage text on stdout (it contains the word `usage`) and exits with status 0
/// Read: "Arguments and signals"
#[test]
fn help_prints_usage_and_exits_zero() {
    rules::assert_help(&server_bin(), &["/tmp/unused.sock"]);
    rules::assert_help(&client_bin(), &["/tmp/unused.sock"]);
}

/// No PATH, an empty PATH, or an extra argument: usage errors (exit 2),
/// for the server and the client alike.
///
/// Rule: every binary: exit status — a missing, empty or extra PATH is a usage error, exit 2
/// Read: "The address: `struct sockaddr_un`"
#[test]
fn missing_empty_or_extra_paths_are_usage_errors() {
    for bin in [server_bin(), client_bin()] {
        client(&bin).assert().code(2);
        client(&bin).arg("").assert().code(2);
        client(&bin)
            .args(["/tmp/a.sock", "/tmp/b.sock"])
            .assert()
            .code(2);
    }
}

/// A socket file that a live socket owns is in use even when nothing
/// listens there: a stream socket only bound, a datagram socket, one
/// connected to another. Each time the server exits 1 with `already in
/// use`, claims nothing about listening (the datagram probe cannot tell a
/// listening stream socket from a bound one), and leaves the socket its
/// path.
///
/// Rule: 05: a socket file that a live process has bound (listening or not, stream or datagram) is in use: exit 1, stderr has `already in use`, and the message claims no more than it knows
/// Read: "Live or stale: asking without disturbing"
#[test]
fn a_live_socket_that_does_not_listen_is_in_use_too() {
    rules::assert_unix_path_of_a_socket_not_listening_reported(&server_bin(), &[]);
}

/// A client that sends its message and leaves before the reply: the
/// server reads the message, its reply meets a closed connection (a
/// broken pipe), and it says so on stderr and serves the next client.
/// A silent first client keeps the iterative server busy while the one
/// that vanishes connects, writes and closes, so that it is surely gone
/// before the server writes to it.
///
/// Rule: 05: a client that vanishes (resets, or leaves before the reply) is reported on stderr and never ends the server
/// Read: "Steps 5 to 7: `read()`, `write()`, `close()`"
#[test]
fn a_client_that_leaves_before_the_reply_is_reported_and_the_next_served() {
    let (_dir, mut server) = start_server();
    let first = server.connect();
    let pid = server.pid();
    assert!(
        wait_until(WAIT, || socket_inodes(pid).len() >= 2),
        "the server did not accept the first client"
    );
    let mut leaving = UnixStream::connect(server.path()).expect("connecting");
    leaving
        .write_all(b"gone before the reply\n")
        .expect("sending the message");
    // Shut down before closing: a process that this test process forks
    // meanwhile (parallel tests start programs) holds a copy of every
    // descriptor until it calls exec, and the close alone would then not
    // end the connection at once. shutdown() acts on the socket itself.
    let _ = leaving.shutdown(Shutdown::Both);
    drop(leaving);
    assert_eq!(exchange(first, b"first\n"), REPLY);
    client_to(server.path())
        .write_stdin("next\n")
        .assert()
        .success()
        .stdout(printed_reply());
    let lines = server.wait_for_stdout_lines(3);
    assert_eq!(
        lines.last().map(String::as_str),
        Some("Here is the message: next")
    );
    let stderr = server.stderr_text();
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("writing to socket") && l.contains("Broken pipe")),
        "the reply to a client that had left failed with a broken pipe, and the server must \
         say so on stderr (`ERROR writing to socket: Broken pipe`); stderr: {stderr}"
    );
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server must keep running; stderr: {stderr}"
    );
}

/// The client is lesson 01's: a reply that arrives in two pieces, the
/// second only after the client has read the first, is printed whole.
///
/// Rule: 01 (the client is `tcp-client` with PATH): it reads the reply until the server closes the connection (a stream may deliver it in pieces)
/// Read: "The client"
#[test]
fn client_reads_the_reply_until_the_server_closes() {
    let dir = SocketDir::new();
    rules::assert_reply_read_until_closed(&client_bin(), Some(&dir.join("fake.sock")));
}

/// A line of many megabytes: the server reads 255 bytes, answers and
/// closes with the rest unread, so the client's write fails (a broken
/// pipe); the client still prints the reply and exits 0, and the server
/// goes on.
///
/// Rule: 01: a line longer than 255 bytes makes neither side crash or hang: the client still prints the reply and exits 0
/// Read: "Steps 5 to 7: `read()`, `write()`, `close()`"
#[test]
fn a_line_of_many_megabytes_still_gets_the_reply() {
    let (_dir, mut server) = start_server();
    rules::assert_huge_line_still_answered(&client_bin(), &server);
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server must keep running; stderr: {}",
        server.stderr_text()
    );
}

/// `accept()` fails, one call after another, with each error that
/// concerns one connection or a passing shortage: EINTR, EMFILE, ENFILE,
/// ENOBUFS, ENOMEM (injected by a library the check preloads), then
/// ECONNABORTED for a connection dropped before it is accepted. The
/// server survives them all and serves the next client.
///
/// Rule: 05 (as 02): `accept()` errors that concern one connection or a passing shortage (EINTR, ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM) never end the server
/// Read: "Step 4: `accept()`, and who is there"
#[test]
fn failed_accepts_do_not_end_the_server() {
    let dir = SocketDir::new();
    let path = dir.join("server.sock");
    let mut server = accepting::start_with_injected_accept_failures(
        &server_bin(),
        &[&path],
        Transport::Unix,
        accepting::INJECTED,
    );
    accepting::assert_injected_accept_failures_survived(&mut server);
}

/// Out of descriptors for real: the server's limit is lowered from
/// outside so that `accept()` fails with EMFILE. Meanwhile it keeps
/// running (its socket file too) and pauses between attempts (its
/// processor time is measured); once the limit is back, the clients that
/// waited are served.
///
/// Rule: 05 (as 02): on a passing shortage (EMFILE) the server retries, pausing briefly, not spinning, and serves the waiting clients once it can
/// Read: "Step 4: `accept()`, and who is there"
#[test]
fn running_out_of_descriptors_pauses_the_server_until_one_is_free() {
    let (_dir, mut server) = start_server();
    accepting::assert_out_of_descriptors_pauses_then_serves(&mut server);
    assert!(unix::is_socket_file(server.path()));
}

/// Extra arguments are usage errors too (exit 2), not silently ignored.
///
/// Rule: every binary: arguments — Missing or extra arguments, or an argument that does not parse, are a usage error
/// Read: "Arguments and signals"
#[test]
fn extra_arguments_are_usage_errors() {
    let dir = SocketDir::new();
    let path = dir.join("server.sock");
    let path = path.to_str().expect("a UTF-8 temp dir");
    rules::assert_extra_argument_rejected(&server_bin(), &[path]);
    rules::assert_extra_argument_rejected(&client_bin(), &[path]);
}

/// SIGINT and SIGTERM each stop a server waiting in `accept` within 1 s.
///
/// Rule: every binary: stopping a server — SIGINT (Ctrl-C) or SIGTERM ends any server within a second
/// Read: "Removing the file when stopped"
#[test]
fn stop_signals_end_the_server_within_a_second() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let (_dir, mut server) = start_server();
        rules::assert_stops_on(&mut server, signal);
    }
}
