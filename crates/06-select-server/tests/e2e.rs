//! End-to-end checks of lesson 06 against the contract (section 06 and the
//! rules for every binary). They drive the real binaries: ours by default,
//! or any other implementation named by `LESSON_BIN_SELECT_SERVER` and
//! `LESSON_BIN_SELECT_CLIENT` (with `LESSON_NO_READINESS_LINE=1` for
//! programs that print no readiness line, such as the tutorial's C).
//!
//! This is the lesson where a naive server breaks under real clients, so
//! most checks are clients behaving badly: lines in pieces, a client that
//! stops mid-line, one that never reads, one that resets, more connections
//! than `select()` can watch, a process out of descriptors. Every server
//! listens on port 0 and is found through the kernel's socket table, every
//! wait is bounded, and every process is killed on drop.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::Duration;

use lesson_testing::procfs::connection_sockets;
use lesson_testing::stream::{read_line, Stream};
use lesson_testing::tcp::{self, fake_server};
use lesson_testing::{binary, client, rules, wait_until, Interactive, Server, Transport, WAIT};
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::signal::Signal;

/// `select()` watches descriptors below this, and no others.
const FD_SETSIZE: usize = 1024;

fn server_bin() -> PathBuf {
    binary("select-server", env!("CARGO_BIN_EXE_select-server"))
}

fn client_bin() -> PathBuf {
    binary("select-client", env!("CARGO_BIN_EXE_select-client"))
}

fn start_server() -> Server {
    Server::start(&server_bin(), &["0"], Transport::Tcp)
}

/// The server started with its descriptor limit (`ulimit -n`) set to
/// `limit`, soft and hard.
fn start_server_with_descriptor_limit(limit: u64) -> Server {
    let mut command = Command::new(server_bin());
    command.arg("0");
    // SAFETY: the closure runs in the forked child just before exec, where
    // only async-signal-safe work is allowed. setrlimit() is a plain system
    // call on the child's own limits: it takes no lock and touches no
    // memory shared with the test process.
    unsafe {
        command.pre_exec(move || {
            setrlimit(Resource::RLIMIT_NOFILE, limit, limit).map_err(std::io::Error::from)
        });
    }
    Server::start_command(command, Transport::Tcp)
}

/// Raises this test process's own descriptor limit to its hard limit, so
/// that it can hold `needed` sockets; fails the test if that is not enough.
fn allow_descriptors(needed: u64) {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard).expect("raising RLIMIT_NOFILE");
    }
    assert!(
        hard >= needed,
        "this check needs {needed} descriptors; the hard limit (ulimit -Hn) is {hard}"
    );
}

/// How many descriptors below `limit` process `pid` has open.
fn descriptors_below(pid: i32, limit: usize) -> usize {
    lesson_testing::procfs::descriptors(pid)
        .iter()
        .filter(|(fd, _)| (*fd as usize) < limit)
        .count()
}

/// What the server sends back for `line`.
fn reply(line: &str) -> String {
    format!("I got your message: {line}\n")
}

/// What the server prints for `line`.
fn printed(line: &str) -> String {
    format!("Here is the message: {line}")
}

/// Reads exactly `len` bytes (bounded by the stream's timeout of `WAIT`).
fn read_bytes(stream: &mut impl Read, len: usize) -> Vec<u8> {
    let mut bytes = vec![0; len];
    stream
        .read_exact(&mut bytes)
        .unwrap_or_else(|e| panic!("reading {len} bytes of replies: {e}"));
    bytes
}

/// Reads until the server closes the connection, which must be an orderly
/// close (end of stream), not a reset.
fn read_until_closed(stream: &mut impl Read) -> Vec<u8> {
    let mut received = Vec::new();
    if let Err(e) = stream.read_to_end(&mut received) {
        panic!(
            "expected the server to close the connection, got {e} after {:?}",
            String::from_utf8_lossy(&received)
        );
    }
    received
}

