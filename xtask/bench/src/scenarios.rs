//! The scenarios: which server, which load, and what one measured run of
//! a server under that load yields.
//!
//! Each scenario answers one of the tutorial's claims about cost: that
//! forking per connection is expensive (lessons 02 and 03), that datagrams
//! cost less than streams (04), that the Unix domain is cheaper than TCP
//! (05), and that one process with `select()` serves many clients (06).
//!
//! A run starts the server through the harness's process supervisor
//! ([`Supervised`]), waits until the kernel's tables show its socket, puts
//! the load on it, and stops it. Two things are measured on the server's
//! side:
//!
//! - its CPU time: `getrusage(RUSAGE_CHILDREN)` before it starts and after
//!   it and all its children are reaped. That counts the forked children
//!   too, also lesson 02's, which the server never reaps itself: when it
//!   is killed they are re-parented to xtask (a child subreaper) and
//!   reaped here;
//! - its peak resident memory (`VmHWM`), read just before it is stopped.

use std::ffi::OsString;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lesson_testing::procfs;
use lesson_testing::server::{wait_until_ready, Address, NotReady, Transport};
use lesson_testing::supervisor::{Output, Start, Supervised};
use lesson_testing::unix::SocketDir;
use nix::sys::memfd::{memfd_create, MFdFlags};

use super::loadgen::{self, Budget, Exchange, Outcome, Pipelined, Target, LINES_IN_FLIGHT};
use super::machine::{self, Placement};
use super::references::Reference;

/// How many connections one run of lesson 02's server may take: each
/// leaves a zombie holding a process ID until the server is stopped, and
/// this machine has 32768 of them for everybody.
pub const FORK_SERVER_MAX_CONNECTIONS: u64 = 3000;

/// The message every stream and datagram client sends.
const MESSAGE: &[u8] = b"hello\n";

/// How a scenario's clients talk to the server.
#[derive(Debug, Clone)]
pub enum Load {
    /// A new connection per request (TCP, or Unix domain for lesson 05).
    Connections { exchange: Exchange, clients: usize },
    /// UDP requests, one in flight per client.
    Datagrams {
        request: Vec<u8>,
        reply: Vec<u8>,
        clients: usize,
    },
    /// Persistent connections with lines in flight (lesson 06).
    Lines(Pipelined),
}

/// One scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short and stable, for `--only` and the JSON: `02-fork-1`.
    pub id: String,
    pub lesson: u8,
    /// The server binary, as the contract names it.
    pub server: &'static str,
    /// What the table says: `fork-server, 1 client`.
    pub title: String,
    /// What is counted: `connections`, `round trips`, `lines`.
    pub unit: &'static str,
    pub load: Load,
    /// The bare reference this scenario is compared with.
    pub reference: Reference,
    /// Lesson 02's zombies: see [`FORK_SERVER_MAX_CONNECTIONS`].
    pub max_ops: Option<u64>,
    /// Options beyond the contract that our server is started with. A
    /// scenario with any runs ours only: another implementation need not
    /// know them.
    pub flags: &'static [&'static str],
}

impl Scenario {
    pub fn clients(&self) -> usize {
        match &self.load {
            Load::Connections { clients, .. } | Load::Datagrams { clients, .. } => *clients,
            Load::Lines(pipelined) => pipelined.clients,
        }
    }

    fn transport(&self) -> Transport {
        match (&self.load, self.lesson) {
            (Load::Datagrams { .. }, _) => Transport::Udp,
            (_, 5) => Transport::Unix,
            _ => Transport::Tcp,
        }
    }
}

/// Lesson 01's reply, which lessons 02, 03 and 05 send unchanged.
const STREAM_REPLY: &[u8] = b"I got your message";
/// Lesson 04's reply.
const DATAGRAM_REPLY: &[u8] = b"Got your message\n";

