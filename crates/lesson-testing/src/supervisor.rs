//! The one process supervisor of the workspace: the tests and xtask start
//! every program through [`Supervised`].
//!
//! A supervised program
//!
//! - leads a process group of its own, so one `killpg` reaches it and
//!   everything it forked (a fork server's children), and dropping the
//!   [`Supervised`] kills that whole group, also when a test fails;
//! - leaves no zombie behind: the supervising process makes itself a
//!   *child subreaper*, so the children of a killed server are re-parented
//!   to it (not to PID 1, which in a container may never reap them), and
//!   it collects them;
//! - has its stdout and stderr read into memory as they come, by a thread
//!   per pipe, so it never blocks on a full pipe;
//! - can be asked for its output *so far* at any moment, and "so far"
//!   really means everything it has written: [`Capture::bytes`] first reads
//!   whatever still sits in the pipe. A reader thread alone cannot promise
//!   that: right after a program exits, its last line may still be in the
//!   pipe, waiting for the thread to be scheduled. (That race once made two
//!   checks fail a few runs in a hundred on a busy machine.)
//!
//! Both the thread and a caller read the pipe only while holding the
//! capture's lock, and the pipe is non-blocking, so bytes are appended in
//! the order they were written and nobody waits on the pipe with the lock
//! held.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::procfs;

/// Which of a program's output streams something came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How output is cut into [`Event`]s, for callers that watch it live.
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

/// A piece of output, sent live to whoever watches (the demos, `check`).
#[derive(Debug, Clone)]
pub struct Event {
    /// Whose output this is, as given to [`Supervised::watched`].
    pub label: String,
    pub stream: Stream,
    /// A line, without its newline and shown lossily; `None` once the
    /// stream is closed (every process holding it has closed it or exited).
    pub line: Option<String>,
}

/// Where a capture sends its events, if anyone watches.
struct Watcher {
    events: Sender<Event>,
    label: String,
    stream: Stream,
    split: Split,
}

/// Everything read from one pipe so far.
struct Captured {
    bytes: Vec<u8>,
    /// End of file seen: every writer has closed the pipe.
    closed: bool,
    /// Bytes of an unfinished line not yet sent as an event.
    unsent: Vec<u8>,
    watcher: Option<Watcher>,
}

/// One output pipe of a supervised program and what came out of it.
pub struct Capture {
    pipe: OwnedFd,
    state: Mutex<Captured>,
}

