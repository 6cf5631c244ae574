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
use std::num::IntErrorKind;
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

// ANCHOR: timeout
/// `--timeout`: how long the client waits for each answer, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest `--timeout` the client accepts: a minute. A datagram that
/// has not come back by then is lost, and the book promises a bounded
/// wait: with `--retries` at most [`MAX_RETRIES`], the client gives up
/// within about 101 minutes, not a century after `--timeout 1e20`.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// `--retries`: how many times the client sends its line again, by
/// default, and at most.
pub const DEFAULT_RETRIES: u32 = 3;
pub const MAX_RETRIES: u32 = 100;

/// What `udp-client --help` prints after its usage line: the options,
/// their allowed values and their defaults (a unit test keeps the numbers
/// in step with the constants above).
pub const CLIENT_HELP: &str = "\
Sends one line from stdin to the datagram server at HOST PORT, as one
datagram, and prints the datagram it answers with.

options:
  --timeout SECS  how long to wait for the answer before sending the line
                  again: seconds above 0 and at most 60, fractions allowed
                  (0.2); default 1
  --retries N     how many times to send it again before giving up with
                  `no reply`: a whole number from 0 to 100; default 3";

/// `--timeout SECS` as a duration: a number of seconds above 0 and at
/// most [`MAX_TIMEOUT`], fractions allowed (`0.2`). Anything else (`abc`,
/// 0, negative, over a minute, `inf`, `NaN`) is refused with the reason,
/// which the client reports as a usage error.
pub fn timeout_from(given: &str) -> Result<Duration, String> {
    let most = MAX_TIMEOUT.as_secs();
    let expected = || format!("expected a number of seconds above 0, at most {most}");
    let seconds: f64 = given.parse().map_err(|_| expected())?;
    if seconds > MAX_TIMEOUT.as_secs_f64() {
        return Err(format!("too long a wait, at most {most} seconds"));
    }
    // NaN compares false to everything, so it is refused by name.
    if seconds.is_nan() || seconds <= 0.0 {
        return Err(expected());
    }
    // A wait too short to express in the kernel's microseconds would be
    // rounded to 0, which SO_RCVTIMEO reads as "wait forever".
    Ok(Duration::from_secs_f64(seconds).max(Duration::from_micros(1)))
}

/// `--retries N` as a number: a whole number from 0 to [`MAX_RETRIES`].
/// One that is too large says so, and what the largest is.
pub fn retries_from(given: &str) -> Result<u32, String> {
    match given.parse::<u32>() {
        Ok(retries) if retries <= MAX_RETRIES => Ok(retries),
        Ok(_) => Err(format!("too large, at most {MAX_RETRIES}")),
        Err(e) if *e.kind() == IntErrorKind::PosOverflow => {
            Err(format!("too large, at most {MAX_RETRIES}"))
        }
        Err(_) => Err(format!("expected a whole number from 0 to {MAX_RETRIES}")),
    }
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
    fn timeouts_are_seconds_above_zero_up_to_a_minute() {
        assert_eq!(timeout_from("1"), Ok(Duration::from_secs(1)));
        assert_eq!(timeout_from("0.2"), Ok(Duration::from_millis(200)));
        assert_eq!(timeout_from("1e-12"), Ok(Duration::from_micros(1)));
        assert_eq!(timeout_from("60"), Ok(MAX_TIMEOUT));
        for absurd in ["60.001", "1e20", "1e300", "inf"] {
            assert_eq!(
                timeout_from(absurd),
                Err("too long a wait, at most 60 seconds".to_string()),
                "{absurd}"
            );
        }
        for bad in ["0", "-0", "-1", "-inf", "NaN", "abc", "", "1s"] {
            assert_eq!(
                timeout_from(bad),
                Err("expected a number of seconds above 0, at most 60".to_string()),
                "{bad}"
            );
        }
    }

    #[test]
    fn retries_are_whole_numbers_up_to_a_hundred() {
        assert_eq!(retries_from("0"), Ok(0));
        assert_eq!(retries_from("3"), Ok(3));
        assert_eq!(retries_from("100"), Ok(MAX_RETRIES));
        for large in ["101", "4294967295", "99999999999"] {
            assert_eq!(
                retries_from(large),
                Err("too large, at most 100".to_string()),
                "{large}"
            );
        }
        for bad in ["-1", "1.5", "abc", "", "two"] {
            assert_eq!(
                retries_from(bad),
                Err("expected a whole number from 0 to 100".to_string()),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_help_tells_the_limits_and_defaults_the_client_applies() {
        let help = CLIENT_HELP.split_whitespace().collect::<Vec<_>>().join(" ");
        for promised in [
            format!("at most {}, fractions allowed", MAX_TIMEOUT.as_secs()),
            format!("default {}", DEFAULT_TIMEOUT.as_secs()),
            format!("from 0 to {}; default {DEFAULT_RETRIES}", MAX_RETRIES),
        ] {
            assert!(help.contains(&promised), "{promised:?} is not in: {help}");
        }
        assert_eq!(
            DEFAULT_TIMEOUT.subsec_nanos(),
            0,
            "the help shows whole seconds"
        );
    }
}
