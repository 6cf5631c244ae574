//! The end-to-end test harness every lesson's tests share.
//!
//! The tests drive real binaries, so they must be careful citizens:
//!
//! - **Which binary.** [`binary`] returns the workspace's own build unless an
//!   environment variable names another one (`LESSON_BIN_TCP_SERVER` for
//!   `tcp-server`, and so on), so the same tests grade a student's program
//!   or the tutorial's C.
//! - **Ready, not asleep.** [`Server::start`] returns once the kernel's own
//!   socket tables (`/proc/net/tcp`, `udp`, `unix`) show the server's socket
//!   bound (and listening, for streams). That needs no readiness line and
//!   has no side effect: a probe connection would make a fork server fork,
//!   and would occupy an iterative one.
//! - **Bounded.** Every wait gives up after [`WAIT`] and fails the test with
//!   what the server said so far.
//! - **Nothing left behind.** A server runs in a process group of its own,
//!   and dropping the [`Server`] kills the whole group with SIGKILL (its
//!   forked children too), also when an assertion fails.
//! - **Parallel-safe.** Servers listen on port 0 and tests ask the kernel
//!   which port it chose; Unix-domain paths live in fresh temp dirs.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::procfs::{self, Process};

pub mod forking;
pub mod rules;

/// The prompt of lesson 01's client, which later lessons' clients share.
pub const PROMPT: &str = "Please enter the message: ";

/// Lesson 01's reply, which later lessons' stream servers share: 18 bytes.
pub const REPLY: &[u8] = b"I got your message";

/// The longest any single wait in a test may take. Generous, because CI is
/// a busy 2-core machine; a passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(10);

/// The binary to test: `$LESSON_BIN_<NAME>` when set, else `built` (pass
/// `env!("CARGO_BIN_EXE_<name>")`, the workspace's own build).
pub fn binary(name: &str, built: &str) -> PathBuf {
    match std::env::var_os(override_variable(name)) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(built),
    }
}

/// The variable that overrides binary `name`: `tcp-server` →
/// `LESSON_BIN_TCP_SERVER`.
pub fn override_variable(name: &str) -> String {
    format!("LESSON_BIN_{}", name.to_uppercase().replace('-', "_"))
}

/// Whether servers under test are expected to print the contract's
/// readiness line. Set `LESSON_NO_READINESS_LINE=1` to grade programs
/// that do not, such as the tutorial's own C.
pub fn expects_readiness_line() -> bool {
    std::env::var_os("LESSON_NO_READINESS_LINE").is_none_or(|v| v.is_empty() || v == "0")
}

/// A client command with stdin closed, bounded by [`WAIT`] (assert_cmd
/// kills it if it runs longer).
pub fn client(bin: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin);
    cmd.timeout(WAIT);
    cmd
}

/// How a server's socket shows up in the kernel's tables once it is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP socket in LISTEN state.
    TcpListener,
    /// A bound UDP socket.
    Udp,
    /// A Unix-domain socket bound to this path.
    Unix(PathBuf),
}

/// Bytes a child process wrote to one of its pipes, gathered by a thread.
#[derive(Default)]
struct Captured(Mutex<Vec<u8>>);

impl Captured {
    fn gather(self: &Arc<Self>, mut pipe: impl Read + Send + 'static) {
        let sink = Arc::clone(self);
        thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            // Ends when every process holding the pipe (forked children
            // too) has exited.
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                sink.0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(&chunk[..n]);
            }
        });
    }

    fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The complete lines so far (without their newlines), shown lossily.
    fn lines(&self) -> Vec<String> {
        let bytes = self.bytes();
        let complete = match bytes.iter().rposition(|&b| b == b'\n') {
            Some(last) => &bytes[..last],
            None => return Vec::new(),
        };
        complete
            .split(|&b| b == b'\n')
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }
}

/// Spawns `command` (its stdout and stderr set to pipes) and gathers both
/// pipes on threads of their own, so the child never blocks on a full pipe.
fn spawn_captured(command: &mut Command) -> (Child, Arc<Captured>, Arc<Captured>) {
    let mut child = command.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot start {}: {e}",
            Path::new(command.get_program()).display()
        )
    });
    let stdout = Arc::new(Captured::default());
    let stderr = Arc::new(Captured::default());
    if let Some(pipe) = child.stdout.take() {
        stdout.gather(pipe);
    }
    if let Some(pipe) = child.stderr.take() {
        stderr.gather(pipe);
    }
    (child, stdout, stderr)
}

