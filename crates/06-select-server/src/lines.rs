//! Whole lines on stdout, without an allocation per line.
//!
//! `lesson::output::print_message` builds a line on the stack when it is
//! short, and in a fresh buffer when it is not. That is nothing for lesson
//! 01's one message, but this server prints a line for every line any
//! client sends, possibly a million a second, and a line may be 4096 bytes
//! long. So one buffer is kept and reused: the line is built in it, shown
//! lossily (messages are bytes, not necessarily UTF-8), and handed to
//! `lesson::output::write_stdout` in one `write(2)`, as every line of the
//! course is.

/// A reusable buffer for one stdout line at a time.
#[derive(Debug, Default)]
pub struct LineWriter {
    line: Vec<u8>,
}

impl LineWriter {
    /// An empty writer; its buffer grows to the longest line printed.
    pub fn new() -> LineWriter {
        LineWriter::default()
    }

    /// Prints `prefix`, `message` shown lossily without its trailing
    /// newline if it has one, and a newline, as a single write.
    pub fn print(&mut self, prefix: &[u8], message: &[u8]) {
        lesson::output::write_stdout(self.build(prefix, message));
    }

    /// The line [`print`](Self::print) writes, built in the buffer.
    fn build(&mut self, prefix: &[u8], message: &[u8]) -> &[u8] {
        let message = message.strip_suffix(b"\n").unwrap_or(message);
        self.line.clear();
        self.line.extend_from_slice(prefix);
        lesson::output::push_lossy(&mut self.line, message);
        self.line.push(b'\n');
        &self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_gets_one_newline() {
        let mut writer = LineWriter::new();
        assert_eq!(writer.build(b"> ", b"hello\n"), b"> hello\n");
        assert_eq!(writer.build(b"> ", b"hello"), b"> hello\n");
        assert_eq!(writer.build(b"", b""), b"\n");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_shown_lossily() {
        let mut writer = LineWriter::new();
        assert_eq!(writer.build(b"", b"a\xffb"), "a\u{fffd}b\n".as_bytes());
    }
}
