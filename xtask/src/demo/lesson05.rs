//! Demo 05: the Unix domain. The socket file appears with the server (as
//! the real `ls -l` shows it: type `s`, size 0), clients are served one after
//! another and the server names each one's process (SO_PEERCRED), a second
//! server is refused the path without disturbing the first, SIGTERM
//! removes the file, and a file left by a SIGKILLed server is reclaimed.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::signal::Signal;

use crate::demo::stage::describe;
use crate::demo::{Demo, Program, Tracing};
use crate::lessons::Lesson;
use lesson_testing::supervisor::Stream;

/// The socket file's name, in the demo's own directory.
const SOCKET_FILE: &str = "lesson05.sock";

/// `--trace`: the socket file's life (bind creates it, the handler
/// checks and unlinks it), connections, and who connected.
pub const TRACING: Tracing = Tracing {
    more_calls: &[
        "listen",
        "accept",
        "accept4",
        "getsockopt",
        "rt_sigaction",
        "lstat",
        "newfstatat",
        "statx",
        "unlink",
        "unlinkat",
    ],
    signals: &["SIGTERM"],
    handlers: &["SIGTERM", "SIGINT"],
    files: &[SOCKET_FILE],
    notes: &[],
};

/// How many clients the demo runs against the first server.
const CLIENTS: usize = 2;

/// A private directory for the demo's socket file, removed at the end
/// (also on an error).
struct DemoDir(PathBuf);

impl DemoDir {
    fn new() -> Result<DemoDir, String> {
        let path =
            std::env::temp_dir().join(format!("lesson05-demo-{}", std::process::id() as i32));
        fs::create_dir_all(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        Ok(DemoDir(path))
    }
}

impl Drop for DemoDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Demo 05: a socket file's life, and who is on the other end.
pub fn run(demo: &mut Demo, lesson: &Lesson) -> Result<(), String> {
    demo.narrate(
        "Lesson 05: lesson 01's server in the Unix domain. The address is a path in the file \
         system instead of a port; the server serves clients one after another until it is \
         stopped.",
    )?;
    demo.build(lesson)?;
    let dir = DemoDir::new()?;
    let path = dir.0.join(SOCKET_FILE);
    let shown = path.display().to_string();

    demo.narrate(&format!(
        "Starting `unix-server {shown} --show-peer`: socket(AF_UNIX, SOCK_STREAM), bind() to the \
         path, listen(). With --show-peer it also names each client it accepts."
    ))?;
    let mut server = demo.start_unix_server("server", "unix-server", &path, &["--show-peer"])?;
    demo.narrate(&format!(
        "bind() created a file at the path. As `ls -l` shows it, run in {}:",
        dir.0.display()
    ))?;
    show_ls(demo, &dir.0)?;
    demo.narrate(
        "Type `s`: a socket. Size 0: nothing is ever stored in it. It is only a name; the data \
         goes from socket to socket inside the kernel.",
    )?;

    for i in 1..=CLIENTS {
        run_client(demo, &path, i)?;
    }

    demo.narrate(&format!(
        "A second `unix-server {shown}` while the first runs: bind() fails with EADDRINUSE, and the \
         second server must find out whether the file is stale or live without connecting to it."
    ))?;
    let mut command = Command::new(demo.binary("unix-server")?);
    command.arg(&path);
    let mut second = demo.spawn("server 2", command, Stdio::null())?;
    demo.wait_for("the second server to give up", |log| {
        second.has_exited() && log.closed("server 2")
    })?;
    demo.narrate(&format!(
        "Refused ({}): a datagram socket's connect() to the path got EPROTOTYPE, so a stream server \
         is alive there. The first server saw nothing of it: no connection, no line.",
        describe(second.finish())
    ))?;

    let status = demo.stop_server(&mut server)?;
    demo.narrate(&format!(
        "The server is gone ({status}): its SIGTERM handler checked with lstat() that the path \
         still led to the socket file its bind() created, unlink()ed it, then called _exit(0)."
    ))?;
    show_ls(demo, &dir.0)?;

    demo.narrate(
        "Now a crash: we start the server again and kill it with SIGKILL, which no handler can \
         catch.",
    )?;
    let mut doomed = demo.start_unix_server("server", "unix-server", &path, &[])?;
    doomed.signal(Signal::SIGKILL);
    demo.wait_for("the killed server to end", |_| doomed.has_exited())?;
    demo.narrate(&format!(
        "The server was {}, and its socket file stayed: a stale file, with no socket behind it.",
        describe(doomed.finish())
    ))?;
    show_ls(demo, &dir.0)?;

    demo.narrate(
        "A new server finds the path taken, sees that the file is a socket and that connect() gets \
         ECONNREFUSED (nobody behind it), removes it and binds again:",
    )?;
    let mut server = demo.start_unix_server("server", "unix-server", &path, &["--show-peer"])?;
    run_client(demo, &path, CLIENTS + 1)?;
    let status = demo.stop_server(&mut server)?;
    demo.narrate(&format!(
        "Stopped again ({status}), and the file is gone again:"
    ))?;
    show_ls(demo, &dir.0)?;
    Ok(())
}

/// Runs `unix-client PATH` sending one line, and narrates the server's
/// credentials line with the client's real process ID (the server runs
/// with `--show-peer`).
fn run_client(demo: &mut Demo, path: &Path, number: usize) -> Result<(), String> {
    let label = format!("client {number}");
    let message = format!("Hello from client {number}");
    demo.narrate(&format!(
        "Starting `unix-client {}`: it connects, and we type {message:?} and Enter.",
        path.display()
    ))?;
    let mut command = Command::new(demo.binary("unix-client")?);
    command.arg(path);
    let mut client: Program = demo.spawn(&label, command, Stdio::piped())?;
    let pid = client.pid();
    if let Some(mut stdin) = client.take_stdin() {
        // If the client is already gone, its exit status will say why.
        let _ = stdin.write_all(format!("{message}\n").as_bytes());
    }
    let served = format!("Here is the message: {message}");
    let peer = format!("connection from pid {pid},");
    demo.wait_for(&format!("{label} to be served"), |log| {
        client.has_exited()
            && log.closed(&label)
            && log.has_line("server", Stream::Stdout, &served)
            && log.has_line("server", Stream::Stderr, &peer)
    })?;
    match client.finish() {
        Some(status) if status.success() => {}
        status => return Err(format!("{label} failed ({})", describe(status))),
    }
    demo.narrate(&format!(
        "Before reading, the server asked the kernel who connected, with getsockopt(SO_PEERCRED): \
         pid {pid} is {label}'s process ID, which the kernel recorded when it called connect()."
    ))?;
    Ok(())
}

/// Runs `ls -l` on the socket file in `dir`, and shows what it says: the
/// file's line, or that there is no such file.
fn show_ls(demo: &mut Demo, dir: &Path) -> Result<(), String> {
    demo.show_command(dir, "ls", &["-l", SOCKET_FILE])
}
