//! Memory per idle client: what a select server is for.
//!
//! The tutorial's single-process server pays off when most clients spend
//! most of their time waiting. Then what each one costs the server while
//! it says nothing decides how many the server can hold. A round starts
//! the server and connects [`WARM_UP_CLIENTS`] clients first, so that the
//! code that accepts a connection has been run and is resident; then it
//! reads the server's resident memory (`VmRSS`), connects [`IDLE_CLIENTS`]
//! more clients that send nothing, waits until the server has accepted
//! them all (its descriptors, in `/proc`), reads `VmRSS` again, and
//! divides the growth by [`IDLE_CLIENTS`].
//!
//! The same is done to a bare program that only accepts connections and
//! holds the sockets, the bench started again with a hidden option
//! ([`HOLD_OPTION`]): what holding a socket costs a process's memory at
//! the least. Most of a socket's memory is the kernel's (the socket, its
//! inode, file and directory entry), which no process's `VmRSS` counts;
//! `/proc/meminfo`'s `Slab`, read before and after, shows it, machine-wide
//! and so for both ends of each connection, and blurred by whatever else
//! the machine does meanwhile.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use lesson_testing::procfs;
use lesson_testing::server::Address;

use super::machine::Placement;
use super::scenarios::{self, BenchServer};
use super::stat::Stat;

/// How many idle clients a round connects: about as many as `select()`
/// can watch (FD_SETSIZE is 1024).
pub const IDLE_CLIENTS: usize = 1000;

/// Clients connected before the measurement: the first connections bring
/// in pages of the server's program (the code that accepts and records a
/// client), which no later client costs again.
pub const WARM_UP_CLIENTS: usize = 10;

/// The measurement's id, for `--only` and the JSON.
pub const ID: &str = "06-idle-1000";

/// The server it is measured on.
pub const SERVER: &str = "select-server";

/// The hidden option that makes the bench the bare socket holder.
pub const HOLD_OPTION: &str = "--hold-sockets";

/// What one round found.
#[derive(Debug, Clone, Copy)]
pub struct IdleMeasurement {
    /// The holder's resident memory, grown by this much per client, in
    /// bytes.
    pub per_client: f64,
    /// The kernel's objects (`Slab`, machine-wide), grown by this much per
    /// connection, both ends together, in bytes.
    pub kernel_per_connection: Option<f64>,
}

/// One holder's rounds.
#[derive(Debug, Clone, Default)]
pub struct IdleRuns {
    pub rounds: Vec<IdleMeasurement>,
    pub failures: Vec<String>,
}

impl IdleRuns {
    /// Bytes per idle client.
    pub fn per_client(&self) -> Option<Stat> {
        Stat::of(&self.rounds.iter().map(|m| m.per_client).collect::<Vec<_>>())
    }

    /// The kernel's bytes per connection.
    pub fn kernel_per_connection(&self) -> Option<Stat> {
        let values: Vec<f64> = self
            .rounds
            .iter()
            .filter_map(|m| m.kernel_per_connection)
            .collect();
        Stat::of(&values)
    }

    fn push(&mut self, measured: Result<IdleMeasurement, String>) {
        match measured {
            Ok(m) => self.rounds.push(m),
            Err(e) if !self.failures.contains(&e) => self.failures.push(e),
            Err(_) => {}
        }
    }
}

/// Ours, theirs (with `--against`), and the bare holder.
#[derive(Debug, Clone, Default)]
pub struct IdleResult {
    pub ours: IdleRuns,
    pub against: Option<IdleRuns>,
    pub bare: IdleRuns,
}

/// `rounds` rounds of each holder, in turns (ours, theirs, bare; then
/// theirs, ours, bare; ...), so that a change in the machine's load hits
/// them alike.
pub fn measure(
    ours: &Path,
    against: Option<&Path>,
    rounds: usize,
    placement: &Placement,
) -> IdleResult {
    let mut result = IdleResult {
        against: against.map(|_| IdleRuns::default()),
        ..IdleResult::default()
    };
    for round in 0..rounds {
        if xtask::term::interrupted() {
            break;
        }
        let mut servers = [(Some(ours), 0), (against, 1)];
        if round % 2 == 1 {
            servers.reverse();
        }
        for (binary, which) in servers {
            let Some(binary) = binary else { continue };
            let measured = measure_server(binary, placement);
            match which {
                0 => result.ours.push(measured),
                _ => {
                    if let Some(runs) = result.against.as_mut() {
                        runs.push(measured);
                    }
                }
            }
        }
        result.bare.push(measure_bare(placement));
    }
    result
}

