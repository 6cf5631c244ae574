//! What the class sees: how wide the screen is, and lines made to fit it.
//! A narration wraps at spaces; a program's output line, or a system call
//! under `--trace`, wraps under its label, indented; a table row that is
//! too wide is cut, saying so with `...`.
//!
//! Widths count characters, not bytes: the programs' output is mostly
//! ASCII, and a UTF-8 message must not be cut in the middle of one.

use std::io::IsTerminal;

/// The width when it is unknown: stdout is not a terminal (a pipe, a log
/// file, a test), or the terminal says nothing.
pub const DEFAULT_WIDTH: usize = 80;

/// The narrowest layout: below this a labelled line would have almost no
/// room left for its text, so a very narrow terminal wraps some lines.
pub const NARROWEST: usize = 40;

/// The widest layout: on a wide terminal or a projector, longer lines
/// are hard to follow from the back of a room.
pub const WIDEST: usize = 100;

/// How many columns the label of an output line takes (`server 2 (stderr)`
/// is the longest a demo gives).
pub const LABEL: usize = 17;

/// The width to lay lines out for, looked up each time, so a terminal
/// resized during a demo is followed: [`DEFAULT_WIDTH`] unless stdout is a
/// terminal; there, `$COLUMNS` if it holds a number (what the user asked
/// for), else the terminal's own size; within [`NARROWEST`]..=[`WIDEST`].
pub fn width() -> usize {
    if !std::io::stdout().is_terminal() {
        return DEFAULT_WIDTH;
    }
    let asked = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0);
    asked
        .or_else(terminal_columns)
        .unwrap_or(DEFAULT_WIDTH)
        .clamp(NARROWEST, WIDEST)
}

/// The terminal's width, as the kernel's terminal driver knows it.
fn terminal_columns() -> Option<usize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ asks the terminal driver for its size and writes
    // it into the one `winsize` we pass, a local that lives for the whole
    // call. Nothing else is read or written; if stdout is no terminal the
    // call just fails with ENOTTY.
    let result = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut size) };
    (result == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
}

/// How many characters `text` has.
pub fn columns(text: &str) -> usize {
    text.chars().count()
}

/// `text` in lines of at most `width` characters, each broken at the last
/// space that fits (the space is dropped; other spacing is kept), a word
/// longer than a line cut where the line ends. Never empty: an empty text
/// is one empty line.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = text;
    loop {
        let (line, after) = first_line(rest, width);
        lines.push(line.to_string());
        match after {
            Some(after) => rest = after,
            None => return lines,
        }
    }
}

/// The first line of `text` wrapped at `width` (see [`wrap`]), and what
/// is left after it, if anything.
fn first_line(text: &str, width: usize) -> (&str, Option<&str>) {
    let width = width.max(1);
    // The byte offset of the first character past `width`, if any.
    let Some((end, _)) = text.char_indices().nth(width) else {
        return (text, None);
    };
    // A space right at `end` also works: the line then fills its width.
    // A space just after `=` does not: `= 20`, a call's result, stays
    // whole.
    let breaks = |at: &usize| *at > 0 && !text[..*at].ends_with('=');
    let space = if text[end..].starts_with(' ') && breaks(&end) {
        Some(end)
    } else {
        text[..end]
            .rmatch_indices(' ')
            .map(|(at, _)| at)
            .find(breaks)
    };
    match space {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (&text[..end], Some(&text[end..])),
    }
}

/// A narration: `==> ` and the text, wrapped to `width` under itself.
pub fn narration(text: &str, width: usize) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    wrap(&words.join(" "), width.saturating_sub(4))
        .into_iter()
        .enumerate()
        .map(|(i, line)| format!("{}{line}", if i == 0 { "==> " } else { "    " }))
        .collect()
}

/// One line labelled with who wrote it: `  LABEL | text` for what a
/// program printed, `  LABEL > call` for a system call it made (`mark`).
/// Returns the label's column and the text, per line: a text too long for
/// one line goes on under an empty label, indented two more, so the label
/// column still tells one line from the next. The caller colours the
/// label.
pub fn labelled(who: &str, mark: char, text: &str, width: usize) -> Vec<(String, String)> {
    let room = width.saturating_sub(LABEL + 5).max(10);
    let (first, rest) = first_line(text, room);
    let mut shown = vec![(format!("  {who:<LABEL$}"), format!(" {mark} {first}"))];
    if let Some(rest) = rest {
        for line in wrap(rest, room - 2) {
            shown.push((format!("  {:<LABEL$}", ""), format!(" {mark}   {line}")));
        }
    }
    shown
}

/// `row`, cut to `width` with `...` at the end when it is wider.
pub fn fit(row: &str, width: usize) -> String {
    if columns(row) <= width {
        return row.to_string();
    }
    let kept: String = row.chars().take(width.saturating_sub(3)).collect();
    format!("{kept}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("one two three", 7), ["one two", "three"]);
        assert_eq!(wrap("one two three", 8), ["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 10), [""]);
        assert_eq!(wrap("a  b", 10), ["a  b"]);
        assert_eq!(wrap("read(4) = 20", 10), ["read(4)", "= 20"]);
        for line in wrap(&"word ".repeat(40), 33) {
            assert!(columns(&line) <= 33, "{line:?}");
        }
    }

    #[test]
    fn every_laid_out_line_fits() {
        let long = "accept4(3, {sa_family=AF_INET, sin_port=htons(49928), \
                    sin_addr=inet_addr(\"127.0.0.1\")}, [128 => 16], SOCK_CLOEXEC) = 4";
        for width in [NARROWEST, 60, DEFAULT_WIDTH, WIDEST] {
            for (label, text) in labelled("child 4194304", '>', long, width) {
                assert!(columns(&label) + columns(&text) <= width, "{label}{text}");
            }
            for line in narration(&"The server is gone. ".repeat(20), width) {
                assert!(columns(&line) <= width, "{line}");
            }
            assert!(columns(&fit(&"x".repeat(200), width)) <= width);
        }
    }

    #[test]
    fn a_wrapped_output_line_keeps_its_label_column() {
        let shown = labelled("server", '|', &"many words ".repeat(12), 80);
        assert!(shown.len() > 1);
        assert!(shown[0].0.contains("server"));
        assert!(shown[1..]
            .iter()
            .all(|(label, text)| { label.trim().is_empty() && text.starts_with(" |   ") }));
    }
}
