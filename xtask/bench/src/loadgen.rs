//! The load generator: clients that talk to a server as fast as it
//! answers, check every reply byte for byte, and count what they got.
//!
//! Three kinds of client, one per way the lessons' servers are spoken to:
//!
//! - [`connections`]: a new stream connection per request (TCP or Unix
//!   domain), as lessons 02, 03 and 05 serve them, and lesson 06 when each
//!   client says one line and half-closes;
//! - [`datagrams`]: UDP request and reply over one socket per client
//!   (lesson 04);
//! - [`lines`]: persistent connections to the select server, each keeping
//!   a fixed number of lines in flight (pipelined), all driven by one
//!   thread with `poll()` so that a thousand clients need no thousand
//!   threads.
//!
//! Every run is bounded by time ([`Budget`]): a warm-up that is not
//! counted, then a measured window. The first two kinds run one blocking
//! thread per client; each thread reports its operations, errors and
//! latencies, and its own CPU time, so a report can show that the
//! generator was not the bottleneck.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::machine::{self, Cpus};

/// Lines each client of the line scenarios keeps in flight (the select
/// server's scenarios and the bare line server alike).
pub const LINES_IN_FLIGHT: usize = 16;

/// How long a client waits for a reply before it counts an error: far
/// beyond any latency a healthy run shows, short enough to end the run.
const REPLY_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a run may go on after its window, for clients blocked on a
/// server that stopped answering.
const GRACE: Duration = Duration::from_secs(3);

/// When to measure, and when to stop.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Run this long before counting: first connections, page faults.
    pub warmup: Duration,
    /// Then count for this long.
    pub window: Duration,
    /// Stop as soon as this many operations are done in all (warm-up
    /// included), even before the window is over. Lesson 02 never reaps
    /// its children, so each connection leaves a zombie holding a PID.
    pub max_ops: Option<u64>,
}

/// What one run of clients measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Operations completed (and checked correct) within the window.
    pub ops: u64,
    /// Operations completed over the whole run, warm-up included: the
    /// server's CPU time is divided by this.
    pub total_ops: u64,
    /// Wrong replies, resets, refusals, timeouts, over the whole run.
    pub errors: u64,
    /// The first error, as an example.
    pub first_error: Option<String>,
    /// How long the window really lasted (a `max_ops` stop shortens it).
    pub window: Duration,
    /// Latency of each operation completed within the window.
    pub latency: Histogram,
    /// CPU time the generator's own threads used over the whole run.
    pub generator_cpu: Duration,
}

impl Outcome {
    /// Operations per second within the window.
    pub fn rate(&self) -> f64 {
        if self.window.is_zero() {
            return 0.0;
        }
        self.ops as f64 / self.window.as_secs_f64()
    }

    fn merge(&mut self, other: Outcome) {
        self.ops += other.ops;
        self.total_ops += other.total_ops;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
        self.latency.merge(&other.latency);
        self.generator_cpu += other.generator_cpu;
    }
}

/// The clock of a run: shared by its threads, so that all of them count
/// the same window.
struct Clock {
    window_start: Instant,
    window_end: Instant,
    /// Past this, clients stop even if an operation is still going.
    hard_end: Instant,
    max_ops: Option<u64>,
    total: AtomicU64,
    /// Set when `max_ops` is reached: the instant the window closed early.
    stopped_at: Mutex<Option<Instant>>,
    stop: AtomicBool,
}

impl Clock {
    fn start(budget: Budget) -> Clock {
        let now = Instant::now();
        let window_start = now + budget.warmup;
        let window_end = window_start + budget.window;
        Clock {
            window_start,
            window_end,
            hard_end: window_end + GRACE,
            max_ops: budget.max_ops,
            total: AtomicU64::new(0),
            stopped_at: Mutex::new(None),
            stop: AtomicBool::new(false),
        }
    }

    /// Whether clients should stop starting new operations.
    fn over(&self, now: Instant) -> bool {
        now >= self.window_end || self.stop.load(Ordering::Relaxed)
    }