fn select_line(client: usize) -> (Vec<u8>, Vec<u8>) {
    let line = format!("line from client {client}");
    (
        format!("{line}\n").into_bytes(),
        format!("I got your message: {line}\n").into_bytes(),
    )
}

/// The scenarios, in the order of the course.
pub fn all() -> Vec<Scenario> {
    let plain = Exchange {
        request: MESSAGE.to_vec(),
        half_close: false,
        reply: STREAM_REPLY.to_vec(),
    };
    let one_line = Exchange {
        request: MESSAGE.to_vec(),
        half_close: true,
        reply: b"I got your message: hello\n".to_vec(),
    };
    let mut scenarios = Vec::new();
    let clients_word = |n: usize| if n == 1 { "client" } else { "clients" };
    for (lesson, server, short) in [
        (2, "fork-server", "fork"),
        (3, "reaping-server", "reaping"),
        (6, "select-server", "select-conn"),
    ] {
        for clients in [1, 8] {
            scenarios.push(Scenario {
                id: format!("{lesson:02}-{short}-{clients}"),
                lesson,
                server,
                title: format!("{server}, {clients} {}", clients_word(clients)),
                unit: "connections",
                load: Load::Connections {
                    exchange: if lesson == 6 {
                        one_line.clone()
                    } else {
                        plain.clone()
                    },
                    clients,
                },
                reference: Reference::TcpConnect,
                max_ops: (lesson == 2).then_some(FORK_SERVER_MAX_CONNECTIONS),
                flags: &[],
            });
        }
    }
    for clients in [1, 4] {
        scenarios.push(Scenario {
            id: format!("04-udp-{clients}"),
            lesson: 4,
            server: "udp-server",
            title: format!("udp-server, {clients} {}", clients_word(clients)),
            unit: "round trips",
            load: Load::Datagrams {
                request: MESSAGE.to_vec(),
                reply: DATAGRAM_REPLY.to_vec(),
                clients,
            },
            reference: Reference::UdpRoundTrip,
            max_ops: None,
            flags: &[],
        });
    }
    let unix = |clients: usize| Scenario {
        id: format!("05-unix-{clients}"),
        lesson: 5,
        server: "unix-server",
        title: format!("unix-server, {clients} {}", clients_word(clients)),
        unit: "connections",
        load: Load::Connections {
            exchange: plain.clone(),
            clients,
        },
        reference: Reference::UnixConnect,
        max_ops: None,
        flags: &[],
    };
    scenarios.push(unix(1));
    scenarios.push(unix(8));
    // The price of a question: lesson 05's server naming each client
    // (`--show-peer`: one getsockopt() and one line on stderr more per
    // connection). Ours only; compare with 05-unix-1.
    scenarios.push(Scenario {
        id: "05-unix-peer-1".to_string(),
        title: "unix-server --show-peer, 1 client".to_string(),
        flags: &["--show-peer"],
        ..unix(1)
    });
    for clients in [10, 100, 1000] {
        scenarios.push(Scenario {
            id: format!("06-lines-{clients}"),
            lesson: 6,
            server: "select-server",
            title: format!("select-server, {clients} clients x {LINES_IN_FLIGHT} lines"),
            unit: "lines",
            load: Load::Lines(Pipelined {
                clients,
                in_flight: LINES_IN_FLIGHT,
                line: select_line,
            }),
            reference: Reference::TcpLines,
            max_ops: None,
            flags: &[],
        });
    }
    scenarios
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Operations per second within the window.
    pub rate: f64,
    pub outcome: Outcome,
    /// The server's CPU time (its children's included) per operation,
    /// over its whole life.
    pub cpu_per_op: Option<Duration>,
    /// The server process's peak resident memory, in KiB.
    pub peak_rss_kib: Option<u64>,
    /// The load generator's CPU time as a share of the run's length: near
    /// 1.0 (one whole CPU) would mean it, not the server, set the pace.
    pub generator_share: f64,
    /// The 1-minute load average at the end of the run.
    pub load_average: Option<f64>,
}

