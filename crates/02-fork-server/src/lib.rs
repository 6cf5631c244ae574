//! Lesson 02: a server that runs until it is stopped and serves every
//! connection in a child process of its own.
//!
//! Lesson 01's server answered one client and exited. The tutorial's
//! "enhancements" put `accept()` in an endless loop and call `fork()` after
//! each connection: the child serves that one client ([`dostuff`]) and
//! exits, while the parent goes straight back to `accept()`. A slow or
//! silent client now holds up only its own child, never the next client.
//!
//! The server is two calls, [`listen`] then [`serve_forever`]; the binary
//! (`src/bin/fork-server.rs`) adds the command line and signal defaults.
//! Both are public because lesson 03 reuses them unchanged: it only adds
//! what happens when a child ends. This lesson deliberately does *not*
//! collect its finished children, so each one stays a zombie while the
//! server runs. Seeing them is the point; lesson 03 removes them.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::thread;
use std::time::Duration;

use lesson::report::{error, stderr_line};
use lesson::OrDie;
use nix::unistd::{fork, ForkResult};
use socket2::{Domain, SockAddr, Socket, Type};

// ANCHOR: backlog
/// How many finished handshakes the kernel may queue for us before we
/// `accept()` them: `SOMAXCONN`, the C library's "large backlog".
///
/// The tutorial passes 5, which it calls the maximum most systems permit.
/// That was true of 4.2BSD, whose `SOMAXCONN` was 5. Today the kernel
/// takes the smaller of what we ask and its `net.core.somaxconn` setting
/// (4096 by default since Linux 5.4), and `libc::SOMAXCONN` is 4096 when
/// building against glibc but 128 against musl. So this asks for a large
/// queue, not for "as many as the system allows". A server that runs until
/// stopped meets bursts: while the parent is busy forking, new clients
/// keep arriving, and with a queue of 5 the kernel drops the extra
/// handshakes, so those clients wait a second or more for their
/// retransmission.
pub const BACKLOG: i32 = libc::SOMAXCONN;
// ANCHOR_END: backlog

/// The tutorial's buffer has 256 bytes and it reads at most 255 of them
/// (the last one is kept for the C string's NUL).
const MESSAGE_LIMIT: usize = 255;

/// The answer every client gets: 18 bytes, exactly as in lesson 01.
pub const REPLY: &[u8] = b"I got your message";

/// Steps 1 to 3 of lesson 01, for a server that runs until it is stopped:
/// `socket()`, `bind()` to every local address and `port`, `listen()` with
/// [`BACKLOG`]. Prints the readiness line and returns the listening socket.
/// A failure is reported the tutorial's way and ends the process (exit 1).
pub fn listen(port: u16) -> Socket {
    // ANCHOR: socket
    // 1. socket(): an endpoint in the Internet domain, of stream type
    //    (TCP), exactly as in lesson 01.
    let listener: Socket =
        Socket::new(Domain::IPV4, Type::STREAM, None).or_die("ERROR opening socket");
    // A server that runs until stopped is also restarted often; without
    // SO_REUSEADDR the restart would fail to bind while the last run's
    // connections linger in TIME_WAIT.
    listener
        .set_reuse_address(true)
        .or_die("ERROR on setsockopt");
    // ANCHOR_END: socket

    // ANCHOR: bind
    // 2. bind(): every local address (INADDR_ANY) and our port.
    let address = SockAddr::from(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port));
    listener.bind(&address).or_die("ERROR on binding");
    // ANCHOR_END: bind

    // ANCHOR: listen
    // 3. listen(): SOMAXCONN instead of the tutorial's 5, so that a burst
    //    of clients waits in the kernel's queue instead of being dropped
    //    while we fork (see BACKLOG). Only then are we ready: say so.
    listener.listen(BACKLOG).or_die("ERROR on listening");
    lesson::announce_listening(&listener);
    // ANCHOR_END: listen
    listener
}

