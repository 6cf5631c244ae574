//! End-to-end checks of lesson 03 against the contract (sections 02 and 03
//! and the rules for every binary), with both ways of reaping:
//! `--reap handler` (the default) and `--reap ignore`. They drive the real
//! binaries: ours by default, or any other implementation named by
//! `LESSON_BIN_REAPING_SERVER` and `LESSON_BIN_REAPING_CLIENT` (with
//! `LESSON_NO_READINESS_LINE=1` for programs that print no readiness line,
//! such as the tutorial's C).
//!
//! Every server listens on port 0 and is found through the kernel's socket
//! table, every wait is bounded (by `WAIT`, or by the 1 s the contract
//! gives for reaping and stopping), and dropping a server kills its whole
//! process group.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use lesson_testing::accepting;
use lesson_testing::forking::{self, burst, burst_answered, numbered, printed};
use lesson_testing::stream::{exchange, REPLY};
use lesson_testing::{binary, client, rules, wait_until, Server, Transport, WAIT};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The server's arguments for each way of reaping, with the option given
/// after and before the port (both are allowed).
const HANDLER: &[&str] = &["0", "--reap", "handler"];
const IGNORE: &[&str] = &["--reap", "ignore", "0"];
/// No option at all: the handler is the default.
const DEFAULT: &[&str] = &["0"];
/// Both strategies, for the checks that must hold whichever is used.
const STRATEGIES: [&[&str]; 2] = [HANDLER, IGNORE];

/// The contract's bound: no child stays a zombie longer than this after
/// its client is done.
const REAP_LIMIT: Duration = Duration::from_secs(1);

fn server_bin() -> PathBuf {
    binary("reaping-server", env!("CARGO_BIN_EXE_reaping-server"))
}

fn client_bin() -> PathBuf {
    binary("reaping-client", env!("CARGO_BIN_EXE_reaping-client"))
}

fn start_server(args: &[&str]) -> Server {
    Server::start(&server_bin(), args, Transport::Tcp)
}

/// Asserts that, within the contract's 1 s, the server has no child left:
/// all have exited and been reaped, none lingers as a zombie. Polls, so a
/// correct server passes as soon as its children are gone.
fn assert_all_children_reaped(server: &Server, args: &[&str]) {
    let reaped = wait_until(REAP_LIMIT, || server.children().is_empty());
    let left = server.children();
    let zombies = left.iter().filter(|c| c.is_zombie()).count();
    assert!(
        reaped,
        "with {args:?}, {} children ({zombies} zombies) were left {REAP_LIMIT:?} after their clients were done",
        left.len()
    );
}

/// The burst at the heart of the lesson: 200 clients at once, so that many
/// children end together and their SIGCHLDs coalesce. Within 1 s after the
/// clients are done, every child is reaped; and the server still answers.
fn no_zombie_survives_a_burst_of_200(args: &[&str]) {
    let server = start_server(args);
    burst_answered(&server, &numbered("burst", 200));
    assert_all_children_reaped(&server, args);
    assert_eq!(exchange(server.connect(), b"after the burst\n"), REPLY);
    assert_all_children_reaped(&server, args);
    assert!(server
        .wait_for_stdout_lines(201)
        .contains(&printed("after the burst")));
}

/// The tutorial's session: the client sends `hello`, a child prints it
/// once and answers, the server keeps running and leaves no zombie.
///
/// Rule: 03: as 02, and children are reaped: a child serves the connection, the server keeps running, no zombie stays
/// Read: "The program"
#[test]
fn client_and_server_exchange_one_message() {
    let mut server = start_server(DEFAULT);
    forking::run_client(&client_bin(), &server, "hello");
    assert_eq!(
        server.wait_for_stdout_lines(1),
        ["Here is the message: hello"]
    );
    assert_all_children_reaped(&server, DEFAULT);
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server must keep running"
    );
}

/// With the SIGCHLD handler (`--reap handler`): 200 clients at once, and no
/// child is left 1 s after they are done. A handler that reaps only one
/// child per signal fails here, because the signals coalesce.
///
/// Rule: 03: with `--reap handler`, no child stays a zombie more than 1 s after its client is done, also when 200 clients connect at once (signals coalesce)
/// Read: "The handler: reap everything, not one"
#[test]
fn handler_reaps_every_child_of_a_burst_of_200() {
    no_zombie_survives_a_burst_of_200(HANDLER);
}