/// One whole conversation on a fresh connection: send `line` and a
/// newline, read the reply. Proves the server is alive and serving.
fn assert_served(server: &Server, line: &str) {
    let mut stream = server.connect();
    stream
        .write_all(format!("{line}\n").as_bytes())
        .expect("sending a line");
    let expected = reply(line);
    assert_eq!(
        String::from_utf8_lossy(&read_bytes(&mut stream, expected.len())),
        expected,
        "stderr: {}",
        server.stderr_text()
    );
}

/// The server is still running (it has not exited, crashed or panicked).
fn assert_running(server: &mut Server) {
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server has exited; stderr: {}",
        server.stderr_text()
    );
    assert!(!server.stderr_text().contains("panicked"));
}

/// How a connection that was sent a line ended up.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The expected reply came.
    Served,
    /// The server closed the connection (end of stream or reset).
    Closed,
}

/// Sends `line` on `stream` if it can, then waits for the reply or for the
/// connection's end; anything else (silence until `WAIT`, another reply)
/// fails the test.
fn served_or_closed(stream: &mut Stream, line: &str) -> Outcome {
    let _ = stream.write_all(format!("{line}\n").as_bytes());
    let expected = reply(line);
    let mut got = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) if got.is_empty() => return Outcome::Closed,
            Ok(0) => panic!("closed after a partial reply {got:?}"),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            // A signal came to this test process: a read with a timeout
            // is never restarted (signal(7)), so ask again.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                return Outcome::Closed
            }
            Err(e) => panic!("connection for {line:?}: neither served nor closed: {e}"),
        }
        if got.len() >= expected.len() {
            assert_eq!(String::from_utf8_lossy(&got), expected);
            return Outcome::Served;
        }
    }
}

// ---------------------------------------------------------------------
// The service: lines in, replies out, to the right client, in order.
// ---------------------------------------------------------------------

/// One client sends three lines, an empty one among them: each is printed
/// once and answered, in order, on the same connection.
///
/// Rule: 06: for each line L: `Here is the message: L` printed, `I got your message: L` sent to that client alone; an empty line is a line too
/// Read: "Reading: a read is not a line"
#[test]
fn replies_come_in_order_for_one_client() {
    let server = start_server();
    let mut stream = server.connect();
    stream.write_all(b"one\n").expect("first line");
    assert_eq!(
        read_bytes(&mut stream, reply("one").len()),
        reply("one").as_bytes()
    );
    stream.write_all(b"two\n\nthree\n").expect("more lines");
    let expected = [reply("two"), reply(""), reply("three")].concat();
    assert_eq!(
        String::from_utf8_lossy(&read_bytes(&mut stream, expected.len())),
        expected
    );
    assert_eq!(
        server.wait_for_stdout_lines(4),
        [
            printed("one"),
            printed("two"),
            printed(""),
            printed("three")
        ]
    );
}

/// 300 clients connected at once, each sending 20 lines of its own: every
/// client receives exactly its own 20 replies, in order, and the server
/// prints all 6000 lines, each client's in its order.
///
/// Rule: 06: any number of clients at once, each line answered to its own client
/// Read: "3. Serving the ready ones"
#[test]
fn three_hundred_concurrent_clients_each_get_their_own_replies() {
    const CLIENTS: usize = 300;
    const LINES: usize = 20;
    allow_descriptors(2 * CLIENTS as u64);
    let server = start_server();
    // All connected before anyone sends: 300 connections open at once.
    let streams: Vec<Stream> = (0..CLIENTS).map(|_| server.connect()).collect();
    let clients: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(c, mut stream)| {
            thread::spawn(move || {
                let lines: Vec<String> =
                    (0..LINES).map(|l| format!("client {c} line {l}")).collect();
                for line in &lines {
                    stream
                        .write_all(format!("{line}\n").as_bytes())
                        .expect("sending a line");
                }
                let expected: String = lines.iter().map(|l| reply(l)).collect();
                let got = read_bytes(&mut stream, expected.len());
                assert_eq!(String::from_utf8_lossy(&got), expected, "client {c}");
            })
        })
        .collect();
    for (c, handle) in clients.into_iter().enumerate() {
        handle
            .join()
            .unwrap_or_else(|_| panic!("client {c} did not get exactly its replies"));
    }
    let shown = server.wait_for_stdout_lines(CLIENTS * LINES);
    assert_eq!(
        shown.len(),
        CLIENTS * LINES,
        "one line printed per line sent"
    );
    for c in 0..CLIENTS {
        let prefix = printed(&format!("client {c} line "));
        let order: Vec<&str> = shown
            .iter()
            .filter_map(|l| l.strip_prefix(prefix.as_str()))
            .collect();
        let expected: Vec<String> = (0..LINES).map(|l| l.to_string()).collect();
        assert_eq!(order, expected, "client {c}'s lines, as printed");
    }
}