    /// Counts `count` operations completed at `done`; true when they fall
    /// in the window (and so count for the rate).
    fn completed(&self, done: Instant, count: u64) -> bool {
        let before = self.total.fetch_add(count, Ordering::Relaxed);
        if let Some(max) = self.max_ops {
            if before < max && before + count >= max {
                *self.stopped_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(done);
                self.stop.store(true, Ordering::Relaxed);
            }
        }
        done >= self.window_start && done < self.window_end && !self.stopped_before(done)
    }

    fn stopped_before(&self, done: Instant) -> bool {
        self.stop.load(Ordering::Relaxed)
            && self
                .stopped_at
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_some_and(|at| done > at)
    }

    /// How long the window lasted in the end.
    fn window(&self) -> Duration {
        let end = self
            .stopped_at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map_or(self.window_end, |at| at.min(self.window_end));
        end.saturating_duration_since(self.window_start)
    }
}

/// Where a stream client connects.
#[derive(Debug, Clone)]
pub enum Target {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// A connection of either kind, as a byte stream.
enum Connection {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Connection {
    fn open(target: &Target) -> io::Result<Connection> {
        match target {
            Target::Tcp(address) => TcpStream::connect(address).map(Connection::Tcp),
            Target::Unix(path) => UnixStream::connect(path).map(Connection::Unix),
        }
    }

    fn stream(&mut self) -> &mut dyn ReadWrite {
        match self {
            Connection::Tcp(s) => s,
            Connection::Unix(s) => s,
        }
    }

    fn set_read_timeout(&self, limit: Duration) -> io::Result<()> {
        match self {
            Connection::Tcp(s) => s.set_read_timeout(Some(limit)),
            Connection::Unix(s) => s.set_read_timeout(Some(limit)),
        }
    }

    fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Connection::Tcp(s) => s.shutdown(Shutdown::Write),
            Connection::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// One request of a connection-per-request client.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// What the client sends.
    pub request: Vec<u8>,
    /// Half-close after sending (the select server answers a client's
    /// lines, and closes once the client has said it is done).
    pub half_close: bool,
    /// Everything the server must send before it closes, exactly.
    pub reply: Vec<u8>,
}

/// `clients` threads, each connecting, sending `exchange.request`,
/// reading until the server closes and checking the reply, over and over
/// until the budget is spent.
pub fn connections(
    target: &Target,
    exchange: &Exchange,
    clients: usize,
    budget: Budget,
    cpus: &Cpus,
) -> Outcome {
    run_threads(clients, budget, cpus, |clock| {
        let mut outcome = Outcome::default();
        let mut reply = Vec::with_capacity(256);
        loop {
            let started = Instant::now();
            if clock.over(started) || started >= clock.hard_end {
                break;
            }
            match connect_and_exchange(target, exchange, &mut reply) {
                Ok(()) => {
                    let done = Instant::now();
                    outcome.total_ops += 1;
                    if clock.completed(done, 1) {
                        outcome.ops += 1;
                        outcome.latency.record(done - started);
                    }
                }
                Err(e) => {
                    note_error(&mut outcome, e);
                    // A refused or reset connection comes back at once:
                    // no busy loop against a server that is gone.
                    thread::sleep(Duration::from_millis(1));
                }
            }
        }
        outcome
    })
}

fn connect_and_exchange(
    target: &Target,
    exchange: &Exchange,
    reply: &mut Vec<u8>,
) -> Result<(), String> {
    let mut connection = Connection::open(target).map_err(|e| format!("connect: {e}"))?;
    connection
        .set_read_timeout(REPLY_TIMEOUT)
        .map_err(|e| format!("setsockopt: {e}"))?;
    connection
        .stream()
        .write_all(&exchange.request)
        .map_err(|e| format!("write: {e}"))?;
    if exchange.half_close {
        connection
            .shutdown_write()
            .map_err(|e| format!("shutdown: {e}"))?;
    }
    reply.clear();
    let mut chunk = [0u8; 256];
    loop {
        match connection.stream().read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                reply.extend_from_slice(&chunk[..n]);
                if reply.len() > exchange.reply.len() {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("read: {e} after {} bytes", reply.len())),
        }
    }
    if reply[..] == exchange.reply[..] {
        Ok(())
    } else {
        Err(format!(
            "wrong reply {:?}, expected {:?}",
            String::from_utf8_lossy(reply),
            String::from_utf8_lossy(&exchange.reply)
        ))
    }
}

/// `clients` threads, each with a UDP socket connected to `server`,
/// sending `request` and waiting for exactly `reply`, one at a time.
pub fn datagrams(
    server: SocketAddr,
    request: &[u8],
    reply: &[u8],
    clients: usize,
    budget: Budget,
    cpus: &Cpus,
) -> Outcome {
    run_threads(clients, budget, cpus, |clock| {
        let mut outcome = Outcome::default();
        let socket = match UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.connect(server).map(|()| s))
            .and_then(|s| {
                s.set_read_timeout(Some(Duration::from_millis(500)))
                    .map(|()| s)
            }) {
            Ok(socket) => socket,
            Err(e) => {
                note_error(&mut outcome, format!("UDP socket: {e}"));
                return outcome;
            }
        };
        let mut buffer = [0u8; 2048];
        loop {
            let started = Instant::now();
            if clock.over(started) {
                break;
            }
            let result = socket.send(request).and_then(|_| socket.recv(&mut buffer));
            match result {
                Ok(n) if buffer[..n] == *reply => {
                    let done = Instant::now();
                    outcome.total_ops += 1;
                    if clock.completed(done, 1) {
                        outcome.ops += 1;
                        outcome.latency.record(done - started);
                    }
                }
                Ok(n) => note_error(
                    &mut outcome,
                    format!("wrong reply {:?}", String::from_utf8_lossy(&buffer[..n])),
                ),
                // A lost datagram, or a refusal (ICMP port unreachable).
                Err(e) => {
                    note_error(&mut outcome, format!("UDP: {e}"));
                    thread::sleep(Duration::from_millis(1));
                }
            }
        }
        outcome
    })
}