/// With SIGCHLD ignored (`--reap ignore`): 200 clients at once, and no
/// child is left 1 s after they are done.
///
/// Rule: 03: `--reap ignore` sets SIGCHLD to SIG_IGN: no child stays a zombie more than 1 s, also after 200 clients at once
/// Read: "The AIX way: ignore SIGCHLD"
#[test]
fn ignore_reaps_every_child_of_a_burst_of_200() {
    no_zombie_survives_a_burst_of_200(IGNORE);
}

/// Without `--reap`, the server reaps too (the handler is the default).
///
/// Rule: 03: `--reap handler` is the default: without the option no child stays a zombie more than 1 s either
/// Read: "The program"
#[test]
fn the_default_reaps_every_child_of_a_burst_of_200() {
    no_zombie_survives_a_burst_of_200(DEFAULT);
}

/// Reaping never waits for a child that is still serving: while a silent
/// client keeps its child busy, the other children are reaped as they
/// end, the busy child is untouched, and the server still accepts new
/// clients. A handler calling a blocking wait() would hang the server here.
///
/// Rule: 03: the handler reaps with `waitpid(-1, WNOHANG)` in a loop: it never waits for a child still serving
/// Read: "The handler: reap everything, not one"
#[test]
fn reaping_never_waits_for_a_child_still_serving() {
    for args in STRATEGIES {
        let server = start_server(args);
        let silent = server.connect();
        // Its child has been forked once there is one child (the silent
        // client is first in the kernel's queue).
        assert!(
            wait_until(WAIT, || server.children().len() == 1),
            "with {args:?}: no child for the silent client"
        );
        burst_answered(&server, &numbered("meanwhile", 20));
        let only_the_busy_one = wait_until(REAP_LIMIT, || {
            let children = server.children();
            children.len() == 1 && !children[0].is_zombie()
        });
        assert!(
            only_the_busy_one,
            "with {args:?}, expected only the silent client's child, running; found {:?}",
            server.children()
        );
        // The parent is free: a new client is served while the silent one
        // still keeps its child busy.
        assert_eq!(
            exchange(server.connect(), b"next\n"),
            REPLY,
            "with {args:?}"
        );
        assert_eq!(exchange(silent, b"finally\n"), REPLY, "with {args:?}");
        assert_all_children_reaped(&server, args);
    }
}

/// A client that connects and then says nothing must not hold up the next
/// client: each connection has its own process, whichever way of reaping.
///
/// Rule: 02: a client that connects and stays silent does not delay other clients (and 03: no zombie stays)
/// Read: "The checks"
#[test]
fn silent_client_does_not_delay_another() {
    for args in STRATEGIES {
        let server = start_server(args);
        forking::silent_client_does_not_delay_another(&server, &client_bin());
        assert_all_children_reaped(&server, args);
    }
}

/// Fifty clients one after another, each the real client binary, with each
/// way of reaping: every one answered, every message printed once, and no
/// child left behind.
///
/// Rule: 02: an accept loop, one forked child per connection (and 03: no zombie stays)
/// Read: "The checks"
#[test]
fn fifty_sequential_clients_are_all_answered() {
    for args in STRATEGIES {
        let server = start_server(args);
        forking::fifty_sequential_clients(&server, &client_bin());
        assert_all_children_reaped(&server, args);
    }
}

/// Twenty clients at the same time, each the real client binary on a
/// thread of its own, with each way of reaping: all answered, every
/// message printed once, and no child left behind.
///
/// Rule: 02: one forked child per connection, so clients are served at the same time (and 03: no zombie stays)
/// Read: "The checks"
#[test]
fn twenty_concurrent_clients_are_all_answered() {
    for args in STRATEGIES {
        let server = start_server(args);
        forking::twenty_concurrent_clients(&server, &client_bin());
        assert_all_children_reaped(&server, args);
    }
}

/// The parent closes every connection it hands to a child, whichever way
/// of reaping: its count of open descriptors is the same after 100
/// connections as after 1.
///
/// Rule: 02: the parent leaks no descriptors: its count is the same after 100 connections as after 1
/// Read: "The checks"
#[test]
fn parent_descriptor_count_does_not_grow() {
    for args in STRATEGIES {
        forking::descriptor_count_does_not_grow(&start_server(args));
    }
}

