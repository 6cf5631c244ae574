//! The one process supervisor of the workspace: the tests, xtask and the
//! bench start every program through [`Supervised`], and clean up after
//! all of them with [`kill_orphans`].
//!
//! A supervised program
//!
//! - leads a process group of its own, so one `killpg` reaches it and
//!   everything it forked (a fork server's children), and dropping the
//!   [`Supervised`] kills that whole group, also when a test fails;
//! - leaves no zombie behind: the supervising process makes itself a
//!   *child subreaper*, so the children of a killed server are re-parented
//!   to it (not to PID 1, which in a container may never reap them), and
//!   it collects them; a process that left its group (`setsid()`, a double
//!   fork) is re-parented to it too, so [`kill_orphans`] still finds it;
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

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::resource::{setrlimit, Resource};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use crate::procfs;

/// Which of a program's output streams something came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
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
    /// A line longer than [`LONGEST_EVENT`] is cut there.
    pub line: Option<String>,
}

/// How much of a stream is kept whatever a program writes: its first
/// [`HEAD`] bytes, which is all of it for every correct program (lesson
/// 06's busiest check prints about 200 KiB), and its last [`TAIL`] bytes.
/// The rest is counted, not kept: a program stuck in a loop that prints can
/// write gigabytes in a lesson's time, and the checks run four at a time.
pub const HEAD: usize = 1 << 20;
pub const TAIL: usize = 256 << 10;

/// The longest line sent as an [`Event`]; a longer one is cut.
pub const LONGEST_EVENT: usize = 1 << 20;

/// After this many copies of one line in a row, output is called a flood.
const FLOOD: u64 = 1000;

/// Where a watched stream's events go.
struct Watcher {
    events: Sender<Event>,
    label: String,
    stream: Stream,
    split: Split,
}

/// Everything read from one pipe so far, bounded.
struct Captured {
    stream: Stream,
    /// The first [`HEAD`] bytes.
    head: Vec<u8>,
    /// The last [`TAIL`] bytes after the head.
    tail: VecDeque<u8>,
    /// Bytes written in all, kept or not.
    total: u64,
    /// Newlines written in all.
    lines: u64,
    /// The last complete line (cut at [`Repeats::KEEP`]) and how many
    /// times in a row it came, to name a flood.
    repeats: Repeats,
    /// End of file seen: every writer has closed the pipe.
    closed: bool,
    /// Bytes of an unfinished line not yet sent as an event.
    unsent: Vec<u8>,
    watcher: Option<Watcher>,
}

/// The line a program writes over and over, if it does.
#[derive(Default)]
struct Repeats {
    last: Vec<u8>,
    count: u64,
    /// The line being written, up to [`Repeats::KEEP`] bytes.
    current: Vec<u8>,
    current_cut: bool,
}

impl Repeats {
    const KEEP: usize = 200;

    fn take(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            if byte == b'\n' {
                let line = std::mem::take(&mut self.current);
                if line == self.last {
                    self.count += 1;
                } else {
                    self.last = line;
                    self.count = 1;
                }
                self.current_cut = false;
            } else if self.current.len() < Self::KEEP {
                self.current.push(byte);
            } else {
                self.current_cut = true;
            }
        }
    }
}

/// One output pipe of a supervised program and what came out of it.
pub struct Capture {
    /// `None` when the stream goes to a file instead ([`Output::Files`]).
    pipe: Option<OwnedFd>,
    state: Mutex<Captured>,
}

