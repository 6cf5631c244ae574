//! A server under test, whatever its transport, and a client the test
//! talks to while it runs.

use std::ffi::OsStr;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::procfs::{self, Process};
use crate::report::{self, Tracked, Tracking};
use crate::stream::Stream;
use crate::supervisor::{Limits, Supervised};
use crate::{wait_until, WAIT};

/// How a lesson's server is reached, and so how its socket shows up in
/// the kernel's tables once it is ready. The one list of transports: the
/// lesson registry (xtask) names each lesson's with it too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// A TCP socket in LISTEN state.
    Tcp,
    /// A bound UDP socket.
    Udp,
    /// A Unix-domain stream socket, listening.
    Unix,
}

impl Transport {
    /// As people name it: `tcp`, `udp`, `unix`.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Unix => "unix",
        }
    }
}

/// Where a ready server is, as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Tcp(u16),
    Udp(u16),
    Unix(PathBuf),
}

impl Address {
    /// How the contract's readiness line names it: `0.0.0.0:PORT` or PATH.
    pub fn shown(&self) -> String {
        match self {
            Address::Tcp(port) | Address::Udp(port) => format!("0.0.0.0:{port}"),
            Address::Unix(path) => path.display().to_string(),
        }
    }
}

/// Where `pid` is bound for `transport`, read from the kernel's tables, or
/// `None` while it is not (yet).
pub fn bound_address(pid: i32, transport: Transport) -> Option<Address> {
    let inodes = procfs::socket_inodes(pid);
    if inodes.is_empty() {
        return None;
    }
    match transport {
        Transport::Tcp => procfs::tcp_listening_port(&inodes).map(Address::Tcp),
        Transport::Udp => procfs::udp_bound_port(&inodes).map(Address::Udp),
        Transport::Unix => procfs::unix_listening_path(&inodes).map(Address::Unix),
    }
}

/// The one readiness wait of the workspace (the tests, the demos and the
/// bench all use it): polls the kernel's tables until `pid` is bound for
/// `transport` (and listening, for streams). Needs no readiness line and
/// has no side effect: a probe connection would make a fork server fork,
/// and would occupy an iterative one. Gives up with `Err` when `gone()`
/// says the program has ended, or after `limit`.
pub fn wait_until_ready(
    pid: i32,
    transport: Transport,
    limit: Duration,
    gone: impl Fn() -> bool,
) -> Result<Address, NotReady> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(address) = bound_address(pid, transport) {
            return Ok(address);
        }
        if gone() {
            return Err(NotReady::Exited);
        }
        if Instant::now() > deadline {
            return Err(NotReady::TimedOut);
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Why [`wait_until_ready`] gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReady {
    /// The program ended before it was ready.
    Exited,
    /// It was not ready in time.
    TimedOut,
}

/// A server under test. Dropping it kills its whole process group.
pub struct Server {
    run: Supervised,
    address: Address,
    /// In the check's failure report while it lives.
    _tracking: Tracking,
}

/// A command as a student would type it: `tcp-server 0`.
fn shown(command: &Command) -> String {
    let program = Path::new(command.get_program());
    let name = program.file_name().unwrap_or(program.as_os_str());
    std::iter::once(name)
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Server {
    /// Starts `bin args...` and waits until its socket is ready, failing
    /// the test (with the server's stderr) if it exits or takes too long.
    pub fn start<S: AsRef<OsStr>>(bin: &Path, args: &[S], transport: Transport) -> Server {
        let mut command = Command::new(bin);
        command.args(args);
        Server::start_command(command, transport)
    }

    /// As [`Server::start`], for a command the test has prepared (say, with
    /// a signal disposition to inherit).
    pub fn start_command(mut command: Command, transport: Transport) -> Server {
        let bin = PathBuf::from(command.get_program());
        command.stdin(Stdio::null());
        let shown = shown(&command);
        let run = Supervised::confined(&mut command, Limits::for_programs_under_test())
            .unwrap_or_else(|e| panic!("cannot start `{shown}` ({}): {e}", bin.display()));
        let tracking = report::track(Tracked::of(&run, shown.clone()));
        // `run` is a guard: a panic below still kills the server, and the
        // report shows how it ended and what it said.
        match wait_until_ready(run.pid(), transport, WAIT, || run.has_exited()) {
            Ok(address) => Server {
                run,
                address,
                _tracking: tracking,
            },
            Err(NotReady::Exited) => {
                let exited_zero = procfs::exit_status(run.pid()).is_some_and(|s| s.success());
                if exited_zero {
                    panic!(
                        "`{shown}` ended before it was ready, with status 0. A server that exits \
                         at once with status 0 has most likely put itself in the background \
                         (fork, setsid, exit), as daemons do; the contract's servers stay in the \
                         foreground until they are stopped"
                    )
                }
                panic!("`{shown}` ended before it was ready")
            }
            Err(NotReady::TimedOut) => panic!(
                "`{shown}` was not ready within {} s: its socket never showed up {} in the \
                 kernel's tables",
                WAIT.as_secs(),
                match transport {
                    Transport::Udp => "bound",
                    _ => "listening",
                }
            ),
        }
    }

    /// Where the server is bound, as the kernel reports it.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The server's process ID.
    pub fn pid(&self) -> i32 {
        self.run.pid()
    }

    /// The TCP or UDP port the server is bound to.
    pub fn port(&self) -> u16 {
        match &self.address {
            Address::Tcp(port) | Address::Udp(port) => *port,
            Address::Unix(path) => panic!("a Unix-domain server has no port (it is at {path:?})"),
        }
    }

    /// The path a Unix-domain server is bound to.
    pub fn path(&self) -> &Path {
        match &self.address {
            Address::Unix(path) => path,
            other => panic!("not a Unix-domain server: {other:?}"),
        }
    }

    /// `127.0.0.1:PORT`, where a client on this machine reaches the server.
    pub fn loopback(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port()))
    }

    /// A raw stream connection to the server (TCP or Unix domain), with
    /// [`WAIT`] as its read and write timeout: the other side of the wire,
    /// seen byte for byte.
    pub fn connect(&self) -> Stream {
        match &self.address {
            Address::Tcp(port) => crate::tcp::connect(*port),
            Address::Unix(path) => crate::unix::connect(path),
            Address::Udp(_) => panic!("a datagram server takes no connections"),
        }
    }

    /// Everything the server wrote on stdout so far.
    pub fn stdout_bytes(&self) -> Vec<u8> {
        self.run.stdout().bytes()
    }

    /// The complete stdout lines so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.run.stdout().lines()
    }

    /// Waits until stdout holds at least `count` complete lines.
    pub fn wait_for_stdout_lines(&self, count: usize) -> Vec<String> {
        let done = wait_until(WAIT, || self.stdout_lines().len() >= count);
        let lines = self.stdout_lines();
        assert!(
            done,
            "expected {count} stdout lines, got {}: {lines:?}; stderr: {:?}",
            lines.len(),
            self.stderr_text()
        );
        lines
    }

    /// Everything the server wrote on stderr so far, shown lossily.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.run.stderr().bytes()).into_owned()
    }

    /// The complete stderr lines so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.run.stderr().lines()
    }

    /// Waits for a complete stderr line that starts with `prefix`.
    pub fn wait_for_stderr_line(&self, prefix: &str) -> Option<String> {
        let find = || {
            self.stderr_lines()
                .into_iter()
                .find(|l| l.starts_with(prefix))
        };
        wait_until(WAIT, || find().is_some());
        find()
    }

    /// Waits up to `limit` for the server to exit; `None` if it did not.
    /// What it wrote before exiting is then all in its captured output.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        self.run.wait_for_exit(limit)
    }

    /// Sends `signal` to the server process (not to its children).
    pub fn signal(&self, signal: Signal) {
        self.run.signal(signal);
    }

    /// The server's child processes and their states, from `/proc`.
    pub fn children(&self) -> Vec<Process> {
        procfs::children_of(self.pid())
    }

    /// How many descriptors the server process has open (`/proc/PID/fd`).
    pub fn open_descriptors(&self) -> usize {
        procfs::open_descriptors(self.pid())
    }
}