/// A server under test. Dropping it kills its whole process group.
pub struct Server {
    child: Child,
    endpoint: Endpoint,
    /// The port the kernel gave it (0 in the Unix domain).
    port: u16,
    stdout: Arc<Captured>,
    stderr: Arc<Captured>,
}

impl Server {
    /// Starts `bin args...` and waits until its socket is ready, failing
    /// the test (with the server's stderr) if it exits or takes too long.
    pub fn start<S: AsRef<OsStr>>(bin: &Path, args: &[S], endpoint: Endpoint) -> Server {
        let mut command = Command::new(bin);
        command.args(args);
        Server::start_command(command, endpoint)
    }

    /// As [`Server::start`], for a command the test has prepared (say, with
    /// a signal disposition to inherit).
    pub fn start_command(mut command: Command, endpoint: Endpoint) -> Server {
        let bin = PathBuf::from(command.get_program());
        let bin = bin.as_path();
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Its own process group, so Drop can kill it and every child it forks.
        command.process_group(0);
        let (child, stdout, stderr) = spawn_captured(&mut command);
        // Built before waiting, so that a failed wait still kills it.
        let mut server = Server {
            child,
            endpoint,
            port: 0,
            stdout,
            stderr,
        };
        server.port = server.wait_until_ready(bin);
        server
    }