/// A line that arrives one byte per read is still one line: the server
/// keeps the piece it has until the newline comes.
///
/// Rule: 06: a line may arrive split over reads
/// Read: "Reading: a read is not a line"
#[test]
fn a_line_delivered_one_byte_at_a_time_is_one_line() {
    let server = start_server();
    let mut stream = server.connect().into_tcp();
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let line = "one byte at a time";
    for byte in format!("{line}\n").bytes() {
        stream.write_all(&[byte]).expect("sending a byte");
        // The next byte goes out only once the server has read this one,
        // so each byte comes to it in a read of its own.
        assert!(
            tcp::wait_until_peer_has_read(&stream),
            "the server stopped reading"
        );
    }
    assert_eq!(
        read_bytes(&mut stream, reply(line).len()),
        reply(line).as_bytes()
    );
    assert_eq!(server.wait_for_stdout_lines(1), [printed(line)]);
}

/// Several lines in one write (so, most likely, in one read) are each
/// answered.
///
/// Rule: 06: several lines may arrive in one read
/// Read: "Reading: a read is not a line"
#[test]
fn several_lines_in_one_write_are_each_answered() {
    let server = start_server();
    let mut stream = server.connect();
    stream
        .write_all(b"alpha\nbeta\ngamma\n")
        .expect("three lines");
    let expected = [reply("alpha"), reply("beta"), reply("gamma")].concat();
    assert_eq!(
        String::from_utf8_lossy(&read_bytes(&mut stream, expected.len())),
        expected
    );
    assert_eq!(
        server.wait_for_stdout_lines(3),
        [printed("alpha"), printed("beta"), printed("gamma")]
    );
}

/// Bytes that are not UTF-8 go back to the client exactly as sent, and are
/// printed lossily, each bad sequence as U+FFFD.
///
/// Rule: every binary: messages — bytes, not necessarily UTF-8, shown lossily
/// Read: "Reading: a read is not a line"
#[test]
fn non_utf8_bytes_are_echoed_intact_and_printed_lossily() {
    let server = start_server();
    let mut stream = server.connect();
    stream.write_all(b"caf\xe9 \xff ok\n").expect("a line");
    let expected = b"I got your message: caf\xe9 \xff ok\n";
    assert_eq!(read_bytes(&mut stream, expected.len()), expected);
    assert_eq!(
        server.wait_for_stdout_lines(1),
        [printed("caf\u{FFFD} \u{FFFD} ok")]
    );
}

// ---------------------------------------------------------------------
// Clients that behave badly: nobody waits for them.
// ---------------------------------------------------------------------

/// A client that sends half a line and stops holds up no one: another
/// client is served meanwhile, and the first is answered once its line is
/// complete.
///
/// Rule: 06: a client that sends half a line and stops delays no one else
/// Read: "Reading: a read is not a line"
#[test]
fn a_client_stalled_mid_line_delays_no_one() {
    let server = start_server();
    let mut staller = server.connect().into_tcp();
    staller.write_all(b"half a li").expect("half a line");
    assert!(
        tcp::wait_until_peer_has_read(&staller),
        "the server never read the half line"
    );

    assert_served(&server, "meanwhile, another client");

    staller.write_all(b"ne\n").expect("the rest of the line");
    let expected = reply("half a line");
    assert_eq!(
        read_bytes(&mut staller, expected.len()),
        expected.as_bytes()
    );
}