/// One round on `binary`, a server of lesson 06's contract.
fn measure_server(binary: &Path, placement: &Placement) -> Result<IdleMeasurement, String> {
    if !binary.exists() {
        return Err(format!("{} does not exist", binary.display()));
    }
    let server = scenarios::start(binary, &"0".into(), &[], placement)?;
    hold_idle_clients(server, binary)
}

/// One round on the bare holder.
fn measure_bare(placement: &Placement) -> Result<IdleMeasurement, String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the bench's binary: {e}"))?;
    let server = scenarios::start(&exe, &HOLD_OPTION.into(), &[], placement)?;
    hold_idle_clients(server, &exe)
}

/// Connects the idle clients to `server`, once it listens, and measures
/// what they cost it.
fn hold_idle_clients(mut server: BenchServer, binary: &Path) -> Result<IdleMeasurement, String> {
    let address = scenarios::wait_until_bound(&server, lesson_testing::Transport::Tcp, binary)?;
    let Address::Tcp(port) = address else {
        return Err(format!("unexpected address {address:?}"));
    };
    let pid = server.process.pid();
    let target = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut clients = Vec::with_capacity(WARM_UP_CLIENTS + IDLE_CLIENTS);
    let descriptors = procfs::open_descriptors(pid);
    connect_and_wait(
        &mut clients,
        target,
        WARM_UP_CLIENTS,
        descriptors,
        &server,
        binary,
    )?;
    let (Some(before), slab_before) = (procfs::resident_kib(pid), procfs::kernel_slab_kib()) else {
        return Err(format!("cannot read {}'s memory", binary.display()));
    };
    connect_and_wait(
        &mut clients,
        target,
        IDLE_CLIENTS,
        descriptors + WARM_UP_CLIENTS,
        &server,
        binary,
    )?;
    let after = procfs::resident_kib(pid);
    let slab_after = procfs::kernel_slab_kib();
    drop(clients);
    server.process.finish();
    let after = after.ok_or_else(|| format!("cannot read {}'s memory", binary.display()))?;
    let per =
        |before: u64, after: u64| (after as f64 - before as f64) * 1024.0 / IDLE_CLIENTS as f64;
    Ok(IdleMeasurement {
        per_client: per(before, after),
        kernel_per_connection: slab_before.zip(slab_after).map(|(b, a)| per(b, a)),
    })
}

/// Connects `count` more clients to `target`, and waits until `server`,
/// which had `descriptors` open before them, has accepted them all: one
/// descriptor more each. A select server accepts 64 per round of its loop
/// and makes its record of a client right after each accept; a moment
/// more lets the last round end.
fn connect_and_wait(
    clients: &mut Vec<TcpStream>,
    target: SocketAddr,
    count: usize,
    descriptors: usize,
    server: &BenchServer,
    binary: &Path,
) -> Result<(), String> {
    for _ in 0..count {
        clients.push(TcpStream::connect(target).map_err(|e| format!("connect: {e}"))?);
    }
    let pid = server.process.pid();
    let deadline = Instant::now() + lesson_testing::WAIT;
    while procfs::open_descriptors(pid) < descriptors + count {
        if Instant::now() > deadline || server.process.has_exited() {
            return Err(format!(
                "{} accepted {} of {count} connections",
                binary.display(),
                procfs::open_descriptors(pid).saturating_sub(descriptors)
            ));
        }
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(50));
    Ok(())
}

/// `bench --hold-sockets`: listens on a loopback port of the kernel's
/// choosing, accepts every connection and keeps it, reading nothing, until
/// it is killed. The bare reference for [`IDLE_CLIENTS`] idle clients:
/// a socket held in a `Vec`, and nothing else.
pub fn hold_sockets() -> ExitCode {
    let listener = match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("bind: {e}");
            return ExitCode::FAILURE;
        }
    };
    // std listens with a backlog of 128; the clients connect faster than
    // that, on the same CPU, and a full queue would drop their handshakes
    // (a second each to retry). listen() again only changes the backlog:
    // SOMAXCONN, as the select servers have.
    // SAFETY: a plain system call on a descriptor this function owns and
    // keeps open across the call; it reads and writes no memory of ours.
    if unsafe { libc::listen(listener.as_raw_fd(), libc::SOMAXCONN) } != 0 {
        eprintln!("listen: {}", std::io::Error::last_os_error());
        return ExitCode::FAILURE;
    }
    let mut held = Vec::new();
    loop {
        match listener.accept() {
            Ok((connection, _)) => held.push(connection),
            // Out of descriptors, say: the round fails on its own, as
            // the clients wait in vain; no need to spin meanwhile.
            Err(e) => {
                eprintln!("accept: {e}");
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}
