//! The stage every demo plays on: programs started with their output
//! labelled and shown as it arrives (and, under `--trace`, their system
//! calls), narration lines laid out for the screen and paced for the
//! class, waits bounded by [`WAIT`], and the steps the demos share
//! (building a lesson, starting its server, a silent client, a row of
//! clients, the table of a server's children as `ps` would show it).
//!
//! The order on screen is the order things happened, as far as the demo
//! can know it: a program's output line is shown after every system call
//! strace had written before it arrived, and a narration after all output
//! and calls that had arrived (under `--trace`, once strace has been quiet
//! for a moment, as it writes each call when it returns).

use std::collections::{HashSet, VecDeque};
use std::io::{self, IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::keyboard::{Keyboard, Typed};
use super::screen;
use super::trace::{Follower, Item, Note, Tracer, Tracing, What, NOTES};
use super::{BEAT, CLIENTS, PACE_LIMIT, REFRESHES, REFRESH_EVERY, TYPING_TIME, WAIT};
use lesson_testing::server::{bound_address, Address, Transport};

use crate::lessons::{self, Lesson};
use crate::term::{self, Color, Style};
use lesson_testing::procfs::{self as procs, Process};
use lesson_testing::supervisor::{Event, Split, Stream, Supervised};

/// Every output line the demo has shown, for the steps to wait on.
#[derive(Default)]
pub struct Log {
    lines: Vec<(String, Stream, String)>,
    /// The streams that have reached end of file.
    closed: HashSet<(String, Stream)>,
    /// Under `--trace`, every system call shown: who made it, and the call.
    calls: Vec<(String, String)>,
}

impl Log {
    /// How many lines `label` wrote on `stream` that start with `prefix`.
    pub fn count(&self, label: &str, stream: Stream, prefix: &str) -> usize {
        self.lines
            .iter()
            .filter(|(l, s, text)| l == label && *s == stream && text.starts_with(prefix))
            .count()
    }

    pub fn has_line(&self, label: &str, stream: Stream, prefix: &str) -> bool {
        self.count(label, stream, prefix) > 0
    }

    /// The lines `label` wrote on `stream` that start with `prefix`, in
    /// the order they were shown.
    pub fn lines<'a>(
        &'a self,
        label: &'a str,
        stream: Stream,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.lines
            .iter()
            .filter(move |(l, s, text)| l == label && *s == stream && text.starts_with(prefix))
            .map(|(_, _, text)| text.as_str())
    }

    /// Whether both of `label`'s output streams are closed: all it wrote
    /// has been shown.
    pub fn closed(&self, label: &str) -> bool {
        [Stream::Stdout, Stream::Stderr]
            .iter()
            .all(|&s| self.closed.contains(&(label.to_string(), s)))
    }

    /// The system calls shown for `label` that start with `prefix`
    /// (`child` for a fork server's children), in order.
    pub fn call_lines<'a>(
        &'a self,
        label: &'a str,
        prefix: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        self.calls
            .iter()
            .filter(move |(l, text)| {
                let who = if label == "child" {
                    l.starts_with("child ")
                } else {
                    l == label
                };
                who && text.starts_with(prefix)
            })
            .map(|(_, text)| text.as_str())
    }

    /// How many system calls shown for `label` start with `prefix`
    /// (`clone(`, `--- SIGCHLD`); `child` counts a fork server's children.
    pub fn calls(&self, label: &str, prefix: &str) -> usize {
        self.call_lines(label, prefix).count()
    }
}

/// How the instructor asked for the demo.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `--interactive`: the instructor types demo 01's message.
    pub interactive: bool,
    /// `--pace`: Enter before each narrated step.
    pub pace: bool,
    /// `--trace`: the calls to show, if strace can show them.
    pub trace: Option<Tracing>,
}

/// A lesson's program as the demo started it. Under `--trace` the
/// supervised process is strace and the program is its child: the
/// program's own PID is what `/proc`, the kernel's socket tables and
/// `kill` need, and strace ends with the program's own exit status.
pub struct Program {
    run: Supervised,
    pid: i32,
    traced: bool,
}