/// A client that writes megabytes and never reads its replies is closed
/// (more than 64 KiB of replies unsent), while the others are served.
///
/// Rule: 06: a client with more than 64 KiB of unsent replies is closed; one that never reads delays no one
/// Read: "Closing"
#[test]
fn a_client_that_never_reads_is_closed_while_others_are_served() {
    let mut server = start_server();
    let hog = server.connect().into_tcp();
    // A small receive buffer: its replies back up sooner.
    socket2::SockRef::from(&hog)
        .set_recv_buffer_size(4096)
        .expect("SO_RCVBUF");
    let writer = thread::spawn(move || -> Result<usize, String> {
        let mut hog = hog;
        let chunk = format!("{}\n", "z".repeat(99)).repeat(640); // 64000 bytes
        let mut sent = 0;
        // Far more than any kernel buffers: a server that never closes the
        // hog makes this write block, and time out after WAIT.
        while sent < 512 * 1024 * 1024 {
            match hog.write_all(chunk.as_bytes()) {
                Ok(()) => sent += chunk.len(),
                Err(e)
                    if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) =>
                {
                    return Ok(sent)
                }
                Err(e) => return Err(format!("after {sent} bytes: {e}")),
            }
        }
        Err(format!(
            "{sent} bytes sent, and the server still had not closed the connection"
        ))
    });

    // While the hog writes, another client is served.
    assert_served(&server, "served while the hog writes");

    let sent = writer
        .join()
        .expect("the hog's writer")
        .unwrap_or_else(|why| panic!("the hog was never closed: {why}"));
    assert!(sent > 64 * 1024, "closed after only {sent} bytes");
    assert_served(&server, "served after the hog is gone");
    assert_running(&mut server);
}

/// A client that resets the connection (SO_LINGER 0) with replies still on
/// their way does not stop the server: the next client is served.
///
/// Rule: 06: a client that vanishes (reset, SIGPIPE) never stops the server
/// Read: "Writing: replies queue up"
#[test]
fn a_reset_with_replies_pending_does_not_stop_the_server() {
    let mut server = start_server();
    let mut doomed = server.connect();
    let lines: String = (0..3000).map(|i| format!("pending {i}\n")).collect();
    doomed.write_all(lines.as_bytes()).expect("sending lines");
    server.wait_for_stdout_lines(3000);
    let doomed = socket2::Socket::from(doomed.into_tcp());
    doomed
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER 0");
    drop(doomed); // close with linger 0: a reset

    assert_served(&server, "after the reset");
    assert_running(&mut server);
}

// ---------------------------------------------------------------------
// The limits, and closing.
// ---------------------------------------------------------------------

/// A 5000-byte line gets `ERROR line too long`, after the replies to the
/// lines before it; then the server shuts its side down and throws away
/// what the client still sends, so the client reads the error line and an
/// orderly end of stream, never a reset.
///
/// Rule: 06: a line over 4096 bytes gets `ERROR line too long`; the server then shuts down its sending side and discards input until the client closes
/// Read: "Closing"
#[test]
fn a_line_over_4096_bytes_gets_an_error_then_the_connection_closes() {
    let mut server = start_server();
    let mut stream = server.connect();
    let mut sent = b"before\n".to_vec();
    sent.extend(std::iter::repeat_n(b'x', 5000));
    sent.extend_from_slice(b"\nafter\n");
    // More input after the long line: the server must read it and throw
    // it away, not close with it unread (which would send a reset).
    sent.extend(std::iter::repeat_n(b'y', 100_000));
    stream
        .write_all(&sent)
        .expect("sending the long line and more");

    let received = read_until_closed(&mut stream);
    assert_eq!(
        String::from_utf8_lossy(&received),
        format!("{}ERROR line too long\n", reply("before"))
    );
    drop(stream);
    assert_served(&server, "next");
    let shown = server.stdout_lines();
    assert!(shown.contains(&printed("before")), "stdout: {shown:?}");
    assert!(
        !shown.iter().any(|l| l.contains("after")),
        "input after the long line must be thrown away; stdout: {shown:?}"
    );
    assert_running(&mut server);
}

