//! Scenarios for the stream servers that run until stopped (lessons 02, 03
//! and 05): an `accept()` that fails for one connection's sake, or for a
//! passing shortage, never ends them. They try again, pausing while the
//! shortage lasts instead of spinning, and serve the waiting clients once
//! they can.
//!
//! Two ways to make `accept()` fail (see [`crate::faults`]):
//!
//! - **For real**, for `EMFILE`: the server's own descriptor limit is
//!   lowered from outside, so that it can open no descriptor, and raised
//!   again later. That needs nothing from the server: a C program, linked
//!   statically or not, meets the kernel's own `EMFILE`, which leaves the
//!   connection in the queue.
//! - **Injected**, for the others: Linux never fails `accept()` with
//!   `ECONNABORTED` (a connection reset while it waits in the queue is
//!   accepted, and its first read reports the reset), and `ENFILE`,
//!   `ENOBUFS` or `ENOMEM` would mean starving the whole machine. The
//!   preloaded library makes the server's first `accept()` calls fail with
//!   each of them, in turn.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::Duration;

use crate::faults::{self, DescriptorLimit};
use crate::forking::printed;
use crate::stream::{exchange, Stream, REPLY};
use crate::{procfs, Address, Server, Transport, WAIT};

/// The failures injected into a server's first `accept()` calls: each
/// `errno` the contract names, the connection's own one (`ECONNABORTED`)
/// last, since it is the only one that needs a client.
pub const INJECTED: &str = "EINTR,EMFILE,ENFILE,ENOBUFS,ENOMEM,ECONNABORTED";

/// [`INJECTED`] without `EINTR`, for a server whose signal handler asks
/// the kernel to restart an interrupted `accept()` (`SA_RESTART`, lesson
/// 03): it never sees that failure, and its checks send real signals.
pub const INJECTED_BUT_EINTR: &str = "EMFILE,ENFILE,ENOBUFS,ENOMEM,ECONNABORTED";

/// How long the server's processor time is measured while it is out of
/// descriptors. Not spinning is a rate, so it takes an interval: this
/// one is the measurement, not a wait for anything to happen.
pub const MEASURED_FOR: Duration = Duration::from_secs(1);

/// The most processor time a server may use in [`MEASURED_FOR`] while it is
/// out of descriptors: a tenth of a processor. One that pauses between
/// attempts uses a few milliseconds; one that spins uses every cycle it is
/// given, which even on a loaded machine is several times this.
pub const MOST_PROCESSOR_TIME: Duration = Duration::from_millis(100);

/// Starts `bin args...` with the fault library preloaded and `failures`
/// ([`INJECTED`], say) listed for its `accept()` calls, in order.
pub fn start_with_injected_accept_failures<S: AsRef<OsStr>>(
    bin: &Path,
    args: &[S],
    transport: Transport,
    failures: &str,
) -> Server {
    let mut command = Command::new(bin);
    command.args(args).env(faults::ACCEPT_FAULTS, failures);
    faults::preload(&mut command);
    Server::start_command(command, transport)
}

/// The server started by [`start_with_injected_accept_failures`] has met
/// every failure listed, ending with `ECONNABORTED`, and is still serving:
/// the connection its `accept()` was told was aborted gets nothing, the
/// next one the reply.
pub fn assert_injected_accept_failures_survived(server: &mut Server) {
    // The failures before ECONNABORTED come at once, from the calls the
    // server makes as soon as it listens; this connection meets the last:
    // taken off the queue, closed by the library, reported as aborted.
    let mut aborted = connect_or_explain(server);
    // The library may have closed it already: a failed write, a reset,
    // are all fine here.
    let _ = aborted.write_all(b"aborted before it was accepted\n");
    aborted.shutdown_write();
    let mut reply = Vec::new();
    let _ = aborted.read_to_end(&mut reply);
    assert!(
        reply != REPLY,
        "the server answered the connection whose accept() was to fail with ECONNABORTED, \
         so it never met the injected failures: {}",
        faults::NOT_LOADED
    );
    let served = exchange(connect_or_explain(server), b"after the failed accepts\n");
    assert_eq!(
        String::from_utf8_lossy(&served),
        String::from_utf8_lossy(REPLY),
        "after accept() failed as injected, once with each errno, the next client got no \
         reply: {}",
        state(server)
    );
    assert!(
        server
            .wait_for_stdout_lines(1)
            .contains(&printed("after the failed accepts")),
        "stdout: {:?}",
        server.stdout_lines()
    );
    assert!(
        !server
            .stdout_lines()
            .contains(&printed("aborted before it was accepted")),
        "the connection aborted before it was accepted was served anyway"
    );
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server ended: {}",
        state(server)
    );
}

