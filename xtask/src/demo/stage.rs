//! The stage every demo plays on: programs started with their output
//! labelled and shown as it arrives, narration lines, waits bounded by
//! [`WAIT`], and the steps the demos share (building a lesson, starting
//! its server, a silent client, a row of clients, the table of a
//! server's children as `ps` would show it).

use std::collections::HashSet;
use std::io::{self, BufRead, IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::{CLIENTS, REFRESHES, REFRESH_EVERY, TYPING_TIME, WAIT};
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

    /// The first line `label` wrote on `stream` that starts with `prefix`.
    pub fn find(&self, label: &str, stream: Stream, prefix: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|(l, s, text)| l == label && *s == stream && text.starts_with(prefix))
            .map(|(_, _, text)| text.as_str())
    }

    /// Whether both of `label`'s output streams are closed: all it wrote
    /// has been shown.
    pub fn closed(&self, label: &str) -> bool {
        [Stream::Stdout, Stream::Stderr]
            .iter()
            .all(|&s| self.closed.contains(&(label.to_string(), s)))
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
    /// Where cargo put the lesson's binaries.
    bin_dir: PathBuf,
}

impl Demo {
    pub fn new(interactive: bool) -> Demo {
        let (sender, events) = mpsc::channel();
        Demo {
            interactive,
            style: Style::for_stdout(),
            live: io::stdout().is_terminal(),
            sender,
            events,
            log: Log::default(),
            bin_dir: lessons::debug_dir(),
        }
    }

    /// Prints a narration line, wrapped to fit a terminal.
    pub fn narrate(&self, text: &str) {
        let mut lines = vec![String::new()];
        for word in text.split_whitespace() {
            let line = lines.last_mut().expect("never empty");
            if !line.is_empty() && line.len() + 1 + word.len() > 92 {
                lines.push(word.to_string());
            } else {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(word);
            }
        }
        for (i, line) in lines.iter().enumerate() {
            let lead = if i == 0 { "==> " } else { "    " };
            println!(
                "{}",
                self.style.paint(Color::Cyan, &format!("{lead}{line}"))
            );
        }
    }

    /// Prints one output line labelled with who wrote it, and remembers it.
    fn show(&mut self, event: Event) {
        let Some(text) = event.line else {
            self.log.closed.insert((event.label, event.stream));
            return;
        };
        let who = match event.stream {
            Stream::Stdout => event.label.clone(),
            Stream::Stderr => format!("{} (stderr)", event.label),
        };
        let color = if event.label == "server" {
            Color::Yellow
        } else {
            Color::Magenta
        };
        println!(
            "  {} | {text}",
            self.style.paint(color, &format!("{who:<17}"))
        );
        self.log.lines.push((event.label, event.stream, text));
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
            while let Ok(event) = self.events.try_recv() {
                self.show(event);
            }
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
                self.show(event);
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

    /// `cargo build -p PACKAGE --bins`.
    pub fn build(&self, lesson: &Lesson) -> Result<(), String> {
        self.narrate(&format!(
            "Building lesson {}'s binaries: cargo build -p {} --bins",
            lesson.id(),
            lesson.package()
        ));
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

    /// Starts `command` in its own process group, its output shown under
    /// `label`.
    pub fn spawn(&mut self, label: &str, command: &mut Command) -> Result<Supervised, String> {
        Supervised::watched(command, label, Split::Writes, &self.sender)
            .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))
    }

    /// Stops `server` with SIGTERM, saying so, waits for it to exit, and
    /// describes how it ended.
    pub fn stop_server(&mut self, server: &mut Supervised) -> Result<String, String> {
        let pid = server.pid();
        self.narrate(&format!(
            "We stop the server with SIGTERM, as `kill {pid}` would."
        ));
        server.signal(Signal::SIGTERM);
        self.wait_for("the server to exit", |_| server.has_exited())?;
        Ok(describe(server.finish()))
    }

