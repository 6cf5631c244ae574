//! Demo 01: the tutorial's first server and client; one message, and the
//! server exits by itself.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::demo::stage::describe;
use crate::demo::{Demo, Tracing};
use crate::lessons::Lesson;
use lesson_testing::supervisor::Stream;

/// `--trace`: a socket's life on each side.
pub const TRACING: Tracing = Tracing {
    more_calls: &["listen", "accept", "accept4"],
    signals: &[],
    handlers: &[],
    files: &[],
    notes: &[],
};

/// What the client "types" unless `--interactive`.
const SCRIPTED_MESSAGE: &str = "Hello from the demo\n";

/// Demo 01: one server, one client, one message.
pub fn run(demo: &mut Demo, lesson: &Lesson) -> Result<(), String> {
    demo.narrate("Lesson 01: the tutorial's first server and client. The server serves ONE client, then exits.")?;
    demo.build(lesson)?;
    let (mut server, port) = demo.start_server("tcp-server", &[])?;

    demo.narrate(&format!(
        "Starting `tcp-client localhost {port}`: it resolves `localhost`, connects, and asks for a message on stdout."
    ))?;
    let mut command = Command::new(demo.binary("tcp-client")?);
    command.args(["localhost", &port.to_string()]);
    let mut client = demo.spawn("client", command, Stdio::piped())?;
    demo.wait_for("the client's prompt", |log| {
        log.has_line("client", Stream::Stdout, "Please enter the message")
    })?;

    let message = if demo.interactive {
        demo.ask("Type the client's message and press Enter: ")?
    } else {
        demo.narrate(&format!(
            "We type {:?} and Enter on the client's stdin; the client sends the line, newline included, with one write().",
            SCRIPTED_MESSAGE.trim_end()
        ))?;
        SCRIPTED_MESSAGE.to_string()
    };
    if message.is_empty() {
        demo.narrate(
            "End of input: the client sends nothing and half-closes its side of the connection.",
        )?;
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
         which the server printed; then it write()s its 18-byte answer on that same socket.",
    )?;
    demo.wait_for("the client to print the reply", |log| {
        log.has_line("client", Stream::Stdout, "I got your message")
    })?;
    demo.narrate(
        "The client's read() returned the answer, and the client printed it on its own line.",
    )?;

    demo.wait_for("both programs to exit", |log| {
        server.has_exited() && client.has_exited() && log.closed("server") && log.closed("client")
    })?;
    let server_status = describe(server.finish());
    let client_status = describe(client.finish());
    demo.narrate(&format!(
        "The server ended by itself ({server_status}): it serves one connection, and closing its two \
         sockets was all that was left to do. The client ended too ({client_status})."
    ))?;
    Ok(())
}
