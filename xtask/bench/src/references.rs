//! The bare in-process references, measured in the same run as the
//! lessons: the same exchange made by a server that does nothing else. A
//! lesson's number means little alone; beside the bare one it says how much
//! of the cost is the design's.
//!
//! They are references, not the machine's limits: the bare servers are
//! threads of the bench, the process that also runs the load generator,
//! measured with one client (ten for the lines), and a lesson's server can
//! beat them.
//!
//! - a bare TCP (and Unix-domain) server thread inside xtask: accept, one
//!   read, the 18-byte reply, close; no process, no printing;
//! - a bare UDP thread: `recvfrom`, `sendto`;
//! - a bare line server for the select scenarios: a thread per
//!   connection answering each line, no printing;
//! - a bare `fork()` + `_exit()` + `waitpid()` loop, in a fresh small
//!   process (xtask itself, started again with a hidden option), and the
//!   same loop in a process with 64 MiB more memory resident: `fork()`
//!   copies the parent's page tables, so its cost grows with what the
//!   parent has mapped.
//!
//! Each bare server is pinned where the lessons' servers run, and its CPU
//! time is its threads' own (`RUSAGE_THREAD`).

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use lesson_testing::supervisor::Supervised;
use lesson_testing::unix::SocketDir;
use nix::sys::resource::{getrusage, UsageWho};
use nix::sys::time::TimeValLike;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};

use super::loadgen::{self, Budget, Exchange, Outcome, Pipelined, Target};
use super::machine::{self, Placement};

/// One of the bare references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    TcpConnect,
    UnixConnect,
    UdpRoundTrip,
    TcpLines,
    Fork,
    ForkLarge,
}

/// Memory the second fork loop touches before forking.
const LARGE_MIB: usize = 64;

impl Reference {
    pub const ALL: [Reference; 6] = [
        Reference::TcpConnect,
        Reference::UnixConnect,
        Reference::UdpRoundTrip,
        Reference::TcpLines,
        Reference::Fork,
        Reference::ForkLarge,
    ];

    /// Short and stable, for the JSON.
    pub fn id(self) -> &'static str {
        match self {
            Reference::TcpConnect => "tcp-connect",
            Reference::UnixConnect => "unix-connect",
            Reference::UdpRoundTrip => "udp-round-trip",
            Reference::TcpLines => "tcp-lines",
            Reference::Fork => "fork",
            Reference::ForkLarge => "fork-64mib",
        }
    }

    /// What the table says.
    pub fn title(self) -> &'static str {
        match self {
            Reference::TcpConnect => "bare TCP: connect, 1 exchange, close (1 client)",
            Reference::UnixConnect => "bare Unix domain: connect, 1 exchange, close (1 client)",
            Reference::UdpRoundTrip => "bare UDP round trip (1 client)",
            Reference::TcpLines => "bare TCP lines, thread per client (10 x 16 in flight)",
            Reference::Fork => "bare fork + _exit + waitpid",
            Reference::ForkLarge => "the same, 64 MiB more resident",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Reference::TcpConnect | Reference::UnixConnect => "connections",
            Reference::UdpRoundTrip => "round trips",
            Reference::TcpLines => "lines",
            Reference::Fork | Reference::ForkLarge => "forks",
        }
    }
}

/// What one measurement of a reference yielded.
#[derive(Debug, Clone)]
pub struct ReferenceMeasurement {
    pub rate: f64,
    /// CPU time of the bare server (or of the forking process and its
    /// children) per operation.
    pub cpu_per_op: Option<Duration>,
    pub errors: u64,
    pub first_error: Option<String>,
    /// The forking process's resident memory, for the fork loops.
    pub rss_kib: Option<u64>,
    pub load_average: Option<f64>,
}

