//! Lesson 01, the client: look the server's host up, connect to it, send
//! one line typed by the user, print the server's reply.
//!
//! It lives in the library so that the clients of lessons 02 and 03, which
//! talk to their servers exactly as this one does, reuse it unchanged; and
//! lesson 05's Unix-domain client reuses [`converse`], the part after
//! connecting.
//!
//! The tutorial's client calls `gethostbyname()` and copies the first
//! address it gets into a `sockaddr_in`. We ask the system resolver
//! (`getaddrinfo`, through `ToSocketAddrs`) and try every address it
//! returns, IPv6 or IPv4, in turn: `localhost` may come back as `::1`
//! first, while our servers listen on IPv4 only.

use std::io::{self, BufRead, ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};

use lesson::args::Args;
use lesson::report::error;
use lesson::OrDie;
use socket2::{Domain, SockAddr, Socket, Type};

/// The tutorial reads at most 255 bytes of reply.
const REPLY_LIMIT: usize = 255;

/// The whole client: `usage` is the binary's usage line (`tcp-client HOST
/// PORT`, `fork-client HOST PORT`, ...).
pub fn run(usage: &'static str) {
    let args = Args::parse(usage, &["HOST", "PORT"], &[]);
    let host = args.text(0, "host");
    let port = args.port(1);

    // ANCHOR: resolve
    // gethostbyname() in the tutorial; getaddrinfo() today. It may return
    // several addresses (IPv6 and IPv4, several interfaces), or fail: then
    // there is nothing to connect to.
    let addresses: Vec<SocketAddr> = match (host.as_str(), port).to_socket_addrs() {
        Ok(found) => found.collect(),
        Err(reason) => error(&format!("ERROR, no such host: {host}"), &reason),
    };
    // ANCHOR_END: resolve

    let server = connect_to_any(&addresses);
    converse(&server);
}

/// The conversation itself, once connected: prompt, read one line from
/// stdin, send it, print the reply. It only needs a connected stream
/// socket, so lesson 05's Unix-domain client has it too.
pub fn converse(server: &Socket) {
    // `Read` and `Write` are implemented for `&Socket` (the kernel keeps
    // the socket's state), so a mutable copy of the reference is all that
    // writing needs.
    let mut server = server;
    // ANCHOR: message
    // The prompt has no newline, so it is written out at once; then one
    // line from stdin, its newline included (as fgets() keeps it).
    lesson::output::write_stdout(b"Please enter the message: ");
    let mut message = Vec::new();
    io::stdin()
        .lock()
        .read_until(b'\n', &mut message)
        .or_die("ERROR reading from stdin");
    // ANCHOR_END: message

    // ANCHOR: write
    // write(): send the line. With no line at all (end of input), send
    // nothing and shut our sending side down instead, so the server's
    // read() returns 0 rather than waiting forever.
    if message.is_empty() {
        server
            .shutdown(std::net::Shutdown::Write)
            .or_die("ERROR writing to socket");
    } else if let Err(e) = server.write_all(&message) {
        // A server that has read its 255 bytes closes with the rest of a
        // long line unread; our write may then fail, yet its reply may
        // already be on its way. Only other failures are fatal.
        if !matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) {
            error("ERROR writing to socket", &e);
        }
    }
    // ANCHOR_END: write

    // ANCHOR: read
    // read(): the reply. TCP is a stream: 18 bytes may come in more than
    // one piece, so read until the server closes (or 255 bytes).
    let reply = read_reply(server);
    lesson::output::print_message("", &reply);
    // ANCHOR_END: read
}

// ANCHOR: connect
/// socket() and connect() for each address in turn, until one answers.
/// The socket is made per address because its domain (IPv4 or IPv6) must
/// match the address. Failing them all reports the last reason.
pub fn connect_to_any(addresses: &[SocketAddr]) -> Socket {
    let mut last_failure = io::Error::new(ErrorKind::NotFound, "the host has no address");
    for address in addresses {
        let socket = Socket::new(Domain::for_address(*address), Type::STREAM, None)
            .or_die("ERROR opening socket");
        match socket.connect(&SockAddr::from(*address)) {
            Ok(()) => return socket,
            // `socket` is dropped, and so closed, as the loop moves on.
            Err(reason) => last_failure = reason,
        }
    }
    error("ERROR connecting", &last_failure)
}
// ANCHOR_END: connect

/// Reads until end of stream or [`REPLY_LIMIT`] bytes. A reset that comes
/// after some reply bytes is the server closing with our input unread:
/// keep the reply. No reply at all is a failure.
fn read_reply(server: &Socket) -> Vec<u8> {
    let mut reply = vec![0u8; REPLY_LIMIT];
    let mut received = 0;
    while received < REPLY_LIMIT {
        match (&*server).read(&mut reply[received..]) {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if received > 0 && e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => error("ERROR reading from socket", &e),
        }
    }
    if received == 0 {
        error(
            "ERROR reading from socket",
            &"no reply (the server closed the connection)",
        );
    }
    reply.truncate(received);
    reply
}