/// A client process the test talks to while it runs: its stdin stays open
/// until the test closes it, and its stdout is gathered as it comes, so a
/// test can see the prompt before it types. Dropping it kills it.
pub struct Interactive {
    run: Supervised,
    /// Its stdin's write end, until the test closes it.
    stdin: Option<ChildStdin>,
    /// In the check's failure report while it lives.
    _tracking: Tracking,
}

impl Interactive {
    /// Starts `bin args...` with piped stdin, stdout and stderr.
    pub fn start<S: AsRef<OsStr>>(bin: &Path, args: &[S]) -> Interactive {
        let mut command = Command::new(bin);
        command.args(args).stdin(Stdio::piped());
        let shown = shown(&command);
        let mut run = Supervised::confined(&mut command, Limits::for_programs_under_test())
            .unwrap_or_else(|e| panic!("cannot start `{shown}` ({}): {e}", bin.display()));
        let stdin = run.take_stdin();
        let tracking = report::track(Tracked::of(&run, shown));
        Interactive {
            run,
            stdin,
            _tracking: tracking,
        }
    }

    /// Waits until stdout has shown exactly `expected` bytes so far (or
    /// more, starting with them); false after [`WAIT`].
    pub fn wait_for_stdout(&self, expected: &[u8]) -> bool {
        wait_until(WAIT, || self.stdout_bytes().starts_with(expected))
    }

    /// Everything written on stdout so far.
    pub fn stdout_bytes(&self) -> Vec<u8> {
        self.run.stdout().bytes()
    }

    /// Everything written on stderr so far, shown lossily.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.run.stderr().bytes()).into_owned()
    }

    /// Types `bytes` on its stdin, keeping stdin open.
    pub fn type_bytes(&mut self, bytes: &[u8]) {
        if let Some(stdin) = &mut self.stdin {
            let _ = stdin.write_all(bytes);
            let _ = stdin.flush();
        }
    }

    /// Types `bytes` on its stdin, then closes stdin (end of input).
    pub fn type_and_close(&mut self, bytes: &[u8]) {
        self.type_bytes(bytes);
        self.stdin = None;
    }

    /// Waits up to [`WAIT`] for it to exit; `None` if it did not.
    pub fn wait_for_exit(&mut self) -> Option<ExitStatus> {
        self.run.wait_for_exit(WAIT)
    }
}
