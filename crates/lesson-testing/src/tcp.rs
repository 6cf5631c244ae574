//! TCP for the tests: connecting to a server, ports that are free or
//! taken, and a fake server that shows exactly what a client sends.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::stream::Stream;
use crate::{wait_until, WAIT};

/// A connection to `127.0.0.1:port`, with [`WAIT`] as its read and write
/// timeout.
pub fn connect(port: u16) -> Stream {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = TcpStream::connect_timeout(&address, WAIT)
        .unwrap_or_else(|e| panic!("connecting to the server: {e}"));
    stream.set_read_timeout(Some(WAIT)).ok();
    stream.set_write_timeout(Some(WAIT)).ok();
    Stream::Tcp(stream)
}

/// A loopback port where a connection is refused, and stays refused.
///
/// A port that was merely free a moment ago could be taken meanwhile by a
/// server another test starts on port 0. So the port is held by a socket
/// that is bound but never listens: the kernel answers a connection to it
/// with a reset (`ECONNREFUSED`), and nobody else can bind the port while
/// the socket lives, which is until the test process ends.
pub fn refused_port() -> u16 {
    static HELD: std::sync::Mutex<Vec<Socket>> = std::sync::Mutex::new(Vec::new());
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a probe socket");
    socket
        .bind(&SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0).into())
        .expect("binding a probe port");
    let port = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("the probe's address")
        .port();
    HELD.lock().unwrap_or_else(|e| e.into_inner()).push(socket);
    port
}

/// Occupies a TCP port on every address, as a server would, and returns
/// the listener that holds it (for "port already in use").
pub fn occupied_port() -> TcpListener {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("occupying a port")
}

/// A stand-in server on loopback, to see exactly what a client sends: it
/// accepts one connection and hands it to `serve` on a thread. The thread
/// ends with the connection; its accept is bounded by [`WAIT`]. Join the
/// handle to learn whether `serve`'s assertions held.
pub fn fake_server(
    serve: impl FnOnce(TcpStream) + Send + 'static,
) -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("fake server bind");
    let port = listener.local_addr().expect("fake server address").port();
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let handle = serve_first_connection(
        move || listener.accept().ok().map(|(stream, _)| stream),
        |stream: &TcpStream| {
            stream.set_nonblocking(false).expect("blocking stream");
            stream.set_read_timeout(Some(WAIT)).ok();
        },
        serve,
    );
    (port, handle)
}

/// A fake server's thread, for any stream domain: polls `accept` (a
/// non-blocking listener's) for up to [`WAIT`], `prepare`s the first
/// connection and hands it to `serve`.
pub(crate) fn serve_first_connection<S: Send + 'static>(
    mut accept: impl FnMut() -> Option<S> + Send + 'static,
    prepare: impl FnOnce(&S) + Send + 'static,
    serve: impl FnOnce(S) + Send + 'static,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Some(stream) = accept() {
                prepare(&stream);
                serve(stream);
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
    })
}

/// Waits until the other end of `stream` (on this machine: the server)
/// has read every byte we sent it: until the kernel reports no unread
/// bytes in the receive queue of the server's side of the connection.
/// True once it has, false after [`WAIT`].
///
/// On loopback a `write` hands its bytes to the peer's receive queue
/// before it returns, so after a write this tells when the server's
/// `read` has taken them: a test can then send the next piece knowing
/// that it arrives in a read of its own, not merged with the last one.
pub fn wait_until_peer_has_read(stream: &TcpStream) -> bool {
    let (Ok(SocketAddr::V4(ours)), Ok(SocketAddr::V4(theirs))) =
        (stream.local_addr(), stream.peer_addr())
    else {
        return false;
    };
    wait_until(WAIT, || {
        crate::procfs::tcp_unread_bytes(theirs.port(), ours.port()) == Some(0)
    })
}