/// The limit is 4096 bytes, the newline not counted: a line of exactly
/// 4096 bytes is answered, one of 4097 is refused.
///
/// Rule: 06: the newline not counted, 4096 bytes is accepted and 4097 is too long
/// Read: "Reading: a read is not a line"
#[test]
fn the_longest_line_allowed_is_4096_bytes() {
    let server = start_server();
    let longest = "a".repeat(4096);
    let mut stream = server.connect();
    stream
        .write_all(format!("{longest}\n").as_bytes())
        .expect("a 4096-byte line");
    assert_eq!(
        read_bytes(&mut stream, reply(&longest).len()),
        reply(&longest).as_bytes()
    );

    let mut stream = server.connect();
    stream
        .write_all(format!("{longest}b\n").as_bytes())
        .expect("a 4097-byte line");
    assert_eq!(read_until_closed(&mut stream), b"ERROR line too long\n");
}

/// A client that half-closes after a last piece without a newline gets
/// that piece answered as a line, after its other replies; then the
/// server closes the connection.
///
/// Rule: 06: a half-closed client's last piece is served as a line, its replies sent, then it is closed
/// Read: "Closing"
#[test]
fn half_close_serves_the_last_piece_and_then_closes() {
    let server = start_server();
    let mut stream = server.connect();
    stream.write_all(b"first\nlast piece").expect("sending");
    stream.shutdown_write();
    let received = read_until_closed(&mut stream);
    assert_eq!(
        String::from_utf8_lossy(&received),
        [reply("first"), reply("last piece")].concat()
    );
    assert_eq!(
        server.wait_for_stdout_lines(2),
        [printed("first"), printed("last piece")]
    );
}

/// With `ulimit -n 4096`, the kernel hands out descriptors that select()
/// cannot watch. With 1100 connections open, those at 1024 and above are
/// closed at once (with a line on stderr); the others are served, the
/// server survives, and it serves a new client once they are gone.
///
/// Rule: 06: a descriptor of FD_SETSIZE (1024) or more is closed at once, with a line on stderr; the others are served
/// Read: "The FD_SETSIZE guard"
#[test]
fn connections_beyond_fd_setsize_are_closed_and_the_rest_served() {
    const CONNECTIONS: usize = 1100;
    allow_descriptors(2 * CONNECTIONS as u64);
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    let mut server = start_server_with_descriptor_limit(hard.min(4096));
    // One client served and gone first: a server may open descriptors of
    // its own after it is listening (ours opens its spare one as its loop
    // starts), and they must be counted before the free ones are.
    let mut first = server.connect();
    first.write_all(b"first\n").expect("sending");
    first.shutdown_write();
    assert_eq!(read_until_closed(&mut first), reply("first").as_bytes());
    drop(first);
    assert!(
        wait_until(WAIT, || connection_sockets(server.pid()) == 0),
        "the server kept the first client's connection open"
    );
    // Every number below FD_SETSIZE the server is not using yet can be a
    // client's: that many clients must be served, exactly.
    let free_below_limit = FD_SETSIZE - descriptors_below(server.pid(), FD_SETSIZE);

    let mut streams: Vec<Stream> = (0..CONNECTIONS).map(|_| server.connect()).collect();
    let mut served = 0;
    for (i, stream) in streams.iter_mut().enumerate() {
        if served_or_closed(stream, &format!("connection {i}")) == Outcome::Served {
            served += 1;
        }
    }
    assert_eq!(
        served, free_below_limit,
        "every free descriptor below FD_SETSIZE should serve a client, and no other"
    );
    let told: Vec<String> = server
        .stderr_lines()
        .into_iter()
        .filter(|l| !l.starts_with("listening on"))
        .collect();
    assert!(
        !told.is_empty(),
        "no line on stderr about the closed connections"
    );
    assert_running(&mut server);

    drop(streams);
    assert!(
        wait_until(WAIT, || server.open_descriptors() < 64),
        "the server did not close the connections its clients closed"
    );
    assert_served(&server, "a new client, afterwards");
}