/// With its descriptor limit lowered so that `accept()` fails with
/// `EMFILE`, the server keeps running and does not spin; once the limit is
/// back, it serves the clients that waited.
///
/// Two clients connect after the limit is lowered. The first may still be
/// accepted, by an `accept()` that was already waiting and so had its
/// descriptor number already; the second then finds none. Either way a
/// client waits in the queue while the server's processor time is
/// measured.
pub fn assert_out_of_descriptors_pauses_then_serves(server: &mut Server) {
    let limit = DescriptorLimit::exhaust(server.pid());
    let messages: [&[u8]; 2] = [b"waited for a descriptor\n", b"waited longer\n"];
    let mut waiting: Vec<Stream> = messages
        .iter()
        .map(|message| {
            let mut client = connect_or_explain(server);
            client.write_all(message).expect("sending a message");
            client.shutdown_write();
            client
        })
        .collect();

    let before = procfs::processor_time(server.pid());
    thread::sleep(MEASURED_FOR);
    let after = procfs::processor_time(server.pid());
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server ended while accept() failed with EMFILE (out of descriptors): {}",
        state(server)
    );
    if let (Some(before), Some(after)) = (before, after) {
        let used = after.saturating_sub(before);
        assert!(
            used <= MOST_PROCESSOR_TIME,
            "while accept() failed with EMFILE the server used {used:?} of processor time in \
             {MEASURED_FOR:?} (at most {MOST_PROCESSOR_TIME:?} expected): it tries again without \
             pausing, spinning on a queue that stays full; stderr has {} lines",
            server.stderr_lines().len()
        );
    }

    limit.restore();
    for (client, message) in waiting.iter_mut().zip(messages) {
        let mut reply = Vec::new();
        // A reset after the reply is fine; what arrived before it stays.
        let _ = client.read_to_end(&mut reply);
        assert_eq!(
            String::from_utf8_lossy(&reply),
            String::from_utf8_lossy(REPLY),
            "the client that sent {:?} while the server was out of descriptors got no reply \
             once descriptors were free again: {}",
            String::from_utf8_lossy(message),
            state(server)
        );
    }
    assert!(
        server.wait_for_exit(Duration::ZERO).is_none(),
        "the server ended: {}",
        state(server)
    );
}

/// A connection to the server, with [`WAIT`] as its read and write
/// timeout; or a failed test that says what became of the server.
fn connect_or_explain(server: &mut Server) -> Stream {
    let connected = match server.address().clone() {
        Address::Tcp(port) => TcpStream::connect((Ipv4Addr::LOCALHOST, port)).map(|s| {
            s.set_write_timeout(Some(WAIT)).ok();
            Stream::Tcp(s)
        }),
        Address::Unix(path) => UnixStream::connect(&path).map(|s| {
            s.set_write_timeout(Some(WAIT)).ok();
            Stream::Unix(s)
        }),
        Address::Udp(_) => panic!("a datagram server takes no connections"),
    };
    match connected {
        Ok(stream) => {
            stream.set_read_timeout(Some(WAIT));
            stream
        }
        Err(e) => panic!("cannot connect to the server ({e}): {}", state(server)),
    }
}

/// Whether the server still runs, and what it said on stderr: for the
/// checks' messages.
fn state(server: &mut Server) -> String {
    match server.wait_for_exit(Duration::from_millis(100)) {
        Some(status) => format!(
            "the server has ended ({status}); its stderr: {:?}",
            server.stderr_text()
        ),
        None => format!("its stderr: {:?}", server.stderr_text()),
    }
}
