//! Lesson 06, the server: one process, one thread, `select()`.
//!
//! The whole server is one loop ([`serve_forever`]):
//!
//! 1. build the sets of descriptors to watch: the listening socket, every
//!    client that may still send, every client with replies waiting;
//! 2. `select()`: sleep until at least one of them is ready;
//! 3. serve exactly the ready ones: read what a client sent and answer
//!    each complete line, send queued replies, accept new connections.
//!
//! Nothing in the loop may block, or every client would wait for one.
//! So the sockets are nonblocking, and a client's state lives in a
//! [`Client`] between rounds: the part of a line that has arrived so far,
//! and the replies the client has not taken yet, each kept only while
//! there is one. Limits keep any one client from using unbounded memory,
//! and a guard keeps descriptors that `select()` cannot watch out of its
//! sets.

use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4};
use std::os::fd::{AsFd, AsRawFd, RawFd};

use lesson::report::{error, stderr_line};
use lesson::OrDie;
use nix::errno::Errno;
use nix::sys::select::{select, FdSet, FD_SETSIZE};
use socket2::{Domain, SockAddr, Socket, Type};

use crate::lines::LineWriter;

// ANCHOR: limits
/// The longest line a client may send, its newline not counted. A client
/// that sends a longer one gets `ERROR line too long` and is closed: the
/// server must not keep growing a buffer for a line that never ends.
pub const MAX_LINE: usize = 4096;

/// The most reply bytes a client may leave unread. A client that sends
/// and never reads would otherwise make the server queue its replies
/// forever; past this it is closed.
pub const MAX_UNSENT: usize = 64 * 1024;

/// How many connections one round accepts before serving the clients it
/// has: a flood of new connections must not starve the existing ones.
const ACCEPTS_PER_ROUND: usize = 64;
// ANCHOR_END: limits

/// What the server prints for each line, and what it answers.
const PRINTED: &[u8] = b"Here is the message: ";
const ANSWER: &[u8] = b"I got your message: ";
const TOO_LONG: &[u8] = b"ERROR line too long\n";

/// Steps 1 to 3, as in lesson 02 (`socket()`, `bind()`, `listen()` with
/// `SOMAXCONN`), and one more: the listening socket is made nonblocking.
/// Prints the readiness line and returns the socket.
pub fn listen(port: u16) -> Socket {
    // ANCHOR: listen
    // 1. socket(), with SO_REUSEADDR so that a restart can bind at once.
    let listener = Socket::new(Domain::IPV4, Type::STREAM, None).or_die("ERROR opening socket");
    listener
        .set_reuse_address(true)
        .or_die("ERROR on setsockopt");
    // 2. bind(): every local address, our port.
    let address = SockAddr::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
    listener.bind(&address).or_die("ERROR on binding");
    // 3. listen(): SOMAXCONN, for a server that runs until stopped (lesson
    //    02 explains why not 5).
    listener
        .listen(libc::SOMAXCONN)
        .or_die("ERROR on listening");
    // New: nonblocking. select() may say "a connection is waiting", and
    // the client may reset it before we accept(); a blocking accept()
    // would then sleep until the next client, and with it every client we
    // serve. A nonblocking one returns EAGAIN instead.
    listener
        .set_nonblocking(true)
        .or_die("ERROR on fcntl(O_NONBLOCK)");
    // ANCHOR_END: listen
    if !fits_in_fd_set(listener.as_raw_fd()) {
        error(
            "ERROR opening socket",
            &format!(
                "descriptor {} is beyond what select() can watch (FD_SETSIZE {FD_SETSIZE})",
                listener.as_raw_fd()
            ),
        );
    }
    lesson::announce_listening(&listener);
    listener
}

// ANCHOR: client
/// Everything the server remembers about one client between two rounds
/// of the loop. In a fork server this state lived on the child's stack;
/// with one thread for everybody, it must live here.
///
/// Most clients, most of the time, are between two lines with nothing
/// left to send them. Such a client costs its socket and this record: an
/// empty `Vec` owns no memory, so `partial` and `unsent` hold some only
/// while there is a line in progress or a reply not yet taken.
#[derive(Debug)]
struct Client {
    /// The connected socket, nonblocking. Dropping the `Client` closes it.
    socket: Socket,
    /// The start of a line whose newline has not arrived yet: at most
    /// [`MAX_LINE`] bytes, and none between lines.
    partial: Vec<u8>,
    /// Replies queued and not yet taken by the client's socket.
    unsent: Vec<u8>,
    /// The client will send nothing more: it closed its sending side.
    peer_done: bool,
    /// Its line was too long: `ERROR line too long` is queued, and its
    /// input is read and thrown away from now on.
    refused: bool,
    /// We have shut down our sending side (after the error line).
    shut_down: bool,
    /// Nothing is left to do: drop the client at the end of the round.
    finished: bool,
}
// ANCHOR_END: client

