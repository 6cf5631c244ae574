//! Lesson 05: sockets in the Unix domain.
//!
//! The tutorial's last example changes one thing only, the address: a path
//! in the file system (`struct sockaddr_un`) instead of an IP address and a
//! port. Everything else is lesson 01: `socket`, `bind`, `listen`,
//! `accept`, `read`, `write`. What is new comes from the address being a
//! file:
//!
//! - [`address`]: the path must fit in `sun_path`, 108 bytes with its
//!   terminating NUL;
//! - [`socket_file`]: `bind` creates a file that `close` does not remove,
//!   so the server removes it when stopped, reclaims one left behind by a
//!   crash, and never removes anything else;
//! - [`report_peer`]: both ends are on this machine, so the kernel can
//!   tell the server which process connected (`SO_PEERCRED`); the server
//!   asks when started with `--show-peer`.
//!
//! The server (`src/bin/unix-server.rs`) serves one connection after
//! another with [`serve_one`], lesson 01's exchange, until it is stopped.
//! The client (`src/bin/unix-client.rs`) is lesson 01's, with a path to
//! connect to instead of a host and a port.

use std::io::{self, ErrorKind, Read, Write};

use lesson::report::stderr_line;
use nix::sys::socket::{getsockopt, sockopt};
use socket2::Socket;

pub mod address;
pub mod socket_file;

/// The backlog of a server that runs until stopped: `SOMAXCONN`, as in
/// lesson 02 (whose chapter tells why the tutorial's 5 is too small).
pub const BACKLOG: i32 = libc::SOMAXCONN;

/// The tutorial reads at most 255 bytes (its buffer keeps a 256th for the
/// C string's NUL).
const MESSAGE_LIMIT: usize = 255;

/// The answer every client gets: the 18 bytes of lesson 01.
pub const REPLY: &[u8] = b"I got your message";

/// What `unix-server --help` prints after its usage line.
pub const SERVER_HELP: &str = "\
Serves lesson 01's exchange on a Unix-domain stream socket at PATH, one
client after another, until SIGINT or SIGTERM, which remove its socket
file. A socket file that no socket is bound to any more is reused; a live
socket's, or any other file, is left alone.

options:
  --show-peer  name each client on stderr, as the kernel recorded it when
               the client connected (SO_PEERCRED):
               `connection from pid PID, uid UID`";

// ANCHOR: peer
/// Prints who connected, as the kernel recorded it when the client called
/// `connect()`: `connection from pid 1234, uid 1000`.
///
/// `getsockopt(SO_PEERCRED)` fills a `struct ucred` (process ID, user ID,
/// group ID). Only a Unix-domain socket can answer: the peer is a process
/// on this machine, and the kernel knows which one. The client cannot lie
/// about it; it sends nothing for this.
pub fn report_peer(connection: &Socket) {
    match getsockopt(connection, sockopt::PeerCredentials) {
        Ok(peer) => stderr_line(&format!(
            "connection from pid {}, uid {}",
            peer.pid(),
            peer.uid()
        )),
        // Not this client's fault, and no reason to turn it away.
        Err(errno) => stderr_line(&format!(
            "ERROR on getsockopt(SO_PEERCRED): {}",
            io::Error::from(errno)
        )),
    }
}
// ANCHOR_END: peer

// ANCHOR: serve_one
/// Lesson 01's exchange on one connection: ONE read of at most 255 bytes,
/// print it as `Here is the message: ...`, answer `I got your message`.
///
/// Lesson 01's server had only this client, so a failure ended it. This
/// server has others waiting: a client that vanishes mid-way (the write
/// fails with `EPIPE`, the read with `ECONNRESET`) is reported on one line
/// of stderr and the server goes on with the next.
pub fn serve_one(connection: &Socket) {
    // `Read` and `Write` are implemented for `&Socket`.
    let mut stream = connection;
    let mut buffer = [0u8; MESSAGE_LIMIT];
    let received = loop {
        match stream.read(&mut buffer) {
            Ok(received) => break received,
            // A signal came before any byte did: still the one read.
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return stderr_line(&format!("ERROR reading from socket: {e}")),
        }
    };
    lesson::output::print_message("Here is the message: ", &buffer[..received]);
    if let Err(e) = stream.write_all(REPLY) {
        stderr_line(&format!("ERROR writing to socket: {e}"));
    }
}
// ANCHOR_END: serve_one
