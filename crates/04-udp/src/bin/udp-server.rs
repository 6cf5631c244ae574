//! Lesson 04, the server: the tutorial's datagram server, one system call
//! at a time. It binds a UDP socket to PORT and then, until it is stopped,
//! receives one datagram at a time with `recvfrom()`, prints it on a line
//! of its own, and answers its sender with `sendto()`.
//!
//! Run it with `udp-server 51717` (or `0` to let the kernel choose a port)
//! and talk to it with `udp-client localhost 51717`, or with
//! `nc -u 127.0.0.1 51717`, where every line you type is one datagram.

use std::net::{Ipv4Addr, SocketAddrV4};

use lesson::args::Args;
use lesson::report::{error, stderr_line};
use lesson::OrDie;
use lesson04_udp::{datagram_line, recv_from, DATAGRAM_LIMIT, REPLY};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() {
    let args = Args::parse("udp-server PORT", &["PORT"], &[]);
    let port = args.port(0);
    // Not in the tutorial: this server runs until stopped, so Ctrl-C and
    // `kill` must end it. SIGINT and SIGTERM get their default action
    // back and are unblocked, whatever whoever started us left them as.
    lesson::signals::restore_default_stop_signals();

    // ANCHOR: socket
    // 1. socket(): Internet domain again, but of datagram type
    //    (SOCK_DGRAM); protocol `None` is the C `0`, and for a datagram
    //    socket the kernel picks UDP.
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, None).or_die("ERROR opening socket");
    // ANCHOR_END: socket

    // ANCHOR: bind
    // 2. bind(): every local address and our port, exactly as for TCP. No
    //    SO_REUSEADDR this time: UDP has no TIME_WAIT to step over, and on
    //    a UDP socket the option would let a second server bind the same
    //    port (if it set the option too) instead of failing.
    let address = SockAddr::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
    socket.bind(&address).or_die("ERROR on binding");
    // No listen(), no accept(): there are no connections to queue or to
    // take. Once bound, datagrams sent to the port wait in the socket's
    // receive buffer, so we are ready.
    lesson::announce_listening(&socket);
    // ANCHOR_END: bind

    // The tutorial's buffer: 1024 bytes, the most of a datagram we keep.
    let mut buffer = [0u8; DATAGRAM_LIMIT];
    // The line printed for a datagram, built anew in the same memory each
    // time (see `datagram_line`).
    let mut line: Vec<u8> = Vec::new();
    loop {
        // ANCHOR: recvfrom
        // 3. recvfrom(): block until a datagram arrives, then take ALL of
        //    it, and only it: one call, one datagram, never part of one,
        //    never two. It also tells us who sent it, which read() cannot:
        //    that address is where the answer goes. MSG_TRUNC makes Linux
        //    return the datagram's real length, even when it was longer
        //    than our buffer and its end has been thrown away.
        let (length, sender) = match recv_from(&socket, &mut buffer, libc::MSG_TRUNC) {
            Ok(received) => received,
            // A signal came before any datagram did: nothing was taken.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => error("ERROR reading from socket", &e),
        };
        // ANCHOR_END: recvfrom

        // ANCHOR: print
        // 4. Print it, as one line. `length` may exceed the buffer (that
        //    is what MSG_TRUNC is for), and slicing past the end would
        //    panic: only the first `buffer.len()` bytes hold the datagram.
        let received = &buffer[..length.min(buffer.len())];
        datagram_line(&mut line, received, length);
        lesson::output::write_stdout(&line);
        // ANCHOR_END: print

        // ANCHOR: sendto
        // 5. sendto(): answer the address recvfrom() gave us. One call
        //    sends the whole datagram or fails; there is no short write to
        //    repeat. A client we cannot answer is no reason to stop serving
        //    the others, so a failure is reported and the loop goes on.
        if let Err(e) = socket.send_to(REPLY, &sender) {
            stderr_line(&format!("ERROR writing to socket: {e}"));
        }
        // ANCHOR_END: sendto
    }
}