/// Fifty concurrent children print through one stdout; each line is
/// written whole, so every line is exactly one expected line and each
/// message appears once.
///
/// Rule: every binary: stdout — every line is written whole (one write per line), so concurrent children's lines never interleave
/// Read: "The checks"
#[test]
fn stdout_lines_stay_whole_under_fifty_concurrent_clients() {
    forking::stdout_lines_stay_whole(&start_server(DEFAULT));
}

/// SIGCHLD arriving all the time, also while the server waits in accept()
/// (the signal may interrupt it with EINTR), never stops the server: a
/// storm of extra SIGCHLDs during a burst of 50 clients, and all are
/// answered, the server still runs, and no child is left.
///
/// Rule: 03: an `accept` interrupted by the signal (EINTR) does not stop the server
/// Read: "`SA_RESTART` and `EINTR`"
#[test]
fn a_storm_of_sigchld_does_not_stop_the_server() {
    for args in [HANDLER, IGNORE] {
        let mut server = start_server(args);
        let pid = Pid::from_raw(server.pid());
        let done = AtomicBool::new(false);
        thread::scope(|scope| {
            scope.spawn(|| {
                // Bounded: at most 20 000 signals, and it stops with the burst.
                for _ in 0..20_000 {
                    if done.load(Ordering::Relaxed) || kill(pid, Signal::SIGCHLD).is_err() {
                        break;
                    }
                    thread::yield_now();
                }
            });
            let replies = burst(&server, &numbered("storm", 50));
            done.store(true, Ordering::Relaxed);
            assert!(
                replies.iter().all(|r| r == REPLY),
                "with {args:?}: {replies:?}"
            );
        });
        assert!(
            server.wait_for_exit(Duration::ZERO).is_none(),
            "with {args:?} the server stopped"
        );
        assert_eq!(exchange(server.connect(), b"still here\n"), REPLY);
        assert_all_children_reaped(&server, args);
    }
}

/// SIGINT and SIGTERM stop the server within 1 s, whichever way of
/// reaping, also after it has forked (and reaped) children.
///
/// Rule: every binary: stopping a server — SIGINT (Ctrl-C) or SIGTERM ends any server within a second
/// Read: "The program"
#[test]
fn stop_signals_end_the_server_within_a_second() {
    for args in STRATEGIES {
        for signal in [Signal::SIGINT, Signal::SIGTERM] {
            let mut server = start_server(args);
            assert_eq!(exchange(server.connect(), b"before the signal\n"), REPLY);
            rules::assert_stops_on(&mut server, signal);
        }
    }
}

/// A shell starts a background job with SIGINT ignored; the server puts
/// the default action back, so SIGINT still stops it within 1 s.
///
/// Rule: every binary: stopping a server — Servers restore the default action of both signals when they start, because a shell may start a background job with SIGINT ignored
/// Read: "The program"
#[test]
fn sigint_stops_a_server_started_with_sigint_ignored() {
    rules::assert_sigint_restored(&server_bin(), DEFAULT, Transport::Tcp);
}

/// A process inherits its parent's signal mask, across fork and exec.
/// Started with SIGINT and SIGTERM blocked, the server unblocks them, so
/// each still stops it within 1 s.
///
/// Rule: every binary: stopping a server — and unblock them, because a process inherits its parent's blocked-signal mask and restoring the action does not change it
/// Read: "The program"
#[test]
fn signals_stop_a_server_started_with_them_blocked() {
    rules::assert_stop_signals_unblocked(&server_bin(), DEFAULT, Transport::Tcp);
}

/// Installing a SIGCHLD handler does not unblock SIGCHLD, and a blocked
/// signal never reaches its handler. Started with SIGCHLD blocked (with
/// `--reap handler`, and with the default), the server unblocks it: 1 s
/// after 10 clients are done, no child is left.
///
/// Rule: every binary: stopping — servers that fork unblock SIGCHLD at start; 03: so the handler still reaps every child within 1 s
/// Read: "A blocked SIGCHLD"
#[test]
fn a_server_started_with_sigchld_blocked_still_reaps() {
    for args in [HANDLER, DEFAULT] {
        let server =
            rules::start_with_blocked(&server_bin(), args, &[Signal::SIGCHLD], Transport::Tcp);
        burst_answered(&server, &numbered("blocked", 10));
        assert_all_children_reaped(&server, args);
    }
}