impl Program {
    /// The program's own process ID.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The write end of its stdin, if it was piped.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.run.take_stdin()
    }

    /// Whether the program has exited (it may not be reaped yet).
    pub fn has_exited(&self) -> bool {
        if self.traced {
            self.run.has_exited() || procs::process(self.pid).is_none_or(|p| p.is_zombie())
        } else {
            self.run.has_exited()
        }
    }

    /// Sends `signal` to the program alone, as `kill PID` would.
    pub fn signal(&self, signal: Signal) {
        if self.traced {
            if !self.has_exited() {
                let _ = kill(Pid::from_raw(self.pid), signal);
            }
        } else {
            self.run.signal(signal);
        }
    }

    /// Waits up to `limit` for its exit status (under `--trace`, strace's,
    /// which is the program's), without touching the processes it left
    /// behind; `None` if it still runs.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        self.run.wait_for_exit(limit)
    }

    /// Kills whatever is left of its process group, collects its exit
    /// status, and reaps the group's orphans (the supervisor's `finish`).
    /// Under `--trace`, strace first gets a moment to end by itself after
    /// the program, so the status is the program's, not a SIGKILL.
    pub fn finish(&mut self) -> Option<ExitStatus> {
        if self.traced && self.has_exited() {
            self.run.wait_for_exit(Duration::from_secs(2));
        }
        self.run.finish()
    }
}

/// What a demo needs as it goes: where output arrives, what was shown.
pub struct Demo {
    style: Style,
    /// Whether stdout is a terminal, where the table of children can be
    /// redrawn in place (elsewhere it is printed again when it changes).
    live: bool,
    sender: Sender<Event>,
    events: Receiver<Event>,
    pub log: Log,
    /// `--interactive`: the instructor types demo 01's message.
    pub interactive: bool,
    /// `--pace`: Enter before each narrated step.
    pace: bool,
    /// The pause before each step without `--pace`: [`BEAT`] on a
    /// terminal, none elsewhere (a log or a test need no time to read).
    beat: Duration,
    /// How many narrations were shown: the first needs no pause.
    narrated: usize,
    keyboard: Keyboard,
    /// Under `--trace`: strace, each traced program's file, and the notes
    /// not yet said.
    tracer: Option<Tracer>,
    followers: Vec<Follower>,
    notes: Vec<Note>,
    /// The labels of the traced programs.
    traced: HashSet<String>,
    /// What strace saw, not yet shown, and when the demo read it.
    calls: Vec<(Item, Instant)>,
    /// Output lines (and ends of streams) not yet shown, as they arrived.
    arrived: VecDeque<(Event, Instant)>,
    /// Why the instructor's keyboard stopped the demo, if it did (end of
    /// input at a `--pace` wait): a clean end, not a failure.
    pub stopped: Option<String>,
    /// Where cargo put the lesson's binaries.
    bin_dir: PathBuf,
}

impl Demo {
    pub fn new(options: Options) -> Demo {
        let (sender, events) = mpsc::channel();
        let live = io::stdout().is_terminal();
        let mut demo = Demo {
            interactive: options.interactive,
            pace: options.pace,
            beat: if live && !options.pace {
                BEAT
            } else {
                Duration::ZERO
            },
            narrated: 0,
            keyboard: Keyboard::default(),
            style: Style::for_stdout(),
            live,
            sender,
            events,
            log: Log::default(),
            tracer: None,
            followers: Vec::new(),
            notes: Vec::new(),
            traced: HashSet::new(),
            calls: Vec::new(),
            arrived: VecDeque::new(),
            stopped: None,
            bin_dir: lessons::debug_dir(),
        };
        if let Some(tracing) = options.trace {
            match Tracer::new(tracing) {
                Ok(tracer) => {
                    demo.notes = tracing.notes.iter().chain(NOTES).copied().collect();
                    demo.tracer = Some(tracer);
                }
                Err(why) => demo.say(&why),
            }
        }
        demo
    }

    /// Whether the programs run under strace.
    pub fn tracing(&self) -> bool {
        self.tracer.is_some()
    }