/// Runs `client` on `count` threads pinned to `cpus`, and adds up what
/// they report.
fn run_threads<F>(count: usize, budget: Budget, cpus: &Cpus, client: F) -> Outcome
where
    F: Fn(&Clock) -> Outcome + Sync,
{
    let clock = Clock::start(budget);
    let mut total = Outcome::default();
    thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .map(|_| {
                scope.spawn(|| {
                    machine::pin_this_thread(cpus);
                    let mut outcome = client(&clock);
                    outcome.generator_cpu = machine::thread_cpu_time();
                    outcome
                })
            })
            .collect();
        for handle in handles {
            match handle.join() {
                Ok(outcome) => total.merge(outcome),
                Err(_) => note_error(&mut total, "a client thread panicked".to_string()),
            }
        }
    });
    total.window = clock.window();
    total
}

fn note_error(outcome: &mut Outcome, error: String) {
    outcome.errors += 1;
    if outcome.first_error.is_none() {
        outcome.first_error = Some(error);
    }
}

/// What a persistent client sends and must get back, line after line.
#[derive(Debug, Clone)]
pub struct Pipelined {
    /// How many connections.
    pub clients: usize,
    /// Lines each client keeps sent and not yet answered.
    pub in_flight: usize,
    /// Client `i`'s line (newline included) and the reply it must get.
    pub line: fn(usize) -> (Vec<u8>, Vec<u8>),
}

/// One persistent connection of [`lines`].
struct LineClient {
    stream: TcpStream,
    /// Sent and not yet answered: when each was sent.
    sent: VecDeque<Instant>,
    line: Vec<u8>,
    reply: Vec<u8>,
    /// Bytes to write that the socket did not take yet.
    outgoing: Vec<u8>,
    /// The start of a reply whose end has not arrived.
    incoming: Vec<u8>,
    closed: bool,
}

