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
//! is killed. The scenarios shared with lesson 03 live in
//! `lesson_testing::forking`, the rules every binary follows in
//! `lesson_testing::rules`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use lesson_testing::accepting;
use lesson_testing::forking::{self, burst_answered, numbered, printed};
use lesson_testing::stream::{exchange, REPLY};
use lesson_testing::{binary, rules, wait_until, Server, Transport, WAIT};
use nix::sys::signal::Signal;

fn server_bin() -> PathBuf {
    binary("fork-server", env!("CARGO_BIN_EXE_fork-server"))
}

fn client_bin() -> PathBuf {
    binary("fork-client", env!("CARGO_BIN_EXE_fork-client"))
}

fn start_server() -> Server {
    Server::start(&server_bin(), &["0"], Transport::Tcp)
}

/// Waits until the server has exactly `count` children, all zombies.
fn assert_zombies(server: &Server, count: usize) {
    let all_zombies = wait_until(WAIT, || {
        let children = server.children();
        children.len() == count && children.iter().all(|c| c.is_zombie())
    });
    assert!(
        all_zombies,
        "expected {count} zombie children, found {:?}",
        server.children()
    );
}

/// The tutorial's session, through a fork: the client sends `hello`, the
/// child prints it once and answers, and the server keeps running.
///
/// Rule: 02: the server runs until stopped; a forked child serves each connection exactly as in 01
/// Read: "Step 6: the child"
#[test]
fn client_and_server_exchange_one_message() {
    let mut server = start_server();
    forking::run_client(&client_bin(), &server, "hello");
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
///
/// Rule: 02: each child writes exactly `I got your message` (18 bytes) back, as in 01
/// Read: "`dostuff`: the service itself"
#[test]
fn server_replies_with_exactly_eighteen_bytes() {
    let server = start_server();
    assert_eq!(exchange(server.connect(), b"raw peer\n"), REPLY);
    assert_eq!(exchange(server.connect(), b"second peer\n"), REPLY);
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
///
/// Rule: 02: a client that connects and stays silent does not delay other clients
/// Read: "Why one process per connection"
#[test]
fn silent_client_does_not_delay_another() {
    forking::silent_client_does_not_delay_another(&start_server(), &client_bin());
}

/// Fifty clients one after another, each the real client binary: every one
/// is answered, and every message printed once.
///
/// Rule: 02: an accept loop, one forked child per connection, for as long as the server runs
/// Read: "Step 4: `accept()` in a loop"
#[test]
fn fifty_sequential_clients_are_all_answered() {
    forking::fifty_sequential_clients(&start_server(), &client_bin());
}

/// Twenty clients at the same time, each the real client binary on a
/// thread of its own: all answered, every message printed once.
///
/// Rule: 02: one forked child per connection, so clients are served at the same time
/// Read: "Step 5: `fork()`, the call that returns twice"
#[test]
fn twenty_concurrent_clients_are_all_answered() {
    forking::twenty_concurrent_clients(&start_server(), &client_bin());
}

/// The parent closes every connection it hands to a child: its count of
/// open descriptors is the same after 100 connections as after 1.
///
/// Rule: 02: the parent leaks no descriptors: it closes each connected socket, so its count is the same after 100 connections as after 1
/// Read: "Step 7: the parent, and who closes what"
#[test]
fn parent_descriptor_count_does_not_grow() {
    forking::descriptor_count_does_not_grow(&start_server());
}

/// Fifty concurrent children print through one stdout; each line is
/// written whole, so every line is exactly one expected line and each
/// message appears once.
///
/// Rule: every binary: stdout — every line is written whole (one write per line), so concurrent children's lines never interleave
/// Read: "`dostuff`: the service itself"
#[test]
fn stdout_lines_stay_whole_under_fifty_concurrent_clients() {
    forking::stdout_lines_stay_whole(&start_server());
}

/// This server never waits for its children: once their clients are done,
/// they stay zombies (state Z) for as long as the server runs.
///
/// Rule: 02: the server deliberately does not reap its children: finished children stay zombies while it runs
/// Read: "Zombies"
#[test]
fn finished_children_stay_zombies() {
    let server = start_server();
    burst_answered(&server, &numbered("zombie", 5));
    assert_zombies(&server, 5);
}

/// A parent that ignores SIGCHLD passes that on, and the kernel would then
/// reap the children behind the server's back. The server restores the
/// default, so its finished children still show as zombies.
///
/// Rule: every binary: stopping — servers that fork restore SIGCHLD's default action at start, so an inherited `SIG_IGN` does not reap behind their back
/// Read: "The program"
#[test]
fn inherited_ignored_sigchld_does_not_hide_the_zombies() {
    let server = rules::start_with_ignored(&server_bin(), &["0"], Signal::SIGCHLD, Transport::Tcp);
    burst_answered(&server, &numbered("hidden?", 3));
    assert_zombies(&server, 3);
}

/// SIGINT and SIGTERM stop the server within 1 s, also after it has forked
/// children.
///
/// Rule: every binary: stopping a server — SIGINT (Ctrl-C) or SIGTERM ends any server within a second
/// Read: "The program"
#[test]
fn stop_signals_end_the_server_within_a_second() {
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        let mut server = start_server();
        assert_eq!(exchange(server.connect(), b"before the signal\n"), REPLY);
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

/// A process inherits its parent's signal mask, across fork and exec.
/// Started with SIGINT and SIGTERM blocked, the server unblocks them, so
/// each still stops it within 1 s.
///
/// Rule: every binary: stopping a server — and unblock them, because a process inherits its parent's blocked-signal mask and restoring the action does not change it
/// Read: "A signal's action, and the signal mask"
#[test]
fn signals_stop_a_server_started_with_them_blocked() {
    rules::assert_stop_signals_unblocked(&server_bin(), &["0"], Transport::Tcp);
}

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

/// `-h` and `--help`: usage on stdout, exit 0, for server and client.
///
/// Rule: every binary: help — `-h` or `--help`, anywhere on the line, prints a usage text on stdout (it contains the word `usage`) and exits with status 0
/// Read: "The program"
#[test]
fn help_prints_usage_and_exits_zero() {
    rules::assert_help(&server_bin(), &["0"]);
    rules::assert_help(&client_bin(), &["localhost", "1"]);
}

/// The readiness line names the port the kernel really chose for port 0.
///
/// Rule: every binary: the readiness line — A server prints exactly one line on stderr as soon as its socket is bound, and, for stream sockets, listening
/// Read: "Steps 1 to 3: `socket()`, `bind()`, `listen()`"
#[test]
fn readiness_line_names_the_real_address() {
    rules::assert_readiness_line(&start_server());
}

/// A port another socket listens on: exit 1, and the error names the step
/// (`binding`) and the OS reason.
///
/// Rule: every binary: errors — The line names the step that failed and gives the operating system's reason, in the tutorial's style
/// Read: "Steps 1 to 3: `socket()`, `bind()`, `listen()`"
#[test]
fn server_reports_a_port_in_use() {
    rules::assert_port_in_use_reported(&server_bin(), &[]);
}

/// The client is lesson 01's: with nothing listening it exits 1 and says
/// `ERROR connecting` and `Connection refused`.
///
/// Rule: every binary: errors — If nothing listens on the port, it exits with status 1 and stderr says `ERROR connecting` and `Connection refused`
/// Read: "Lesson 02: One process per connection"
#[test]
fn client_reports_connection_refused() {
    rules::assert_connection_refused(&client_bin());
}

/// Each child closes its copy of the listening socket before it serves
/// its client: while a silent client keeps its child busy, that child
/// holds no listening socket (a child that kept it would hold the port
/// after the server stopped). A server that forks no child at all is left
/// to the checks that count children.
///
/// Rule: 02: the child closes the listening socket, serves one message exactly as in 01 and exits
/// Read: "Step 7: the parent, and who closes what"
#[test]
fn children_do_not_keep_the_listening_socket() {
    use lesson_testing::procfs::socket_inodes;
    // Long enough for a fork on a busy machine; a child that has not let
    // go of the listener by then never will.
    const LIMIT: Duration = Duration::from_secs(3);
    let server = start_server();
    // Before any client, the only socket the server holds is the one it
    // listens on (cheaper to learn here than from /proc/net/tcp, which a
    // busy machine fills with tens of thousands of entries).
    let listener = socket_inodes(server.pid());
    assert!(!listener.is_empty(), "the server holds no socket");
    let _silent = server.connect();
    if !wait_until(LIMIT, || server.children().len() == 1) {
        return;
    }
    let child = server.children()[0].pid;
    let let_go = wait_until(LIMIT, || socket_inodes(child).is_disjoint(&listener));
    assert!(
        let_go,
        "the child serving a silent client (pid {child}) still holds the listening socket \
         on port {} {LIMIT:?} after it was forked",
        server.port()
    );
}

/// A child ends once its client is served, and leaves nothing behind: after
/// three clients are done, everything the server started is a zombie (this
/// lesson does not reap them), and nothing of its process group runs.
///
/// Rule: 02: the child serves one message exactly as in 01 and exits; nothing but zombies remain once the clients are done
/// Read: "Step 6: the child"
#[test]
fn nothing_but_zombies_remain_once_the_clients_are_done() {
    forking::nothing_but_zombies_remain(&start_server(), &client_bin());
}

/// The client is lesson 01's: given a host with two addresses, the first
/// refusing, it connects to the second. The name is one that only a
/// library the check preloads resolves, so the check is the same on every
/// machine.
///
/// Rule: 01 (the client is 01's): HOST's addresses are tried in the resolver's order until one connects
/// Read: "Lesson 02: One process per connection"
#[test]
fn client_tries_every_address_in_turn() {
    rules::assert_every_address_tried(&client_bin());
}

/// The client is lesson 01's: a reply that arrives in two pieces, the
/// second only after the client has read the first, is printed whole.
///
/// Rule: 01 (the client is 01's): the client reads the reply until the server closes the connection (a stream may deliver it in pieces)
/// Read: "Lesson 02: One process per connection"
#[test]
fn client_reads_the_reply_until_the_server_closes() {
    rules::assert_reply_read_until_closed(&client_bin(), None);
}

/// A line of many megabytes (20 MB, or more than this machine's socket
/// buffers hold): the child reads 255 bytes, answers and exits with the
/// rest unread, so the client's write fails; the client still prints the
/// reply and exits 0, and the server goes on.
///
/// Rule: 01 (served as in 01): a line longer than 255 bytes makes neither side crash or hang: the client still prints the reply and exits 0
/// Read: "`dostuff`: the service itself"
#[test]
fn a_line_of_many_megabytes_still_gets_the_reply() {
    let mut server = start_server();
    rules::assert_huge_line_still_answered(&client_bin(), &server);
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server must keep running"
    );
}

/// `accept()` fails, one call after another, with each error that
/// concerns one connection or a passing shortage: EINTR, EMFILE, ENFILE,
/// ENOBUFS, ENOMEM (injected by a library the check preloads), then
/// ECONNABORTED for a connection that is dropped before it is accepted.
/// The server survives them all and serves the next client.
///
/// Rule: 02: `accept()` errors that concern one connection or a passing shortage (EINTR, ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM) never end the server
/// Read: "Step 4: `accept()` in a loop"
#[test]
fn failed_accepts_do_not_end_the_server() {
    let mut server = accepting::start_with_injected_accept_failures(
        &server_bin(),
        &["0"],
        Transport::Tcp,
        accepting::INJECTED,
    );
    accepting::assert_injected_accept_failures_survived(&mut server);
}

/// Out of descriptors for real: the server's limit is lowered from
/// outside so that `accept()` fails with EMFILE. Meanwhile it keeps
/// running and pauses between attempts (its processor time is measured);
/// once the limit is back, the clients that waited are served.
///
/// Rule: 02: on a passing shortage (EMFILE) the server retries, pausing briefly, not spinning, and serves the waiting clients once it can
/// Read: "Step 4: `accept()` in a loop"
#[test]
fn running_out_of_descriptors_pauses_the_server_until_one_is_free() {
    accepting::assert_out_of_descriptors_pauses_then_serves(&mut start_server());
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

/// The client is lesson 01's: a host the resolver does not know
/// (`.invalid` never resolves) is `no such host`, exit 1.
///
/// Rule: every binary: errors — If HOST cannot be resolved, the client exits with status 1 and stderr says `no such host`
/// Read: "The program"
#[test]
fn client_reports_an_unknown_host() {
    rules::assert_unknown_host_reported(&client_bin());
}