    /// Prints a narration line, wrapped to fit the screen, at once.
    fn say(&self, text: &str) {
        for line in screen::narration(text, screen::width()) {
            println!("{}", self.style.paint(Color::Cyan, &line));
        }
        let _ = io::stdout().flush();
    }

    /// A narrated step: what has happened so far is shown first; then,
    /// before every narration but the first, the class gets its moment
    /// (Enter with `--pace`, else a short pause on a terminal); then the
    /// narration.
    pub fn narrate(&mut self, text: &str) -> Result<(), String> {
        self.catch_up();
        if self.narrated > 0 {
            if self.pace {
                self.wait_for_enter()?;
                self.catch_up();
            } else if !self.beat.is_zero() {
                self.sleep(self.beat)?;
                self.catch_up();
            }
        }
        self.narrated += 1;
        self.say(text);
        Ok(())
    }

    /// A narration inside a step whose timing is the point (a client's
    /// timeout running out): no pause before it, whatever the pacing, or
    /// what it says would be over before it is shown.
    pub fn narrate_now(&mut self, text: &str) {
        self.catch_up();
        self.narrated += 1;
        self.say(text);
    }

    /// `--pace`: waits for a line on stdin, at most [`PACE_LIMIT`]. At the
    /// end of input, or at the limit, the demo stops ([`Demo::stopped`]).
    fn wait_for_enter(&mut self) -> Result<(), String> {
        let prompt = self.live && io::stdin().is_terminal();
        if prompt {
            print!("{}", self.style.paint(Color::Dim, "    [Enter: next step]"));
            let _ = io::stdout().flush();
        }
        let typed = self.keyboard.line(PACE_LIMIT);
        if prompt {
            // The prompt is cleared: after Enter, which the terminal echoed
            // as a new line, it is the line above; after Ctrl-D or Ctrl-C,
            // the line the cursor is on.
            let up = if matches!(typed, Typed::Line(_)) {
                "\x1b[1A"
            } else {
                ""
            };
            print!("\r{up}\x1b[2K");
            let _ = io::stdout().flush();
        }
        let stop = |demo: &mut Demo, why: String| {
            demo.stopped = Some(why.clone());
            Err(why)
        };
        match typed {
            Typed::Line(_) => Ok(()),
            Typed::End => stop(self, "end of input: the demo stops here".to_string()),
            Typed::TimedOut => stop(
                self,
                format!(
                    "no Enter within {} minutes: the demo stops here",
                    PACE_LIMIT.as_secs() / 60
                ),
            ),
            Typed::Interrupted => Err("interrupted".to_string()),
        }
    }

    /// Shows what has arrived; under `--trace`, waits until strace has
    /// been quiet for a moment (it writes a call as the call returns, an
    /// instant after the program may have shown its effect), and shows
    /// what it held back to see what followed.
    fn catch_up(&mut self) {
        /// How long strace must have written nothing.
        const QUIET: Duration = Duration::from_millis(60);
        /// The longest the demo waits for that.
        const MOST: Duration = Duration::from_secs(1);
        self.pump(false);
        if self.followers.is_empty() {
            return;
        }
        let start = Instant::now();
        let mut quiet_since = start;
        while quiet_since.elapsed() < QUIET && start.elapsed() < MOST {
            thread::sleep(Duration::from_millis(10));
            if self.pump(false) > 0 {
                quiet_since = Instant::now();
            }
        }
        self.pump(true);
    }