    /// Starts server `name` on port 0 and waits for its readiness line
    /// (`listening on 0.0.0.0:PORT`); returns it and its port.
    pub fn start_server(
        &mut self,
        name: &str,
        extra: &[&str],
    ) -> Result<(Supervised, u16), String> {
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
    ) -> Result<(Supervised, u16), String> {
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
    ) -> Result<(Supervised, u16), String> {
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
    ) -> Result<(Supervised, u16), String> {
        let path = self.binary(name)?;
        let shown = [&[name, "0"], extra].concat().join(" ");
        self.narrate(&format!(
            "Starting `{shown}`. Port 0 asks the kernel to choose a free port; the server says which \
             one on stderr once it is ready."
        ));
        let transport = if name.starts_with("udp") {
            Transport::Udp
        } else {
            Transport::Tcp
        };
        let mut command = Command::new(path);
        command.arg("0").args(extra).stdin(Stdio::null());
        let server = self.spawn("server", &mut command)?;
        match self.wait_until_ready(&server, "server", transport)? {
            Some(Address::Tcp(port) | Address::Udp(port)) => {
                self.narrate(&ready(port));
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
        server: &Supervised,
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
    /// the server has forked a child for it.
    pub fn connect_silently(
        &mut self,
        server: &Supervised,
        port: u16,
    ) -> Result<TcpStream, String> {
        self.narrate(
            "First a silent client: xtask opens a plain TCP connection and sends nothing.",
        );
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stream = TcpStream::connect_timeout(&address, WAIT)
            .map_err(|e| format!("connecting to the server: {e}"))?;
        let pid = server.pid();
        self.wait_for("the server to fork a child for the silent client", |_| {
            !procs::children_of(pid).is_empty()
        })?;
        let child = procs::children_of(pid)
            .first()
            .map(|p| p.pid)
            .unwrap_or_default();
        self.narrate(&format!(
            "The server accepted it and fork()ed child {child} to serve it. That child now blocks in \
             read() for a message that does not come; the parent went straight back to accept()."
        ));
        Ok(stream)
    }

    /// Runs [`CLIENTS`] clients one after another, each sending one line.
    pub fn run_clients(&mut self, client: &str, port: u16) -> Result<(), String> {
        let path = self.binary(client)?;
        self.narrate(&format!(
            "Now {CLIENTS} clients, one after another (`{client} localhost {port}`), each sending one \
             line, while the silent connection stays open:"
        ));
        for i in 1..=CLIENTS {
            let label = format!("client {i}");
            let message = format!("Hello from client {i}");
            let mut command = Command::new(&path);
            command
                .args(["localhost", &port.to_string()])
                .stdin(Stdio::piped());
            let mut running = self.spawn(&label, &mut command)?;
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

    pub fn show_table(&self, processes: &[Process]) {
        table(processes, &self.style)
            .iter()
            .for_each(|row| println!("{row}"));
    }

    /// Asks the instructor for the client's message (`--interactive`).
    pub fn ask(&mut self, prompt: &str) -> Result<String, String> {
        self.narrate(prompt);
        print!("> ");
        let _ = io::stdout().flush();
        // A thread reads, so that Ctrl-C can still end the wait.
        let (sender, typed) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let _ = sender.send(io::stdin().lock().read_line(&mut line).map(|_| line));
        });
        let deadline = Instant::now() + TYPING_TIME;
        loop {
            match typed.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(line)) => {
                    if !self.live {
                        // The typed line did not echo in a log or a pipe.
                        println!("{}", line.trim_end());
                    }
                    return Ok(line);
                }
                Ok(Err(e)) => return Err(format!("reading the message: {e}")),
                Err(_) if term::interrupted() => return Err("interrupted".to_string()),
                Err(_) if Instant::now() >= deadline => {
                    return Err(format!(
                        "no message typed within {} s",
                        TYPING_TIME.as_secs()
                    ))
                }
                Err(_) => {}
            }
        }
    }
}

/// Processes as `ps -o pid,ppid,stat,comm` shows them, zombies in red.
pub fn table(processes: &[Process], style: &Style) -> Vec<String> {
    let mut rows = vec![format!(
        "    {:>7} {:>7} {:<4} {}",
        "PID", "PPID", "STAT", "COMMAND"
    )];
    if processes.is_empty() {
        rows.push("    (none)".to_string());
    }
    for p in processes {
        let defunct = if p.is_zombie() { " <defunct>" } else { "" };
        let row = format!(
            "    {:>7} {:>7} {:<4} {}{defunct}",
            p.pid, p.parent, p.state, p.command
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

impl Demo {
    /// Shows `command` as typed at a shell prompt, then `output`, the line
    /// it would print (computed by the demo itself).
    pub fn show_command_output(&self, command: &str, output: &str) {
        println!(
            "{}",
            self.style.paint(Color::Dim, &format!("    $ {command}"))
        );
        println!("    {output}");
    }

    /// Starts Unix-domain server `name` at `path` and waits for its
    /// readiness line (`listening on PATH`), as [`Demo::start_server`]
    /// does for a port; an error if it exits first. `label` names its
    /// output.
    pub fn start_unix_server(
        &mut self,
        label: &str,
        name: &str,
        path: &std::path::Path,
        flags: &[&str],
    ) -> Result<Supervised, String> {
        let binary = self.binary(name)?;
        let mut command = Command::new(binary);
        command.arg(path).args(flags).stdin(Stdio::null());
        let server = self.spawn(label, &mut command)?;
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
