//! Lesson 01's conversation, which the stream lessons (01, 02, 03, 05)
//! share: the client's prompt, the server's 18-byte reply, and one whole
//! exchange seen from the wire, over TCP or the Unix domain alike.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// The prompt of lesson 01's client, which later lessons' clients share.
pub const PROMPT: &str = "Please enter the message: ";

/// Lesson 01's reply, which later lessons' stream servers share: 18 bytes.
pub const REPLY: &[u8] = b"I got your message";

/// A connected stream socket of either domain, so that one scenario serves
/// every stream lesson.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    /// Closes the sending side (`shutdown(SHUT_WR)`): the server reads end
    /// of file, and we can still read its reply.
    pub fn shutdown_write(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Write),
            Stream::Unix(s) => s.shutdown(Shutdown::Write),
        };
    }

    /// Bounds every later read (`None`: no bound).
    pub fn set_read_timeout(&self, limit: Option<Duration>) {
        let _ = match self {
            Stream::Tcp(s) => s.set_read_timeout(limit),
            Stream::Unix(s) => s.set_read_timeout(limit),
        };
    }

    /// The TCP stream inside, for what only TCP has (`SO_LINGER` resets).
    pub fn into_tcp(self) -> TcpStream {
        match self {
            Stream::Tcp(s) => s,
            Stream::Unix(_) => panic!("a Unix-domain stream is not TCP"),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Sends `message`, half-closes, and reads the reply until the server
/// closes: one whole exchange with a lesson-01-style server.
pub fn exchange(mut stream: Stream, message: &[u8]) -> Vec<u8> {
    stream.write_all(message).expect("writing to the server");
    stream.shutdown_write();
    let mut reply = Vec::new();
    // A reset after the reply is fine (the server may close with our
    // input unread); what arrived before it is kept.
    let _ = stream.read_to_end(&mut reply);
    reply
}

/// How many bytes sent on the socket `fd` the kernel still holds for the
/// other end (`ioctl(TIOCOUTQ)`, also called `SIOCOUTQ`). For TCP: sent
/// but not yet acknowledged by the peer's kernel. For a Unix-domain
/// stream: not yet read by the peer's program. `None` if the call fails.
pub(crate) fn unsent_bytes(fd: &impl AsRawFd) -> Option<i32> {
    let mut count: libc::c_int = 0;
    // SAFETY: TIOCOUTQ writes one `int` through the pointer, which points
    // to `count`, alive until the call returns; the descriptor is open for
    // as long as the borrowed socket lives.
    let done = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &mut count) };
    (done == 0).then_some(count)
}

/// Reads from `stream` until a newline (kept) or end of stream.
pub fn read_line(stream: &mut impl Read) -> Vec<u8> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match stream.read(&mut byte) {
            Ok(1) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    return line;
                }
            }
            // A signal interrupted a read with a timeout (such a read is
            // never restarted): not an end.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            _ => return line,
        }
    }
}