    /// Takes in the output and the system calls that have arrived, and
    /// shows what can be shown, in time order: each call as it returned,
    /// each output line where strace saw its `write` (under `--trace`), or
    /// as it arrived (without, or when strace shows no such write within
    /// `LATE`). With `flush`, shows everything. Returns how many lines it
    /// showed.
    fn pump(&mut self, flush: bool) -> usize {
        /// How long an output line waits for its write to show in the
        /// trace, and a write for its output line.
        const LATE: Duration = Duration::from_millis(200);
        while let Ok(event) = self.events.try_recv() {
            self.arrived.push_back((event, Instant::now()));
        }
        let now = Instant::now();
        for follower in &mut self.followers {
            self.calls
                .extend(follower.poll(flush).into_iter().map(|item| (item, now)));
        }
        // Stable: what one process did keeps its order.
        self.calls.sort_by(|(a, _), (b, _)| a.at.total_cmp(&b.at));
        let mut shown = 0;
        while let Some((item, seen)) = self.calls.first() {
            match &item.what {
                What::Call(_) => {
                    let (item, _) = self.calls.remove(0);
                    self.show_call(item);
                    shown += 1;
                }
                What::Wrote(stream) => {
                    let (who, stream, late) = (item.who.clone(), *stream, seen.elapsed() >= LATE);
                    let line = self
                        .arrived
                        .iter()
                        .position(|(e, _)| e.label == who && e.stream == stream);
                    match line {
                        Some(at) => {
                            let (event, _) = self.arrived.remove(at).expect("just found");
                            // The end of the stream instead: the line this
                            // write wrote came with another.
                            if event.line.is_some() {
                                self.calls.remove(0);
                            }
                            shown += self.show(event);
                        }
                        None if flush || late => {
                            self.calls.remove(0);
                        }
                        None => break,
                    }
                }
            }
        }
        // Output lines not placed by a write: a program not traced, or
        // a write strace has not shown (yet). Each stream keeps its order.
        let mut waiting: HashSet<(String, Stream)> = HashSet::new();
        let mut at = 0;
        while at < self.arrived.len() {
            let (event, since) = &self.arrived[at];
            let key = (event.label.clone(), event.stream);
            let free = event.line.is_none()
                || flush
                || since.elapsed() >= LATE
                || !self.traced.contains(&event.label);
            if waiting.contains(&key) || !free {
                waiting.insert(key);
                at += 1;
            } else {
                let (event, _) = self.arrived.remove(at).expect("in range");
                shown += self.show(event);
            }
        }
        shown
    }

    /// Shows one system call, and the note about it the first time.
    fn show_call(&mut self, item: Item) {
        let What::Call(text) = item.what else {
            return;
        };
        for (label, line) in screen::labelled(&item.who, '>', &text, screen::width()) {
            println!("{}{line}", self.style.paint(side_color(&item.who), &label));
        }
        if let Some(at) = self.notes.iter().position(|n| n.is_about(&text)) {
            let note = self.notes.remove(at);
            self.say(note.text);
        }
        self.log.calls.push((item.who, text));
    }

    /// Prints one output line labelled with who wrote it, and remembers
    /// it; returns how many lines it showed (0 for the end of a stream).
    fn show(&mut self, event: Event) -> usize {
        let Some(text) = event.line else {
            self.log.closed.insert((event.label, event.stream));
            return 0;
        };
        let who = match event.stream {
            Stream::Stdout => event.label.clone(),
            Stream::Stderr => format!("{} (stderr)", event.label),
        };
        for (label, line) in screen::labelled(&who, '|', &text, screen::width()) {
            println!(
                "{}{line}",
                self.style.paint(side_color(&event.label), &label)
            );
        }
        self.log.lines.push((event.label, event.stream, text));
        1
    }