impl Capture {
    /// Takes the read end of a pipe, makes it non-blocking and starts the
    /// thread that reads it as data arrives.
    fn start(pipe: OwnedFd, stream: Stream, watcher: Option<Watcher>) -> io::Result<Arc<Capture>> {
        let flags = OFlag::from_bits_truncate(fcntl(&pipe, FcntlArg::F_GETFL)?);
        fcntl(&pipe, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        let capture = Arc::new(Capture {
            pipe: Some(pipe),
            state: Mutex::new(Captured::new(stream, watcher)),
        });
        let reader = Arc::clone(&capture);
        thread::spawn(move || reader.read_until_closed());
        Ok(capture)
    }

    /// A stream that is not captured: it went to a file.
    fn elsewhere(stream: Stream) -> Arc<Capture> {
        let mut state = Captured::new(stream, None);
        state.closed = true;
        Arc::new(Capture {
            pipe: None,
            state: Mutex::new(state),
        })
    }

    /// The reader thread: wait until the pipe has something (or is closed),
    /// then take it under the lock; until end of file.
    fn read_until_closed(&self) {
        let Some(pipe) = &self.pipe else { return };
        loop {
            let mut ready = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
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
        let Some(pipe) = &self.pipe else {
            return state;
        };
        let mut chunk = [0u8; 8192];
        while !state.closed {
            match nix::unistd::read(pipe, &mut chunk) {
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
    /// the pipe a moment ago; when the program wrote more than is kept,
    /// the first [`HEAD`] bytes and the last [`TAIL`] ([`Capture::overflow`]
    /// says so).
    pub fn bytes(&self) -> Vec<u8> {
        let state = self.lock_and_drain();
        let mut bytes = state.head.clone();
        bytes.extend(state.tail.iter());
        bytes
    }

    /// The complete lines so far (without their newlines), shown lossily.
    /// When the program wrote more than is kept, the kept head's lines.
    pub fn lines(&self) -> Vec<String> {
        complete_lines(&self.lock_and_drain().head)
    }

    /// Everything so far, shown lossily, and cut for a message: the first
    /// and the last few lines when there are many, and what was too much
    /// to keep or show, counted, with a flood named ([`Capture::overflow`]).
    pub fn shown(&self) -> String {
        let text = String::from_utf8_lossy(&self.bytes()).into_owned();
        let mut shown = cut_for_a_message(&text);
        if let Some(overflow) = self.overflow() {
            shown.push_str(&format!("\n[{overflow}]"));
        }
        shown
    }

    /// When the program wrote more than is kept, or the same line over and
    /// over: how much, in words a student reads.
    pub fn overflow(&self) -> Option<String> {
        let state = self.lock_and_drain();
        let flood = state.repeats.count >= FLOOD;
        if state.total <= HEAD as u64 && !flood {
            return None;
        }
        let mut text = format!(
            "it wrote {} on {} ({} lines)",
            bytes_in_words(state.total),
            state.stream.name(),
            state.lines
        );
        if state.total > HEAD as u64 {
            text.push_str(&format!(
                "; only the first {} and the last {} are kept",
                bytes_in_words(HEAD as u64),
                bytes_in_words(TAIL as u64)
            ));
        }
        if flood {
            text.push_str(&format!(
                "; the last {} lines were all {:?}: a loop that never ends. In a server this \
                 is most often a read loop that does not stop when read() returns 0, which \
                 means the client has closed the connection",
                state.repeats.count,
                String::from_utf8_lossy(&state.repeats.last)
            ));
        }
        Some(text)
    }

    /// Whether the pipe has reached end of file.
    pub fn is_closed(&self) -> bool {
        self.lock_and_drain().closed
    }
}

/// `bytes` as a student reads it: `1.5 KiB`, `2.8 GB`.
fn bytes_in_words(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} bytes"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
        _ => format!("{:.1} GiB", bytes as f64 / 1_073_741_824.0),
    }
}

/// At most 20 lines (the first 15 and the last 5) of at most 300
/// characters each: enough to see what a program said, short enough that
/// a message stays readable whatever it said.
pub fn cut_for_a_message(text: &str) -> String {
    const FIRST: usize = 15;
    const LAST: usize = 5;
    const WIDEST: usize = 300;
    let cut = |line: &str| -> String {
        match line.char_indices().nth(WIDEST) {
            Some((at, _)) => format!("{}[... {} more bytes]", &line[..at], line.len() - at),
            None => line.to_string(),
        }
    };
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= FIRST + LAST {
        let mut shown: Vec<String> = lines.iter().map(|l| cut(l)).collect();
        if text.ends_with('\n') || shown.is_empty() {
            return shown.join("\n");
        }
        let last = shown.pop().unwrap_or_default();
        shown.push(last);
        return shown.join("\n");
    }
    let mut shown: Vec<String> = lines[..FIRST].iter().map(|l| cut(l)).collect();
    shown.push(format!(
        "[... {} more lines ...]",
        lines.len() - FIRST - LAST
    ));
    shown.extend(lines[lines.len() - LAST..].iter().map(|l| cut(l)));
    shown.join("\n")
}

impl Captured {
    fn new(stream: Stream, watcher: Option<Watcher>) -> Captured {
        Captured {
            stream,
            head: Vec::new(),
            tail: VecDeque::new(),
            total: 0,
            lines: 0,
            repeats: Repeats::default(),
            closed: false,
            unsent: Vec::new(),
            watcher,
        }
    }

    fn append(&mut self, chunk: &[u8]) {
        self.total += chunk.len() as u64;
        self.lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
        self.repeats.take(chunk);
        let room = HEAD.saturating_sub(self.head.len()).min(chunk.len());
        self.head.extend_from_slice(&chunk[..room]);
        let rest = &chunk[room..];
        if !rest.is_empty() {
            self.tail.extend(rest);
            let excess = self.tail.len().saturating_sub(TAIL);
            self.tail.drain(..excess);
        }
        let Some(split) = self.watcher.as_ref().map(|w| w.split) else {
            return;
        };
        self.unsent.extend_from_slice(chunk);
        while let Some(newline) = self.unsent.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.unsent.drain(..=newline).collect();
            self.send(Some(&line[..newline]));
        }
        if split == Split::Writes || self.unsent.len() > LONGEST_EVENT {
            self.flush_unsent();
        }
    }

    fn flush_unsent(&mut self) {
        if !self.unsent.is_empty() {
            let mut rest = std::mem::take(&mut self.unsent);
            rest.truncate(LONGEST_EVENT);
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

/// Limits a program under test runs under, which it cannot lift (hard
/// limit = soft limit; raising a hard limit needs a privilege a confined
/// program does not have). Each is per process, inherited across `fork`
/// and `exec`; the number of processes counts every process and thread of
/// the user, which the sandbox makes a user of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Address space, in bytes (`RLIMIT_AS`): more memory than any lesson
    /// needs, less than a leak can take from the machine.
    pub memory: u64,
    /// Processes and threads of its user (`RLIMIT_NPROC`): enough for a
    /// fork server under a 200-client burst and the checks beside it.
    pub processes: u64,
    /// CPU time, in seconds (`RLIMIT_CPU`): SIGXCPU, then SIGKILL.
    pub cpu_seconds: u64,
    /// The largest file it may write, in bytes (`RLIMIT_FSIZE`): SIGXFSZ.
    pub file_size: u64,
}

impl Limits {
    /// The defaults, which suit every lesson.
    pub const DEFAULT: Limits = Limits {
        memory: 1 << 30,
        processes: 1024,
        cpu_seconds: 10,
        file_size: 64 << 20,
    };

    /// The variable through which `cargo xtask check` passes other limits
    /// to the checks: `memory=BYTES,processes=N,cpu=SECS,file=BYTES`.
    pub const VARIABLE: &'static str = "LESSON_LIMITS";

    /// The limits for programs under test: [`Limits::DEFAULT`], with what
    /// `$LESSON_LIMITS` changes.
    pub fn for_programs_under_test() -> Limits {
        let given = std::env::var(Self::VARIABLE).unwrap_or_default();
        Limits::parse(&given).unwrap_or(Limits::DEFAULT)
    }

    /// `memory=BYTES,processes=N,cpu=SECS,file=BYTES`, any of them, in any
    /// order; what is not given keeps its default.
    pub fn parse(text: &str) -> Result<Limits, String> {
        let mut limits = Limits::DEFAULT;
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}`: expected KEY=NUMBER"))?;
            let number: u64 = value
                .parse()
                .map_err(|_| format!("`{item}`: {value} is not a whole number"))?;
            if number == 0 {
                return Err(format!("`{item}`: a limit of 0 leaves nothing to run"));
            }
            match key {
                "memory" => limits.memory = number,
                "processes" => limits.processes = number,
                "cpu" => limits.cpu_seconds = number,
                "file" => limits.file_size = number,
                _ => return Err(format!("`{key}`: expected memory, processes, cpu or file")),
            }
        }
        Ok(limits)
    }

    /// As [`Limits::parse`] reads it.
    pub fn to_variable(&self) -> String {
        format!(
            "memory={},processes={},cpu={},file={}",
            self.memory, self.processes, self.cpu_seconds, self.file_size
        )
    }

    /// Sets them on the calling process, and no core files. Called in the
    /// child between `fork` and `exec`: setrlimit is a plain system call,
    /// safe there.
    fn apply(&self) -> io::Result<()> {
        let set = |resource, value| setrlimit(resource, value, value).map_err(io::Error::from);
        set(Resource::RLIMIT_AS, self.memory)?;
        set(Resource::RLIMIT_NPROC, self.processes)?;
        // The soft limit sends SIGXCPU, the hard one a second later SIGKILL
        // (a program that catches SIGXCPU cannot run on).
        setrlimit(Resource::RLIMIT_CPU, self.cpu_seconds, self.cpu_seconds + 1)
            .map_err(io::Error::from)?;
        set(Resource::RLIMIT_FSIZE, self.file_size)?;
        set(Resource::RLIMIT_CORE, 0)
    }

    /// Which limit stopped a program that ended with `status`, having
    /// written `stderr`, in words a student reads: "it used more than
    /// 1.0 GiB of memory". `None` when no limit explains it.
    pub fn explain(&self, status: ExitStatus, stderr: &str) -> Option<String> {
        let memory = || {
            format!(
                "it used more than {} of memory (the limit)",
                bytes_in_words(self.memory)
            )
        };
        let out_of_memory = [
            "memory allocation of",
            "Cannot allocate memory",
            "out of memory",
            "bad_alloc",
        ]
        .iter()
        .any(|sign| stderr.contains(sign));
        match status.signal() {
            Some(s) if s == Signal::SIGXCPU as i32 => Some(format!(
                "it used more than {} s of CPU time (the limit): a loop that never waits",
                self.cpu_seconds
            )),
            Some(s) if s == Signal::SIGKILL as i32 && stderr.is_empty() => None,
            Some(s) if s == Signal::SIGXFSZ as i32 => Some(format!(
                "it wrote a file larger than {} (the limit)",
                bytes_in_words(self.file_size)
            )),
            _ if out_of_memory => Some(memory()),
            _ if stderr.contains("Resource temporarily unavailable") && stderr.contains("fork") => {
                Some(format!(
                    "it could not fork: it reached the limit of {} processes at once",
                    self.processes
                ))
            }
            _ => None,
        }
    }
}

/// Where a supervised program's stdout and stderr go.
pub enum Output {
    /// Into pipes read into memory (bounded: [`HEAD`], [`TAIL`]).
    Captured,
    /// Into these files (the bench: a pipe's reader would cost CPU on the
    /// CPU being measured). [`Supervised::stdout`] and `stderr` then hold
    /// nothing.
    Files { stdout: File, stderr: File },
}

/// A running program, leader of its own process group, its output
/// captured. Dropping it kills the whole group and collects the leader's
/// exit status.
pub struct Supervised {
    child: Child,
    stdout: Arc<Capture>,
    stderr: Arc<Capture>,
    status: Option<ExitStatus>,
    /// The limits it runs under, if confined.
    limits: Option<Limits>,
}

/// How to start a program: everything but the command itself.
#[derive(Default)]
pub struct Start<'a> {
    pub output: Option<Output>,
    pub limits: Option<Limits>,
    pub watch: Option<(&'a str, Split, &'a Sender<Event>)>,
}

impl Supervised {
    /// Starts `command` in a new process group with its stdout and stderr
    /// captured. The caller decides about stdin (`Command` inherits it by
    /// default).
    pub fn start(command: &mut Command) -> io::Result<Supervised> {
        Supervised::start_with(command, Start::default())
    }

    /// As [`Supervised::start`], and every line (or write, see [`Split`])
    /// is also sent to `events` as it arrives, labelled with `label`.
    pub fn watched(
        command: &mut Command,
        label: &str,
        split: Split,
        events: &Sender<Event>,
    ) -> io::Result<Supervised> {
        Supervised::start_with(
            command,
            Start {
                watch: Some((label, split, events)),
                ..Start::default()
            },
        )
    }

    /// A program under test: as [`Supervised::start`], under `limits`.
    pub fn confined(command: &mut Command, limits: Limits) -> io::Result<Supervised> {
        Supervised::start_with(
            command,
            Start {
                limits: Some(limits),
                ..Start::default()
            },
        )
    }

    /// Starts `command` as `how` says.
    pub fn start_with(command: &mut Command, how: Start<'_>) -> io::Result<Supervised> {
        let _ = become_subreaper();
        command.process_group(0);
        let files = match how.output {
            Some(Output::Files { stdout, stderr }) => {
                command.stdout(stdout).stderr(stderr);
                true
            }
            Some(Output::Captured) | None => {
                command.stdout(Stdio::piped()).stderr(Stdio::piped());
                false
            }
        };
        if let Some(limits) = how.limits {
            // SAFETY: the closure runs in the child between fork() and
            // exec(), where only async-signal-safe calls are allowed:
            // setrlimit() is a plain system call, and `limits` is a copy
            // made before the fork.
            unsafe {
                command.pre_exec(move || limits.apply());
            }
        }
        let mut child = command.spawn()?;
        let watcher = |stream| {
            how.watch.map(|(label, split, events)| Watcher {
                events: events.clone(),
                label: label.to_string(),
                stream,
                split,
            })
        };
        let supervised = |child, stdout, stderr| Supervised {
            child,
            stdout,
            stderr,
            status: None,
            limits: how.limits,
        };
        if files {
            return Ok(supervised(
                child,
                Capture::elsewhere(Stream::Stdout),
                Capture::elsewhere(Stream::Stderr),
            ));
        }
        // Built before anything else can fail, so that a failure kills it.
        let piped = (child.stdout.take(), child.stderr.take());
        let (Some(stdout), Some(stderr)) = piped else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("the child's output was not piped"));
        };
        let captures = Capture::start(stdout.into(), Stream::Stdout, watcher(Stream::Stdout))
            .and_then(|out| {
                let err = Capture::start(stderr.into(), Stream::Stderr, watcher(Stream::Stderr))?;
                Ok((out, err))
            });
        match captures {
            Ok((stdout, stderr)) => Ok(supervised(child, stdout, stderr)),
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

impl Supervised {
    /// How it ended, in words a student reads, once it has: its exit
    /// status or the signal that killed it, and which limit stopped it if
    /// one did. `None` while it runs.
    pub fn ending(&mut self) -> Option<String> {
        if self.status.is_none() && self.has_exited() {
            self.status = self.child.wait().ok();
        }
        let status = self.status?;
        let stderr = String::from_utf8_lossy(&self.stderr.bytes()).into_owned();
        Some(describe_ending(status, &stderr, self.limits))
    }

    /// Its stdout and stderr as captured, shared: for whoever describes
    /// it after it is gone (a check's failure report).
    pub fn captures(&self) -> (Arc<Capture>, Arc<Capture>) {
        (Arc::clone(&self.stdout), Arc::clone(&self.stderr))
    }

    /// The limits it runs under, if it is confined.
    pub fn limits(&self) -> Option<Limits> {
        self.limits
    }
}

/// How a program that ended with `status`, having written `stderr`, ended,
/// in words a student reads, with the limit that stopped it if one did.
pub fn describe_ending(status: ExitStatus, stderr: &str, limits: Option<Limits>) -> String {
    let how = match (status.code(), status.signal()) {
        (Some(code), _) => format!("it exited with status {code}"),
        (None, Some(signal)) => match Signal::try_from(signal) {
            Ok(signal) => format!("it was killed by {signal}"),
            Err(_) => format!("it was killed by signal {signal}"),
        },
        (None, None) => format!("it ended ({status})"),
    };
    match limits.and_then(|l| l.explain(status, stderr)) {
        Some(limit) => format!("{how}: it was stopped because {limit}"),
        None => how,
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        self.finish();
    }
}

/// How a program run by [`run_to_end`] ended.
#[derive(Debug, Clone, Copy)]
pub enum Ended {
    /// It exited by itself, with this status.
    Exited(ExitStatus),
    /// It ran past its deadline and was killed.
    TimedOut,
    /// The caller's `interrupted` said stop (Ctrl-C); it was killed.
    Interrupted,
}

/// Runs `command` (stdin closed) in its own process group until it exits,
/// `deadline` passes, or `interrupted()` says stop, handing every output
/// line to `on_line`, which may move the deadline. Afterwards nothing of it
/// is left: its group is killed, and so is every orphan re-parented to us
/// ([`kill_orphans`]). While it runs, orphans that exit are reaped, so they
/// hold no process IDs.
pub fn run_to_end(
    command: &mut Command,
    mut deadline: std::time::Instant,
    interrupted: &dyn Fn() -> bool,
    mut on_line: impl FnMut(Stream, &str, &mut std::time::Instant),
) -> io::Result<Ended> {
    use std::sync::mpsc::{self, RecvTimeoutError};
    use std::time::Instant;
    /// How long output may keep arriving after the run was killed.
    const DRAIN: Duration = Duration::from_secs(5);
    let (sender, events) = mpsc::channel();
    command.stdin(Stdio::null());
    let mut run = Supervised::watched(command, "run", Split::Lines, &sender)?;
    drop(sender);

    let mut ended: Option<(Ended, Instant)> = None;
    let mut next_reap = Instant::now();
    loop {
        match events.recv_timeout(Duration::from_millis(50)) {
            Ok(Event {
                stream,
                line: Some(line),
                ..
            }) => on_line(stream, &line, &mut deadline),
            Ok(_) | Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {}
        }
        let now = Instant::now();
        match ended {
            None => {
                let why = if run.has_exited() {
                    None
                } else if now >= deadline {
                    Some(Ended::TimedOut)
                } else if interrupted() {
                    Some(Ended::Interrupted)
                } else {
                    if now >= next_reap {
                        reap_zombies(&[run.pid()]);
                        next_reap = now + Duration::from_millis(500);
                    }
                    continue;
                };
                let status = run.finish();
                kill_orphans();
                let how = match (why, status) {
                    (Some(how), _) => how,
                    (None, Some(status)) => Ended::Exited(status),
                    // Its status was collected elsewhere (it cannot be, as
                    // nothing else reaps it): count a failure.
                    (None, None) => {
                        Ended::Exited(std::os::unix::process::ExitStatusExt::from_raw(255 << 8))
                    }
                };
                ended = Some((how, now + DRAIN));
            }
            // Everything that could write to the pipes is dead now; read
            // what they still hold, until both are closed.
            Some((how, drained_by)) => {
                let closed = run.stdout().is_closed() && run.stderr().is_closed();
                if closed || now >= drained_by {
                    // Once both are closed, every line has been sent.
                    for event in events.try_iter() {
                        if let Some(line) = event.line {
                            on_line(event.stream, &line, &mut deadline);
                        }
                    }
                    return Ok(how);
                }
            }
        }
    }
}

/// Makes this process a child subreaper (`prctl(PR_SET_CHILD_SUBREAPER)`),
/// once: a process below it whose parent dies is re-parented to it, not to
/// init, so it stays findable (and killable) even after `setsid()`.
/// Starting a program does this anyway; a caller that wants to know
/// whether it worked calls it first.
pub fn become_subreaper() -> Result<(), String> {
    static RESULT: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    RESULT
        .get_or_init(|| {
            nix::sys::prctl::set_child_subreaper(true)
                .map_err(|e| format!("cannot become a child subreaper: {e}"))
        })
        .clone()
}

/// This process's own ID, as `/proc` and `kill` know it.
fn my_pid() -> i32 {
    std::process::id() as i32
}

/// Collects the exit status of this process's children that are zombies,
/// except those in `keep` (children someone still waits for). Returns how
/// many. Orphans that exited after being re-parented to us would otherwise
/// each hold a process ID until we end.
pub fn reap_zombies(keep: &[i32]) -> usize {
    procfs::children_of(my_pid())
        .into_iter()
        .filter(|p| p.is_zombie() && !keep.contains(&p.pid))
        .filter(|p| reap(p.pid))
        .count()
}

/// Kills every child of this process and reaps them, until none is left or
/// a few seconds have passed. Meant for the end of a run, when every
/// program started has been finished and the only children left are
/// orphans re-parented to us. Killing one may orphan its own children,
/// which then become ours: the loop finds them on the next round. Returns
/// how many it reaped.
pub fn kill_orphans() -> usize {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut reaped = 0;
    loop {
        let children = procfs::children_of(my_pid());
        if children.is_empty() || std::time::Instant::now() >= deadline {
            return reaped;
        }
        for child in children {
            let _ = kill(Pid::from_raw(child.pid), Signal::SIGKILL);
            if reap(child.pid) {
                reaped += 1;
            }
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// `waitpid(pid, WNOHANG)`: whether `pid` was collected just now.
fn reap(pid: i32) -> bool {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) | Err(_) => false,
        Ok(_) => true,
    }
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
