//! The little TOML that `exercises.toml` files are written in, read without
//! a TOML crate (xtask keeps its dependencies few, so that it builds in
//! seconds).
//!
//! Understood: `#` comments, `[[exercise]]` and `[[exercise.edit]]` table
//! headers, and `key = value` lines whose value is an integer, a string in
//! any of TOML's four forms (`"basic"`, `'literal'`, `"""multi-line
//! basic"""`, `'''multi-line literal'''`), or an array of strings, which
//! may span lines. Anything else is an error naming its line, never a
//! silent misreading: a file this reader accepts means to TOML what it
//! means here.

use std::fmt;

/// A value on the right of `=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Integer(i64),
    String(String),
    Array(Vec<String>),
}

/// One `key = value`, with the line it starts on (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub key: String,
    pub value: Value,
    pub line: usize,
}

/// One `[[name]]` table: its header's name and line, and its pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    pub line: usize,
    pub pairs: Vec<Pair>,
}

/// What is wrong, and on which line (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The tables of a document, in order. Pairs before the first header are
/// an error: every key of an exercises file belongs to a table.
pub fn parse(text: &str) -> Result<Vec<Table>, Error> {
    let mut reader = Reader {
        chars: text.chars().collect(),
        at: 0,
        line: 1,
    };
    let mut tables: Vec<Table> = Vec::new();
    loop {
        reader.skip_blank_lines()?;
        let Some(c) = reader.peek() else {
            return Ok(tables);
        };
        let line = reader.line;
        if c == '[' {
            if !reader.eat("[[") {
                return Err(reader.error(
                    "only arrays of tables (`[[name]]`) are understood here, not `[name]`",
                ));
            }
            let name: String =
                reader.take_while(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
            if name.is_empty() || !reader.eat("]]") {
                return Err(reader.error("expected a table header such as `[[exercise]]`"));
            }
            reader.end_of_line()?;
            tables.push(Table {
                name,
                line,
                pairs: Vec::new(),
            });
            continue;
        }
        let key: String = reader.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if key.is_empty() {
            return Err(reader.error(&format!("unexpected `{c}`: expected `key = value`")));
        }
        reader.skip_spaces();
        if !reader.eat("=") {
            return Err(reader.error(&format!("expected `=` after `{key}`")));
        }
        reader.skip_spaces();
        let value = reader.value()?;
        reader.end_of_line()?;
        let Some(table) = tables.last_mut() else {
            return Err(Error {
                line,
                message: format!("`{key}` comes before any `[[table]]` header"),
            });
        };
        if table.pairs.iter().any(|p| p.key == key) {
            return Err(Error {
                line,
                message: format!("`{key}` is given twice in the same table"),
            });
        }
        table.pairs.push(Pair { key, value, line });
    }
}

/// A cursor over the document's characters that counts lines.
struct Reader {
    chars: Vec<char>,
    at: usize,
    line: usize,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    /// Consumes `literal` if the text continues with it.
    fn eat(&mut self, literal: &str) -> bool {
        let wanted: Vec<char> = literal.chars().collect();
        if self.chars[self.at..].starts_with(&wanted) {
            for _ in 0..wanted.len() {
                self.next();
            }
            true
        } else {
            false
        }
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut taken = String::new();
        while let Some(c) = self.peek().filter(|&c| keep(c)) {
            taken.push(c);
            self.next();
        }
        taken
    }

    fn error(&self, message: &str) -> Error {
        Error {
            line: self.line,
            message: message.to_string(),
        }
    }

    fn skip_spaces(&mut self) {
        self.take_while(|c| c == ' ' || c == '\t');
    }

    fn skip_comment(&mut self) {
        if self.peek() == Some('#') {
            self.take_while(|c| c != '\n');
        }
    }

    /// Skips spaces, comments and line ends up to the next content.
    fn skip_blank_lines(&mut self) -> Result<(), Error> {
        loop {
            self.skip_spaces();
            self.skip_comment();
            match self.peek() {
                Some('\n') => {
                    self.next();
                }
                Some('\r') if self.chars.get(self.at + 1) == Some(&'\n') => {
                    self.next();
                }
                _ => return Ok(()),
            }
        }
    }

    /// After a header or a value: only spaces and a comment may follow on
    /// the same line.
    fn end_of_line(&mut self) -> Result<(), Error> {
        self.skip_spaces();
        self.skip_comment();
        match self.peek() {
            None | Some('\n') => Ok(()),
            Some('\r') if self.chars.get(self.at + 1) == Some(&'\n') => Ok(()),
            Some(c) => Err(self.error(&format!("unexpected `{c}` after the value"))),
        }
    }

    fn value(&mut self) -> Result<Value, Error> {
        match self.peek() {
            Some('"') | Some('\'') => Ok(Value::String(self.string()?)),
            Some('[') => {
                self.next();
                let mut items = Vec::new();
                loop {
                    self.skip_blank_lines()?;
                    if self.eat("]") {
                        return Ok(Value::Array(items));
                    }
                    match self.peek() {
                        Some('"') | Some('\'') => items.push(self.string()?),
                        _ => return Err(self.error("expected a string or `]` in the array")),
                    }
                    self.skip_blank_lines()?;
                    if !self.eat(",") && self.peek() != Some(']') {
                        return Err(self.error("expected `,` or `]` after an array item"));
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' => {
                let line = self.line;
                let digits = self.take_while(|c| c.is_ascii_alphanumeric() || "+-_".contains(c));
                digits
                    .replace('_', "")
                    .parse()
                    .map(Value::Integer)
                    .map_err(|_| Error {
                        line,
                        message: format!("`{digits}` is not an integer"),
                    })
            }
            _ => Err(self.error(
                "expected a value: an integer, a string or an array of strings \
                 (true, false, dates and inline tables are not used here)",
            )),
        }
    }

    /// A string in any of its four forms, the cursor on its first quote.
    fn string(&mut self) -> Result<String, Error> {
        let start = self.line;
        let unterminated = |what: &str| Error {
            line: start,
            message: format!("unterminated {what}"),
        };
        if self.eat("'''") {
            self.trim_first_newline();
            let mut text = String::new();
            loop {
                if let Some(closed) = self.closing('\'', &mut text)? {
                    return Ok(closed);
                }
                text.push(self.next().ok_or_else(|| unterminated("'''string'''"))?);
            }
        }
        if self.eat("\"\"\"") {
            self.trim_first_newline();
            let mut text = String::new();
            loop {
                if let Some(closed) = self.closing('"', &mut text)? {
                    return Ok(closed);
                }
                match self
                    .next()
                    .ok_or_else(|| unterminated("\"\"\"string\"\"\""))?
                {
                    '\\' => {
                        // A backslash at the end of a line joins it to the
                        // next non-blank text.
                        let rest = self.at;
                        self.skip_spaces();
                        if self.peek() == Some('\n') || self.eat("\r\n") || self.peek().is_none() {
                            while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
                                self.next();
                            }
                        } else {
                            self.at = rest;
                            text.push(self.escape()?);
                        }
                    }
                    c => text.push(c),
                }
            }
        }
        if self.eat("'") {
            let text = self.take_while(|c| c != '\'' && c != '\n');
            if !self.eat("'") {
                return Err(unterminated("'string'"));
            }
            return Ok(text);
        }
        self.next(); // the opening `"`
        let mut text = String::new();
        loop {
            match self.next() {
                Some('"') => return Ok(text),
                Some('\\') => text.push(self.escape()?),
                Some('\n') | None => return Err(unterminated("\"string\"")),
                Some(c) => text.push(c),
            }
        }
    }

    /// At a run of three or more `quote`s inside a multi-line string: the
    /// string ends with the last three, and up to two before them belong to
    /// it (TOML's rule). Returns the whole string then, `None` elsewhere.
    fn closing(&mut self, quote: char, text: &mut String) -> Result<Option<String>, Error> {
        let run = self.chars[self.at..]
            .iter()
            .take_while(|&&c| c == quote)
            .count();
        if run < 3 {
            return Ok(None);
        }
        if run > 5 {
            return Err(self.error(&format!("{run} `{quote}` in a row in a multi-line string")));
        }
        for _ in 0..run {
            self.next();
        }
        text.extend(std::iter::repeat_n(quote, run - 3));
        Ok(Some(std::mem::take(text)))
    }

    /// A multi-line string's first newline, right after its opening quotes,
    /// is not part of it.
    fn trim_first_newline(&mut self) {
        if !self.eat("\n") {
            self.eat("\r\n");
        }
    }

    /// The character an escape stands for, the cursor past its backslash.
    fn escape(&mut self) -> Result<char, Error> {
        let c = self
            .next()
            .ok_or_else(|| self.error("unterminated escape"))?;
        let hex = |reader: &mut Reader, len: usize| {
            let digits: String = (0..len).filter_map(|_| reader.next()).collect();
            u32::from_str_radix(&digits, 16)
                .ok()
                .filter(|_| digits.len() == len)
                .and_then(char::from_u32)
                .ok_or_else(|| reader.error(&format!("bad unicode escape `{digits}`")))
        };
        Ok(match c {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'e' => '\u{1b}',
            '"' => '"',
            '\\' => '\\',
            'u' => hex(self, 4)?,
            'U' => hex(self, 8)?,
            other => return Err(self.error(&format!("unknown escape `\\{other}`"))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string_of(document: &str) -> String {
        let tables = parse(&format!("[[t]]\nk = {document}\n")).expect("parses");
        match &tables[0].pairs[0].value {
            Value::String(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn tables_pairs_and_comments() {
        let document = "# a comment\n\n[[exercise]] # trailing\nnumber = 3\nfails = [\n  \"a\", # one\n  'b',\n]\n[[exercise.edit]]\nfile = \"x.rs\"\n";
        let tables = parse(document).expect("parses");
        assert_eq!(tables.len(), 2);
        assert_eq!(tables[0].name, "exercise");
        assert_eq!(tables[0].line, 3);
        assert_eq!(tables[0].pairs[0].value, Value::Integer(3));
        assert_eq!(
            tables[0].pairs[1].value,
            Value::Array(vec!["a".to_string(), "b".to_string()])
        );
        assert_eq!(tables[1].name, "exercise.edit");
        assert_eq!(tables[1].pairs[0].line, 10);
    }

    #[test]
    fn the_four_kinds_of_string() {
        assert_eq!(string_of(r#""a\tb\"c\\ \u00e9""#), "a\tb\"c\\ é");
        assert_eq!(string_of(r"'C:\path'"), r"C:\path");
        assert_eq!(string_of("'''\n  two\n  lines\n'''"), "  two\n  lines\n");
        assert_eq!(string_of("'''no newline'''"), "no newline");
        assert_eq!(string_of("'''it's \"x\"'''"), "it's \"x\"");
        assert_eq!(
            string_of("\"\"\"\nline\\n \\\n   joined\"\"\""),
            "line\n joined"
        );
        assert_eq!(string_of("''''quoted'''''"), "'quoted''");
    }

    #[test]
    fn what_is_not_understood_is_an_error_with_its_line() {
        let error = |document: &str| parse(document).expect_err("must fail").line;
        assert_eq!(error("[exercise]\n"), 1);
        assert_eq!(error("key = 1\n"), 1);
        assert_eq!(error("[[t]]\nk = true\n"), 2);
        assert_eq!(error("[[t]]\nk = 1\nk = 2\n"), 3);
        assert_eq!(error("[[t]]\nk = 'a' 'b'\n"), 2);
        assert_eq!(error("[[t]]\n\nk = '''open\n\n"), 3);
        assert_eq!(error("[[t]]\nk = \"bad \\q\"\n"), 2);
        assert_eq!(error("[[t]]\nk = [1]\n"), 2);
    }
}