    /// Shows output as it arrives until `done` holds, for at most [`WAIT`];
    /// `what` names the step in the error if it does not.
    pub fn wait_for(
        &mut self,
        what: &str,
        mut done: impl FnMut(&Log) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + WAIT;
        loop {
            // Whatever has arrived is shown first, so the narration that
            // follows a step comes after the lines that show it.
            self.pump(false);
            if done(&self.log) {
                return Ok(());
            }
            if term::interrupted() {
                return Err("interrupted".to_string());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "gave up after {} s waiting for {what}",
                    WAIT.as_secs()
                ));
            }
            if let Ok(event) = self.events.recv_timeout(Duration::from_millis(20)) {
                self.arrived.push_back((event, Instant::now()));
            }
        }
    }

    /// Sleeps, but wakes up for Ctrl-C. Output arriving meanwhile waits.
    pub fn sleep(&self, time: Duration) -> Result<(), String> {
        let deadline = Instant::now() + time;
        while Instant::now() < deadline {
            if term::interrupted() {
                return Err("interrupted".to_string());
            }
            thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// `cargo build -p PACKAGE --bins`; under `--trace`, then says what the
    /// `>` lines are.
    pub fn build(&mut self, lesson: &Lesson) -> Result<(), String> {
        self.narrate(&format!(
            "Building lesson {}'s binaries: cargo build -p {} --bins",
            lesson.id(),
            lesson.package()
        ))?;
        let status = Command::new(lessons::cargo())
            .args(["build", "--quiet", "-p", &lesson.package(), "--bins"])
            .current_dir(lessons::workspace_root())
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!(
                "building lesson {} failed ({})",
                lesson.id(),
                describe(Some(status))
            ));
        }
        if let Some(tracer) = &self.tracer {
            let calls = tracer
                .tracing()
                .calls()
                .filter(|c| !matches!(*c, "accept" | "fork" | "vfork" | "clone3" | "select"))
                .collect::<Vec<_>>()
                .join(", ");
            self.narrate(&format!(
                "--trace: each program runs under `strace -f`. A line marked `>` is a system call \
                 it made, shown when the call returns, with what it returned after `=`; a line \
                 marked `|` is what it printed. Shown: {calls}; reads, writes and closes on \
                 sockets only."
            ))?;
        }
        Ok(())
    }

    /// Where cargo put binary `name`.
    pub fn binary(&self, name: &str) -> Result<PathBuf, String> {
        let path = self.bin_dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{} was not found after the build (is CARGO_TARGET_DIR set elsewhere?)",
                path.display()
            ))
        }
    }

    /// Starts `command` in its own process group through the supervisor,
    /// its output shown under `label`, its stdin `stdin`; under `--trace`,
    /// under strace.
    pub fn spawn(
        &mut self,
        label: &str,
        mut command: Command,
        stdin: Stdio,
    ) -> Result<Program, String> {
        let name = command.get_program().to_owned();
        let cannot = |e: io::Error| format!("cannot start {name:?}: {e}");
        let Some(tracer) = &mut self.tracer else {
            command.stdin(stdin);
            let run = Supervised::watched(&mut command, label, Split::Writes, &self.sender)
                .map_err(cannot)?;
            let pid = run.pid();
            return Ok(Program {
                run,
                pid,
                traced: false,
            });
        };
        let (mut traced, mut follower) = tracer.command(label, &command)?;
        traced.stdin(stdin);
        let mut run =
            Supervised::watched(&mut traced, label, Split::Writes, &self.sender).map_err(cannot)?;
        // strace forks the program at once, after a child or two of its
        // own that test what the kernel's ptrace offers: the program is the
        // child that has exec()ed it.
        let program = std::fs::canonicalize(&name).unwrap_or_else(|_| PathBuf::from(&name));
        let mut pid = None;
        lesson_testing::wait_until(WAIT, || {
            pid = procs::children_of(run.pid())
                .into_iter()
                .find(|child| procs::executable(child.pid).as_ref() == Some(&program))
                .map(|child| child.pid);
            pid.is_some() || run.has_exited()
        });
        // A program that ended at once (a server refused its address)
        // may be gone before it was found: strace's file names it.
        let pid = pid.or_else(|| follower.first_pid());
        let Some(pid) = pid else {
            return Err(format!(
                "strace did not start {name:?} ({})",
                describe(run.finish())
            ));
        };
        follower.set_pid(pid);
        self.traced.insert(follower.label().to_string());
        self.followers.push(follower);
        Ok(Program {
            run,
            pid,
            traced: true,
        })
    }

    /// Stops `server` with SIGTERM, saying so, waits for it to exit, and
    /// describes how it ended; then finishes it (its group's orphans
    /// reaped).
    pub fn stop_server(&mut self, server: &mut Program) -> Result<String, String> {
        let status = self.terminate(server)?;
        server.finish();
        Ok(status)
    }

    /// Stops `server` with SIGTERM, saying so, waits for it to exit, and
    /// describes how it ended. The processes it leaves behind are not
    /// touched: [`Program::finish`] reaps them.
    pub fn terminate(&mut self, server: &mut Program) -> Result<String, String> {
        let pid = server.pid();
        self.narrate(&format!(
            "We stop the server with SIGTERM, as `kill {pid}` would."
        ))?;
        server.signal(Signal::SIGTERM);
        self.wait_for("the server to exit", |_| server.has_exited())?;
        Ok(describe(server.wait_for_exit(WAIT)))
    }

    /// Starts server `name` on port 0 and waits for its readiness line
    /// (`listening on 0.0.0.0:PORT`); returns it and its port.
    pub fn start_server(&mut self, name: &str, extra: &[&str]) -> Result<(Program, u16), String> {
        self.start_server_waiting_in(
            name,
            extra,
            "It now blocks in accept() until a client connects.",
        )
    }

    /// As [`Demo::start_server`], then narrates `waiting`: what the server
    /// blocks in from now on (a `select()` server waits in `select()`, not
    /// in `accept()`).
    pub fn start_server_waiting_in(
        &mut self,
        name: &str,
        extra: &[&str],
        waiting: &str,
    ) -> Result<(Program, u16), String> {
        self.start_port_server(name, extra, |port| {
            format!("The server is bound and listening: the kernel chose port {port}. {waiting}")
        })
    }

    /// Starts datagram server `name` on port 0 and waits for its readiness
    /// line, narrated for a socket that is only bound: a datagram server
    /// has no `listen()` and no `accept()`. Returns the server and its port.
    pub fn start_datagram_server(
        &mut self,
        name: &str,
        extra: &[&str],
    ) -> Result<(Program, u16), String> {
        self.start_port_server(name, extra, |port| {
            format!(
                "The server's socket is bound to port {port}. No listen(), no accept(): it now \
                 blocks in recvfrom() until a datagram arrives."
            )
        })
    }

    /// Starts `name 0 EXTRA...`, waits until the kernel's tables show it
    /// ready, and narrates `ready(port)`.
    fn start_port_server(
        &mut self,
        name: &str,
        extra: &[&str],
        ready: impl FnOnce(u16) -> String,
    ) -> Result<(Program, u16), String> {
        let path = self.binary(name)?;
        let shown = [&[name, "0"], extra].concat().join(" ");
        self.narrate(&format!(
            "Starting `{shown}`. Port 0 asks the kernel to choose a free port; the server says which \
             one on stderr once it is ready."
        ))?;
        let transport = if name.starts_with("udp") {
            Transport::Udp
        } else {
            Transport::Tcp
        };
        let mut command = Command::new(path);
        command.arg("0").args(extra);
        let server = self.spawn("server", command, Stdio::null())?;
        match self.wait_until_ready(&server, "server", transport)? {
            Some(Address::Tcp(port) | Address::Udp(port)) => {
                self.narrate(&ready(port))?;
                Ok((server, port))
            }
            _ => {
                let mut server = server;
                Err(format!(
                    "{name} ended before it was ready ({})",
                    describe(server.finish())
                ))
            }
        }
    }

    /// Shows output until the kernel's tables show `server` ready (the
    /// harness's one readiness wait), then until its readiness line has
    /// been shown too, so that the narration after it comes after the
    /// line; `None` if the server ended first.
    fn wait_until_ready(
        &mut self,
        server: &Program,
        label: &str,
        transport: Transport,
    ) -> Result<Option<Address>, String> {
        let mut address = None;
        let lines_before = self.log.lines.len();
        self.wait_for("the server's socket in the kernel's tables", |log| {
            if address.is_none() {
                address = bound_address(server.pid(), transport);
            }
            let line_shown = log.lines[lines_before..].iter().any(|(who, stream, line)| {
                who == label && *stream == Stream::Stderr && line.starts_with("listening on")
            });
            (address.is_some() && line_shown) || server.has_exited()
        })?;
        Ok(address)
    }

    /// Opens a TCP connection to the server and sends nothing; waits until
    /// the server has forked a child for it (under `--trace`, until its
    /// `clone()` has been shown too).
    pub fn connect_silently(&mut self, server: &Program, port: u16) -> Result<TcpStream, String> {
        self.narrate(
            "First a silent client: xtask opens a plain TCP connection and sends nothing.",
        )?;
        let clones_before = self.log.calls("server", "clone(");
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stream = TcpStream::connect_timeout(&address, WAIT)
            .map_err(|e| format!("connecting to the server: {e}"))?;
        let pid = server.pid();
        let tracing = self.tracing();
        self.wait_for("the server to fork a child for the silent client", |log| {
            !procs::children_of(pid).is_empty()
                && (!tracing || log.calls("server", "clone(") > clones_before)
        })?;
        let child = procs::children_of(pid)
            .first()
            .map(|p| p.pid)
            .unwrap_or_default();
        self.narrate(&format!(
            "The server accepted it and fork()ed child {child} to serve it. That child now blocks in \
             read() for a message that does not come; the parent went straight back to accept()."
        ))?;
        Ok(stream)
    }

    /// Runs [`CLIENTS`] clients one after another, each sending one line.
    pub fn run_clients(&mut self, client: &str, port: u16) -> Result<(), String> {
        let path = self.binary(client)?;
        self.narrate(&format!(
            "Now {CLIENTS} clients, one after another (`{client} localhost {port}`), each sending one \
             line, while the silent connection stays open:"
        ))?;
        for i in 1..=CLIENTS {
            let label = format!("client {i}");
            let message = format!("Hello from client {i}");
            let mut command = Command::new(&path);
            command.args(["localhost", &port.to_string()]);
            let mut running = self.spawn(&label, command, Stdio::piped())?;
            if let Some(mut stdin) = running.take_stdin() {
                let _ = stdin.write_all(format!("{message}\n").as_bytes());
            }
            let served = format!("Here is the message: {message}");
            self.wait_for(&format!("{label} to be served"), |log| {
                running.has_exited()
                    && log.closed(&label)
                    && log.has_line("server", Stream::Stdout, &served)
            })?;
            match running.finish() {
                Some(status) if status.success() => {}
                status => return Err(format!("{label} failed ({})", describe(status))),
            }
        }
        Ok(())
    }

    /// Shows the children of `parent` from /proc, refreshed [`REFRESHES`]
    /// times; returns what the last look found.
    pub fn watch_children(&mut self, parent: i32) -> Result<Vec<Process>, String> {
        self.catch_up();
        let mut shown: Option<Vec<String>> = None;
        let mut children = Vec::new();
        for round in 1..=REFRESHES {
            children = procs::children_of(parent);
            let rows = table(&children, &self.style);
            if self.live {
                if let Some(previous) = &shown {
                    // Up to the first row of the previous table; clear below.
                    print!("\x1b[{}A\x1b[J", previous.len() + 1);
                }
                println!(
                    "{}",
                    self.style
                        .paint(Color::Dim, &format!("    (refresh {round} of {REFRESHES})"))
                );
                rows.iter().for_each(|row| println!("{row}"));
            } else if shown.as_ref() != Some(&rows) {
                rows.iter().for_each(|row| println!("{row}"));
            }
            let _ = io::stdout().flush();
            shown = Some(rows);
            if round < REFRESHES {
                self.sleep(REFRESH_EVERY)?;
            }
        }
        Ok(children)
    }

    /// Shows `processes` as `ps` would, after whatever has arrived.
    pub fn show_table(&mut self, processes: &[Process]) {
        self.catch_up();
        table(processes, &self.style)
            .iter()
            .for_each(|row| println!("{row}"));
    }

    /// Shows `rows` (a table the demo made), each cut to the screen.
    pub fn show_rows(&mut self, rows: &[String]) {
        self.catch_up();
        let width = screen::width();
        for row in rows {
            println!("{}", screen::fit(row, width));
        }
    }

    /// Runs `program ARGS...` in `dir` through the supervisor, as typed
    /// at a prompt there, and shows the command and all it printed.
    pub fn show_command(&mut self, dir: &Path, program: &str, args: &[&str]) -> Result<(), String> {
        self.catch_up();
        let typed = [&[program], args].concat().join(" ");
        println!(
            "{}",
            self.style.paint(Color::Dim, &format!("    $ {typed}"))
        );
        let mut command = Command::new(program);
        command.args(args).current_dir(dir).stdin(Stdio::null());
        let mut run =
            Supervised::start(&mut command).map_err(|e| format!("cannot run {program}: {e}"))?;
        if run.wait_for_exit(WAIT).is_none() {
            return Err(format!("{typed} did not end within {} s", WAIT.as_secs()));
        }
        let width = screen::width();
        for line in run.stdout().lines().iter().chain(&run.stderr().lines()) {
            for part in screen::wrap(line, width - 4) {
                println!("    {part}");
            }
        }
        run.finish();
        Ok(())
    }

    /// Asks the instructor for the client's message (`--interactive`):
    /// the line typed, or an empty one at the end of input.
    pub fn ask(&mut self, prompt: &str) -> Result<String, String> {
        self.narrate(prompt)?;
        print!("> ");
        let _ = io::stdout().flush();
        match self.keyboard.line(TYPING_TIME) {
            Typed::Line(line) => {
                if !self.live || !io::stdin().is_terminal() {
                    // The typed line did not echo in a log or a pipe.
                    println!("{}", line.trim_end());
                }
                Ok(line)
            }
            Typed::End => {
                println!();
                Ok(String::new())
            }
            Typed::Interrupted => Err("interrupted".to_string()),
            Typed::TimedOut => Err(format!(
                "no message typed within {} s",
                TYPING_TIME.as_secs()
            )),
        }
    }

    /// Starts Unix-domain server `name` at `path` and waits for its
    /// readiness line (`listening on PATH`), as [`Demo::start_server`]
    /// does for a port; an error if it exits first. `label` names its
    /// output.
    pub fn start_unix_server(
        &mut self,
        label: &str,
        name: &str,
        path: &Path,
        flags: &[&str],
    ) -> Result<Program, String> {
        let binary = self.binary(name)?;
        let mut command = Command::new(binary);
        command.arg(path).args(flags);
        let server = self.spawn(label, command, Stdio::null())?;
        match self.wait_until_ready(&server, label, Transport::Unix)? {
            Some(_) => Ok(server),
            None => {
                let mut server = server;
                Err(format!(
                    "{name} ended before it was listening ({})",
                    describe(server.finish())
                ))
            }
        }
    }
}

