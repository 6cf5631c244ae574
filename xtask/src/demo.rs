//! `cargo xtask demo NN`: a lesson at work, for class. Both sides' output
//! is shown as it happens, each line labelled with who wrote it, and a
//! narration line (`==>`) says what the students are seeing at each step.
//!
//! Every demo drives the binaries exactly as the contract describes them,
//! so it doubles as a tour of the contract. Everything it starts runs in
//! process groups of its own and is killed when the demo ends, also on an
//! error or Ctrl-C ([`Spawned`] guards); every wait is bounded by [`WAIT`].

use std::collections::HashSet;
use std::io::{self, BufRead, IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::lessons::{self, Lesson};
use crate::procs::{self, Process};
use crate::spawn::{Event, Spawned, Split, Stream};
use crate::term::{self, Color, Style};
use crate::{usage_error, EXIT_USAGE};

crate::help_text! {
    /// Show a lesson at work, for class: both sides' output, narrated.
    ///
    /// usage: cargo xtask demo NN [--interactive]
    ///
    /// NN is 01, 02 or 03. The demo builds the lesson's binaries, starts its
    /// server on a port the kernel chooses, runs clients against it and
    /// shows every line each side writes, labelled `server` or `client`,
    /// with a line starting `==>` saying what happens at each step:
    ///
    ///   01  one server, one client, one message; the server exits by itself
    ///   02  fork-server: five clients while a silent one stays connected;
    ///       the server's children in /proc, zombies (Z) among them; what
    ///       becomes of them when the server stops
    ///   03  reaping-server --reap handler, then --reap ignore: the same
    ///       clients, and no zombies
    ///
    /// Every wait gives up after 10 s. Whatever the demo started is killed
    /// when it ends, also on an error or Ctrl-C.
    ///
    /// options:
    ///   --interactive  (01 only) you type the client's message
    pub const HELP;
}

/// The longest any step may take before the demo gives up. Generous: a
/// step normally takes milliseconds.
const WAIT: Duration = Duration::from_secs(10);

/// How many clients demos 02 and 03 run.
const CLIENTS: usize = 5;

/// What the client "types" in demo 01 unless `--interactive`.
const SCRIPTED_MESSAGE: &str = "Hello from the demo\n";

/// How long the instructor may take to type a message (`--interactive`).
const TYPING_TIME: Duration = Duration::from_secs(300);

/// The table of a server's children is refreshed this many times, this
/// often (about 2 s in all), so students see that the zombies stay.
const REFRESHES: u32 = 5;
const REFRESH_EVERY: Duration = Duration::from_millis(500);

/// `cargo xtask demo ...`
pub fn run(args: &[String]) -> ExitCode {
    let mut interactive = false;
    let mut names = Vec::new();
    for arg in args {
        match arg.as_str() {
            "-h" | "--help" => {
                crate::print_help(HELP);
                return ExitCode::SUCCESS;
            }
            "--interactive" => interactive = true,
            _ if arg.starts_with('-') => {
                return usage_error(&format!("unknown option `{arg}`"), HELP)
            }
            _ => names.push(arg),
        }
    }
    let [name] = names.as_slice() else {
        return usage_error("give one lesson: 01, 02 or 03", HELP);
    };
    let available = lessons::discover();
    let number = match name.parse::<u8>() {
        Ok(n) => n,
        Err(_) => match lessons::resolve(name, &available) {
            Ok(lesson) => lesson.number,
            Err(e) => return usage_error(&e, HELP),
        },
    };
    if !(1..=3).contains(&number) {
        if (1..=lessons::LAST).contains(&number) {
            eprintln!("error: lesson {number:02} has no demo yet (demos exist for 01, 02 and 03)");
            return ExitCode::from(EXIT_USAGE);
        }
        return usage_error(&format!("unknown lesson `{name}`"), HELP);
    }
    if interactive && number != 1 {
        return usage_error("--interactive applies to demo 01 only", HELP);
    }
    let lesson = match lessons::resolve(&number.to_string(), &available) {
        Ok(lesson) => lesson.clone(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };

    term::catch_interrupts();
    if let Err(e) = procs::become_subreaper() {
        eprintln!("warning: {e}");
    }
    let mut demo = Demo::new();
    let result = match number {
        1 => demo_01(&mut demo, &lesson, interactive),
        2 => demo_02(&mut demo, &lesson),
        _ => demo_03(&mut demo, &lesson),
    };
    // The demos' guards have killed what they started; anything that
    // escaped its group was re-parented to us and dies here.
    procs::kill_orphans();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) if term::interrupted() => {
            eprintln!("\ninterrupted: everything the demo started has been stopped");
            ExitCode::from(term::EXIT_INTERRUPTED)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Demo 01: one server, one client, one message.
fn demo_01(demo: &mut Demo, lesson: &Lesson, interactive: bool) -> Result<(), String> {
    demo.narrate("Lesson 01: the tutorial's first server and client. The server serves ONE client, then exits.");
    demo.build(lesson)?;
    let (mut server, port) = demo.start_server("tcp-server", &[])?;

    demo.narrate(&format!(
        "Starting `tcp-client localhost {port}`: it resolves `localhost`, connects, and asks for a message on stdout."
    ));
    let mut command = Command::new(demo.binary("tcp-client")?);
    command
        .args(["localhost", &port.to_string()])
        .stdin(Stdio::piped());
    let mut client = demo.spawn("client", &mut command)?;
    demo.wait_for("the client's prompt", |log| {
        log.has_line("client", Stream::Stdout, "Please enter the message")
    })?;

    let message = if interactive {
        demo.ask("Type the client's message and press Enter: ")?
    } else {
        demo.narrate(&format!(
            "We type {:?} and Enter on the client's stdin; the client sends the line, newline included, with one write().",
            SCRIPTED_MESSAGE.trim_end()
        ));
        SCRIPTED_MESSAGE.to_string()
    };
    if message.is_empty() {
        demo.narrate(
            "End of input: the client sends nothing and half-closes its side of the connection.",
        );
    }
    if let Some(mut stdin) = client.take_stdin() {
        // If the client is already gone, its exit status will say why.
        let _ = stdin.write_all(message.as_bytes());
    }

    demo.wait_for("the server to print the message", |log| {
        log.has_line("server", Stream::Stdout, "Here is the message:")
    })?;
    demo.narrate(
        "accept() gave the server a new socket for this client; one read() on it returned the message, \
         which the server printed. It now write()s its 18-byte answer on the same socket.",
    );
    demo.wait_for("the client to print the reply", |log| {
        log.has_line("client", Stream::Stdout, "I got your message")
    })?;
    demo.narrate(
        "The client's read() returned the answer, and the client printed it on its own line.",
    );

    demo.wait_for("both programs to exit", |log| {
        server.has_exited() && client.has_exited() && log.closed("server") && log.closed("client")
    })?;
    let server_status = describe(server.finish());
    let client_status = describe(client.finish());
    demo.narrate(&format!(
        "The server ended by itself ({server_status}): it serves one connection, and closing its two \
         sockets was all that was left to do. The client ended too ({client_status})."
    ));
    Ok(())
}

/// Demo 02: a fork server's children, and the zombies it leaves.
fn demo_02(demo: &mut Demo, lesson: &Lesson) -> Result<(), String> {
    demo.narrate(
        "Lesson 02: fork-server runs until stopped and fork()s one child process per connection. \
         On purpose, it never waits for (reaps) its children.",
    );
    demo.build(lesson)?;
    let (mut server, port) = demo.start_server("fork-server", &[])?;
    let silent = demo.connect_silently(&server, port)?;
    demo.run_clients("fork-client", port)?;
    demo.narrate(&format!(
        "All {CLIENTS} clients were served while the silent client kept its connection open: each \
         connection has a process of its own."
    ));

    demo.narrate(&format!(
        "The server's children as /proc shows them (like `ps -o pid,ppid,stat,comm --ppid {}`), \
         refreshed every {} s:",
        server.pid(),
        REFRESH_EVERY.as_secs_f64()
    ));
    let children = demo.watch_children(server.pid())?;
    let zombies = children.iter().filter(|p| p.is_zombie()).count();
    demo.narrate(&format!(
        "STAT Z means zombie. {zombies} children served their client and exited, but the kernel keeps \
         each one's exit status, and its PID, until the parent collects it with wait() or waitpid(). \
         fork-server never does, so they stay for as long as it runs. The one in S still serves the \
         silent client."
    ));

    demo.narrate(
        "We close the silent connection: its child's read() returns 0 (end of file), so it prints an \
         empty message, answers, exits, and becomes a zombie like the others.",
    );
    drop(silent);
    let expected = CLIENTS + 1;
    demo.wait_for("the silent client's server child to finish", |log| {
        log.count("server", Stream::Stdout, "Here is the message:") >= expected
    })?;
    let pid = server.pid();
    demo.wait_for("all the server's children to be zombies", |_| {
        let children = procs::children_of(pid);
        children.len() >= expected && children.iter().all(Process::is_zombie)
    })?;
    demo.show_table(&procs::children_of(pid));

    let status = demo.stop_server(&mut server)?;
    let me = procs::my_pid();
    demo.narrate(&format!(
        "The server is gone ({status}). Its zombies lost their parent, so the kernel re-parented them \
         to the nearest \"subreaper\" ancestor: xtask (PID {me}), which declared itself one with \
         prctl(PR_SET_CHILD_SUBREAPER). Without one, init (PID 1) would inherit them. They are \
         xtask's children now:"
    ));
    demo.show_table(&procs::children_of(me));
    let reaped = procs::reap_zombies(&[]);
    demo.narrate(&format!(
        "xtask collects their exit statuses with waitpid(), as init would: {reaped} zombies reaped. \
         xtask's children now:"
    ));
    demo.show_table(&procs::children_of(me));
    Ok(())
}

/// Demo 03: the same clients against both ways of reaping.
fn demo_03(demo: &mut Demo, lesson: &Lesson) -> Result<(), String> {
    demo.narrate(
        "Lesson 03: reaping-server serves like fork-server, but reaps its children, in one of two \
         ways chosen with --reap.",
    );
    demo.build(lesson)?;
    let strategies = [
        (
            "handler",
            "--reap handler (the default): a SIGCHLD handler calls waitpid(-1, WNOHANG) in a loop \
             until no exited child is left. A loop, because signals coalesce: while one SIGCHLD is \
             pending, more children exiting add no second one.",
        ),
        (
            "ignore",
            "--reap ignore: SIGCHLD set to SIG_IGN. That tells the kernel this parent will never ask \
             for its children's exit statuses, so an exiting child is removed at once and never \
             becomes a zombie (the tutorial's AIX way, in POSIX since 2001).",
        ),
    ];
    for (strategy, explanation) in strategies {
        demo.narrate(explanation);
        let (mut server, port) = demo.start_server("reaping-server", &["--reap", strategy])?;
        let pid = server.pid();
        let silent = demo.connect_silently(&server, port)?;
        demo.run_clients("reaping-client", port)?;

        demo.narrate(&format!(
            "The server's children as /proc shows them (like `ps -o pid,ppid,stat,comm --ppid {pid}`), \
             refreshed every {} s:",
            REFRESH_EVERY.as_secs_f64()
        ));
        let children = demo.watch_children(pid)?;
        let zombies = children.iter().filter(|p| p.is_zombie()).count();
        if zombies == 0 {
            demo.narrate(&format!(
                "No Z: each of the {CLIENTS} children was reaped as soon as it exited. Only the child \
                 serving the silent client is left (S)."
            ));
        } else {
            demo.narrate(&format!(
                "{zombies} zombies (Z) after 2 s: this server does not reap as `--reap {strategy}` promises!"
            ));
        }

        demo.narrate(
            "We close the silent connection; its child answers, exits, and is reaped too:",
        );
        drop(silent);
        demo.wait_for("the silent client's server child to finish", |log| {
            // The five clients' messages, and the silent one's empty one.
            log.count("server", Stream::Stdout, "Here is the message:") > CLIENTS
        })?;
        demo.wait_for("the last child to be reaped", |_| {
            procs::children_of(pid).is_empty()
        })?;
        demo.show_table(&procs::children_of(pid));

        let status = demo.stop_server(&mut server)?;
        demo.narrate(&format!(
            "The server is gone ({status}), and it left no zombies behind."
        ));
        // Its output has a label of its own; start the next one afresh.
        demo.log = Log::default();
    }
    demo.narrate(
        "Both ways leave no zombies. The handler still lets the server learn how each child ended \
         (waitpid() returns its status); SIG_IGN gives that up for simplicity.",
    );
    Ok(())
}

/// Every output line the demo has shown, for the steps to wait on.
#[derive(Default)]
struct Log {
    lines: Vec<(String, Stream, String)>,
    /// The streams that have reached end of file.
    closed: HashSet<(String, Stream)>,
}

impl Log {
    /// How many lines `label` wrote on `stream` that start with `prefix`.
    fn count(&self, label: &str, stream: Stream, prefix: &str) -> usize {
        self.lines
            .iter()
            .filter(|(l, s, text)| l == label && *s == stream && text.starts_with(prefix))
            .count()
    }

    fn has_line(&self, label: &str, stream: Stream, prefix: &str) -> bool {
        self.count(label, stream, prefix) > 0
    }

    /// The first line `label` wrote on `stream` that starts with `prefix`.
    fn find(&self, label: &str, stream: Stream, prefix: &str) -> Option<&str> {
        self.lines
            .iter()
            .find(|(l, s, text)| l == label && *s == stream && text.starts_with(prefix))
            .map(|(_, _, text)| text.as_str())
    }

    /// Whether both of `label`'s output streams are closed: all it wrote
    /// has been shown.
    fn closed(&self, label: &str) -> bool {
        [Stream::Stdout, Stream::Stderr]
            .iter()
            .all(|&s| self.closed.contains(&(label.to_string(), s)))
    }
}

/// What a demo needs as it goes: where output arrives, what was shown.
struct Demo {
    style: Style,
    /// Whether stdout is a terminal, where the table of children can be
    /// redrawn in place (elsewhere it is printed again when it changes).
    live: bool,
    sender: Sender<Event>,
    events: Receiver<Event>,
    log: Log,
    /// Where cargo put the lesson's binaries.
    bin_dir: PathBuf,
}

impl Demo {
    fn new() -> Demo {
        let (sender, events) = mpsc::channel();
        Demo {
            style: Style::for_stdout(),
            live: io::stdout().is_terminal(),
            sender,
            events,
            log: Log::default(),
            bin_dir: lessons::debug_dir(),
        }
    }

    /// Prints a narration line, wrapped to fit a terminal.
    fn narrate(&self, text: &str) {
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
    fn wait_for(&mut self, what: &str, mut done: impl FnMut(&Log) -> bool) -> Result<(), String> {
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
    fn sleep(&self, time: Duration) -> Result<(), String> {
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
    fn build(&self, lesson: &Lesson) -> Result<(), String> {
        self.narrate(&format!(
            "Building lesson {}'s binaries: cargo build -p {} --bins",
            lesson.id(),
            lesson.package
        ));
        let status = Command::new(lessons::cargo())
            .args(["build", "--quiet", "-p", &lesson.package, "--bins"])
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
    fn binary(&self, name: &str) -> Result<PathBuf, String> {
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
    fn spawn(&mut self, label: &str, command: &mut Command) -> Result<Spawned, String> {
        Spawned::start(command, label, Split::Writes, &self.sender)
            .map_err(|e| format!("cannot start {:?}: {e}", command.get_program()))
    }

    /// Starts server `name` on port 0 and waits for its readiness line
    /// (`listening on 0.0.0.0:PORT`); returns it and its port.
    /// Stops `server` with SIGTERM, saying so, waits for it to exit, and
    /// describes how it ended.
    fn stop_server(&mut self, server: &mut Spawned) -> Result<String, String> {
        let pid = server.pid();
        self.narrate(&format!(
            "We stop the server with SIGTERM, as `kill {pid}` would."
        ));
        server.signal(Signal::SIGTERM);
        self.wait_for("the server to exit", |_| server.has_exited())?;
        Ok(describe(server.finish()))
    }

    fn start_server(&mut self, name: &str, extra: &[&str]) -> Result<(Spawned, u16), String> {
        let path = self.binary(name)?;
        let shown = [&[name, "0"], extra].concat().join(" ");
        self.narrate(&format!(
            "Starting `{shown}`. Port 0 asks the kernel to choose a free port; the server says which \
             one on stderr once it is listening."
        ));
        let mut command = Command::new(path);
        command.arg("0").args(extra).stdin(Stdio::null());
        let server = self.spawn("server", &mut command)?;
        let mut port = None;
        self.wait_for("the server's line `listening on 0.0.0.0:PORT`", |log| {
            port = log
                .find("server", Stream::Stderr, "listening on ")
                .and_then(|line| line.rsplit(':').next()?.trim().parse::<u16>().ok());
            port.is_some() || server.has_exited()
        })?;
        let Some(port) = port else {
            let mut server = server;
            return Err(format!(
                "{name} ended before it was listening ({})",
                describe(server.finish())
            ));
        };
        self.narrate(&format!(
            "The server is bound and listening: the kernel chose port {port}. It now blocks in \
             accept() until a client connects."
        ));
        Ok((server, port))
    }

    /// Opens a TCP connection to the server and sends nothing; waits until
    /// the server has forked a child for it.
    fn connect_silently(&mut self, server: &Spawned, port: u16) -> Result<TcpStream, String> {
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
    fn run_clients(&mut self, client: &str, port: u16) -> Result<(), String> {
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
    fn watch_children(&mut self, parent: i32) -> Result<Vec<Process>, String> {
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

    fn show_table(&self, processes: &[Process]) {
        table(processes, &self.style)
            .iter()
            .for_each(|row| println!("{row}"));
    }

    /// Asks the instructor for the client's message (`--interactive`).
    fn ask(&mut self, prompt: &str) -> Result<String, String> {
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
fn table(processes: &[Process], style: &Style) -> Vec<String> {
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
fn describe(status: Option<ExitStatus>) -> String {
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
