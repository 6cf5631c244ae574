//! Lesson 04, the client: `udp-client HOST PORT [--timeout SECS]
//! [--retries N]`. It sends one line typed by the user as one datagram
//! with `sendto()`, and prints the datagram the server sends back.
//!
//! The tutorial's datagram client waits for the answer in a `recvfrom()`
//! with no time limit: if either datagram is lost, it waits forever. Ours
//! waits at most SECS seconds (default 1, at most 60) and then sends the
//! line again, up to N more times (default 3, at most 100), before it
//! gives up with `no reply`: its wait is bounded, whatever the options.

use std::io::{self, BufRead};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use lesson::args::Args;
use lesson::report::error;
use lesson::OrDie;
use lesson04_udp::{
    retries_from, timeout_from, wait_for_reply, CLIENT_HELP, DEFAULT_RETRIES, DEFAULT_TIMEOUT,
};
use socket2::{Domain, SockAddr, Socket, Type};

fn main() {
    // ANCHOR: args
    let args = Args::parse_with_help(
        "udp-client HOST PORT [--timeout SECS] [--retries N]",
        CLIENT_HELP,
        &["HOST", "PORT"],
        &["--timeout", "--retries"],
        &[],
    );
    let host = args.text(0, "host");
    let port = args.port(1);
    // `timeout_from` and `retries_from` refuse what does not parse (`abc`,
    // `-1` retries) and what makes no sense as a wait or a count (0 s, more
    // than a minute, `inf`, more than 100 retries), each with its reason;
    // `option_checked` turns that into a usage error that names the value.
    let timeout = args.option_checked("--timeout", DEFAULT_TIMEOUT, timeout_from);
    let retries = args.option_checked("--retries", DEFAULT_RETRIES, retries_from);
    // ANCHOR_END: args

    // ANCHOR: resolve
    // The host's addresses, as in lesson 01. A TCP client can try them in
    // turn until one connect() succeeds; a datagram client cannot, since
    // sending succeeds whether or not anyone is there. Our servers listen
    // on IPv4 only (0.0.0.0), so take the first IPv4 address, and any
    // address if the host has none.
    let addresses: Vec<SocketAddr> = match (host.as_str(), port).to_socket_addrs() {
        Ok(found) => found.collect(),
        Err(reason) => error(&format!("ERROR, no such host: {host}"), &reason),
    };
    let Some(mut server) = addresses
        .iter()
        .find(|address| address.is_ipv4())
        .or(addresses.first())
        .copied()
    else {
        error(
            &format!("ERROR, no such host: {host}"),
            &"it has no address",
        )
    };
    // As a destination, 0.0.0.0 (or ::) means "this host", and the kernel
    // delivers it through loopback: the answer then comes from 127.0.0.1.
    // Say so from the start, so we recognise the answer as the server's.
    if server.ip().is_unspecified() {
        server.set_ip(match server.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    // ANCHOR_END: resolve

    // ANCHOR: socket
    // socket(): a datagram socket of the server address's family. No
    // bind(): the first sendto() gives the socket a free local port, and
    // that is where the server's answer will come. No connect() either:
    // on a connected UDP socket, an ICMP "port unreachable" for one of our
    // datagrams turns into ECONNREFUSED on the next call, and the contract
    // wants every attempt made, with `no reply` at the end.
    let socket =
        Socket::new(Domain::for_address(server), Type::DGRAM, None).or_die("ERROR opening socket");
    // ANCHOR_END: socket

    // ANCHOR: message
    // The prompt, then one line from stdin with its newline, as in lesson
    // 01. End of input gives an empty line, and an empty datagram is still
    // a datagram: the server answers it too.
    lesson::output::write_stdout(b"Please enter the message: ");
    let mut message = Vec::new();
    io::stdin()
        .lock()
        .read_until(b'\n', &mut message)
        .or_die("ERROR reading from stdin");
    // ANCHOR_END: message

    // ANCHOR: retry
    // sendto(), then wait for the answer at most `timeout`; no answer in
    // time means our datagram or the reply was lost (or nobody is there:
    // UDP cannot tell these apart), so send it again. 1 + `retries`
    // datagrams at most. A UDP send is all or nothing: the whole datagram
    // goes, or the call fails (EMSGSIZE for a line over 65507 bytes).
    let destination = SockAddr::from(server);
    for _attempt in 0..=retries {
        socket
            .send_to(&message, &destination)
            .or_die("ERROR writing to socket");
        let reply = wait_for_reply(&socket, server, timeout).or_die("ERROR reading from socket");
        if let Some(reply) = reply {
            lesson::output::print_message("", &reply);
            return;
        }
    }
    error(
        &format!("ERROR, no reply from {host} port {port}"),
        &format!(
            "{} datagram(s) sent, none answered within {timeout:?}",
            u64::from(retries) + 1
        ),
    )
    // ANCHOR_END: retry
}