/// With `ulimit -n 32`, accept() fails with EMFILE while connections are
/// waiting. The server sheds them (closes each at once) instead of
/// spinning on a listening socket that stays readable: every connection is
/// served or closed, and once they are gone a new client is served.
///
/// Rule: 06: on EMFILE the server sheds the connection instead of spinning
/// Read: "Out of descriptors"
#[test]
fn out_of_descriptors_the_server_sheds_connections() {
    const CONNECTIONS: usize = 60;
    let mut server = start_server_with_descriptor_limit(32);
    let mut streams: Vec<Stream> = (0..CONNECTIONS).map(|_| server.connect()).collect();
    let mut served = 0;
    for (i, stream) in streams.iter_mut().enumerate() {
        if served_or_closed(stream, &format!("connection {i}")) == Outcome::Served {
            served += 1;
        }
    }
    assert!(
        served > 0 && served < 32,
        "{served} of {CONNECTIONS} served with 32 descriptors"
    );
    assert_running(&mut server);

    drop(streams);
    assert!(
        wait_until(WAIT, || server.open_descriptors() < 16),
        "the server did not close the connections its clients closed"
    );
    assert_served(&server, "a new client, afterwards");
}

// ---------------------------------------------------------------------
// The client.
// ---------------------------------------------------------------------

/// `select-client` with five lines on stdin: five replies, in order, on
/// stdout, and exit 0 once the server has closed.
///
/// Rule: 06: the client sends each stdin line, prints each reply, and exits 0 once the server has closed
/// Read: "The client: `select()` over stdin and the socket"
#[test]
fn client_sends_five_lines_and_prints_five_replies() {
    let server = start_server();
    let lines = ["one", "two", "three", "four", "five"];
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let expected: String = lines.iter().map(|l| reply(l)).collect();
    client(&client_bin())
        .args(["127.0.0.1", &server.port().to_string()])
        .write_stdin(input)
        .assert()
        .success()
        .stdout(expected);
    let shown = server.wait_for_stdout_lines(5);
    assert_eq!(shown, lines.map(printed));
}

/// The client prints each reply as it comes, without waiting for the end
/// of its input: the first reply shows while stdin is still open.
///
/// Rule: 06: the client prints each reply line as it comes
/// Read: "The client: `select()` over stdin and the socket"
#[test]
fn client_prints_replies_as_they_come() {
    let server = start_server();
    let mut typist = Interactive::start(&client_bin(), &["localhost", &server.port().to_string()]);
    typist.type_bytes(b"first\n");
    assert!(
        typist.wait_for_stdout(reply("first").as_bytes()),
        "no reply while stdin stays open; stdout {:?}, stderr {:?}",
        String::from_utf8_lossy(&typist.stdout_bytes()),
        typist.stderr_text()
    );
    typist.type_and_close(b"second\n");
    let status = typist.wait_for_exit().expect("the client exits");
    assert!(
        status.success(),
        "exit status {status}: {}",
        typist.stderr_text()
    );
    assert_eq!(
        typist.stdout_bytes(),
        [reply("first"), reply("second")].concat().as_bytes()
    );
}

/// Many lines at once (more than the buffers between client and server
/// hold): the client keeps reading replies while it sends, so nothing
/// stalls and every reply comes back, in order.
///
/// Rule: 06: the client watches stdin and the socket with select()
/// Read: "The client: `select()` over stdin and the socket"
#[test]
fn client_reads_replies_while_it_sends() {
    let server = start_server();
    let lines: Vec<String> = (0..20_000).map(|i| format!("line {i}")).collect();
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let expected: String = lines.iter().map(|l| reply(l)).collect();
    let run = client(&client_bin())
        .args(["127.0.0.1", &server.port().to_string()])
        .write_stdin(input)
        .assert()
        .success();
    assert!(
        run.get_output().stdout == expected.as_bytes(),
        "the replies differ from the lines sent (got {} bytes, expected {})",
        run.get_output().stdout.len(),
        expected.len()
    );
}

