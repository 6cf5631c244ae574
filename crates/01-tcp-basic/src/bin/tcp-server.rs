//! Lesson 01, the server: the tutorial's first program, one system call at
//! a time. It creates a socket, binds it to a port, listens, accepts ONE
//! connection, reads one message, prints it, answers `I got your message`
//! and exits.
//!
//! Run it with `tcp-server 51717` (or `0` to let the kernel choose a port)
//! and talk to it with `tcp-client localhost 51717` from another terminal.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};

use lesson::args::Args;
use lesson::OrDie;
use socket2::{Domain, SockAddr, Socket, Type};

/// The tutorial's backlog. The contract keeps it for this lesson; the
/// servers that run until stopped use `SOMAXCONN` (see lesson 02).
const BACKLOG: i32 = 5;

fn main() {
    // ANCHOR: args
    let args = Args::parse("tcp-server PORT", &["PORT"], &[]);
    let port = args.port(0);
    // ANCHOR_END: args
    // Not in the tutorial: Ctrl-C and `kill` must end us, so SIGINT and
    // SIGTERM get their default action back and are unblocked, whatever
    // the process that started us left them as.
    lesson::signals::restore_default_stop_signals();

    // ANCHOR: socket
    // 1. socket(): an endpoint in the Internet domain (AF_INET), of stream
    //    type (SOCK_STREAM); protocol `None` is the C `0`: the kernel picks
    //    TCP. If this fails there is nothing to clean up: we have no socket.
    let listener: Socket =
        Socket::new(Domain::IPV4, Type::STREAM, None).or_die("ERROR opening socket");
    // ANCHOR_END: socket

    // ANCHOR: reuse
    // Not in the tutorial: a server restarted right after a run would find
    // its port held by connections in TIME_WAIT and fail to bind for a
    // minute. SO_REUSEADDR allows that, provided the old connections had
    // it set too (ours do: they inherit it from this socket). It never
    // lets two servers listen on one port on Linux.
    listener
        .set_reuse_address(true)
        .or_die("ERROR on setsockopt");
    // ANCHOR_END: reuse

    // ANCHOR: bind
    // 2. bind(): attach the socket to every local address (INADDR_ANY) and
    //    our port. The C fills a `sockaddr_in` by hand, must remember
    //    `htons()` and casts it to `sockaddr *`; here `SocketAddrV4` holds
    //    the port in host order and the conversion cannot be forgotten.
    let address = SockAddr::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
    listener.bind(&address).or_die("ERROR on binding");
    // ANCHOR_END: bind

    // ANCHOR: listen
    // 3. listen(): from now on the kernel completes handshakes for us and
    //    queues up to BACKLOG connections until we accept them. The
    //    tutorial skips the error check; we keep it, it costs one call.
    listener.listen(BACKLOG).or_die("ERROR on listening");
    lesson::announce_listening(&listener);
    // ANCHOR_END: listen

    // ANCHOR: accept
    // 4. accept(): block until a client connects. We get a NEW socket for
    //    this one conversation (the tutorial's `newsockfd`) and the client's
    //    address; the listening socket stays as it was.
    let (connection, _client_address) = listener.accept().or_die("ERROR on accept");
    // ANCHOR_END: accept

    // ANCHOR: read
    // 5. read(): ONE read of at most 255 bytes, as the tutorial does. It
    //    returns what has arrived so far, which for a short message is the
    //    whole line; a longer one is cut at 255 bytes. The C buffer has a
    //    256th byte for the NUL that printf("%s") needs, and must be bzero()ed
    //    first; a Rust slice knows its length, so `&buffer[..received]` is
    //    exactly what arrived and no stale byte can be printed.
    let mut buffer = [0u8; 255];
    let received = (&connection)
        .read(&mut buffer)
        .or_die("ERROR reading from socket");
    lesson::output::print_message("Here is the message: ", &buffer[..received]);
    // ANCHOR_END: read

    // ANCHOR: write
    // 6. write(): answer. `write_all` repeats write() until all 18 bytes
    //    are out, where the C trusts one call to write them all.
    (&connection)
        .write_all(b"I got your message")
        .or_die("ERROR writing to socket");
    // ANCHOR_END: write

    // ANCHOR: close
    // 7. close(): nothing to write. `connection` and `listener` own their
    //    descriptors and close them when they go out of scope, here, so a
    //    forgotten close() cannot leak one. Like the tutorial, we close
    //    at once, even with input unread (a line over 255 bytes): the
    //    kernel then resets the connection instead of closing it gently,
    //    which our 18 bytes survive but a longer reply might not. The
    //    book's step 7 explains, and shows the careful way to close.
    // ANCHOR_END: close
}