/// Connects `load.clients` persistent connections to `server`, then keeps
/// `load.in_flight` lines in flight on each, from one thread with
/// `poll()`, until the budget is spent. Every reply line is checked.
pub fn lines(server: SocketAddr, load: &Pipelined, budget: Budget, cpus: &Cpus) -> Outcome {
    let mut outcome = Outcome::default();
    machine::pin_this_thread(cpus);
    let cpu_before = machine::thread_cpu_time();
    let mut clients = Vec::with_capacity(load.clients);
    for i in 0..load.clients {
        match TcpStream::connect(server).and_then(|s| {
            s.set_nodelay(true)?;
            s.set_nonblocking(true)?;
            Ok(s)
        }) {
            Ok(stream) => {
                let (line, reply) = (load.line)(i);
                clients.push(LineClient {
                    stream,
                    sent: VecDeque::with_capacity(load.in_flight),
                    line,
                    reply,
                    outgoing: Vec::new(),
                    incoming: Vec::new(),
                    closed: false,
                });
            }
            Err(e) => note_error(&mut outcome, format!("connect: {e}")),
        }
    }
    let clock = Clock::start(budget);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let now = Instant::now();
        let over = clock.over(now);
        if (over && clients.iter().all(|c| c.sent.is_empty() || c.closed)) || now >= clock.hard_end
        {
            break;
        }
        if !over {
            for client in clients.iter_mut().filter(|c| !c.closed) {
                while client.sent.len() < load.in_flight {
                    client.outgoing.extend_from_slice(&client.line);
                    client.sent.push_back(now);
                }
            }
        }
        let mut polled: Vec<PollFd> = clients
            .iter()
            .map(|c| {
                let mut flags = PollFlags::empty();
                if !c.closed {
                    flags |= PollFlags::POLLIN;
                    if !c.outgoing.is_empty() {
                        flags |= PollFlags::POLLOUT;
                    }
                }
                PollFd::new(c.stream.as_fd(), flags)
            })
            .collect();
        match poll(&mut polled, PollTimeout::from(100u8)) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                note_error(&mut outcome, format!("poll: {e}"));
                break;
            }
        }
        let ready: Vec<PollFlags> = polled
            .iter()
            .map(|p| p.revents().unwrap_or(PollFlags::empty()))
            .collect();
        drop(polled);
        for (client, revents) in clients.iter_mut().zip(ready) {
            if client.closed || revents.is_empty() {
                continue;
            }
            if revents.intersects(PollFlags::POLLOUT) {
                flush(client, &mut outcome);
            }
            if revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                receive(client, &mut chunk, &clock, &mut outcome);
            }
        }
    }
    for client in &clients {
        if client.closed {
            continue;
        }
        // Lines still in flight when the time was up are not errors.
        let _ = client.stream.shutdown(Shutdown::Both);
    }
    outcome.window = clock.window();
    outcome.generator_cpu = machine::thread_cpu_time().saturating_sub(cpu_before);
    outcome
}

fn flush(client: &mut LineClient, outcome: &mut Outcome) {
    while !client.outgoing.is_empty() {
        match client.stream.write(&client.outgoing) {
            Ok(n) => {
                client.outgoing.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                note_error(outcome, format!("write: {e}"));
                client.closed = true;
                return;
            }
        }
    }
}

fn receive(client: &mut LineClient, chunk: &mut [u8], clock: &Clock, outcome: &mut Outcome) {
    loop {
        match client.stream.read(chunk) {
            Ok(0) => {
                note_error(outcome, "the server closed the connection".to_string());
                client.closed = true;
                return;
            }
            Ok(n) => {
                let done = Instant::now();
                client.incoming.extend_from_slice(&chunk[..n]);
                let mut start = 0;
                let mut answered = 0u64;
                let mut latencies = Vec::new();
                while let Some(end) = client.incoming[start..].iter().position(|&b| b == b'\n') {
                    let line = &client.incoming[start..start + end + 1];
                    start += end + 1;
                    match client.sent.pop_front() {
                        Some(sent) if line == client.reply.as_slice() => {
                            answered += 1;
                            latencies.push(done - sent);
                        }
                        _ => note_error(
                            outcome,
                            format!("wrong reply line {:?}", String::from_utf8_lossy(line)),
                        ),
                    }
                }
                client.incoming.drain(..start);
                if answered > 0 {
                    outcome.total_ops += answered;
                    if clock.completed(done, answered) {
                        outcome.ops += answered;
                        for latency in latencies {
                            outcome.latency.record(latency);
                        }
                    }
                }
                if n < chunk.len() {
                    return;
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                note_error(outcome, format!("read: {e}"));
                client.closed = true;
                return;
            }
        }
    }
}

/// Latencies in a log-linear histogram: 32 buckets per power of two of
/// nanoseconds, so any percentile is within about 3 % of the truth, in
/// constant memory however many operations are recorded.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            counts: vec![0; (64 - SUB_BITS as usize + 1) * SUB as usize],
            total: 0,
        }
    }
}

