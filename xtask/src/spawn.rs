//! Programs xtask starts: each in a process group of its own, with its
//! stdout and stderr arriving line by line on one channel, so a caller can
//! show several programs' output interleaved as it happens (the demos) or
//! parse it while enforcing a time limit (the checks).

use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{procs, term};

/// Which of a program's output streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How a stream is cut into lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Only at newlines (and at the end): for parsing.
    Lines,
    /// Also at the end of each chunk a read returns, so that a prompt such
    /// as `Please enter the message: `, which has no newline, shows at once.
    /// The lessons write each line with one write (the contract), so this
    /// never cuts a line in two.
    Writes,
}

/// Something a program's output stream did.
#[derive(Debug, Clone)]
pub struct Event {
    /// Whose output this is, as given to [`Spawned::start`].
    pub label: String,
    pub stream: Stream,
    /// A line, without its newline and shown lossily; `None` once the
    /// stream is closed (every process holding it has closed it or exited).
    pub line: Option<String>,
}

/// A running program, leader of its own process group. Dropping it kills
/// the whole group and collects the leader's exit status.
pub struct Spawned {
    child: Child,
    status: Option<ExitStatus>,
}

impl Spawned {
    /// Starts `command` in a new process group, its stdout and stderr piped
    /// to threads that send each line to `events` labelled with `label`.
    /// The caller decides about stdin (`Command` inherits it by default).
    pub fn start(
        command: &mut Command,
        label: &str,
        split: Split,
        events: &Sender<Event>,
    ) -> io::Result<Spawned> {
        command
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn()?;
        if let Some(pipe) = child.stdout.take() {
            forward(pipe, label, Stream::Stdout, split, events.clone());
        }
        if let Some(pipe) = child.stderr.take() {
            forward(pipe, label, Stream::Stderr, split, events.clone());
        }
        Ok(Spawned {
            child,
            status: None,
        })
    }

    /// The leader's process ID, which is also the group's ID.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// The write end of its stdin, if it was piped; dropping it is the
    /// program's end of input.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// Whether the leader has exited (it is not reaped by looking).
    pub fn has_exited(&self) -> bool {
        self.status.is_some() || procs::has_exited(self.pid())
    }

    /// Sends `signal` to the leader alone, as `kill PID` would.
    pub fn signal(&self, signal: Signal) {
        if self.status.is_none() {
            let _ = kill(Pid::from_raw(self.pid()), signal);
        }
    }

    /// Kills whatever is left of its process group and collects the
    /// leader's exit status (which is its real one if it had exited by
    /// itself). The group is killed before the leader is reaped: until
    /// then its ID cannot belong to anybody else.
    pub fn finish(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            procs::kill_group(self.pid());
            // In case the leader left its group (setpgid): still ours.
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
        self.status
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Reads `pipe` on a thread of its own and sends its lines to `events`,
/// then one `line: None` event when it is closed.
fn forward(
    mut pipe: impl Read + Send + 'static,
    label: &str,
    stream: Stream,
    split: Split,
    events: Sender<Event>,
) {
    let label = label.to_string();
    let send = move |line: Option<&[u8]>| {
        let line = line.map(|bytes| String::from_utf8_lossy(bytes).into_owned());
        // The receiver may be gone (the caller gave up); nothing to do then.
        let _ = events.send(Event {
            label: label.clone(),
            stream,
            line,
        });
    };
    thread::spawn(move || {
        let mut pending = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            let n = match pipe.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            pending.extend_from_slice(&chunk[..n]);
            while let Some(newline) = pending.iter().position(|&b| b == b'\n') {
                send(Some(&pending[..newline]));
                pending.drain(..=newline);
            }
            if split == Split::Writes && !pending.is_empty() {
                send(Some(&pending));
                pending.clear();
            }
        }
        if !pending.is_empty() {
            send(Some(&pending));
        }
        send(None);
    });
}

/// How a [`supervise`]d run ended.
#[derive(Debug, Clone, Copy)]
pub enum Ended {
    /// It exited by itself, with this status.
    Exited(ExitStatus),
    /// It ran past its deadline and was killed.
    TimedOut,
    /// The user pressed Ctrl-C (or xtask got SIGTERM); it was killed.
    Interrupted,
}

/// Runs `command` (stdin closed) in its own process group until it exits,
/// `deadline` passes, or the user interrupts, handing every output line to
/// `on_line`, which may move the deadline. Afterwards nothing of it is
/// left: its group is killed, and so is every orphan re-parented to xtask
/// (xtask must be a subreaper for that, see [`procs::become_subreaper`]).
/// While it runs, orphans that exit are reaped, so they hold no PIDs.
pub fn supervise(
    command: &mut Command,
    mut deadline: Instant,
    mut on_line: impl FnMut(Stream, &str, &mut Instant),
) -> io::Result<Ended> {
    /// How long output may keep arriving after the run was killed.
    const DRAIN: Duration = Duration::from_secs(5);
    let (sender, events) = mpsc::channel();
    command.stdin(Stdio::null());
    let mut run = Spawned::start(command, "run", Split::Lines, &sender)?;
    // Only the reader threads hold senders now: when both pipes are
    // closed, the channel reports `Disconnected`.
    drop(sender);

    let mut open = true;
    let mut ended: Option<(Ended, Instant)> = None;
    let mut next_reap = Instant::now();
    loop {
        if open {
            match events.recv_timeout(Duration::from_millis(50)) {
                Ok(Event {
                    stream,
                    line: Some(line),
                    ..
                }) => on_line(stream, &line, &mut deadline),
                Ok(_) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
        } else {
            thread::sleep(Duration::from_millis(50));
        }
        let now = Instant::now();
        match ended {
            None => {
                let why = if run.has_exited() {
                    Some(None)
                } else if now >= deadline {
                    Some(Some(Ended::TimedOut))
                } else if term::interrupted() {
                    Some(Some(Ended::Interrupted))
                } else {
                    None
                };
                if let Some(why) = why {
                    let status = run.finish();
                    procs::kill_orphans();
                    let how = match (why, status) {
                        (Some(how), _) => how,
                        (None, Some(status)) => Ended::Exited(status),
                        // Its status was collected elsewhere (it cannot
                        // be, as nothing else reaps it): count a failure.
                        (None, None) => Ended::Exited(ExitStatus::from_raw(255 << 8)),
                    };
                    ended = Some((how, now + DRAIN));
                } else if now >= next_reap {
                    procs::reap_zombies(&[run.pid()]);
                    next_reap = now + Duration::from_millis(500);
                }
            }
            // Everything that could write to the pipes is dead now; read
            // what they still hold.
            Some((how, drained_by)) => {
                if !open || now >= drained_by {
                    return Ok(how);
                }
            }
        }
    }
}
