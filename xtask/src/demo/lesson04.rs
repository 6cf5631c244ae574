//! Demo 04: datagrams. Several datagrams in, as many lines out, each
//! answered; then a datagram lost on purpose and the client sending its
//! line again; then a server that never answers, and the client giving up
//! after exactly 1 + N datagrams.
//!
//! The lost datagram is lost by a stand-in server inside xtask
//! (`lesson_testing::udp::FakeServer`): loopback never loses anything by
//! itself, and the stand-in shows when each datagram arrives.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::thread;
use std::time::Duration;

use lesson_testing::udp::FakeServer;

use crate::demo::stage::describe;
use crate::demo::{Demo, Note, Program, Tracing, WAIT};
use crate::lessons::Lesson;
use lesson_testing::supervisor::Stream;

/// `--trace`: datagrams in and out, with their addresses, and the
/// client's receive timeout.
pub const TRACING: Tracing = Tracing {
    more_calls: &["setsockopt"],
    signals: &["SIGTERM"],
    handlers: &[],
    files: &[],
    notes: &[Note {
        starts: "setsockopt(",
        contains: "SO_RCVTIMEO",
        text: "setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO_OLD, ...) sets the receive timeout, \
               SO_RCVTIMEO, as a struct timeval that strace shows as raw bytes. The client sets \
               it before each wait, to the time left until its deadline.",
    }],
};

/// What xtask sends the server, one datagram each, back to back.
const DATAGRAMS: [&str; 3] = ["one", "two", "three"];

/// udp-server's answer, which the stand-in gives too.
const REPLY: &[u8] = b"Got your message\n";

/// How long the lossy stand-in takes to answer: long enough to narrate the
/// resend before the answer shows, far below the client's 1 s timeout.
const ANSWER_DELAY: Duration = Duration::from_millis(300);

/// Demo 04: message boundaries, a lost datagram, and giving up.
pub fn run(demo: &mut Demo, lesson: &Lesson) -> Result<(), String> {
    demo.narrate(
        "Lesson 04: datagrams. udp-server has no connections: recvfrom() hands it one whole \
         datagram at a time, with the address of its sender, and it answers each with sendto().",
    )?;
    demo.build(lesson)?;
    let (mut server, port) = demo.start_datagram_server("udp-server", &[])?;

    show_boundaries(demo, port)?;

    // The answer to the second datagram waits a moment (well within the
    // client's timeout), so the narration can say what happened before the
    // client prints it.
    let lossy = FakeServer::start(Box::new(|index, _| {
        (index > 0).then(|| {
            thread::sleep(ANSWER_DELAY);
            REPLY.to_vec()
        })
    }));
    demo.narrate(&format!(
        "Now a stand-in server inside xtask, on port {}: it drops the first datagram it receives, \
         as a lossy network might, and answers later ones as udp-server would, after {} s.",
        lossy.port(),
        ANSWER_DELAY.as_secs_f64()
    ))?;
    show_resend(demo, &lossy)?;

    let silent = FakeServer::silent();
    demo.narrate(&format!(
        "Last, a stand-in on port {} that never answers: the same silence as a lost answer, a \
         crashed server, or nobody there at all. UDP cannot tell them apart.",
        silent.port()
    ))?;
    show_giving_up(demo, &silent)?;

    let status = demo.stop_server(&mut server)?;
    demo.narrate(&format!(
        "The server is gone ({status}). Nothing else had to be closed: it never had a connection."
    ))?;
    Ok(())
}

/// Three datagrams sent back to back give three lines and three answers.
fn show_boundaries(demo: &mut Demo, port: u16) -> Result<(), String> {
    let listed = DATAGRAMS.map(|d| format!("{d:?}")).join(", ");
    demo.narrate(&format!(
        "xtask sends three datagrams from one UDP socket, back to back, without waiting for \
         answers: three sendto() calls, with {listed}."
    ))?;
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("binding xtask's UDP socket: {e}"))?;
    socket
        .set_read_timeout(Some(WAIT))
        .map_err(|e| format!("setting a receive timeout: {e}"))?;
    let server = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    for datagram in DATAGRAMS {
        socket
            .send_to(datagram.as_bytes(), server)
            .map_err(|e| format!("sending {datagram:?}: {e}"))?;
    }
    demo.wait_for("the server's three lines", |log| {
        log.count("server", Stream::Stdout, "Received a datagram:") >= DATAGRAMS.len()
    })?;
    let mut answers = 0;
    let mut buffer = [0u8; 1024];
    for _ in DATAGRAMS {
        let (length, _) = socket
            .recv_from(&mut buffer)
            .map_err(|e| format!("waiting for the server's answers: {e}"))?;
        if &buffer[..length] == REPLY {
            answers += 1;
        }
    }
    demo.narrate(&format!(
        "Three datagrams in, three lines out, and {answers} answers of {} bytes back at xtask's \
         socket: each recvfrom() returned exactly one datagram, never two, never part of one. Over \
         TCP, the same three writes could have reached the server's read() as \"onetwothree\".",
        REPLY.len()
    ))?;
    Ok(())
}