/// The colour of a side's label: the server's and its children's yellow,
/// the clients' magenta.
fn side_color(label: &str) -> Color {
    if label.starts_with("server") || label.starts_with("child ") {
        Color::Yellow
    } else {
        Color::Magenta
    }
}

/// Processes as `ps -o pid,ppid,stat,comm` shows them, zombies in red,
/// each row cut to the screen.
pub fn table(processes: &[Process], style: &Style) -> Vec<String> {
    let width = screen::width();
    let mut rows = vec![format!(
        "    {:>7} {:>7} {:<4} {}",
        "PID", "PPID", "STAT", "COMMAND"
    )];
    if processes.is_empty() {
        rows.push("    (none)".to_string());
    }
    for p in processes {
        let defunct = if p.is_zombie() { " <defunct>" } else { "" };
        let row = screen::fit(
            &format!(
                "    {:>7} {:>7} {:<4} {}{defunct}",
                p.pid, p.parent, p.state, p.command
            ),
            width,
        );
        rows.push(if p.is_zombie() {
            style.paint(Color::Red, &row)
        } else {
            row
        });
    }
    rows
}

/// `exit status 0`, or `killed by SIGTERM`.
pub fn describe(status: Option<ExitStatus>) -> String {
    match status {
        None => "exit status unknown".to_string(),
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit status {code}"),
            (None, Some(signal)) => match Signal::try_from(signal) {
                Ok(signal) => format!("killed by {}", signal.as_str()),
                Err(_) => format!("killed by signal {signal}"),
            },
            _ => status.to_string(),
        },
    }
}