/// What `select()` said about one client in this round.
#[derive(Debug, Clone, Copy)]
struct Ready {
    readable: bool,
    writable: bool,
    /// Whether it was in the write set at all (it had replies waiting).
    watched_for_writing: bool,
}

/// The server's loop: build the sets, `select()`, serve the ready
/// descriptors, again. It never returns; SIGINT or SIGTERM ends it.
pub fn serve_forever(listener: Socket) -> ! {
    let mut clients: Vec<Client> = Vec::new();
    let mut ready: Vec<Ready> = Vec::new();
    // ANCHOR: input
    // Every read goes into this one buffer, shared by all clients: one
    // client is served at a time. Room for the longest line and its
    // newline; a client keeps only the unfinished end of what it sent.
    let mut input: Box<[u8]> = vec![0; MAX_LINE + 1].into_boxed_slice();
    // ANCHOR_END: input
    let mut stdout = LineWriter::new();
    let mut spare = Spare::open();
    loop {
        // ANCHOR: sets
        // 1. The sets. select() overwrites them with its answer, so they
        //    are built anew each round. `highest` becomes nfds: select()
        //    looks at descriptors 0 to nfds - 1 and no further.
        let mut read_set = FdSet::new();
        let mut write_set = FdSet::new();
        read_set.insert(listener.as_fd());
        let mut highest = listener.as_raw_fd();
        for client in &clients {
            // Every descriptor here is below FD_SETSIZE: accept_clients()
            // closes any other at once. FdSet::insert() would panic on one.
            if client.wants_to_read() {
                read_set.insert(client.socket.as_fd());
            }
            if client.wants_to_write() {
                write_set.insert(client.socket.as_fd());
            }
            highest = highest.max(client.socket.as_raw_fd());
        }
        // ANCHOR_END: sets

        // ANCHOR: select
        // 2. select(): sleep until a descriptor in a set is ready (no
        //    timeout: `None`). A signal interrupts it with EINTR, which is
        //    no failure: build the sets again and go back to sleep.
        match select(highest + 1, &mut read_set, &mut write_set, None, None) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(reason) => error("ERROR on select", &io::Error::from(reason)),
        }
        // ANCHOR_END: select

        // ANCHOR: serve
        // 3. Serve whoever is ready. The answers are noted first: the sets
        //    borrow the sockets, and serving needs the clients mutably.
        ready.clear();
        ready.extend(clients.iter().map(|client| Ready {
            readable: read_set.contains(client.socket.as_fd()),
            writable: write_set.contains(client.socket.as_fd()),
            watched_for_writing: client.wants_to_write(),
        }));
        let new_connections = read_set.contains(listener.as_fd());

        let mut any_finished = false;
        for (client, ready) in clients.iter_mut().zip(&ready) {
            if ready.readable {
                client.on_readable(&mut input, &mut stdout);
            }
            // Send what was queued, in one send() for all the lines this
            // round answered. A client whose socket was full when select()
            // was called is tried only once select() says it has room.
            if !client.unsent.is_empty() && (ready.writable || !ready.watched_for_writing) {
                client.flush();
            }
            client.check_limits_and_close();
            any_finished |= client.finished;
        }
        // Dropping a finished client closes its socket.
        if any_finished {
            clients.retain(|client| !client.finished);
        }

        if new_connections {
            accept_clients(&listener, &mut clients, &mut spare);
        }
        // ANCHOR_END: serve
    }
}

