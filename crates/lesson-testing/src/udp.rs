//! UDP for the tests (lesson 04): datagram sockets on loopback, a port
//! that is taken, and fakes that answer, or don't, as the test needs.

use std::net::{Ipv4Addr, UdpSocket};

use crate::WAIT;

/// A UDP socket on `127.0.0.1`, port chosen by the kernel, whose reads
/// give up after [`WAIT`]: a peer for the server under test.
pub fn socket() -> UdpSocket {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding a UDP socket");
    socket.set_read_timeout(Some(WAIT)).ok();
    socket
}

/// Occupies a UDP port on every address, as a server would, and returns
/// the socket that holds it (for "port already in use").
pub fn occupied_port() -> UdpSocket {
    UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).expect("occupying a UDP port")
}
