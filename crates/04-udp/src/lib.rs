//! Lesson 04: datagrams instead of a stream.
//!
//! The tutorial's last variation on its server trades TCP for UDP: a
//! `SOCK_DGRAM` socket, no `listen()`, no `accept()`, no connection at
//! all. The server calls `recvfrom()`, which hands it one whole datagram
//! *and* the address of whoever sent it, and answers with `sendto()` to
//! that address. Nothing guarantees that either datagram arrives, so our
//! client waits for the reply a bounded time and sends again, which the
//! tutorial's client does not.
//!
//! The binaries (`src/bin/udp-server.rs`, `src/bin/udp-client.rs`) show
//! the system calls step by step. This file holds what both need, or what
//! is worth testing on its own: the sizes, the reply, `recvfrom()` into a
//! plain byte buffer, the server's line for one datagram, the client's
//! `--timeout` and its bounded wait for the server's answer.

use std::io::{self, ErrorKind, Write};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use socket2::{SockAddr, Socket};

/// The largest datagram the server keeps: the tutorial's `buf[1024]`. A
/// longer one is cut to this size, and the server says so.
pub const DATAGRAM_LIMIT: usize = 1024;

/// The server's answer to every datagram: exactly the 17 bytes the
/// tutorial's server sends, newline included.
pub const REPLY: &[u8] = b"Got your message\n";

// ANCHOR: recv_from
/// `recvfrom()`: receive ONE datagram into `buffer` and return its length
/// and the sender's address. With `flags` set to `libc::MSG_TRUNC`, Linux
/// returns the datagram's real length even when it was longer than
/// `buffer`; only the first `buffer.len()` bytes are stored, and the rest
/// of the datagram is gone.
pub fn recv_from(
    socket: &Socket,
    buffer: &mut [u8],
    flags: libc::c_int,
) -> io::Result<(usize, SockAddr)> {
    // SAFETY: socket2 asks for `&mut [MaybeUninit<u8>]`, memory that may
    // hold uninitialised bytes, so that a caller may receive into memory
    // nobody has initialised. We lend it our initialised bytes instead,
    // and will read them back as plain `u8` afterwards. That is sound only
    // if nothing writes an uninitialised byte into them, and socket2
    // promises exactly that for its receive calls (see the docs of
    // `Socket::recv`): the buffer goes straight to recvfrom(2), and the
    // kernel stores only bytes of the datagram. The cast keeps the length:
    // `MaybeUninit<u8>` has the same size and layout as `u8`.
    let buffer = unsafe { &mut *(buffer as *mut [u8] as *mut [MaybeUninit<u8>]) };
    socket.recv_from_with_flags(buffer, flags)
}
// ANCHOR_END: recv_from

// ANCHOR: line
/// The server's line for one datagram, built in `line` (emptied first):
/// `Received a datagram: <msg>` and a newline, the message shown lossily
/// and without its own trailing newline. `received` is what `recvfrom()`
/// stored; `length` is what it returned, the datagram's real length,
/// which is larger when the datagram was cut.
///
/// The server keeps `line` from one datagram to the next, as it keeps its
/// receive buffer: building each line in memory of its own would cost an
/// allocation per datagram, a good part of what the server does for one.
pub fn datagram_line(line: &mut Vec<u8>, received: &[u8], length: usize) {
    let message = received.strip_suffix(b"\n").unwrap_or(received);
    line.clear();
    line.extend_from_slice(b"Received a datagram: ");
    lesson::output::push_lossy(line, message);
    if length > received.len() {
        // Writing into a Vec cannot fail: it grows.
        let _ = write!(
            line,
            " [truncated: the datagram had {length} bytes, only the first {} are shown]",
            received.len()
        );
    }
    line.push(b'\n');
}
// ANCHOR_END: line

/// The longest wait we honour. `--timeout 1e300` is a valid number of
/// seconds, but a deadline that far away would overflow the clock; nobody
/// can tell a century from forever.
const LONGEST_WAIT: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

// ANCHOR: timeout
/// `--timeout SECS` as a duration: a finite number of seconds above 0,
/// fractions allowed (`0.2`). `None` for anything else (0, negative,
/// `inf`, `NaN`), which the client reports as a usage error.
pub fn timeout_from_secs(seconds: f64) -> Option<Duration> {
    if !(seconds.is_finite() && seconds > 0.0) {
        return None;
    }
    let wait = Duration::try_from_secs_f64(seconds).unwrap_or(LONGEST_WAIT);
    // A wait too short to express in the kernel's microseconds would be
    // rounded to 0, which SO_RCVTIMEO reads as "wait forever".
    Some(wait.clamp(Duration::from_micros(1), LONGEST_WAIT))
}
// ANCHOR_END: timeout

