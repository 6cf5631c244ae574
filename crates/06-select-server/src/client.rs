//! Lesson 06, the client: `select-client HOST PORT`.
//!
//! The clients of lessons 01 to 03 do one thing at a time: read a line
//! from stdin, send it, read the reply. A client that sends many lines
//! cannot work that way. Whilst it sits in `read()` on stdin, replies pile
//! up unread; whilst it sits in `read()` on the socket, a line typed on
//! stdin waits, and a server that closes the connection goes unnoticed
//! until the user types something. The answer is the server's: `select()`
//! over both descriptors, acting on whichever is ready. This is the
//! `str_cli` function of Stevens' UNIX Network Programming (chapter 6),
//! with its nonblocking refinement (chapter 16): the client never blocks
//! in `send()` either, so it keeps reading replies while the server is
//! slow to take its lines.

use std::io::{self, ErrorKind, Read};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd};

use lesson::args::Args;
use lesson::report::error;
use lesson::OrDie;
use nix::errno::Errno;
use nix::sys::select::{select, FdSet, FD_SETSIZE};
use socket2::Socket;

use crate::lines::LineWriter;

/// How much of stdin is read, and sent, at a time.
const CHUNK: usize = 4096;

/// A reply line longer than this (no server of ours sends one) is printed
/// in pieces rather than buffered without end.
const MAX_REPLY_LINE: usize = 64 * 1024;

/// The whole client: arguments, lookup, connect, then [`str_cli`].
pub fn run() {
    let args = Args::parse("select-client HOST PORT", &["HOST", "PORT"], &[]);
    let host = args.text(0, "host");
    let port = args.port(1);

    // Lesson 01's lookup and connect, unchanged.
    let addresses: Vec<SocketAddr> = match (host.as_str(), port).to_socket_addrs() {
        Ok(found) => found.collect(),
        Err(reason) => error(&format!("ERROR, no such host: {host}"), &reason),
    };
    let server = lesson01_tcp_basic::client::connect_to_any(&addresses);
    if usize::try_from(server.as_raw_fd()).map_or(true, |fd| fd >= FD_SETSIZE) {
        error(
            "ERROR opening socket",
            &format!("descriptor {} is beyond FD_SETSIZE", server.as_raw_fd()),
        );
    }
    str_cli(&server);
}

/// Stevens' `str_cli`: send stdin's lines, print the replies, until the
/// server closes the connection. Returns normally (exit 0) when it does;
/// exits 1 on a reset or another failure.
pub fn str_cli(server: &Socket) {
    // The socket is nonblocking, so that send() takes what fits and
    // returns. stdin is left as it is: it is shared with whoever started
    // us (a shell, a terminal), and select() tells us when a read() will
    // not block.
    server
        .set_nonblocking(true)
        .or_die("ERROR on fcntl(O_NONBLOCK)");
    let stdin = io::stdin();
    let stdin = stdin.as_fd();
    let mut stdout = LineWriter::new();

    // ANCHOR: state
    let mut chunk = [0u8; CHUNK];
    // stdin bytes read but not yet taken by the socket.
    let mut outgoing: Vec<u8> = Vec::with_capacity(CHUNK);
    // Reply bytes of a line whose newline has not come yet.
    let mut reply: Vec<u8> = Vec::new();
    // stdin has ended; once `outgoing` is empty we half-close.
    let mut stdin_done = false;
    let mut half_closed = false;
    // ANCHOR_END: state

    loop {
        // ANCHOR: sets
        // Watch stdin only when the last chunk has been sent: reading more
        // would only grow `outgoing`. The socket is always watched for
        // reading (replies, or the server closing), and for writing
        // while something waits to go out.
        let mut read_set = FdSet::new();
        let mut write_set = FdSet::new();
        if !stdin_done && outgoing.is_empty() {
            read_set.insert(stdin);
        }
        read_set.insert(server.as_fd());
        if !outgoing.is_empty() {
            write_set.insert(server.as_fd());
        }
        let nfds = server.as_raw_fd().max(stdin.as_raw_fd()) + 1;
        match select(nfds, &mut read_set, &mut write_set, None, None) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(reason) => error("ERROR on select", &io::Error::from(reason)),
        }
        let stdin_ready = read_set.contains(stdin);
        let server_readable = read_set.contains(server.as_fd());
        let server_writable = write_set.contains(server.as_fd());
        // ANCHOR_END: sets

        // ANCHOR: stdin
        // stdin is readable: read() what is there, line or not, with the
        // system call itself. (A buffered reader could take several lines
        // from the kernel and hand us one: select() would then say stdin
        // is empty while our buffer is not, the trap of Stevens 6.5.)
        if stdin_ready {
            match nix::unistd::read(stdin, &mut chunk) {
                Ok(0) => stdin_done = true,
                Ok(n) => outgoing.extend_from_slice(&chunk[..n]),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(reason) => error("ERROR reading from stdin", &io::Error::from(reason)),
            }
        }
        // ANCHOR_END: stdin

        // ANCHOR: send
        // Send what we have, as much as the socket takes now.
        if !outgoing.is_empty() && (server_writable || stdin_ready) {
            match server.send_with_flags(&outgoing, libc::MSG_NOSIGNAL) {
                Ok(sent) => {
                    outgoing.drain(..sent);
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                // The server has closed the connection: nothing we send
                // will be read. Stop sending; the socket's read side will
                // tell how it ended (its end of stream, or a reset).
                Err(e)
                    if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) =>
                {
                    outgoing.clear();
                    stdin_done = true;
                    half_closed = true;
                }
                Err(e) => error("ERROR writing to socket", &e),
            }
        }
        // At the end of stdin, and once all of it is sent: shutdown(), not
        // close(). We will send nothing more (the server reads its end of
        // stream) but we still read, because replies are still coming.
        if stdin_done && outgoing.is_empty() && !half_closed {
            if let Err(e) = server.shutdown(Shutdown::Write) {
                if e.kind() != ErrorKind::NotConnected {
                    error("ERROR on shutdown", &e);
                }
            }
            half_closed = true;
        }
        // ANCHOR_END: send

        // ANCHOR: replies
        // The socket is readable: replies, or the server's end of stream.
        if server_readable {
            match (&*server).read(&mut chunk) {
                // The server closed the connection: we are done, whether
                // or not stdin has ended (a server that refused a line
                // closes first). A last piece without newline is shown.
                Ok(0) => {
                    if !reply.is_empty() {
                        stdout.print(b"", &reply);
                    }
                    return;
                }
                Ok(n) => print_whole_lines(&mut reply, &chunk[..n], &mut stdout),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                // A reset (the server vanished) is a failure: exit 1.
                Err(e) => error("ERROR reading from socket", &e),
            }
        }
        // ANCHOR_END: replies
    }
}

/// Adds `received` to the unfinished `reply` line and prints every line
/// that is now complete, each as one whole line.
fn print_whole_lines(reply: &mut Vec<u8>, received: &[u8], stdout: &mut LineWriter) {
    let mut rest = received;
    while let Some(newline) = rest.iter().position(|&byte| byte == b'\n') {
        if reply.is_empty() {
            stdout.print(b"", &rest[..newline]);
        } else {
            reply.extend_from_slice(&rest[..newline]);
            stdout.print(b"", reply);
            reply.clear();
        }
        rest = &rest[newline + 1..];
    }
    reply.extend_from_slice(rest);
    if reply.len() > MAX_REPLY_LINE {
        stdout.print(b"", reply);
        reply.clear();
    }
}
