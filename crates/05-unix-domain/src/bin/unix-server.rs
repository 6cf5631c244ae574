//! Lesson 05, the server: lesson 01's server in the Unix domain, serving
//! one connection after another until it is stopped.
//!
//! The steps are lesson 01's: socket, bind, listen, accept, read, write,
//! close. Only the address differs, a path instead of a port, and with it
//! come a socket file to look after (`src/socket_file.rs`) and a new
//! question the server can ask: which process is on the other end?
//!
//! Try it: `unix-server --show-peer /tmp/lesson05.sock` in one terminal,
//! `unix-client /tmp/lesson05.sock` in another, and
//! `ls -l /tmp/lesson05.sock` while the server runs.

use std::io::ErrorKind;

use lesson::args::Args;
use lesson::OrDie;
use lesson02_fork_server::accept_failed;
use lesson05_unix_domain::{address, report_peer, serve_one, socket_file, BACKLOG, SERVER_HELP};
use socket2::{Domain, Socket, Type};

fn main() {
    // ANCHOR: args
    let args = Args::parse_with_help(
        "unix-server PATH [--show-peer]",
        SERVER_HELP,
        &["PATH"],
        &[],
        &["--show-peer"],
    );
    let (path, address) = address::socket_address(&args, 0);
    // Naming each client costs two system calls per connection (the
    // question, and the line on stderr). So it is asked for, not the
    // default: run without it, the server makes exactly the tutorial's
    // calls, one for one beside the tutorial's C.
    let show_peer = args.flag("--show-peer");
    // ANCHOR_END: args

    // ANCHOR: stop
    // The contract's stopping rule first: SIGINT and SIGTERM get their
    // default action back and are unblocked, whatever the shell or our
    // parent left us. Then our own
    // handling: they are held (blocked) until the handler that removes
    // the socket file is in place, right after bind().
    lesson::signals::restore_default_stop_signals();
    socket_file::hold_stop_signals();
    // ANCHOR_END: stop

    // ANCHOR: socket
    // 1. socket(): an endpoint in the Unix domain (AF_UNIX), of stream
    //    type. The tutorial's one change to lesson 01 is this first
    //    argument, and the address that goes with it.
    let listener = Socket::new(Domain::UNIX, Type::STREAM, None).or_die("ERROR opening socket");
    // ANCHOR_END: socket

    // ANCHOR: bind
    // 2. bind(): give the socket its name, PATH. This creates the socket
    //    file. If PATH is taken, bind_or_reclaim looks at what is there,
    //    and removes it only if it is a socket left by a dead server.
    socket_file::bind_or_reclaim(&listener, &path, &address);
    // The file is ours now: SIGINT or SIGTERM will remove it.
    socket_file::remove_on_stop(&path);
    // ANCHOR_END: bind

    // ANCHOR: listen
    // 3. listen(): as in lesson 02, SOMAXCONN, for a server that runs
    //    until stopped. Then the readiness line, `listening on PATH`.
    if let Err(e) = listener.listen(BACKLOG) {
        socket_file::remove_and_fail("ERROR on listening", &e);
    }
    lesson::announce_listening(&listener);
    // ANCHOR_END: listen

    loop {
        // ANCHOR: accept
        // 4. accept(): the next client, in the order they connected. The
        //    client's address is of no use here: a client that did not
        //    bind has none (it is "unnamed"). Who it is, the kernel tells
        //    us instead: with --show-peer, report_peer asks for its
        //    credentials.
        let connection = match listener.accept() {
            Ok((connection, _unnamed)) => connection,
            // Lesson 02's caution, and lesson 02's code: EINTR (a signal
            // whose handler returns; ours never does) and ECONNABORTED (a
            // connection aborted before we took it, the BSDs' way of
            // reporting a reset one) mean "try again". Any
            // other failure goes to lesson 02's `accept_failed`: a shortage
            // (out of descriptors, EMFILE) is reported and waited out, and
            // the clients in the queue are served once it is over. Only a
            // failure no retry can mend ends the server, and removes its
            // socket file on the way out.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted | ErrorKind::ConnectionAborted
                ) =>
            {
                continue
            }
            Err(e) => {
                if let Err(fatal) = accept_failed(e) {
                    socket_file::remove_and_fail("ERROR on accept", &fatal)
                }
                continue;
            }
        };
        if show_peer {
            report_peer(&connection);
        }
        // ANCHOR_END: accept

        // ANCHOR: serve
        // 5. and 6. read() and write(): lesson 01's exchange. One client at
        //    a time: the next one waits in the listen queue until this one
        //    is served (lesson 02 would fork; this lesson keeps it simple).
        serve_one(&connection);
        // 7. close(): `connection` goes out of scope here; the listening
        //    socket stays open for the next turn.
        // ANCHOR_END: serve
    }
}
