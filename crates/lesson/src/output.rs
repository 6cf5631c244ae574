//! Whole lines on stdout.
//!
//! A forking server has many processes writing to one stdout. If a line
//! went out in two `write(2)` calls, another child's line could land in
//! between. So each line is built in memory first and handed to the kernel
//! in one `write(2)`, bypassing Rust's stdout. `println!` would not hold a
//! line back (std's stdout is line-buffered, into a pipe as on a
//! terminal), but it promises no single write: its buffer hands a line to
//! the kernel in as many pieces as it needs. Under `strace`, a 2000-byte
//! message printed with `println!("Here is the message: {message}")` goes
//! out in three `write(2)` calls: the prefix, the message, the newline.
//! Its lock keeps the threads of one process apart, never two processes.
//!
//! Messages are bytes, not necessarily UTF-8: they are shown lossily, each
//! ill-formed sequence replaced by U+FFFD.

use std::io;

use nix::errno::Errno;

/// Prints `prefix`, then `message` shown lossily, then one newline, as a
/// single write. A message's own trailing newline is dropped first, so
/// `hello\n` prints as `Here is the message: hello`, not with a blank line.
pub fn print_message(prefix: &str, message: &[u8]) {
    let message = message.strip_suffix(b"\n").unwrap_or(message);
    // Borrowed, not copied, when the message is valid UTF-8.
    let shown = String::from_utf8_lossy(message);
    // Sized once: a server calls this for every message, and `format!`
    // would grow its string step by step, reallocating as it goes.
    let mut line = String::with_capacity(prefix.len() + shown.len() + 1);
    line.push_str(prefix);
    line.push_str(&shown);
    line.push('\n');
    write_stdout(line.as_bytes());
}

/// Writes `bytes` to stdout now, unbuffered (the client's prompt has no
/// newline, and must still appear before we block reading stdin).
pub fn write_stdout(bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        match nix::unistd::write(io::stdout(), rest) {
            Ok(written) => rest = &rest[written..],
            Err(Errno::EINTR) => continue,
            // Our reader has gone away: nobody is left to tell.
            Err(_) => return,
        }
    }
}