/// At the end of its input the client half-closes and keeps reading: a
/// server that answers only after the end of input is still heard.
///
/// Rule: 06: at the end of stdin the client half-closes, and exits 0 once the server has closed
/// Read: "The client: `select()` over stdin and the socket"
#[test]
fn client_half_closes_at_end_of_input_and_reads_on() {
    let (port, peer) = fake_server(|mut stream| {
        let mut received = Vec::new();
        // Returns only when the client half-closes.
        stream
            .read_to_end(&mut received)
            .expect("reading until the half-close");
        assert_eq!(received, b"a\nb\n");
        stream.write_all(b"late reply\n").expect("reply");
    });
    client(&client_bin())
        .args(["127.0.0.1", &port.to_string()])
        .write_stdin("a\nb\n")
        .assert()
        .success()
        .stdout("late reply\n");
    peer.join()
        .expect("the fake server saw both lines, then a half-close");
}

/// A server that closes first (while the client's stdin is still open):
/// the client prints what it got and exits 0.
///
/// Rule: 06: if the server closes first, the client still exits 0
/// Read: "The client: `select()` over stdin and the socket"
#[test]
fn client_exits_zero_when_the_server_closes_first() {
    let (port, peer) = fake_server(|mut stream| {
        assert_eq!(read_line(&mut stream), b"hello\n");
        stream.write_all(b"bye\n").expect("reply");
    });
    let mut typist = Interactive::start(&client_bin(), &["127.0.0.1", &port.to_string()]);
    typist.type_bytes(b"hello\n");
    let status = typist
        .wait_for_exit()
        .expect("the client exits with stdin open");
    assert!(
        status.success(),
        "exit status {status}: {}",
        typist.stderr_text()
    );
    assert_eq!(typist.stdout_bytes(), b"bye\n");
    peer.join().expect("fake server");
}

/// A reset from the server is a failure: the client exits 1.
///
/// Rule: 06: a reset makes the client exit 1
/// Read: "The client: `select()` over stdin and the socket"
#[test]
fn client_exits_one_on_a_reset() {
    let (port, peer) = fake_server(|mut stream| {
        assert_eq!(read_line(&mut stream), b"hello\n");
        let stream = socket2::Socket::from(stream);
        stream
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER 0");
        drop(stream); // a reset
    });
    let mut typist = Interactive::start(&client_bin(), &["127.0.0.1", &port.to_string()]);
    typist.type_bytes(b"hello\n");
    let status = typist
        .wait_for_exit()
        .expect("the client exits with stdin open");
    assert_eq!(status.code(), Some(1), "stderr: {}", typist.stderr_text());
    peer.join().expect("fake server");
}

/// Nothing listening: exit 1 with `ERROR connecting` and the OS reason.
///
/// Rule: every binary: errors — If nothing listens on the port, it exits with status 1 and stderr says `ERROR connecting` and `Connection refused`
/// Read: "The client: `select()` over stdin and the socket"
#[test]
fn client_reports_connection_refused() {
    rules::assert_connection_refused(&client_bin());
}

/// A host the resolver does not know (`.invalid` never resolves): exit 1
/// with `no such host`.
///
/// Rule: every binary: errors — If HOST cannot be resolved, the client exits with status 1 and stderr says `no such host`
/// Read: "The client: `select()` over stdin and the socket"
#[test]
fn client_reports_an_unknown_host() {
    rules::assert_unknown_host_reported(&client_bin());
}

// ---------------------------------------------------------------------
// The rules for every binary.
// ---------------------------------------------------------------------

/// Ports are decimal integers 0..=65535; anything else, or none, is a
/// usage error (exit 2) whose message mentions the port.
///
/// Rule: every binary: ports — A port is a decimal number from 0 to 65535. Port 0 asks the kernel to pick a free port. Anything else (`abc`, `-1`, `70000`) is a usage error
/// Read: "The program"
#[test]
fn bad_or_missing_ports_are_usage_errors() {
    rules::assert_bad_ports_rejected(&server_bin(), &[], &[]);
    rules::assert_bad_ports_rejected(&client_bin(), &["localhost"], &[]);
}

/// Extra arguments are usage errors too (exit 2), not silently ignored.
///
/// Rule: every binary: arguments — Missing or extra arguments, or an argument that does not parse, are a usage error
/// Read: "The program"
#[test]
fn extra_arguments_are_usage_errors() {
    rules::assert_extra_argument_rejected(&server_bin(), &["0"]);
    rules::assert_extra_argument_rejected(&client_bin(), &["localhost", "1"]);
}

