//! TCP for the tests: connecting to a server, ports that are free or
//! taken, a fake server that shows exactly what a client sends, and a
//! relay that makes an IPv4 server reachable at `[::1]` too.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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

/// Waits until the other end of `stream` (a program on this machine: the
/// server, or a client when a fake server asks) has read every byte we
/// sent it: until the kernel reports no unread bytes in the receive queue
/// of its side of the connection.
/// True once it has, false after [`WAIT`].
///
/// First it waits until the peer's kernel has acknowledged everything we
/// sent (our send queue is empty), so the bytes are in the peer's receive
/// queue or already read; then until that queue is empty. (On loopback a
/// `write` usually hands its bytes over before it returns, but a loaded
/// machine may defer that work to a kernel thread, and an empty receive
/// queue would then mean "not arrived yet".) A test can then send the
/// next piece knowing that it arrives in a read of its own, not merged
/// with the last one.
pub fn wait_until_peer_has_read(stream: &TcpStream) -> bool {
    let (Ok(SocketAddr::V4(ours)), Ok(SocketAddr::V4(theirs))) =
        (stream.local_addr(), stream.peer_addr())
    else {
        return false;
    };
    wait_until(WAIT, || {
        crate::stream::unsent_bytes(stream) == Some(0)
            && crate::procfs::tcp_unread_bytes(theirs.port(), ours.port()) == Some(0)
    })
}

/// Connections made to `[::1]:PORT`, handed to the server at
/// `127.0.0.1:PORT`, until dropped: see [`relay_from_ipv6_loopback`].
pub struct Relay {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Makes a server that listens on IPv4 only (`0.0.0.0:PORT`, as the
/// lessons' servers do) reachable at `[::1]:PORT` too, for as long as the
/// returned guard lives: each connection made there is relayed, byte for
/// byte and both ways, to `127.0.0.1:PORT`. `None` where this machine has
/// no IPv6 loopback address (nothing can reach `[::1]` there either).
///
/// For checks that give a client the name `localhost`: whether the
/// resolver lists `::1` first, second or not at all, the first address
/// the client tries leads to the server, so the check tests the name and
/// not the order of its addresses.
pub fn relay_from_ipv6_loopback(port: u16) -> Option<Relay> {
    let listener = TcpListener::bind((Ipv6Addr::LOCALHOST, port)).ok()?;
    listener.set_nonblocking(true).ok()?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let thread = thread::spawn(move || {
        let deadline = Instant::now() + WAIT;
        let mut pumps = Vec::new();
        while !stopped.load(Ordering::Relaxed) && Instant::now() < deadline {
            let Ok((client, _)) = listener.accept() else {
                thread::sleep(Duration::from_millis(5));
                continue;
            };
            let Ok(server) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
                continue;
            };
            for (from, to) in [(&client, &server), (&server, &client)] {
                let (Ok(from), Ok(to)) = (from.try_clone(), to.try_clone()) else {
                    continue;
                };
                pumps.push(thread::spawn(move || pump(from, to)));
            }
        }
        for pump in pumps {
            let _ = pump.join();
        }
    });
    Some(Relay {
        stop,
        thread: Some(thread),
    })
}

/// Copies `from` to `to` until `from` ends (or fails, or is silent for
/// [`WAIT`]), then ends `to`'s sending side in turn.
fn pump(mut from: TcpStream, mut to: TcpStream) {
    let _ = from.set_nonblocking(false);
    let _ = from.set_read_timeout(Some(WAIT));
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(std::net::Shutdown::Write);
}