// ANCHOR: accept
/// Accepts the connections waiting on the listening socket, up to
/// [`ACCEPTS_PER_ROUND`], and makes each a nonblocking [`Client`].
fn accept_clients(listener: &Socket, clients: &mut Vec<Client>, spare: &mut Spare) {
    for _ in 0..ACCEPTS_PER_ROUND {
        let socket = match listener.accept() {
            Ok((socket, _address)) => socket,
            // Nobody else is waiting: back to select().
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            // A client that gave up before we accepted it, or a signal.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionAborted | ErrorKind::Interrupted
                ) =>
            {
                continue
            }
            Err(e) if is_out_of_descriptors(&e) => {
                if spare.shed(listener) {
                    continue;
                }
                return;
            }
            // Anything else (the system short of memory, say) is not this
            // loop's to fix: say so and try again next round.
            Err(e) => {
                stderr_line(&format!("ERROR on accept: {e}"));
                return;
            }
        };
        // The FD_SETSIZE guard. An fd_set is a bitmap of FD_SETSIZE (1024)
        // bits: a larger descriptor has no bit in it. C's FD_SET() would
        // write past the end of the set, nix's FdSet::insert() panics. The
        // kernel hands out descriptors up to `ulimit -n`, which may well be
        // above 1024, so the check is needed. Dropping `socket` closes it.
        if !fits_in_fd_set(socket.as_raw_fd()) {
            stderr_line(&format!(
                "closing connection on descriptor {}: select() can only watch descriptors below FD_SETSIZE ({FD_SETSIZE})",
                socket.as_raw_fd()
            ));
            continue;
        }
        // accept() does not pass O_NONBLOCK on to the new socket (on
        // Linux): set it, or one read() could stop the whole server.
        if let Err(e) = socket.set_nonblocking(true) {
            stderr_line(&format!("ERROR on fcntl(O_NONBLOCK): {e}"));
            continue;
        }
        clients.push(Client::new(socket));
    }
}
// ANCHOR_END: accept

/// Whether `select()` can watch `fd`: only descriptors below FD_SETSIZE
/// have a bit in an `fd_set`.
fn fits_in_fd_set(fd: RawFd) -> bool {
    usize::try_from(fd).is_ok_and(|fd| fd < FD_SETSIZE)
}

/// EMFILE (this process has no descriptor left) or ENFILE (the system
/// has none).
fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

// ANCHOR: spare
/// A descriptor held in reserve for the day `accept()` fails with EMFILE.
///
/// That failure leaves the connection waiting in the kernel's queue, so
/// the listening socket stays readable and the next select() returns at
/// once: the server would spin, at full CPU, without serving anyone. The
/// way out, which event libraries such as libuv use, is to close the
/// spare descriptor, accept the connection with the number it frees,
/// close that connection at once and open the spare again. The client
/// sees its connection closed, the queue moves on, and the clients we
/// have keep being served.
struct Spare(Option<File>);

impl Spare {
    /// Opens the spare: `/dev/null`, the cheapest file there is.
    fn open() -> Spare {
        Spare(File::open("/dev/null").ok())
    }

    /// Frees the spare descriptor to accept one connection and close it.
    /// Returns whether a connection was shed: Linux reports EMFILE before
    /// it looks for a waiting connection, so the failure does not mean
    /// that one was there.
    fn shed(&mut self, listener: &Socket) -> bool {
        if self.0.take().is_none() {
            stderr_line("ERROR on accept: out of descriptors, and no spare one to free");
            return false;
        }
        let shed = match listener.accept() {
            Ok((connection, _address)) => {
                stderr_line(&format!(
                    "closing new connection on descriptor {}: out of descriptors",
                    connection.as_raw_fd()
                ));
                true
            }
            Err(_) => false,
        };
        *self = Spare::open();
        shed
    }
}
// ANCHOR_END: spare

impl Client {
    fn new(socket: Socket) -> Client {
        Client {
            socket,
            partial: Vec::new(),
            unsent: Vec::new(),
            peer_done: false,
            refused: false,
            shut_down: false,
            finished: false,
        }
    }

    /// Until it closes its side, a client may send more: watch it. (A
    /// refused client is still read, to throw its input away.)
    fn wants_to_read(&self) -> bool {
        !self.peer_done
    }

    /// Replies are waiting: watch for room in its socket's send buffer.
    fn wants_to_write(&self) -> bool {
        !self.unsent.is_empty()
    }

    // ANCHOR: read
    /// The client's socket is readable: data, the end of its input, or an
    /// error is waiting. ONE read() per round, so that a client that sends
    /// without pause still lets select() come round to the others.
    ///
    /// `input` is the server's one read buffer. The line this client left
    /// unfinished goes first, and the read fills the rest: together never
    /// more than the longest line and its newline. (A refused client has
    /// none: its input is read into the buffer and forgotten.)
    fn on_readable(&mut self, input: &mut [u8], stdout: &mut LineWriter) {
        let kept = self.partial.len();
        input[..kept].copy_from_slice(&self.partial);
        match (&self.socket).read(&mut input[kept..]) {
            // 0 bytes: the client has closed its sending side. A last
            // piece without a newline is a line all the same.
            Ok(0) => {
                self.peer_done = true;
                if kept > 0 {
                    answer(&input[..kept], &mut self.unsent, stdout);
                }
                self.partial = Vec::new();
            }
            Ok(_) if self.refused => {}
            Ok(received) => self.answer_complete_lines(&input[..kept + received], stdout),
            // select() said readable, yet nothing is there (it can
            // happen), or a signal came: try again next round.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
            // The client reset the connection, or worse: it is gone, and
            // nobody is left to read our replies.
            Err(_) => self.finished = true,
        }
    }
    // ANCHOR_END: read