    fn wait_until_ready(&mut self, bin: &Path) -> u16 {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before it was ready; stderr: {:?}",
                    bin.display(),
                    self.stderr_text()
                );
            }
            if let Some(port) = bound_port(self.pid(), &self.endpoint) {
                return port;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} was not ready within {WAIT:?}; stderr: {:?}",
                    bin.display(),
                    self.stderr_text()
                );
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Where the server was expected to bind.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The server's process ID.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The port the server is bound to, as the kernel reports it.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, where a client on this machine reaches the server.
    pub fn loopback(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// A raw TCP connection to the server, with [`WAIT`] as its read and
    /// write timeout: the other side of the wire, seen byte for byte.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect_timeout(&self.loopback(), WAIT)
            .unwrap_or_else(|e| panic!("connecting to the server: {e}"));
        stream.set_read_timeout(Some(WAIT)).ok();
        stream.set_write_timeout(Some(WAIT)).ok();
        stream
    }

    /// Everything the server wrote on stdout so far.
    pub fn stdout_bytes(&self) -> Vec<u8> {
        self.stdout.bytes()
    }

    /// The complete stdout lines so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lines()
    }

    /// Waits until stdout holds at least `count` complete lines.
    pub fn wait_for_stdout_lines(&self, count: usize) -> Vec<String> {
        let done = wait_until(WAIT, || self.stdout.lines().len() >= count);
        let lines = self.stdout.lines();
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
        String::from_utf8_lossy(&self.stderr.bytes()).into_owned()
    }

    /// Waits for a complete stderr line that starts with `prefix`.
    pub fn wait_for_stderr_line(&self, prefix: &str) -> Option<String> {
        let find = || {
            self.stderr
                .lines()
                .into_iter()
                .find(|l| l.starts_with(prefix))
        };
        wait_until(WAIT, || find().is_some());
        find()
    }

    /// Waits up to `limit` for the server to exit; `None` if it did not.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_for_child(&mut self.child, limit)
    }

    /// Sends `signal` to the server process (not to its children).
    pub fn signal(&self, signal: Signal) {
        let _ = kill(Pid::from_raw(self.pid()), signal);
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

impl Drop for Server {
    fn drop(&mut self) {
        // The group's ID is the server's PID (process_group(0) above).
        let _ = killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client process the test talks to while it runs: its stdin stays open
/// until the test closes it, and its stdout is gathered as it comes, so a
/// test can see the prompt before it types. Dropping it kills it.
pub struct Interactive {
    child: Child,
    stdout: Arc<Captured>,
    stderr: Arc<Captured>,
}

impl Interactive {
    /// Starts `bin args...` with piped stdin, stdout and stderr.
    pub fn start<S: AsRef<OsStr>>(bin: &Path, args: &[S]) -> Interactive {
        let mut command = Command::new(bin);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (child, stdout, stderr) = spawn_captured(&mut command);
        Interactive {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits until stdout has shown exactly `expected` bytes so far (or
    /// more, starting with them); false after [`WAIT`].
    pub fn wait_for_stdout(&self, expected: &[u8]) -> bool {
        wait_until(WAIT, || self.stdout.bytes().starts_with(expected))
    }

    /// Everything written on stdout so far.
    pub fn stdout_bytes(&self) -> Vec<u8> {
        self.stdout.bytes()
    }

    /// Everything written on stderr so far, shown lossily.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.bytes()).into_owned()
    }

    /// Types `bytes` on its stdin, then closes stdin (end of input).
    pub fn type_and_close(&mut self, bytes: &[u8]) {
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.write_all(bytes);
        }
    }

    /// Waits up to [`WAIT`] for it to exit; `None` if it did not.
    pub fn wait_for_exit(&mut self) -> Option<ExitStatus> {
        wait_for_child(&mut self.child, WAIT)
    }
}

impl Drop for Interactive {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to `limit` for `child` to exit; `None` if it did not.
fn wait_for_child(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let mut status = None;
    wait_until(limit, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    status
}

/// Polls `condition` every few milliseconds until it holds (true) or
/// `limit` has passed (false).
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
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

/// Sends `message`, half-closes, and reads the reply until the server
/// closes: one whole exchange with a lesson-01-style server.
pub fn exchange(mut stream: TcpStream, message: &[u8]) -> Vec<u8> {
    stream.write_all(message).expect("writing to the server");
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut reply = Vec::new();
    // A reset after the reply is fine (the server may close with our
    // input unread); what arrived before it is kept.
    let _ = stream.read_to_end(&mut reply);
    reply
}

/// The port `pid` has bound for `endpoint`, read from the kernel's tables,
/// or `None` while it has not (yet).
pub fn bound_port(pid: i32, endpoint: &Endpoint) -> Option<u16> {
    let inodes = socket_inodes(pid);
    if inodes.is_empty() {
        return None;
    }
    match endpoint {
        // st 0A is TCP_LISTEN; 07 is TCP_CLOSE, how a bound UDP socket shows.
        Endpoint::TcpListener => inet_port(&["/proc/net/tcp", "/proc/net/tcp6"], "0A", &inodes),
        Endpoint::Udp => inet_port(&["/proc/net/udp", "/proc/net/udp6"], "07", &inodes),
        Endpoint::Unix(path) => unix_bound(path, &inodes).then_some(0),
    }
}

/// The inode numbers of the sockets `pid` has open (`socket:[1234]`).
fn socket_inodes(pid: i32) -> HashSet<u64> {
    let Ok(entries) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    entries
        .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            target
                .strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// Scans `/proc/net/{tcp,udp}[6]`: `sl local rem st tx:rx tr:when retr uid
/// timeout inode ...`, with the local port in hex after the colon.
fn inet_port(tables: &[&str], state: &str, inodes: &HashSet<u64>) -> Option<u16> {
    for table in tables {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(st), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if *st != state || !inode.parse().is_ok_and(|i: u64| inodes.contains(&i)) {
                continue;
            }
            let port = local.rsplit(':').next()?;
            return u16::from_str_radix(port, 16).ok();
        }
    }
    None
}

/// Scans `/proc/net/unix`: `Num RefCount Protocol Flags Type St Inode Path`.
fn unix_bound(path: &Path, inodes: &HashSet<u64>) -> bool {
    let Ok(text) = fs::read_to_string("/proc/net/unix") else {
        return false;
    };
    text.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let inode_matches = fields
            .get(6)
            .and_then(|i| i.parse().ok())
            .is_some_and(|i: u64| inodes.contains(&i));
        inode_matches && fields.get(7).is_some_and(|p| Path::new(p) == path)
    })
}

/// How many TCP sockets `pid` holds open that are not listening: for a
/// forking server's parent, connections it has not closed (yet). Read from
/// `/proc/PID/fd` and the kernel's TCP tables, like [`bound_port`], so it
/// needs no cooperation from the server.
pub fn connected_tcp_sockets(pid: i32) -> usize {
    let inodes = socket_inodes(pid);
    if inodes.is_empty() {
        return 0;
    }
    let mut count = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        count += text
            .lines()
            .skip(1)
            .filter(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                // st 0A is TCP_LISTEN; every other state is a connection.
                let connected = fields.get(3).is_some_and(|st| *st != "0A");
                connected
                    && fields
                        .get(9)
                        .and_then(|i| i.parse().ok())
                        .is_some_and(|i: u64| inodes.contains(&i))
            })
            .count();
    }
    count
}