impl Capture {
    /// Takes the read end of a pipe, makes it non-blocking and starts the
    /// thread that reads it as data arrives.
    fn start(pipe: OwnedFd, watcher: Option<Watcher>) -> io::Result<Arc<Capture>> {
        let flags = OFlag::from_bits_truncate(fcntl(&pipe, FcntlArg::F_GETFL)?);
        fcntl(&pipe, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        let capture = Arc::new(Capture {
            pipe,
            state: Mutex::new(Captured {
                bytes: Vec::new(),
                closed: false,
                unsent: Vec::new(),
                watcher,
            }),
        });
        let reader = Arc::clone(&capture);
        thread::spawn(move || reader.read_until_closed());
        Ok(capture)
    }

    /// The reader thread: wait until the pipe has something (or is closed),
    /// then take it under the lock; until end of file.
    fn read_until_closed(&self) {
        loop {
            let mut ready = [PollFd::new(self.pipe.as_fd(), PollFlags::POLLIN)];
            match poll(&mut ready, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => return,
            }
            if self.lock_and_drain().closed {
                return;
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Captured> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads everything the pipe holds right now, under the lock; returns
    /// the lock, so the caller sees a state that includes it.
    fn lock_and_drain(&self) -> MutexGuard<'_, Captured> {
        let mut state = self.lock();
        let mut chunk = [0u8; 8192];
        while !state.closed {
            match nix::unistd::read(&self.pipe, &mut chunk) {
                Ok(0) => {
                    state.closed = true;
                    state.flush_unsent();
                    state.send(None);
                }
                Ok(n) => state.append(&chunk[..n]),
                Err(Errno::EINTR) => continue,
                // EAGAIN: nothing more for now.
                Err(_) => break,
            }
        }
        state
    }

    /// Everything written to the pipe so far, including what was still in
    /// the pipe a moment ago.
    pub fn bytes(&self) -> Vec<u8> {
        self.lock_and_drain().bytes.clone()
    }

    /// The complete lines so far (without their newlines), shown lossily.
    pub fn lines(&self) -> Vec<String> {
        complete_lines(&self.lock_and_drain().bytes)
    }

    /// Whether the pipe has reached end of file.
    pub fn is_closed(&self) -> bool {
        self.lock_and_drain().closed
    }
}

impl Captured {
    fn append(&mut self, chunk: &[u8]) {
        self.bytes.extend_from_slice(chunk);
        let Some(split) = self.watcher.as_ref().map(|w| w.split) else {
            return;
        };
        self.unsent.extend_from_slice(chunk);
        while let Some(newline) = self.unsent.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.unsent.drain(..=newline).collect();
            self.send(Some(&line[..newline]));
        }
        if split == Split::Writes {
            self.flush_unsent();
        }
    }

    fn flush_unsent(&mut self) {
        if !self.unsent.is_empty() {
            let rest = std::mem::take(&mut self.unsent);
            self.send(Some(&rest));
        }
    }

    fn send(&self, line: Option<&[u8]>) {
        if let Some(watcher) = &self.watcher {
            // The receiver may be gone (the caller gave up): nothing to do.
            let _ = watcher.events.send(Event {
                label: watcher.label.clone(),
                stream: watcher.stream,
                line: line.map(|l| String::from_utf8_lossy(l).into_owned()),
            });
        }
    }
}

/// The complete lines of `bytes` (an unfinished last line is left out),
/// without their newlines, shown lossily.
pub fn complete_lines(bytes: &[u8]) -> Vec<String> {
    let Some(last) = bytes.iter().rposition(|&b| b == b'\n') else {
        return Vec::new();
    };
    bytes[..last]
        .split(|&b| b == b'\n')
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

/// A running program, leader of its own process group, its output
/// captured. Dropping it kills the whole group and collects the leader's
/// exit status.
pub struct Supervised {
    child: Child,
    stdout: Arc<Capture>,
    stderr: Arc<Capture>,
    status: Option<ExitStatus>,
}

impl Supervised {
    /// Starts `command` in a new process group with its stdout and stderr
    /// captured. The caller decides about stdin (`Command` inherits it by
    /// default).
    pub fn start(command: &mut Command) -> io::Result<Supervised> {
        Supervised::launch(command, None)
    }

    /// As [`Supervised::start`], and every line (or write, see [`Split`])
    /// is also sent to `events` as it arrives, labelled with `label`.
    pub fn watched(
        command: &mut Command,
        label: &str,
        split: Split,
        events: &Sender<Event>,
    ) -> io::Result<Supervised> {
        Supervised::launch(command, Some((label, split, events)))
    }

    fn launch(
        command: &mut Command,
        watch: Option<(&str, Split, &Sender<Event>)>,
    ) -> io::Result<Supervised> {
        become_subreaper();
        command
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn()?;
        let watcher = |stream| {
            watch.map(|(label, split, events)| Watcher {
                events: events.clone(),
                label: label.to_string(),
                stream,
                split,
            })
        };
        // Built before anything else can fail, so that a failure kills it.
        let piped = (child.stdout.take(), child.stderr.take());
        let (Some(stdout), Some(stderr)) = piped else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("the child's output was not piped"));
        };
        let captures = Capture::start(stdout.into(), watcher(Stream::Stdout))
            .and_then(|out| Ok((out, Capture::start(stderr.into(), watcher(Stream::Stderr))?)));
        match captures {
            Ok((stdout, stderr)) => Ok(Supervised {
                child,
                stdout,
                stderr,
                status: None,
            }),
            Err(e) => {
                let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
                let _ = child.wait();
                Err(e)
            }
        }
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

    /// Its stdout, as captured.
    pub fn stdout(&self) -> &Capture {
        &self.stdout
    }

    /// Its stderr, as captured.
    pub fn stderr(&self) -> &Capture {
        &self.stderr
    }

    /// Whether the leader has exited. Looking does not reap it (it shows
    /// as a zombie in `/proc`), so its PID, and with it the group's ID,
    /// cannot be reused while we may still signal the group.
    pub fn has_exited(&self) -> bool {
        self.status.is_some() || procfs::process(self.pid()).is_none_or(|p| p.is_zombie())
    }

    /// Waits up to `limit` for the leader to exit and returns its status;
    /// `None` if it still runs. Its output is then complete up to its exit
    /// (see [`Capture::bytes`]).
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        if crate::wait_until(limit, || self.has_exited()) && self.status.is_none() {
            self.status = self.child.wait().ok();
        }
        self.status
    }

    /// Sends `signal` to the leader alone, as `kill PID` would.
    pub fn signal(&self, signal: Signal) {
        if self.status.is_none() {
            let _ = kill(Pid::from_raw(self.pid()), signal);
        }
    }

    /// Kills whatever is left of its process group and collects the
    /// leader's exit status (its real one if it had exited by itself). The
    /// group is killed before the leader is reaped: until then its ID
    /// cannot belong to anybody else.
    pub fn finish(&mut self) -> Option<ExitStatus> {
        let group = self.pid();
        let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
        if self.status.is_none() {
            // In case the leader left its group (setpgid): still ours.
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
        reap_group_orphans(group);
        self.status
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Makes this process a child subreaper (`prctl(PR_SET_CHILD_SUBREAPER)`),
/// once: a process below it whose parent dies is re-parented to it.
fn become_subreaper() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = nix::sys::prctl::set_child_subreaper(true);
    });
}

/// Collects the members of process group `group` that were re-parented
/// to us when their parent was killed, waiting (a little) for the SIGKILL
/// already sent to finish them. Only that group's members are touched, so
/// another test's children are never reaped behind its back.
fn reap_group_orphans(group: i32) {
    let me = std::process::id() as i32;
    let orphans = || -> Vec<procfs::Process> {
        procfs::children_of(me)
            .into_iter()
            .filter(|p| p.group == group)
            .collect()
    };
    crate::wait_until(Duration::from_secs(2), || {
        for orphan in orphans() {
            let _ = kill(Pid::from_raw(orphan.pid), Signal::SIGKILL);
            if orphan.is_zombie() {
                let _ = nix::sys::wait::waitpid(Pid::from_raw(orphan.pid), None);
            }
        }
        orphans().is_empty()
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The race this module exists for: output written just before exit is
    /// there as soon as the exit is seen, every time.
    #[test]
    fn the_last_line_before_exit_is_always_captured() {
        for _ in 0..50 {
            let mut command = Command::new("sh");
            command
                .args(["-c", "echo out; echo err >&2"])
                .stdin(Stdio::null());
            let mut run = Supervised::start(&mut command).expect("sh");
            let status = run.wait_for_exit(crate::WAIT).expect("sh exits");
            assert!(status.success());
            assert_eq!(run.stdout().bytes(), b"out\n");
            assert_eq!(run.stderr().lines(), ["err"]);
        }
    }

    #[test]
    fn dropping_kills_and_reaps_the_whole_group() {
        let mut command = Command::new("sh");
        command
            .args(["-c", "sleep 30 & echo $!; wait"])
            .stdin(Stdio::null());
        let run = Supervised::start(&mut command).expect("sh");
        assert!(crate::wait_until(crate::WAIT, || !run
            .stdout()
            .lines()
            .is_empty()));
        let grandchild: i32 = run.stdout().lines()[0].parse().expect("a pid");
        drop(run);
        // Killed, and collected at once: not even a zombie is left (the
        // subreaper got it, not PID 1, which may never reap).
        assert!(
            procfs::process(grandchild).is_none(),
            "the group's other member is still there: {:?}",
            procfs::process(grandchild)
        );
    }

    #[test]
    fn watchers_get_lines_and_prompts() {
        let (sender, events) = std::sync::mpsc::channel();
        let mut command = Command::new("sh");
        command
            .args(["-c", "printf 'prompt: '; sleep 0.1; echo done"])
            .stdin(Stdio::null());
        let mut run = Supervised::watched(&mut command, "sh", Split::Writes, &sender).expect("sh");
        drop(sender);
        run.wait_for_exit(crate::WAIT).expect("sh exits");
        // The captures hold the last senders: gone with `run`.
        drop(run);
        let stdout: Vec<Option<String>> = events
            .iter()
            .filter(|e| e.stream == Stream::Stdout)
            .map(|e| e.line)
            .collect();
        assert_eq!(
            stdout,
            [Some("prompt: ".to_string()), Some("done".to_string()), None]
        );
    }
}