impl Histogram {
    fn index(nanos: u64) -> usize {
        if nanos < SUB {
            return nanos as usize;
        }
        let exponent = 63 - nanos.leading_zeros();
        let shift = exponent - SUB_BITS;
        let mantissa = (nanos >> shift) & (SUB - 1);
        ((u64::from(shift) + 1) * SUB + mantissa) as usize
    }

    /// The smallest value that falls in bucket `index`.
    fn lower_bound(index: usize) -> u64 {
        let index = index as u64;
        if index < SUB {
            return index;
        }
        let shift = index / SUB - 1;
        let mantissa = index % SUB;
        (SUB + mantissa) << shift
    }

    pub fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        let index = Histogram::index(nanos).min(self.counts.len() - 1);
        self.counts[index] += 1;
        self.total += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
    }

    /// The latency below which `fraction` of the operations completed
    /// (0.5 for the median), or `None` with nothing recorded.
    pub fn percentile(&self, fraction: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = ((self.total as f64 * fraction).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                // The middle of the bucket.
                let low = Histogram::lower_bound(index);
                let high = Histogram::lower_bound(index + 1);
                return Some(Duration::from_nanos(low + (high - low) / 2));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_contiguous_and_tight() {
        for nanos in [0, 1, 31, 32, 33, 63, 64, 1000, 123_456, 10_000_000_000] {
            let index = Histogram::index(nanos);
            assert!(Histogram::lower_bound(index) <= nanos, "{nanos}");
            assert!(nanos < Histogram::lower_bound(index + 1), "{nanos}");
            let width = Histogram::lower_bound(index + 1) - Histogram::lower_bound(index);
            assert!(width as f64 <= 1.0_f64.max(nanos as f64 / 16.0), "{nanos}");
        }
    }

    #[test]
    fn percentiles_come_out_within_the_bucket_width() {
        let mut histogram = Histogram::default();
        for micros in 1..=1000 {
            histogram.record(Duration::from_micros(micros));
        }
        let median = histogram.percentile(0.5).expect("recorded").as_micros() as f64;
        let p99 = histogram.percentile(0.99).expect("recorded").as_micros() as f64;
        assert!((median - 500.0).abs() < 20.0, "{median}");
        assert!((p99 - 990.0).abs() < 40.0, "{p99}");
        assert_eq!(Histogram::default().percentile(0.5), None);
    }

    #[test]
    fn a_max_ops_stop_shortens_the_window() {
        let clock = Clock::start(Budget {
            warmup: Duration::ZERO,
            window: Duration::from_secs(60),
            max_ops: Some(3),
        });
        let now = Instant::now();
        assert!(clock.completed(now, 2));
        assert!(clock.completed(now, 1));
        assert!(clock.over(Instant::now()));
        assert!(!clock.completed(now + Duration::from_millis(5), 1));
        assert!(clock.window() < Duration::from_secs(1));
    }

    #[test]
    fn connection_clients_check_the_reply_bytes() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let server = thread::spawn(move || {
            for (index, stream) in listener.incoming().take(2).enumerate() {
                let mut stream = stream.expect("accept");
                let mut buffer = [0u8; 64];
                let _ = stream.read(&mut buffer);
                let reply: &[u8] = if index == 0 { b"right" } else { b"wrong" };
                let _ = stream.write_all(reply);
            }
        });
        let exchange = Exchange {
            request: b"hello\n".to_vec(),
            half_close: false,
            reply: b"right".to_vec(),
        };
        let mut reply = Vec::new();
        let target = Target::Tcp(address);
        assert_eq!(connect_and_exchange(&target, &exchange, &mut reply), Ok(()));
        assert!(connect_and_exchange(&target, &exchange, &mut reply)
            .is_err_and(|e| e.contains("wrong reply")));
        server.join().expect("server");
    }
}
