//! The instructor's keyboard: lines read from xtask's stdin, for `--pace`
//! (Enter before each step) and `--interactive` (demo 01's message).
//!
//! One thread reads every line, so that neither use takes a line meant for
//! the other, and the waits can still notice Ctrl-C: a thread blocked in
//! `read()` cannot be woken, but whoever waits on its channel can give up.
//! The thread is started on first use and reads ahead: a line given early
//! (piped in, or typed during a step) is kept for the next wait.

use std::io::{self, BufRead};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use crate::term;

/// What a wait for a line got.
#[derive(Debug)]
pub enum Typed {
    /// A line, with its newline if it had one.
    Line(String),
    /// Stdin is at its end (Ctrl-D, or the end of what was piped in).
    End,
    /// Nothing came within the time given.
    TimedOut,
    /// Ctrl-C.
    Interrupted,
}

/// The lines of stdin, read by a thread of their own.
#[derive(Default)]
pub struct Keyboard {
    lines: Option<Receiver<io::Result<String>>>,
}

impl Keyboard {
    /// Waits at most `limit` for the next line.
    pub fn line(&mut self, limit: Duration) -> Typed {
        let lines = self.lines.get_or_insert_with(|| {
            let (sender, lines) = mpsc::channel();
            thread::spawn(move || {
                let stdin = io::stdin();
                loop {
                    let mut line = String::new();
                    let read = stdin.lock().read_line(&mut line);
                    // An empty read is the end: nothing more will come.
                    let done = !matches!(read, Ok(n) if n > 0);
                    if sender.send(read.map(|_| line)).is_err() || done {
                        return;
                    }
                }
            });
            lines
        });
        let deadline = Instant::now() + limit;
        loop {
            match lines.recv_timeout(Duration::from_millis(50)) {
                Ok(Ok(line)) if !line.is_empty() => return Typed::Line(line),
                // The end, an unreadable stdin, or the reader gone.
                Ok(_) | Err(RecvTimeoutError::Disconnected) => return Typed::End,
                Err(RecvTimeoutError::Timeout) if term::interrupted() => return Typed::Interrupted,
                Err(RecvTimeoutError::Timeout) if Instant::now() >= deadline => {
                    return Typed::TimedOut
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }
}
