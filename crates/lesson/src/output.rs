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

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

/// How long a line [`print_message`] builds on the stack may be: room
/// for any message a server of lessons 01 to 05 reads (at most 255 bytes)
/// after its prefix.
const SHORT_LINE: usize = 512;

/// Prints `prefix`, then `message` shown lossily, then one newline, as a
/// single write. A message's own trailing newline is dropped first, so
/// `hello\n` prints as `Here is the message: hello`, not with a blank line.
pub fn print_message(prefix: &str, message: &[u8]) {
    let message = message.strip_suffix(b"\n").unwrap_or(message);
    // A server calls this for every message, and a line in memory of its
    // own would cost an allocation each time (in a fork server's child, a
    // first write to the allocator's memory, which the child shares with
    // its parent until then: a page fault and a copy). So a short line of
    // valid UTF-8, which is nearly every line, is built on the stack.
    if let Ok(text) = std::str::from_utf8(message) {
        let length = prefix.len() + text.len() + 1;
        if length <= SHORT_LINE {
            let mut short = [0u8; SHORT_LINE];
            short[..prefix.len()].copy_from_slice(prefix.as_bytes());
            short[prefix.len()..length - 1].copy_from_slice(text.as_bytes());
            short[length - 1] = b'\n';
            return write_stdout(&short[..length]);
        }
    }
    // Longer, or not UTF-8: sized once, where `format!` would grow its
    // string step by step.
    let mut line = Vec::with_capacity(prefix.len() + message.len() + 1);
    line.extend_from_slice(prefix.as_bytes());
    push_lossy(&mut line, message);
    line.push(b'\n');
    write_stdout(&line);
}

/// Appends `message` to `line`, shown lossily: as it is when it is valid
/// UTF-8, which is quick to check and nearly always so; otherwise with
/// each ill-formed sequence replaced by U+FFFD.
pub fn push_lossy(line: &mut Vec<u8>, message: &[u8]) {
    match std::str::from_utf8(message) {
        Ok(text) => line.extend_from_slice(text.as_bytes()),
        Err(_) => line.extend_from_slice(String::from_utf8_lossy(message).as_bytes()),
    }
}

/// Writes `bytes` to stdout now, unbuffered (the client's prompt has no
/// newline, and must still appear before we block reading stdin).
pub fn write_stdout(bytes: &[u8]) {
    // Descriptor 1 itself, not `io::stdout()`: that is Rust's buffered
    // stdout, set up (its buffer allocated, its lock recorded) the first
    // time anyone asks for it. In a fork server the first time is in each
    // child, and setting it up writes memory the child shares with its
    // parent until then: two page faults, two pages copied, for every
    // connection, for a buffer this function never uses.
    // SAFETY: `borrow_raw` asks that the descriptor stay open while it is
    // borrowed, here for one write(), and no lesson closes descriptor 1.
    // A program started with it closed gets EBADF from write(), as Rust's
    // own stdout would.
    let stdout = unsafe { BorrowedFd::borrow_raw(nix::libc::STDOUT_FILENO) };
    let mut rest = bytes;
    while !rest.is_empty() {
        match nix::unistd::write(stdout, rest) {
            Ok(written) => rest = &rest[written..],
            Err(Errno::EINTR) => continue,
            // Our reader has gone away: nobody is left to tell.
            Err(_) => return,
        }
    }
}