// ANCHOR: wait
/// The client's wait for the server's answer, at most `timeout` from now.
/// Returns the reply, or `None` if none came in time. A reply is a
/// datagram from `server`, the address we sent to: anything else that
/// reaches our port (a stray, a late answer to someone else, a forgery) is
/// dropped, and does not extend the wait.
pub fn wait_for_reply(
    socket: &Socket,
    server: SocketAddr,
    timeout: Duration,
) -> io::Result<Option<Vec<u8>>> {
    let deadline = Instant::now() + timeout;
    let mut buffer = [0u8; DATAGRAM_LIMIT];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        // SO_RCVTIMEO: how long one recvfrom() may block before it fails
        // with EAGAIN. The kernel counts in microseconds and reads 0 as
        // "forever", so never hand it less than one.
        socket.set_read_timeout(Some(left.max(Duration::from_micros(1))))?;
        match recv_from(socket, &mut buffer, 0) {
            Ok((length, sender)) if sender.as_socket() == Some(server) => {
                return Ok(Some(buffer[..length.min(buffer.len())].to_vec()));
            }
            // Not from the server: not our reply. Keep waiting.
            Ok(_) => continue,
            // The timeout expired: EAGAIN, which Rust calls WouldBlock.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(None);
            }
            // EINTR: a signal (a stop and continue, say) cut the wait
            // short; the deadline stands. ECONNREFUSED: an ICMP "port
            // unreachable" for an earlier datagram. An unconnected socket
            // like ours is not told (unless IP_RECVERR is set), but if it
            // ever is, it only means "no reply yet": the retries decide.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted | ErrorKind::ConnectionRefused
                ) =>
            {
                continue
            }
            Err(e) => return Err(e),
        }
    }
}
// ANCHOR_END: wait

#[cfg(test)]
mod tests {
    use super::*;

    /// The line `datagram_line` builds, as text.
    fn line_for(received: &[u8], length: usize) -> String {
        let mut line = b"left from the last datagram".to_vec();
        datagram_line(&mut line, received, length);
        String::from_utf8(line).expect("a line is UTF-8")
    }

    #[test]
    fn a_whole_datagram_is_one_line_without_its_own_newline() {
        assert_eq!(line_for(b"hello\n", 6), "Received a datagram: hello\n");
        assert_eq!(line_for(b"", 0), "Received a datagram: \n");
        assert_eq!(line_for(b"\xffok", 3), "Received a datagram: \u{fffd}ok\n");
    }

    #[test]
    fn a_cut_datagram_says_so_on_its_line() {
        let line = line_for(&[b'x'; DATAGRAM_LIMIT], 2000);
        assert!(line.starts_with("Received a datagram: xxx"));
        assert!(line.ends_with(
            " [truncated: the datagram had 2000 bytes, only the first 1024 are shown]\n"
        ));
        assert_eq!(line.matches('\n').count(), 1);
    }

    #[test]
    fn the_reply_is_the_tutorials_seventeen_bytes() {
        assert_eq!(REPLY.len(), 17);
    }

    /// A loopback UDP socket on a port of the kernel's choosing.
    fn bound() -> (Socket, SocketAddr) {
        let socket = Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
        let any = SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
        socket.bind(&any.into()).unwrap();
        let address = socket.local_addr().unwrap().as_socket().unwrap();
        (socket, address)
    }

    #[test]
    fn the_reply_is_the_datagram_from_the_server() {
        let (client, client_address) = bound();
        let (server, server_address) = bound();
        let (stranger, _) = bound();
        let to_client = SockAddr::from(client_address);
        stranger.send_to(b"not the reply", &to_client).unwrap();
        server.send_to(REPLY, &to_client).unwrap();
        let reply = wait_for_reply(&client, server_address, Duration::from_secs(5)).unwrap();
        assert_eq!(reply.as_deref(), Some(REPLY));
    }

    #[test]
    fn strangers_do_not_extend_the_wait() {
        let (client, client_address) = bound();
        let (_server, server_address) = bound();
        let (stranger, _) = bound();
        for _ in 0..3 {
            stranger.send_to(b"noise", &client_address.into()).unwrap();
        }
        let started = Instant::now();
        let reply = wait_for_reply(&client, server_address, Duration::from_millis(200)).unwrap();
        assert_eq!(reply, None);
        assert!(started.elapsed() >= Duration::from_millis(200));
    }

    #[test]
    fn timeouts_are_positive_finite_seconds() {
        assert_eq!(timeout_from_secs(1.0), Some(Duration::from_secs(1)));
        assert_eq!(timeout_from_secs(0.2), Some(Duration::from_millis(200)));
        assert_eq!(timeout_from_secs(1e-12), Some(Duration::from_micros(1)));
        assert_eq!(timeout_from_secs(1e300), Some(LONGEST_WAIT));
        for bad in [0.0, -0.0, -1.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN] {
            assert_eq!(timeout_from_secs(bad), None, "{bad}");
        }
    }
}
