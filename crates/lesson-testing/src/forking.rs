//! Scenarios for servers that serve each connection in a process of its
//! own (lessons 02 and 03) with lesson 01's exchange: the client sends a
//! line, the server prints `Here is the message: LINE` and answers
//! `I got your message`. Each scenario asserts what the contract promises
//! and fails with what it saw instead.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::procfs::{connection_sockets, descriptors};
use crate::stream::{exchange, Stream, PROMPT, REPLY};
use crate::{client, wait_until, Server, WAIT};

/// `count` short distinct messages, each ending in a newline.
pub fn numbered(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| format!("{prefix} {i}\n")).collect()
}

/// `count` distinct messages of about 200 bytes, newline included, so
/// that a line mixed with another would show.
pub fn long_messages(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("client {i:03} {}\n", "abcdefghij".repeat(19)))
        .collect()
}

/// The stdout line the server prints for `message`.
pub fn printed(message: &str) -> String {
    format!("Here is the message: {}", message.trim_end_matches('\n'))
}

/// Runs the real client once, sending `message` and a newline, and checks
/// that it shows the prompt and the reply and exits 0.
pub fn run_client(client_bin: &Path, server: &Server, message: &str) {
    client(client_bin)
        .args(["127.0.0.1", &server.port().to_string()])
        .write_stdin(format!("{message}\n"))
        .assert()
        .success()
        .stdout(format!("{PROMPT}{}\n", String::from_utf8_lossy(REPLY)));
}

/// A burst: opens one connection per message, all of them before any is
/// used, so that every child exists at once; then sends each its message
/// and half-closes; then reads every reply to its end (the child closing
/// the connection as it exits). When this returns, every client is done.
/// Returns the replies in order.
pub fn burst(server: &Server, messages: &[String]) -> Vec<Vec<u8>> {
    let mut peers: Vec<Stream> = messages.iter().map(|_| server.connect()).collect();
    for (peer, message) in peers.iter_mut().zip(messages) {
        peer.write_all(message.as_bytes())
            .expect("sending a message");
        peer.shutdown_write();
    }
    // One deadline for all the reads, so that a server that never closes
    // costs the test WAIT once, not WAIT per connection.
    let deadline = Instant::now() + WAIT;
    peers
        .into_iter()
        .map(|mut peer| {
            let left = deadline.saturating_duration_since(Instant::now());
            peer.set_read_timeout(Some(left.max(Duration::from_millis(1))));
            let mut reply = Vec::new();
            // A reset after the reply is fine; what arrived before it stays.
            let _ = peer.read_to_end(&mut reply);
            reply
        })
        .collect()
}

/// Runs a burst and checks that every client got the reply.
pub fn burst_answered(server: &Server, messages: &[String]) {
    for (reply, message) in burst(server, messages).iter().zip(messages) {
        assert_eq!(reply, REPLY, "the reply to {message:?}");
    }
}

/// Waits until the parent holds no connection's socket (it closes its
/// copy just after fork() returns, which may be a moment after the child
/// has answered), then lists its open descriptors.
pub fn settled_descriptors(server: &Server) -> Vec<(u32, String)> {
    let settled = wait_until(WAIT, || connection_sockets(server.pid()) == 0);
    assert!(
        settled,
        "the parent still holds {} connection socket(s) {WAIT:?} after its clients were \
         answered: it must close each connection after fork()",
        connection_sockets(server.pid())
    );
    descriptors(server.pid())
}

/// Waits for `messages.len()` stdout lines and checks that they are
/// exactly the messages' lines, each once, in any order.
pub fn assert_printed_once_each(server: &Server, messages: &[String]) {
    let lines = server.wait_for_stdout_lines(messages.len());
    let expected: BTreeSet<String> = messages.iter().map(|m| printed(m)).collect();
    for line in &lines {
        assert!(
            expected.contains(line),
            "a mixed or unexpected line: {line:?}"
        );
    }
    assert_eq!(
        lines.len(),
        messages.len(),
        "one line per client: {lines:?}"
    );
    assert_eq!(lines.into_iter().collect::<BTreeSet<_>>(), expected);
}