/// `-h` and `--help`, anywhere on the line: usage on stdout, exit 0.
///
/// Rule: every binary: help — `-h` or `--help`, anywhere on the line, prints a usage text on stdout (it contains the word `usage`) and exits with status 0
/// Read: "The program"
#[test]
fn help_prints_usage_and_exits_zero() {
    rules::assert_help(&server_bin(), &["0"]);
    rules::assert_help(&client_bin(), &["localhost", "1"]);
}

/// A port another socket listens on: exit 1, and the error names the step
/// (`binding`) and the OS reason.
///
/// Rule: every binary: errors — The line names the step that failed and gives the operating system's reason, in the tutorial's style
/// Read: "The program"
#[test]
fn server_reports_a_port_in_use() {
    rules::assert_port_in_use_reported(&server_bin(), &[]);
}

/// The readiness line names the port the kernel really chose for port 0.
///
/// Rule: every binary: the readiness line — A server prints exactly one line on stderr as soon as its socket is bound, and, for stream sockets, listening
/// Read: "The program"
#[test]
fn readiness_line_names_the_real_address() {
    rules::assert_readiness_line(&start_server());
}

/// SIGINT and SIGTERM stop the server within 1 s, also while it waits in
/// select() with clients connected.
///
/// Rule: every binary: stopping a server — SIGINT (Ctrl-C) or SIGTERM ends any server within a second
/// Read: "2. `select()`"
#[test]
fn stop_signals_end_the_server_within_a_second() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let mut server = start_server();
        let _idle = server.connect();
        assert_served(&server, "before the signal");
        rules::assert_stops_on(&mut server, signal);
    }
}

/// A shell starts a background job with SIGINT ignored; the server puts
/// the default action back, so SIGINT still stops it within 1 s.
///
/// Rule: every binary: stopping a server — Servers restore the default action of both signals when they start, because a shell may start a background job with SIGINT ignored
/// Read: "The program"
#[test]
fn sigint_stops_a_server_started_with_sigint_ignored() {
    rules::assert_sigint_restored(&server_bin(), &["0"], Transport::Tcp);
}

/// Started with SIGINT and SIGTERM blocked, the server unblocks them, so
/// each still stops it within 1 s.
///
/// Rule: every binary: stopping a server — and unblock them, because a process inherits its parent's blocked-signal mask and restoring the action does not change it
/// Read: "The program"
#[test]
fn signals_stop_a_server_started_with_them_blocked() {
    rules::assert_stop_signals_unblocked(&server_bin(), &["0"], Transport::Tcp);
}

/// Clients that send a burst of lines and reset the connection at once,
/// before the server has read them all: the server still reads what had
/// arrived and answers it, and its next `send()` fails. It fails with
/// `ECONNRESET` after a plain reset, and with `EPIPE` when the client had
/// half-closed first; `EPIPE` also raises SIGPIPE, whose default action
/// kills, unless the signal is ignored or `send()` is told not to raise
/// it. Either way the failure ends that connection, not the server: after
/// four such clients, two of each kind, the next one is served.
///
/// Rule: 06: a client that vanishes (reset, SIGPIPE) never stops the server
/// Read: "Writing: replies queue up"
#[test]
fn a_send_to_a_reset_client_does_not_stop_the_server() {
    let mut server = start_server();
    let lines: String = (0..5000).map(|i| format!("burst {i}\n")).collect();
    for half_close_first in [false, true, false, true] {
        let mut doomed = server.connect();
        doomed.write_all(lines.as_bytes()).expect("sending lines");
        if half_close_first {
            doomed.shutdown_write();
        }
        let doomed = socket2::Socket::from(doomed.into_tcp());
        doomed
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER 0");
        drop(doomed); // a reset, while the server is still reading
    }
    // The server gets through their lines within milliseconds: one that
    // dies of a failed send has ended by now.
    if let Some(status) = server.wait_for_exit(Duration::from_millis(500)) {
        panic!(
            "the server ended ({status}) after clients reset their connections; stderr: {}",
            server.stderr_text()
        );
    }
    assert_served(&server, "after the resets");
    assert_running(&mut server);
}