/// Runs `scenario` once against `binary`.
pub fn measure(
    scenario: &Scenario,
    binary: &Path,
    budget: Budget,
    placement: &Placement,
) -> Result<Measurement, String> {
    let dir = SocketDir::new();
    let transport = scenario.transport();
    let socket_path = dir.path().join("bench.sock");
    let cpu_before = machine::children_cpu_time();
    let argument: OsString = match transport {
        Transport::Unix => socket_path.into_os_string(),
        _ => "0".into(),
    };
    let mut server = start(binary, &argument, scenario.flags, placement)?;
    let address = wait_until_bound(&server, transport, binary)?;
    let budget = Budget {
        max_ops: scenario.max_ops,
        ..budget
    };
    let started = Instant::now();
    let outcome = match (&scenario.load, &address) {
        (Load::Connections { exchange, clients }, Address::Tcp(port)) => loadgen::connections(
            &Target::Tcp(loopback(*port)),
            exchange,
            *clients,
            budget,
            &placement.load,
        ),
        (Load::Connections { exchange, clients }, Address::Unix(path)) => loadgen::connections(
            &Target::Unix(path.clone()),
            exchange,
            *clients,
            budget,
            &placement.load,
        ),
        (
            Load::Datagrams {
                request,
                reply,
                clients,
            },
            Address::Udp(port),
        ) => loadgen::datagrams(
            loopback(*port),
            request,
            reply,
            *clients,
            budget,
            &placement.load,
        ),
        (Load::Lines(pipelined), Address::Tcp(port)) => {
            loadgen::lines(loopback(*port), pipelined, budget, &placement.load)
        }
        (_, address) => return Err(format!("unexpected address {address:?}")),
    };
    let elapsed = started.elapsed();
    let peak_rss_kib = procfs::peak_resident_kib(server.process.pid());
    let exited = server.process.has_exited();
    let stderr = server.stderr();
    server.process.finish();
    drop(server);
    // A stopped server's children were re-parented to us: their CPU time
    // counts in RUSAGE_CHILDREN only once they are reaped.
    lesson_testing::supervisor::kill_orphans();
    let cpu = machine::children_cpu_time().saturating_sub(cpu_before);
    if exited {
        return Err(format!(
            "{} exited during the run; stderr: {:?}",
            binary.display(),
            last_lines(&stderr, 3)
        ));
    }
    let mut outcome = outcome;
    if outcome.errors > 0 {
        if let Some(first) = &mut outcome.first_error {
            let said = last_lines(&stderr, 2);
            if !said.is_empty() {
                first.push_str(&format!(" (server said: {said})"));
            }
        }
    }
    Ok(Measurement {
        rate: outcome.rate(),
        cpu_per_op: (outcome.total_ops > 0).then(|| cpu.div_f64(outcome.total_ops as f64)),
        peak_rss_kib,
        generator_share: outcome.generator_cpu.as_secs_f64() / elapsed.as_secs_f64().max(1e-9),
        load_average: machine::load_average(),
        outcome,
    })
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// The last `count` lines of `text`, joined with ` | `.
fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join(" | ")
}

/// A server under measurement, and where its stderr goes.
pub struct BenchServer {
    pub process: Supervised,
    log: File,
}

