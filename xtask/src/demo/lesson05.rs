//! Demo 05: the Unix domain. The socket file appears with the server (as
//! `ls -l` shows it: type `s`, size 0), clients are served one after
//! another and the server names each one's process (SO_PEERCRED), a second
//! server is refused the path without disturbing the first, SIGTERM
//! removes the file, and a file left by a SIGKILLed server is reclaimed.

use std::fs::{self, Metadata};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::signal::Signal;

use crate::demo::stage::describe;
use crate::demo::Demo;
use crate::lessons::Lesson;
use lesson_testing::supervisor::{Stream, Supervised};

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
    );
    demo.build(lesson)?;
    let dir = DemoDir::new()?;
    let path = dir.0.join("lesson05.sock");
    let shown = path.display().to_string();

    demo.narrate(&format!(
        "Starting `unix-server {shown} --show-peer`: socket(AF_UNIX, SOCK_STREAM), bind() to the \
         path, listen(). With --show-peer it also names each client it accepts."
    ));
    let mut server = demo.start_unix_server("server", "unix-server", &path, &["--show-peer"])?;
    demo.narrate("bind() created a file at the path. As `ls -l` shows it:");
    show_ls(demo, &path);
    demo.narrate(
        "Type `s`: a socket. Size 0: nothing is ever stored in it. It is only a name; the data \
         goes from socket to socket inside the kernel.",
    );

    for i in 1..=CLIENTS {
        run_client(demo, &path, i)?;
    }

    demo.narrate(&format!(
        "A second `unix-server {shown}` while the first runs: bind() fails with EADDRINUSE, and the \
         second server must find out whether the file is stale or live without connecting to it."
    ));
    let mut command = Command::new(demo.binary("unix-server")?);
    command.arg(&path).stdin(Stdio::null());
    let mut second = demo.spawn("server 2", &mut command)?;
    demo.wait_for("the second server to give up", |log| {
        second.has_exited() && log.closed("server 2")
    })?;
    demo.narrate(&format!(
        "Refused ({}): a datagram socket's connect() to the path got EPROTOTYPE, so a stream server \
         is alive there. The first server saw nothing of it: no connection, no line.",
        describe(second.finish())
    ));

    let status = demo.stop_server(&mut server)?;
    demo.narrate(&format!(
        "The server is gone ({status}): its SIGTERM handler checked with lstat() that the path \
         still led to the socket file its bind() created, unlink()ed it, then called _exit(0)."
    ));
    show_ls(demo, &path);

    demo.narrate(
        "Now a crash: we start the server again and kill it with SIGKILL, which no handler can \
         catch.",
    );
    let mut doomed = demo.start_unix_server("server", "unix-server", &path, &[])?;
    doomed.signal(Signal::SIGKILL);
    demo.wait_for("the killed server to end", |_| doomed.has_exited())?;
    demo.narrate(&format!(
        "The server was {}, and its socket file stayed: a stale file, with no socket behind it.",
        describe(doomed.finish())
    ));
    show_ls(demo, &path);

    demo.narrate(
        "A new server finds the path taken, sees that the file is a socket and that connect() gets \
         ECONNREFUSED (nobody behind it), removes it and binds again:",
    );
    let mut server = demo.start_unix_server("server", "unix-server", &path, &["--show-peer"])?;
    run_client(demo, &path, CLIENTS + 1)?;
    let status = demo.stop_server(&mut server)?;
    demo.narrate(&format!(
        "Stopped again ({status}), and the file is gone again:"
    ));
    show_ls(demo, &path);
    Ok(())
}

/// Runs `unix-client PATH` sending one line, and narrates the server's
/// credentials line with the client's real process ID (the server runs
/// with `--show-peer`).
fn run_client(demo: &mut Demo, path: &Path, number: usize) -> Result<(), String> {
    let label = format!("client {number}");
    let message = format!("Hello from client {number}");
    let mut command = Command::new(demo.binary("unix-client")?);
    command.arg(path).stdin(Stdio::piped());
    let mut client: Supervised = demo.spawn(&label, &mut command)?;
    let pid = client.pid();
    demo.narrate(&format!(
        "`unix-client {}` started as process {pid}; it connects and sends {message:?}.",
        path.display()
    ));
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
         pid {pid} is {label}'s process, recorded by the kernel when it called connect()."
    ));
    Ok(())
}

/// Shows `path` the way `ls -l` starts its line (type and permissions,
/// links, owner, group, size; numeric owner and group, as `ls -ln`), or
/// what `ls` says when there is nothing there.
fn show_ls(demo: &Demo, path: &Path) {
    let line = match fs::symlink_metadata(path) {
        Ok(found) => format!(
            "{} {} {} {} {} {}",
            mode_string(&found),
            found.nlink(),
            found.uid(),
            found.gid(),
            found.len(),
            path.display()
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => format!(
            "ls: cannot access '{}': No such file or directory",
            path.display()
        ),
        Err(e) => format!("ls: cannot access '{}': {e}", path.display()),
    };
    demo.show_command_output(&format!("ls -ln {}", path.display()), &line);
}

/// `srwxr-xr-x`: the file type letter, then the nine permission bits.
fn mode_string(found: &Metadata) -> String {
    let kind = found.file_type();
    let letter = if kind.is_socket() {
        's'
    } else if kind.is_dir() {
        'd'
    } else if kind.is_symlink() {
        'l'
    } else if kind.is_fifo() {
        'p'
    } else {
        '-'
    };
    let mode = found.permissions().mode();
    let bits: String = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ]
    .iter()
    .map(|&(bit, c)| if mode & bit != 0 { c } else { '-' })
    .collect();
    format!("{letter}{bits}")
}
