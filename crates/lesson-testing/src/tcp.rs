//! TCP for the tests: connecting to a server, ports that are free or
//! taken, and a fake server that shows exactly what a client sends.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::stream::Stream;
use crate::WAIT;

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

/// A loopback port nobody listens on (it was free a moment ago), for
/// "connection refused".
pub fn refused_port() -> u16 {
    let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a probe port");
    probe.local_addr().expect("probe address").port()
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
