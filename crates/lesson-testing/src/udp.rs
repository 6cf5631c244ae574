//! UDP for the tests (lesson 04): datagram sockets on loopback, ports that
//! are taken or where nobody is, and a stand-in server that answers, drops
//! or ignores datagrams as the test needs, and counts what it received.
//!
//! A datagram client cannot be watched through a connection: the only way
//! to know how many datagrams it sent, and what was in each, is to be the
//! server it sends them to. [`FakeServer`] is that server; xtask's demo of
//! lesson 04 uses it too, to lose a datagram on purpose.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::WAIT;

/// A UDP socket on `127.0.0.1`, port chosen by the kernel, whose reads
/// give up after [`WAIT`]: a peer for the server under test.
pub fn socket() -> UdpSocket {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a UDP socket");
    socket.set_read_timeout(Some(WAIT)).ok();
    socket
}

/// Occupies a UDP port on every address, as a server would, and returns
/// the socket that holds it (for "port already in use").
pub fn occupied_port() -> UdpSocket {
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("occupying a UDP port")
}

/// A loopback UDP port where nobody is (it was free a moment ago): a
/// datagram sent there earns an ICMP "port unreachable", and no answer.
pub fn unused_port() -> u16 {
    let probe = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a probe port");
    probe.local_addr().expect("probe address").port()
}

/// Receives one datagram on `socket` (up to 64 KiB, more than any UDP
/// datagram holds), with its sender; panics after the socket's timeout.
pub fn receive(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buffer = vec![0u8; 65536];
    let deadline = Instant::now() + WAIT;
    loop {
        match socket.recv_from(&mut buffer) {
            Ok((length, sender)) => {
                buffer.truncate(length);
                return (buffer, sender);
            }
            // A signal may interrupt the wait (a check may install a
            // handler, or a program it runs may be traced), and a socket
            // with a receive timeout is not restarted after a signal,
            // SA_RESTART or not: wait on, within the deadline.
            Err(e) if e.kind() == ErrorKind::Interrupted && Instant::now() < deadline => {}
            Err(e) => panic!("no datagram within the socket's timeout: {e}"),
        }
    }
}

/// What a [`FakeServer`] does with datagram number `index` (0 for the
/// first) and its bytes: `Some(reply)` to answer its sender, `None` to
/// drop it, as a lossy network would.
pub type Policy = Box<dyn FnMut(usize, &[u8]) -> Option<Vec<u8>> + Send>;

/// One datagram a [`FakeServer`] received.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// When it arrived.
    pub at: Instant,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Whether the fake answered it.
    pub answered: bool,
}

/// A stand-in UDP server on `127.0.0.1`, on a thread of its own, that
/// records every datagram it receives and answers as its [`Policy`] says.
/// The thread ends when the fake is finished or dropped, and after twice
/// [`WAIT`] at the latest, so a forgotten fake never outlives its test.
pub struct FakeServer {
    port: u16,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

/// How often the fake's thread looks at its stop flag while no datagram
/// comes.
const POLL: Duration = Duration::from_millis(10);

impl FakeServer {
    /// Starts a fake that treats each datagram as `policy` says.
    pub fn start(mut policy: Policy) -> FakeServer {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("fake UDP server bind");
        let port = socket.local_addr().expect("fake UDP server address").port();
        socket.set_read_timeout(Some(POLL)).ok();
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let arrivals = Arc::clone(&arrivals);
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let deadline = Instant::now() + 2 * WAIT;
                let mut buffer = vec![0u8; 65536];
                loop {
                    // Once told to stop, take what is already queued, then
                    // end: a datagram the client sent before it exited
                    // must be counted.
                    let stopping = stop.load(Ordering::SeqCst) || Instant::now() >= deadline;
                    if stopping {
                        socket.set_nonblocking(true).ok();
                    }
                    let (length, sender) = match socket.recv_from(&mut buffer) {
                        Ok(received) => received,
                        Err(e)
                            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                        {
                            if stopping {
                                return;
                            }
                            continue;
                        }
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(_) => return,
                    };
                    let bytes = buffer[..length].to_vec();
                    // Recorded as it arrives, before the policy (which may
                    // take its time) and before any answer, so whoever gets
                    // the answer finds the datagram already counted.
                    let index = {
                        let mut arrivals = lock(&arrivals);
                        arrivals.push(Arrival {
                            at: Instant::now(),
                            bytes: bytes.clone(),
                            answered: false,
                        });
                        arrivals.len() - 1
                    };
                    if let Some(reply) = policy(index, &bytes) {
                        lock(&arrivals)[index].answered = true;
                        let _ = socket.send_to(&reply, sender);
                    }
                }
            })
        };
        FakeServer {
            port,
            arrivals,
            stop,
            thread: Some(thread),
        }
    }

    /// A fake that never answers: it only counts.
    pub fn silent() -> FakeServer {
        FakeServer::start(Box::new(|_, _| None))
    }

    /// A fake that drops the first `lost` datagrams and answers every
    /// later one with `reply`.
    pub fn answering_after(lost: usize, reply: &[u8]) -> FakeServer {
        let reply = reply.to_vec();
        FakeServer::start(Box::new(move |index, _| {
            (index >= lost).then(|| reply.clone())
        }))
    }

    /// The loopback port it is bound to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What it has received so far.
    pub fn arrivals(&self) -> Vec<Arrival> {
        lock(&self.arrivals).clone()
    }

    /// How many datagrams it has received so far.
    pub fn count(&self) -> usize {
        lock(&self.arrivals).len()
    }

    /// Stops it, after taking every datagram already queued for it, and
    /// returns every datagram it received, in order.
    pub fn finish(mut self) -> Vec<Vec<u8>> {
        self.stop_thread();
        lock(&self.arrivals)
            .iter()
            .map(|arrival| arrival.bytes.clone())
            .collect()
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// The list, even if a thread panicked while holding it (its entries are
/// whole either way).
fn lock(arrivals: &Mutex<Vec<Arrival>>) -> std::sync::MutexGuard<'_, Vec<Arrival>> {
    arrivals.lock().unwrap_or_else(PoisonError::into_inner)
}