/// A client whose first datagram is lost: it waits out its timeout, sends
/// the line again, and gets its answer.
fn show_resend(demo: &mut Demo, lossy: &FakeServer) -> Result<(), String> {
    let port = lossy.port().to_string();
    demo.narrate(&format!(
        "Starting `udp-client localhost {port} --timeout 1 --retries 3`: it waits at most 1 s for \
         an answer, and sends its line again, up to 3 more times, when none comes."
    ))?;
    let mut client = start_client(
        demo,
        "client 1",
        &[&port, "--timeout", "1", "--retries", "3"],
    )?;
    type_line(
        demo,
        &mut client,
        "client 1",
        "Hello through a lossy network",
    )?;

    demo.wait_for("the first datagram to reach the stand-in", |_| {
        lossy.count() >= 1
    })?;
    // The client's timeout runs while the demo talks: no pause here, or
    // the resend would come before the words that announce it.
    demo.narrate_now(
        "The first datagram reached the stand-in, which dropped it without a word. The client \
         sits in recvfrom(), with a receive timeout (SO_RCVTIMEO) of 1 s.",
    );
    demo.wait_for("the client to send its line again", |_| lossy.count() >= 2)?;
    let arrivals = lossy.arrivals();
    let gap = arrivals[1].at.duration_since(arrivals[0].at);
    demo.narrate_now(&format!(
        "{:.2} s later, with no answer, recvfrom() gave up (EAGAIN) and the client sent the same \
         line again, with sendto(). The stand-in answers this second one, {} s later.",
        gap.as_secs_f64(),
        ANSWER_DELAY.as_secs_f64()
    ));
    demo.wait_for("the client to print the answer and exit", |log| {
        client.has_exited() && log.closed("client 1")
    })?;
    let status = describe(client.finish());
    demo.narrate(&format!(
        "The client printed the answer and ended ({status}): two datagrams sent, one lost, one \
         answered. The tutorial's client, which waits in recvfrom() with no time limit, would \
         still be waiting."
    ))?;
    Ok(())
}

/// A client nobody answers: 1 + N datagrams, then `no reply`.
fn show_giving_up(demo: &mut Demo, silent: &FakeServer) -> Result<(), String> {
    let port = silent.port().to_string();
    demo.narrate(&format!(
        "Starting `udp-client localhost {port} --timeout 0.3 --retries 2`: at most 1 + 2 \
         datagrams, 0.3 s apart."
    ))?;
    let mut client = start_client(
        demo,
        "client 2",
        &[&port, "--timeout", "0.3", "--retries", "2"],
    )?;
    type_line(demo, &mut client, "client 2", "Is anybody there?")?;
    demo.wait_for("the client to give up", |log| {
        client.has_exited() && log.closed("client 2")
    })?;
    let status = describe(client.finish());
    let arrivals = silent.arrivals();
    let span = match (arrivals.first(), arrivals.last()) {
        (Some(first), Some(last)) => last.at.duration_since(first.at).as_secs_f64(),
        _ => 0.0,
    };
    demo.narrate(&format!(
        "The stand-in received {} datagrams, the last {span:.2} s after the first; the client \
         waited 0.3 s after the last one too, then gave up with `no reply` ({status}). It never \
         learned why: no answer is all UDP ever says.",
        arrivals.len()
    ))?;
    Ok(())
}

/// Starts `udp-client localhost ARGS...` under `label`, its stdin a pipe.
fn start_client(demo: &mut Demo, label: &str, args: &[&str]) -> Result<Program, String> {
    let mut command = Command::new(demo.binary("udp-client")?);
    command.arg("localhost").args(args);
    demo.spawn(label, command, Stdio::piped())
}

/// Waits for the client's prompt, then types `line` and Enter.
fn type_line(demo: &mut Demo, client: &mut Program, label: &str, line: &str) -> Result<(), String> {
    demo.wait_for("the client's prompt", |log| {
        log.has_line(label, Stream::Stdout, "Please enter the message")
    })?;
    demo.narrate(&format!(
        "We type {line:?} and Enter; the client sends the line as one datagram."
    ))?;
    if let Some(mut stdin) = client.take_stdin() {
        // If the client is already gone, its exit status will say why.
        let _ = stdin.write_all(format!("{line}\n").as_bytes());
    }
    Ok(())
}