/// Measures `reference` once.
pub fn measure(
    reference: Reference,
    budget: Budget,
    placement: &Placement,
) -> Result<ReferenceMeasurement, String> {
    let exchange = Exchange {
        request: b"hello\n".to_vec(),
        half_close: false,
        reply: b"I got your message".to_vec(),
    };
    let (outcome, server_cpu) = match reference {
        Reference::TcpConnect => {
            let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
            let address = listener.local_addr().map_err(|e| e.to_string())?;
            serve_while(
                placement,
                move |stop| stream_server(stop, || listener.accept().map(|(s, _)| s)),
                || {
                    loadgen::connections(
                        &Target::Tcp(address),
                        &exchange,
                        1,
                        budget,
                        &placement.load,
                    )
                },
                move || drop(TcpStream::connect(address)),
            )
        }
        Reference::UnixConnect => {
            let dir = SocketDir::new();
            let path = dir.join("bare.sock");
            let listener = UnixListener::bind(&path).map_err(|e| format!("bind: {e}"))?;
            let target = Target::Unix(path.clone());
            serve_while(
                placement,
                move |stop| stream_server(stop, || listener.accept().map(|(s, _)| s)),
                || loadgen::connections(&target, &exchange, 1, budget, &placement.load),
                move || drop(UnixStream::connect(&path)),
            )
        }
        Reference::UdpRoundTrip => {
            let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
            let address = socket.local_addr().map_err(|e| e.to_string())?;
            socket
                .set_read_timeout(Some(Duration::from_millis(50)))
                .map_err(|e| e.to_string())?;
            serve_while(
                placement,
                move |stop| udp_server(stop, &socket),
                || {
                    loadgen::datagrams(
                        address,
                        b"hello\n",
                        b"Got your message\n",
                        1,
                        budget,
                        &placement.load,
                    )
                },
                || {},
            )
        }
        Reference::TcpLines => {
            let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
            let address = listener.local_addr().map_err(|e| e.to_string())?;
            let load = Pipelined {
                clients: 10,
                in_flight: loadgen::LINES_IN_FLIGHT,
                line: |client| {
                    let line = format!("line from client {client}");
                    (
                        format!("{line}\n").into_bytes(),
                        format!("I got your message: {line}\n").into_bytes(),
                    )
                },
            };
            serve_while(
                placement,
                move |stop| line_server(stop, &listener),
                || loadgen::lines(address, &load, budget, &placement.load),
                move || drop(TcpStream::connect(address)),
            )
        }
        Reference::Fork => return fork_reference(budget, placement, 0),
        Reference::ForkLarge => return fork_reference(budget, placement, LARGE_MIB),
    };
    Ok(ReferenceMeasurement {
        rate: outcome.rate(),
        cpu_per_op: (outcome.total_ops > 0).then(|| server_cpu.div_f64(outcome.total_ops as f64)),
        errors: outcome.errors,
        first_error: outcome.first_error,
        rss_kib: None,
        load_average: machine::load_average(),
    })
}

/// Runs `server` on a thread pinned to the server's CPUs while `load`
/// runs here; then stops it (`wake` gets it out of a blocking call) and
/// returns the load's outcome and the server's CPU time.
fn serve_while<S, L, W>(placement: &Placement, server: S, load: L, wake: W) -> (Outcome, Duration)
where
    S: FnOnce(&AtomicBool) -> Duration + Send,
    L: FnOnce() -> Outcome,
    W: FnOnce(),
{
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        let cpus = &placement.server;
        let stop = &stop;
        let handle = scope.spawn(move || {
            machine::pin_this_thread(cpus);
            server(stop)
        });
        let outcome = load();
        stop.store(true, Ordering::Relaxed);
        wake();
        let cpu = handle.join().unwrap_or_default();
        (outcome, cpu)
    })
}

/// Accepts, reads one message, writes the reply, closes: lesson 01's
/// exchange with nothing else.
fn stream_server<S: Read + Write>(
    stop: &AtomicBool,
    mut accept: impl FnMut() -> std::io::Result<S>,
) -> Duration {
    let mut buffer = [0u8; 255];
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut connection) = accept() else {
            continue;
        };
        if connection.read(&mut buffer).is_ok() {
            let _ = connection.write_all(b"I got your message");
        }
    }
    machine::thread_cpu_time()
}

fn udp_server(stop: &AtomicBool, socket: &UdpSocket) -> Duration {
    let mut buffer = [0u8; 1024];
    while !stop.load(Ordering::Relaxed) {
        if let Ok((_, sender)) = socket.recv_from(&mut buffer) {
            let _ = socket.send_to(b"Got your message\n", sender);
        }
    }
    machine::thread_cpu_time()
}

/// A thread per connection, each answering every line with `I got your
/// message: LINE`. Returns the CPU time of all its threads.
fn line_server(stop: &AtomicBool, listener: &TcpListener) -> Duration {
    thread::scope(|scope| {
        let mut handlers = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let Ok((connection, _)) = listener.accept() else {
                continue;
            };
            handlers.push(scope.spawn(move || answer_lines(connection)));
        }
        let mine = machine::thread_cpu_time();
        handlers
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .fold(mine, |sum, cpu| sum + cpu)
    })
}

fn answer_lines(mut connection: TcpStream) -> Duration {
    let _ = connection.set_nodelay(true);
    let mut input = Vec::with_capacity(64 * 1024);
    let mut output = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        match connection.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                input.extend_from_slice(&chunk[..n]);
                let mut start = 0;
                while let Some(end) = input[start..].iter().position(|&b| b == b'\n') {
                    output.extend_from_slice(b"I got your message: ");
                    output.extend_from_slice(&input[start..start + end + 1]);
                    start += end + 1;
                }
                input.drain(..start);
                if connection.write_all(&output).is_err() {
                    break;
                }
                output.clear();
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    machine::thread_cpu_time()
}