/// The tutorial's endless loop: accept a connection, fork a child to serve
/// it, go back to accept the next one. It never returns; a signal
/// (SIGINT, SIGTERM) ends the server.
///
/// It takes the listening socket by value: the loop owns it from now on,
/// and each child closes its own copy of it.
pub fn serve_forever(listener: Socket) -> ! {
    loop {
        // ANCHOR: accept
        // 4. accept(), now inside `loop`. Two failures are no fault of
        //    ours and only mean "try again":
        //    - EINTR (Interrupted): a signal arrived while we were waiting.
        //      Lesson 03's SIGCHLD handler does exactly that.
        //    - ECONNABORTED: a client gave up between its handshake and
        //      our accept(); the next client must not pay for it.
        //    The tutorial ends the server on any other failure; we sort
        //    them first (`accept_failed`), and end it only when no retry
        //    can help.
        let connection = match listener.accept() {
            Ok((connection, _client_address)) => connection,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted | ErrorKind::ConnectionAborted
                ) =>
            {
                continue;
            }
            Err(e) => {
                accept_failed(e).or_die("ERROR on accept");
                continue;
            }
        };
        // ANCHOR_END: accept

        // ANCHOR: fork
        // 5. fork(): copy this whole process. The call returns twice, once
        //    in each copy: in the parent with the child's process ID, in
        //    the child with "you are the child". Both copies hold both
        //    sockets: fork() gives the child a copy of the parent's
        //    descriptor table, and each copied descriptor refers to the
        //    same open socket in the kernel.
        //
        // SAFETY: fork() copies only the thread that calls it. Had another
        // thread been holding a lock at that moment (Rust's stdout lock,
        // say, or the standard library's lock on the environment), the
        // child would inherit the lock taken, with no thread left to
        // release it, and hang the first time it used `println!` or read
        // an environment variable. That is why nix marks fork() unsafe:
        // after forking a multithreaded program, the child may only call
        // async-signal-safe functions. This server is single-threaded (it starts no thread,
        // and neither socket2 nor our `lesson` crate does), so the child
        // is a complete copy and may do anything the parent could.
        let forked: nix::Result<ForkResult> = unsafe { fork() };
        // ANCHOR_END: fork
        match forked {
            // ANCHOR: child
            // 6. The child: it has no use for the listening socket, so it
            //    closes its copy (the tutorial's close(sockfd); `drop`
            //    closes a Socket), serves its client and exits. The child
            //    never returns to the loop.
            //
            //    It exits with `_exit`, the system call, not with
            //    `process::exit`: that one first runs the exit-time
            //    clean-up of the program the child is a copy of (the C
            //    library's exit handlers, Rust's runtime unmapping its
            //    signal stack), work that belongs to the parent and would
            //    cost every connection again. The child has nothing left
            //    to flush: each line went out in one write(2).
            //
            //    Exiting closes `connection` (the kernel closes every
            //    descriptor of a process that ends), which tells the
            //    client we are done, as in the tutorial. Closing it here
            //    first would wake the client while the child still has
            //    its exit ahead of it: one more switch between the two on
            //    a busy CPU, for every connection.
            Ok(ForkResult::Child) => {
                drop(listener);
                dostuff(&connection);
                // SAFETY: _exit() takes a number and ends the process at
                // once; it is async-signal-safe, so it is allowed even in
                // the child of a multithreaded program.
                unsafe { libc::_exit(0) }
            }
            // ANCHOR_END: child
            // ANCHOR: parent
            // 7. The parent: the child talks to this client now, so the
            //    parent's copy of `connection` must be closed (the
            //    tutorial's close(newsockfd)), or each client would leak
            //    one descriptor, and the connection would stay open until
            //    the parent closed it too. Nothing to write here: see the
            //    end of the loop. The child's ID is not kept: this lesson
            //    never waits for its children.
            Ok(ForkResult::Parent { child: _ }) => {}
            // ANCHOR_END: parent
            // ANCHOR: fork_failed
            // No new process (too many processes, no memory): the tutorial
            // exits, which would cut off every client being served. We
            // tell, drop this one connection (its client sees it closed)
            // and keep serving.
            Err(reason) => stderr_line(&format!("ERROR on fork: {}", io::Error::from(reason))),
            // ANCHOR_END: fork_failed
        }
        // ANCHOR: close
        // `connection` goes out of scope here, at the end of each turn of
        // the loop, and dropping it closes the parent's copy. In C the
        // close(newsockfd) is a line one can forget; here forgetting is
        // impossible, and the parent's descriptor count stays the same
        // however many clients it serves.
        // ANCHOR_END: close
    }
}

// ANCHOR: accept_failed
/// What the loop does after any other failed `accept()`, by `errno`. It
/// returns `Ok` when calling `accept()` again makes sense (after a pause,
/// for a shortage), and gives the failure back when it does not: the
/// caller then ends the server. Lesson 05's server asks it too.
pub fn accept_failed(failure: io::Error) -> io::Result<()> {
    match failure.raw_os_error() {
        // Linux's accept() reports an error that the new connection met
        // on the network, before we took it, as an error of accept()
        // itself; accept(2) says to treat these like EAGAIN, by retrying.
        // That connection is gone, the next one is unharmed.
        Some(
            libc::ENETDOWN
            | libc::EPROTO
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::ENONET
            | libc::EHOSTUNREACH
            | libc::EOPNOTSUPP
            | libc::ENETUNREACH,
        ) => Ok(()),
        // Out of descriptors (EMFILE: this process; ENFILE: the whole
        // system) or of memory (ENOBUFS, ENOMEM). The shortage may pass,
        // so the server must not die of it. But an immediate retry would
        // fail again at once, thousands of times a second: for EMFILE and
        // ENFILE, Linux fails before taking the connection off the queue,
        // so it is still there, waiting. So: say it, pause, try again.
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
            stderr_line(&format!("ERROR on accept: {failure}"));
            thread::sleep(SHORTAGE_PAUSE);
            Ok(())
        }
        // EBADF, ENOTSOCK, EINVAL, EFAULT: the listening socket or our
        // call is wrong, and every retry would fail the same way.
        _ => Err(failure),
    }
}

/// How long the loop waits after `accept()` found no descriptor or memory
/// left: short enough that clients barely notice once the shortage is
/// over, long enough that the loop costs nothing while it lasts.
const SHORTAGE_PAUSE: Duration = Duration::from_millis(100);
// ANCHOR_END: accept_failed

// ANCHOR: dostuff
/// The tutorial's `dostuff()`: all that the service does for one client,
/// run in the child. Here it is lesson 01's exchange: ONE read of at most
/// 255 bytes, print the message as one whole line, answer
/// `I got your message`. A failure ends only this child (exit 1), never
/// the server.
pub fn dostuff(connection: &Socket) {
    // `Read` and `Write` are implemented for `&Socket`: the kernel keeps
    // the socket's state, so a shared reference is all a read needs.
    let mut stream = connection;
    let mut buffer = [0u8; MESSAGE_LIMIT];
    let received = loop {
        match stream.read(&mut buffer) {
            Ok(received) => break received,
            // A signal came before any byte did: nothing was read yet, so
            // this is still the one read. Ask again.
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => error("ERROR reading from socket", &e),
        }
    };
    // One write(2) per line: the children all share the parent's stdout,
    // and their lines must not interleave.
    lesson::output::print_message("Here is the message: ", &buffer[..received]);
    stream.write_all(REPLY).or_die("ERROR writing to socket");
}
// ANCHOR_END: dostuff
