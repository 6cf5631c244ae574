//! Demo 06: one process serving many clients at once with `select()`: its
//! single PID and thread, its descriptors in /proc growing with each
//! client, the clients' lines interleaved in its output, and a client
//! stalled mid-line that holds up nobody.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{ChildStdin, Command, Stdio};

use crate::demo::stage::describe;
use crate::demo::{Demo, Program, Tracing, WAIT};
use crate::lessons::Lesson;
use lesson_testing::procfs as procs;
use lesson_testing::supervisor::Stream;

/// `--trace`: select() and what the server does with what it reports,
/// and each client's connection, half-close and close.
pub const TRACING: Tracing = Tracing {
    more_calls: &["listen", "accept", "accept4", "select", "pselect6"],
    signals: &["SIGTERM"],
    handlers: &[],
    files: &[],
    notes: &[],
};

/// How many `select-client` processes talk to the server at once.
const CLIENTS: usize = 6;

/// One running `select-client`, with the stdin we type into.
struct Client {
    label: String,
    run: Program,
    stdin: Option<ChildStdin>,
}

/// Demo 06: many clients, one process.
pub fn run(demo: &mut Demo, lesson: &Lesson) -> Result<(), String> {
    demo.narrate(
        "Lesson 06: select-server serves every client from ONE process with ONE thread. Each round \
         of its loop asks select() which sockets are ready, and serves only those, so it never waits \
         on any one client.",
    )?;
    demo.build(lesson)?;
    let (mut server, port) = demo.start_server_waiting_in(
        "select-server",
        &[],
        "It now sleeps in select(), watching one descriptor: the listening socket.",
    )?;
    let pid = server.pid();
    demo.narrate(&format!(
        "Its open descriptors, from /proc/{pid}/fd (like `ls -l /proc/{pid}/fd`):"
    ))?;
    let known = Known::from_start(pid);
    show_descriptors(demo, pid, &known);
    demo.narrate(
        "The spare is /dev/null, kept open on purpose: if the process ever runs out of descriptors, \
         the server closes it to accept, and close at once, the connection it cannot serve.",
    )?;

    demo.narrate(
        "First a client that misbehaves: xtask connects and sends `half a li`, half a line without \
         its newline, then nothing more. A server that waited for the end of the line would now be \
         stuck.",
    )?;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut staller = TcpStream::connect_timeout(&address, WAIT)
        .map_err(|e| format!("connecting to the server: {e}"))?;
    staller
        .write_all(b"half a li")
        .map_err(|e| format!("sending half a line: {e}"))?;

    demo.narrate(&format!(
        "Now {CLIENTS} clients at once: `select-client localhost {port}`, each its own process. Their \
         stdin stays open, so they stay connected."
    ))?;
    let path = demo.binary("select-client")?;
    let mut clients = Vec::new();
    for i in 1..=CLIENTS {
        let label = format!("client {i}");
        let mut command = Command::new(&path);
        command.args(["localhost", &port.to_string()]);
        let mut run = demo.spawn(&label, command, Stdio::piped())?;
        let stdin = run.take_stdin();
        clients.push(Client { label, run, stdin });
    }
    let connected = 1 + CLIENTS;
    demo.wait_for("the server to accept every connection", |_| {
        procs_sockets(pid) > connected
    })?;

    demo.narrate(
        "We type a line into each client, client 1 to client 6, without waiting in between. Each \
         client is a process of its own and sends its line when it gets to run, so the lines may \
         reach the server in any order. The server prints each line as it arrives and answers \
         that client alone:",
    )?;
    type_round(demo, &mut clients, "Hello from", 1)?;
    let forward: Vec<usize> = (1..=CLIENTS).collect();
    tell_order(demo, "Hello from", &forward)?;
    demo.narrate(
        "A second round, typed the other way, client 6 to client 1. Again the server's output \
         follows the order the lines arrive in, whoever sends them:",
    )?;
    clients.reverse();
    type_round(demo, &mut clients, "Second line from", 2)?;
    clients.reverse();
    let backward: Vec<usize> = (1..=CLIENTS).rev().collect();
    tell_order(demo, "Second line from", &backward)?;

    let threads = match procs::threads(pid) {
        Some(1) => "one thread".to_string(),
        Some(n) => format!("{n} threads"),
        None => "an unknown number of threads".to_string(),
    };
    let children = procs::children_of(pid).len();
    demo.narrate(&format!(
        "All of that was one process: PID {pid}, with {threads} and {children} child processes \
         (lesson 02 would have forked {CLIENTS} children by now). Its descriptors now:"
    ))?;
    show_descriptors(demo, pid, &known);
    demo.narrate(&format!(
        "One socket per connection, {connected} in all: the stalled one and the {CLIENTS} clients. Each \
         round, the server puts them in select()'s sets, and select() hands back the ready ones."
    ))?;

    demo.narrate(
        "The stalled client at last sends the rest, `ne` and a newline. Its first half waited in \
         the server's input buffer for that client all along:",
    )?;
    staller
        .write_all(b"ne\n")
        .map_err(|e| format!("sending the rest of the line: {e}"))?;
    demo.wait_for("the server to print the completed line", |log| {
        log.has_line("server", Stream::Stdout, "Here is the message: half a line")
    })?;
    let reply = read_reply(&mut staller)?;
    demo.narrate(&format!("xtask reads its reply: {:?}.", reply.trim_end()))?;

    demo.narrate(
        "Now the clients' input ends (we close their stdin). Each client half-closes its connection \
         (shutdown SHUT_WR: \"I will send no more\"); the server reads end of file, sends what is \
         still pending, closes that connection; the client sees it closed and exits 0.",
    )?;
    for client in &mut clients {
        client.stdin = None;
    }
    drop(staller);
    for client in &mut clients {
        let label = client.label.clone();
        let run = &mut client.run;
        demo.wait_for(&format!("{label} to exit"), |log| {
            run.has_exited() && log.closed(&label)
        })?;
        match run.finish() {
            Some(status) if status.success() => {}
            status => return Err(format!("{label} failed ({})", describe(status))),
        }
    }
    demo.wait_for("the server to close every connection", |_| {
        procs_sockets(pid) == 1
    })?;
    demo.narrate(
        "Every client has exited 0. The server's descriptors are back to where they began:",
    )?;
    show_descriptors(demo, pid, &known);

    let status = demo.stop_server(&mut server)?;
    demo.narrate(&format!("The server is gone ({status})."))?;
    Ok(())
}