/// The hidden option that runs the fork loop in a process of its own.
pub const FORK_LOOP_OPTION: &str = "--fork-loop";

/// Runs the fork loop in a fresh bench process (pinned where servers
/// run), and reads what it printed.
fn fork_reference(
    budget: Budget,
    placement: &Placement,
    mib: usize,
) -> Result<ReferenceMeasurement, String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the bench's binary: {e}"))?;
    let seconds = (budget.warmup + budget.window).as_secs_f64();
    let mut command = Command::new(exe);
    command
        .args([FORK_LOOP_OPTION, &format!("{seconds}"), &mib.to_string()])
        .stdin(Stdio::null());
    if let Some(set) = machine::cpuset_for_child(&placement.server) {
        // SAFETY: runs in the child between fork() and exec(): one system
        // call (sched_setaffinity) on a CPU set built before the fork.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
                machine::pin_process_before_exec(&set);
                Ok(())
            });
        }
    }
    let mut run = Supervised::start(&mut command).map_err(|e| format!("fork loop: {e}"))?;
    let status = run.wait_for_exit(Duration::from_secs_f64(seconds) + lesson_testing::WAIT);
    let stdout = String::from_utf8_lossy(&run.stdout().bytes()).into_owned();
    let stderr = String::from_utf8_lossy(&run.stderr().bytes()).into_owned();
    run.finish();
    if !status.is_some_and(|s| s.success()) {
        return Err(format!("the fork loop failed: {}", stderr.trim()));
    }
    let field = |name: &str| -> Option<f64> {
        stdout
            .split_whitespace()
            .find_map(|word| word.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
    };
    let (Some(forks), Some(elapsed), Some(cpu_us)) =
        (field("forks"), field("seconds"), field("cpu_us"))
    else {
        return Err(format!("the fork loop said {stdout:?}"));
    };
    Ok(ReferenceMeasurement {
        rate: forks / elapsed.max(1e-9),
        cpu_per_op: (forks > 0.0).then(|| Duration::from_secs_f64(cpu_us / 1e6 / forks)),
        errors: 0,
        first_error: None,
        rss_kib: field("rss_kib").map(|v| v as u64),
        load_average: machine::load_average(),
    })
}

/// `cargo xtask bench --fork-loop SECONDS MIB`: touches MIB MiB, then
/// forks a child that exits at once and waits for it, over and over for
/// SECONDS; prints `forks=N seconds=S cpu_us=C rss_kib=R`. Called before
/// the bench starts any thread, so the process is as small as it gets.
pub fn fork_loop(args: &[String]) -> ExitCode {
    let (Some(seconds), Some(mib)) = (
        args.first().and_then(|s| s.parse::<f64>().ok()),
        args.get(1).and_then(|s| s.parse::<usize>().ok()),
    ) else {
        eprintln!("usage: bench {FORK_LOOP_OPTION} SECONDS MIB");
        return ExitCode::from(2);
    };
    // Written, so every page is resident and mapped in the page tables.
    let ballast = vec![1u8; mib << 20];
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut forks = 0u64;
    while Instant::now() < until {
        // SAFETY: this process has a single thread (nothing has started
        // one yet), and the child only calls _exit(), which is
        // async-signal-safe and skips the exit handlers a copy of this
        // process must not run twice.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => unsafe {
                // SAFETY: see above; _exit() ends the process at once.
                libc::_exit(0)
            },
            Ok(ForkResult::Parent { child }) => {
                let _ = waitpid(child, None);
                forks += 1;
            }
            Err(e) => {
                eprintln!("fork: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = [UsageWho::RUSAGE_SELF, UsageWho::RUSAGE_CHILDREN]
        .into_iter()
        .filter_map(|who| getrusage(who).ok())
        .map(|u| u.user_time().num_microseconds() + u.system_time().num_microseconds())
        .sum::<i64>();
    let rss = lesson_testing::procfs::peak_resident_kib(std::process::id() as i32).unwrap_or(0);
    println!(
        "forks={forks} seconds={elapsed} cpu_us={cpu} rss_kib={rss} ballast={}",
        std::hint::black_box(&ballast).len()
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bare_servers_answer_as_the_lessons_do() {
        let budget = Budget {
            warmup: Duration::ZERO,
            window: Duration::from_millis(100),
            max_ops: None,
        };
        let placement = Placement::choose(crate::machine::Pin::Off);
        for reference in [
            Reference::TcpConnect,
            Reference::UnixConnect,
            Reference::UdpRoundTrip,
            Reference::TcpLines,
        ] {
            let measured = measure(reference, budget, &placement).expect("measured");
            assert_eq!(
                measured.errors, 0,
                "{reference:?}: {:?}",
                measured.first_error
            );
            assert!(measured.rate > 0.0, "{reference:?}");
        }
    }
}
