//! What every lesson shares, kept small so that each lesson's own files
//! still read as the lesson.
//!
//! The tutorial repeats a few lines in every program: an `error()` function,
//! `atoi()` on the port, a `printf` of the message. Here they live once:
//!
//! - [`args`] turns the command line into the contract's exit codes
//!   (0 for `--help`, 2 for a usage error) and validates ports;
//! - [`report`] is the tutorial's `error()`: one line naming the step that
//!   failed and the OS reason, then exit 1 (Stevens' wrapper style);
//! - [`output`] writes every stdout line whole, with one `write(2)`, so the
//!   lines of concurrent children never mix;
//! - [`signals`] undoes signal dispositions a shell may have left us;
//! - [`announce_listening`] prints the readiness line that tells whoever
//!   started a server that it can be reached.
//!
//! Only what the lessons' binaries use lives here, in the spirit of the
//! `lib/` directory of Stevens' UNIX Network Programming.

pub mod args;
pub mod output;
pub mod report;
pub mod signals;

pub use report::OrDie;

use socket2::Socket;

/// Prints the contract's readiness line on stderr: `listening on
/// 0.0.0.0:PORT` with the port the kernel really gave us (it differs from
/// the one asked for when that was 0), or `listening on PATH` in the Unix
/// domain. Whoever started the server waits for this line instead of
/// sleeping and hoping.
pub fn announce_listening(socket: &Socket) {
    let address = socket.local_addr().or_die("ERROR on getsockname");
    let shown = match (address.as_socket(), address.as_pathname()) {
        (Some(inet), _) => inet.to_string(),
        (None, Some(path)) => path.display().to_string(),
        (None, None) => "an unnamed address".to_string(),
    };
    report::stderr_line(&format!("listening on {shown}"));
}