    // ANCHOR: lines
    /// Answers every complete line in `received` (the unfinished line kept
    /// from before, then what this read brought) and keeps the unfinished
    /// rest for the next read. One read may bring several lines, or part
    /// of one.
    fn answer_complete_lines(&mut self, received: &[u8], stdout: &mut LineWriter) {
        let mut start = 0;
        while let Some(newline) = received[start..].iter().position(|&byte| byte == b'\n') {
            let line = &received[start..start + newline];
            answer(line, &mut self.unsent, stdout);
            start += newline + 1;
        }
        // Copied into memory of the client's own: the read buffer is the
        // next client's in a moment. After a complete line the rest is
        // empty, and an empty Vec allocates nothing.
        self.partial = received[start..].to_vec();
        // The rest has no newline in it: over MAX_LINE bytes means a line
        // longer than MAX_LINE. Refuse it, and close.
        if self.partial.len() > MAX_LINE {
            stderr_line(&format!(
                "closing connection on descriptor {}: line too long",
                self.socket.as_raw_fd()
            ));
            self.unsent.extend_from_slice(TOO_LONG);
            self.refused = true;
            self.partial = Vec::new();
        }
    }
    // ANCHOR_END: lines

    // ANCHOR: flush
    /// Sends as much of the queued replies as the socket takes now. With
    /// a nonblocking socket, send() takes what fits in the kernel's send
    /// buffer and returns; the rest waits for the next round.
    fn flush(&mut self) {
        while !self.unsent.is_empty() {
            // MSG_NOSIGNAL: writing to a client that has gone away must
            // fail with EPIPE, not kill the server with SIGPIPE. (Rust
            // already ignores SIGPIPE; this holds even where nobody did.)
            match self
                .socket
                .send_with_flags(&self.unsent, libc::MSG_NOSIGNAL)
            {
                Ok(sent) => {
                    self.unsent.drain(..sent);
                    // A short send means the send buffer is full: trying
                    // again now would only return EAGAIN.
                    if !self.unsent.is_empty() {
                        return;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // EPIPE, ECONNRESET: the client is gone. Never fatal to us.
                Err(_) => {
                    self.finished = true;
                    return;
                }
            }
        }
        // All sent: the buffer's memory goes back, so that a client with
        // nothing pending costs no more than its record.
        self.unsent = Vec::new();
    }
    // ANCHOR_END: flush

    // ANCHOR: close
    /// The end of a client's round: enforce the limit on unsent replies,
    /// and close the connections that have nothing left to do.
    fn check_limits_and_close(&mut self) {
        if self.finished {
            return;
        }
        if self.unsent.len() > MAX_UNSENT {
            stderr_line(&format!(
                "closing connection on descriptor {}: more than 64 KiB of unsent replies",
                self.socket.as_raw_fd()
            ));
            self.finished = true;
            return;
        }
        if !self.unsent.is_empty() {
            return;
        }
        if self.refused && !self.shut_down {
            // The error line is out. Shut down our sending side (the client
            // reads the end of the stream after it) but do not close yet:
            // closing with the client's input unread would make the kernel
            // answer with a reset, which may destroy the error line before
            // the client has read it. So we keep reading, and throwing
            // away, until the client closes too.
            let _ = self.socket.shutdown(Shutdown::Write);
            self.shut_down = true;
        }
        // The client will send nothing more and has all its replies.
        if self.peer_done {
            self.finished = true;
        }
    }
    // ANCHOR_END: close
}

// ANCHOR: answer
/// What the server does for one line: print it, and queue the reply for
/// this client alone. The reply goes out with the client's next send().
fn answer(line: &[u8], unsent: &mut Vec<u8>, stdout: &mut LineWriter) {
    stdout.print(PRINTED, line);
    // Room for the whole reply at once: an empty buffer would otherwise
    // be allocated for its first piece and grown again for the next.
    unsent.reserve(ANSWER.len() + line.len() + 1);
    unsent.extend_from_slice(ANSWER);
    unsent.extend_from_slice(line);
    unsent.push(b'\n');
}
// ANCHOR_END: answer