impl BenchServer {
    /// Everything the server has written to stderr so far, shown lossily.
    pub fn stderr(&self) -> String {
        // Read at offsets, not through the file position: the server's
        // stderr is a duplicate of this descriptor and shares its position,
        // so moving it would make the server's next line overwrite old ones.
        let mut bytes = Vec::new();
        let mut offset = 0;
        let mut chunk = [0u8; 8192];
        while let Ok(read) = self.log.read_at(&mut chunk, offset) {
            if read == 0 {
                break;
            }
            bytes.extend_from_slice(&chunk[..read]);
            offset += read as u64;
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Starts `binary ARGUMENT FLAGS...` (the port 0, or the socket path),
/// pinned to the server's CPUs, its stdout sent to /dev/null and its
/// stderr to an in-memory file.
///
/// Every server prints a line per message, and lesson 05's prints a
/// second one, on stderr, naming the client, when asked to. Where those
/// lines go is no part of the design being measured. A pipe read by the
/// bench would add the reading to the cost, and worse, a wake-up of a
/// reader thread per line, on the very CPU the server and the load
/// generator share. /dev/null takes stdout at the cost of a system call,
/// for ours and for the C alike; stderr goes to a `memfd_create(2)` file,
/// still there to read when the server says why it failed.
pub fn start(
    binary: &Path,
    argument: &OsString,
    flags: &[&str],
    placement: &Placement,
) -> Result<BenchServer, String> {
    let null = File::options()
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("cannot open /dev/null: {e}"))?;
    let log = File::from(
        memfd_create(c"server-stderr", MFdFlags::MFD_CLOEXEC)
            .map_err(|e| format!("memfd_create: {e}"))?,
    );
    let child_log = log
        .try_clone()
        .map_err(|e| format!("cannot duplicate the stderr file: {e}"))?;
    let cpuset = machine::cpuset_for_child(&placement.server);
    let mut command = Command::new(binary);
    command.arg(argument).args(flags).stdin(Stdio::null());
    if let Some(set) = cpuset {
        // SAFETY: the closure runs in the child between fork() and exec(),
        // where only async-signal-safe calls are allowed:
        // sched_setaffinity() is a plain system call, and the CPU set was
        // built before the fork.
        unsafe {
            command.pre_exec(move || {
                machine::pin_process_before_exec(&set);
                Ok(())
            });
        }
    }
    let output = Output::Files {
        stdout: null,
        stderr: child_log,
    };
    let start = Start {
        output: Some(output),
        ..Start::default()
    };
    let process = Supervised::start_with(&mut command, start)
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    Ok(BenchServer { process, log })
}

/// Waits until the kernel's tables show the server's socket bound (the
/// harness's one readiness wait), with no probe connection (that would
/// make a fork server fork).
pub fn wait_until_bound(
    server: &BenchServer,
    transport: Transport,
    binary: &Path,
) -> Result<Address, String> {
    let wait = lesson_testing::WAIT;
    let pid = server.process.pid();
    wait_until_ready(pid, transport, wait, || server.process.has_exited()).map_err(
        |why| match why {
            NotReady::Exited => format!(
                "{} exited before it was ready; stderr: {:?}",
                binary.display(),
                server.stderr()
            ),
            NotReady::TimedOut => format!("{} was not ready within {wait:?}", binary.display()),
        },
    )
}

/// The binaries a run uses: ours from the release build, or another
/// implementation's from a directory.
#[derive(Debug, Clone)]
pub struct Implementation {
    /// `ours`, or the directory's name.
    pub name: String,
    pub dir: PathBuf,
}

impl Implementation {
    pub fn binary(&self, server: &str) -> PathBuf {
        self.dir.join(server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Pin;

    /// A server that dies before it is ready is reported with what it
    /// wrote on stderr, which goes to the in-memory file, not a pipe.
    #[test]
    fn a_server_that_dies_at_once_is_reported_with_its_stderr() {
        // `cat 0` stands in for a server that fails at once: there is no
        // file `0` to read, and cat says so on stderr. (A script written
        // by the test could fail with ETXTBSY when a test running beside
        // it forks while the script is still open for writing.)
        let cat = Path::new("/bin/cat");
        let placement = Placement::choose(Pin::Off);
        let server = start(cat, &"0".into(), &[], &placement).expect("starting cat");
        let error = wait_until_bound(&server, Transport::Tcp, cat).expect_err("cat never listens");
        assert!(error.contains("exited before it was ready"), "{error}");
        assert!(error.contains("cat: ") && error.contains('0'), "{error}");
        assert!(server.process.stderr().bytes().is_empty());
    }
}