/// `--reap` takes `handler` or `ignore`; anything else, or no value, is a
/// usage error (exit 2).
///
/// Rule: 03: `--reap` takes `handler` or `ignore`; anything else, or no value, is a usage error, exit 2
/// Read: "The program"
#[test]
fn an_unknown_way_to_reap_is_a_usage_error() {
    client(&server_bin())
        .args(["0", "--reap", "bogus"])
        .assert()
        .code(2);
    client(&server_bin())
        .args(["--reap", "bogus", "0"])
        .assert()
        .code(2);
    client(&server_bin())
        .args(["0", "--reap", ""])
        .assert()
        .code(2);
    client(&server_bin()).args(["0", "--reap"]).assert().code(2);
}

/// Ports are decimal integers 0..=65535; anything else, or none, is a
/// usage error (exit 2) whose message mentions the port.
///
/// Rule: every binary: ports — A port is a decimal number from 0 to 65535. Port 0 asks the kernel to pick a free port. Anything else (`abc`, `-1`, `70000`) is a usage error
/// Read: "The program"
#[test]
fn bad_or_missing_ports_are_usage_errors() {
    rules::assert_bad_ports_rejected(&server_bin(), &[], &[]);
    rules::assert_bad_ports_rejected(&server_bin(), &[], &["--reap", "ignore"]);
    rules::assert_bad_ports_rejected(&server_bin(), &["--reap", "handler"], &[]);
    rules::assert_bad_ports_rejected(&client_bin(), &["localhost"], &[]);
}

/// `-h` and `--help`: usage on stdout, exit 0, for server and client.
///
/// Rule: every binary: help — `-h` or `--help`, anywhere on the line, prints a usage text on stdout (it contains the word `usage`) and exits with status 0
/// Read: "The program"
#[test]
fn help_prints_usage_and_exits_zero() {
    rules::assert_help(&server_bin(), &["0", "--reap", "ignore"]);
    rules::assert_help(&client_bin(), &["localhost", "1"]);
}

/// The readiness line names the port the kernel really chose for port 0,
/// whichever way of reaping.
///
/// Rule: every binary: the readiness line — A server prints exactly one line on stderr as soon as its socket is bound, and, for stream sockets, listening
/// Read: "The checks"
#[test]
fn readiness_line_names_the_real_address() {
    for args in STRATEGIES {
        rules::assert_readiness_line(&start_server(args));
    }
}

/// A port another socket listens on: exit 1, and the error names the step
/// (`binding`) and the OS reason, whichever way of reaping.
///
/// Rule: every binary: errors — The line names the step that failed and gives the operating system's reason, in the tutorial's style
/// Read: "The program"
#[test]
fn server_reports_a_port_in_use() {
    rules::assert_port_in_use_reported(&server_bin(), &["--reap", "handler"]);
    rules::assert_port_in_use_reported(&server_bin(), &["--reap", "ignore"]);
}

/// The client is lesson 01's: with nothing listening it exits 1 and says
/// `ERROR connecting` and `Connection refused`.
///
/// Rule: every binary: errors — If nothing listens on the port, it exits with status 1 and stderr says `ERROR connecting` and `Connection refused`
/// Read: "Lesson 03: Reaping zombies"
#[test]
fn client_reports_connection_refused() {
    rules::assert_connection_refused(&client_bin());
}

/// `--reap` is obeyed, not only parsed: with `--reap handler`, and with no
/// option, the server has a SIGCHLD handler installed (`SigCgt` in
/// `/proc/PID/status`); with `--reap ignore` it has none, and the kernel
/// reaps. (The burst checks see that the children go; this one sees who
/// takes them.)
///
/// Rule: 03: `--reap ignore` sets SIGCHLD to SIG_IGN; `--reap handler` (the default) installs a SIGCHLD handler
/// Read: "What Linux does today"
#[test]
fn each_way_of_reaping_is_the_one_asked_for() {
    use lesson_testing::procfs::{signal_masks, SignalMasks};
    for (args, handler) in [(HANDLER, true), (DEFAULT, true), (IGNORE, false)] {
        let server = start_server(args);
        let caught =
            || signal_masks(server.pid()).map(|m| SignalMasks::has(m.caught, Signal::SIGCHLD));
        let as_asked = wait_until(REAP_LIMIT, || caught() == Some(handler));
        let shown = signal_masks(server.pid()).map_or("nothing".to_string(), |m| {
            format!("SigCgt {:016x}, SigIgn {:016x}", m.caught, m.ignored)
        });
        assert!(
            as_asked,
            "with {args:?}, SIGCHLD (bit 0x10000) should {} a handler; /proc/{}/status shows {shown}",
            if handler { "have" } else { "not have" },
            server.pid(),
        );
    }
}