/// Each client in turn types `"{words} client N"`; waits until the server
/// has printed every line of this round and each client its reply.
fn type_round(
    demo: &mut Demo,
    clients: &mut [Client],
    words: &str,
    round: usize,
) -> Result<(), String> {
    for client in clients.iter_mut() {
        let line = format!("{words} {}\n", client.label);
        if let Some(stdin) = &mut client.stdin {
            stdin
                .write_all(line.as_bytes())
                .map_err(|e| format!("typing into {}: {e}", client.label))?;
        }
    }
    let prefix = format!("Here is the message: {words} client");
    let labels: Vec<String> = clients.iter().map(|c| c.label.clone()).collect();
    demo.wait_for("every line and every reply", |log| {
        log.count("server", Stream::Stdout, &prefix) >= labels.len()
            && labels
                .iter()
                .all(|label| log.count(label, Stream::Stdout, "I got your message:") >= round)
    })
}

/// Says in which order the server printed this round's lines, as the
/// screen shows it, against the order they were typed in (`typed`).
fn tell_order(demo: &mut Demo, words: &str, typed: &[usize]) -> Result<(), String> {
    let prefix = format!("Here is the message: {words} client ");
    let order: Vec<&str> = demo
        .log
        .lines("server", Stream::Stdout, &prefix)
        .map(|line| &line[prefix.len()..])
        .collect();
    let typed: Vec<String> = typed.iter().map(usize::to_string).collect();
    let listed = order.join(", ");
    let text = if order == typed {
        format!(
            "The server printed them in the order {listed}, the order we typed them in, this \
             time: nothing makes it so."
        )
    } else {
        format!(
            "The server printed them in the order {listed}, not the order we typed them in: each \
             client sends when it gets to run, and each round select() reports whichever sockets \
             have data by then."
        )
    };
    demo.narrate(&text)
}

/// How many sockets `pid` has open.
fn procs_sockets(pid: i32) -> usize {
    lesson_testing::procfs::socket_inodes(pid).len()
}

/// What the server's descriptors were for before any client came: the
/// standard streams, the listening socket (its first socket), the spare
/// (the /dev/null it opened next), and whatever it inherited.
struct Known {
    listener: Option<u32>,
    spare: Option<u32>,
    inherited: Vec<u32>,
}

impl Known {
    fn from_start(pid: i32) -> Known {
        let at_start = procs::descriptors(pid);
        let listener = at_start
            .iter()
            .find(|(_, target)| target.starts_with("socket:"))
            .map(|(fd, _)| *fd);
        let spare = at_start
            .iter()
            .find(|(fd, target)| Some(*fd) > listener && target == "/dev/null")
            .map(|(fd, _)| *fd);
        let inherited = at_start
            .iter()
            .map(|(fd, _)| *fd)
            .filter(|&fd| fd > 2 && Some(fd) != listener && Some(fd) != spare)
            .collect();
        Known {
            listener,
            spare,
            inherited,
        }
    }

    fn what(&self, fd: u32, target: &str) -> &'static str {
        match fd {
            0 => "stdin",
            1 => "stdout",
            2 => "stderr",
            _ if Some(fd) == self.listener => "the listening socket",
            _ if Some(fd) == self.spare => "the spare descriptor",
            _ if self.inherited.contains(&fd) => "inherited from whoever started xtask",
            _ if target.starts_with("socket:") => "a client's connection",
            _ => "",
        }
    }
}

/// Shows `/proc/PID/fd` as `ls -l` would, each descriptor with what it
/// is for.
fn show_descriptors(demo: &mut Demo, pid: i32, known: &Known) {
    let mut rows = vec![format!("    {:>4}  {:<18} WHAT", "FD", "TARGET")];
    for (fd, target) in procs::descriptors(pid) {
        rows.push(format!(
            "    {fd:>4}  {target:<18} {}",
            known.what(fd, &target)
        ));
    }
    demo.show_rows(&rows);
}

/// Reads one reply line from the stalled client's connection.
fn read_reply(stream: &mut TcpStream) -> Result<String, String> {
    stream
        .set_read_timeout(Some(WAIT))
        .map_err(|e| format!("setting a read timeout: {e}"))?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\n") {
        match stream.read(&mut byte) {
            Ok(1) => reply.push(byte[0]),
            Ok(_) => break,
            // A read with a timeout is never restarted after a signal.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("reading the reply: {e}")),
        }
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}