/// A client that connects and then says nothing does not hold up the next
/// one; and it is still answered once it talks.
pub fn silent_client_does_not_delay_another(server: &Server, client_bin: &Path) {
    let silent = server.connect();
    run_client(client_bin, server, "not kept waiting");
    assert_eq!(
        server.wait_for_stdout_lines(1),
        [printed("not kept waiting")]
    );
    assert_eq!(exchange(silent, b"finally\n"), REPLY);
}

/// Fifty clients one after another, each the real client binary: every
/// one answered, every message printed once.
pub fn fifty_sequential_clients(server: &Server, client_bin: &Path) {
    let messages = numbered("sequential", 50);
    for message in &messages {
        run_client(client_bin, server, message.trim_end());
    }
    assert_printed_once_each(server, &messages);
}

/// Twenty clients at the same time, each the real client binary on a
/// thread of its own: all answered, every message printed once.
pub fn twenty_concurrent_clients(server: &Server, client_bin: &Path) {
    let messages = numbered("concurrent", 20);
    thread::scope(|scope| {
        for message in &messages {
            scope.spawn(move || run_client(client_bin, server, message.trim_end()));
        }
    });
    assert_printed_once_each(server, &messages);
}

/// The parent closes every connection it hands to a child: its count of
/// open descriptors is the same after 100 connections as after 1.
pub fn descriptor_count_does_not_grow(server: &Server) {
    // Only the reply's 18 bytes, not the end of the stream: a parent that
    // leaks the connection keeps it open, and the check would first wait
    // out its bound here instead of saying what is wrong just below.
    let mut first = server.connect();
    first.write_all(b"first\n").expect("sending a message");
    let mut reply = vec![0u8; REPLY.len()];
    first
        .read_exact(&mut reply)
        .expect("the reply to the first message");
    assert_eq!(reply, REPLY);
    drop(first);
    let after_one = settled_descriptors(server);
    burst_answered(server, &numbered("connection", 99));
    let after_hundred = settled_descriptors(server);
    let list = |found: &[(u32, String)]| {
        found
            .iter()
            .map(|(fd, target)| format!("{fd} {target}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    assert_eq!(
        after_one.len(),
        after_hundred.len(),
        "the parent's open descriptors after 1 connection ({}) and after 100 ({}): a \
         descriptor the parent opens for each connection must be closed",
        list(&after_one),
        list(&after_hundred)
    );
}

/// Fifty concurrent children print through one stdout; each line is
/// written whole, so every line is exactly one expected line.
pub fn stdout_lines_stay_whole(server: &Server) {
    let messages = long_messages(50);
    burst_answered(server, &messages);
    assert_printed_once_each(server, &messages);
}

/// Three clients, one after another, each served and done; then, within
/// 1 s, nothing the server started is still running: its children have
/// ended (zombies, for a server that does not reap them, or gone), and no
/// other process of its process group runs. A child that leaves processes
/// behind it, or lingers instead of exiting, fails this with their names.
pub fn nothing_but_zombies_remain(server: &Server, client_bin: &Path) {
    for message in ["first", "second", "third"] {
        run_client(client_bin, server, message);
    }
    let server_pid = server.pid();
    let running = || -> Vec<crate::procfs::Process> {
        let mut found = crate::procfs::children_of(server_pid);
        for member in crate::procfs::group_members(server_pid) {
            if !found.iter().any(|p| p.pid == member.pid) {
                found.push(member);
            }
        }
        found.retain(|p| p.pid != server_pid && !p.is_zombie());
        found
    };
    wait_until(Duration::from_secs(1), || running().is_empty());
    let left = running();
    assert!(
        left.is_empty(),
        "after its clients were done, {} process(es) the server started were still running, \
         not zombies: {}. A child must end once its client is served, and leave nothing \
         running behind it.",
        left.len(),
        left.iter()
            .take(10)
            .map(|p| format!("{} `{}` (state {})", p.pid, p.command, p.state))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