/// A child ends once its client is served, and leaves nothing behind:
/// after three clients are done, nothing the server started still runs.
///
/// Rule: 03: as 02: the child serves one message and exits, leaving nothing running
/// Read: "The program"
#[test]
fn nothing_runs_once_the_clients_are_done() {
    for reap in ["handler", "ignore"] {
        forking::nothing_but_zombies_remain(&start_server(&["0", "--reap", reap]), &client_bin());
    }
}

/// The client is lesson 01's: given a host with two addresses, the first
/// refusing, it connects to the second. The name is one that only a
/// library the check preloads resolves, so the check is the same on every
/// machine.
///
/// Rule: 01 (the client is 01's): HOST's addresses are tried in the resolver's order until one connects
/// Read: "Lesson 03: Reaping zombies"
#[test]
fn client_tries_every_address_in_turn() {
    rules::assert_every_address_tried(&client_bin());
}

/// The client is lesson 01's: a reply that arrives in two pieces, the
/// second only after the client has read the first, is printed whole.
///
/// Rule: 01 (the client is 01's): the client reads the reply until the server closes the connection (a stream may deliver it in pieces)
/// Read: "Lesson 03: Reaping zombies"
#[test]
fn client_reads_the_reply_until_the_server_closes() {
    rules::assert_reply_read_until_closed(&client_bin(), None);
}

/// A line of many megabytes (20 MB, or more than this machine's socket
/// buffers hold): the child reads 255 bytes, answers and exits with the
/// rest unread, so the client's write fails; the client still prints the
/// reply and exits 0, the server goes on, and the child is reaped.
///
/// Rule: 01 (served as in 01): a line longer than 255 bytes makes neither side crash or hang: the client still prints the reply and exits 0
/// Read: "The checks"
#[test]
fn a_line_of_many_megabytes_still_gets_the_reply() {
    let mut server = start_server(DEFAULT);
    rules::assert_huge_line_still_answered(&client_bin(), &server);
    assert_all_children_reaped(&server, DEFAULT);
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server must keep running"
    );
}

/// `accept()` fails, one call after another, with each error that
/// concerns one connection or a passing shortage: EMFILE, ENFILE, ENOBUFS,
/// ENOMEM (injected by a library the check preloads), then ECONNABORTED
/// for a connection dropped before it is accepted. With the SIGCHLD
/// handler installed, as by default, the server survives them all and
/// serves the next client. EINTR is not injected: the handler is
/// installed with SA_RESTART, so the kernel restarts an interrupted
/// `accept()` itself (exercise 5 shows it), and
/// `a_storm_of_sigchld_does_not_stop_the_server` sends real signals.
///
/// Rule: 02 (as in 02): `accept()` errors that concern one connection or a passing shortage (EINTR, ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM) never end the server
/// Read: "`SA_RESTART` and `EINTR`"
#[test]
fn failed_accepts_do_not_end_the_server() {
    let mut server = accepting::start_with_injected_accept_failures(
        &server_bin(),
        DEFAULT,
        Transport::Tcp,
        accepting::INJECTED_BUT_EINTR,
    );
    accepting::assert_injected_accept_failures_survived(&mut server);
}

/// Out of descriptors for real: the server's limit is lowered from
/// outside so that `accept()` fails with EMFILE. Meanwhile it keeps
/// running and pauses between attempts (its processor time is measured);
/// once the limit is back, the clients that waited are served.
///
/// Rule: 02 (as in 02): on a passing shortage (EMFILE) the server retries, pausing briefly, not spinning, and serves the waiting clients once it can
/// Read: "The checks"
#[test]
fn running_out_of_descriptors_pauses_the_server_until_one_is_free() {
    accepting::assert_out_of_descriptors_pauses_then_serves(&mut start_server(DEFAULT));
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
