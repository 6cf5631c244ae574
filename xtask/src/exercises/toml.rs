//! `exercises.toml`, read by the `toml` crate and handed on as a list of
//! tables that remember the line each table and key starts on, so that a
//! mistake in an entry is reported with its line.
//!
//! Understood: `[[exercise]]` tables and the `[[exercise.edit]]` tables
//! nested in them (any `[[a]]` and `[[a.b]]`), with integer, string and
//! string-array values. Anything else is an error naming its line, never a
//! silent misreading.

use std::fmt;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

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

/// One `[[name]]` table: its name (`exercise`, `exercise.edit`), the line
/// of its header, and its pairs.
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

/// The `[[...]]` tables of a document, in file order (a nested table
/// follows the table it belongs to).
pub fn parse(text: &str) -> Result<Vec<Table>, Error> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let error = |offset: usize, message: String| Error {
        line: line_of(offset),
        message,
    };
    let root = DeTable::parse(text).map_err(|e| {
        let first = e.message().lines().next().unwrap_or("not TOML").to_string();
        error(e.span().map_or(0, |s| s.start), first)
    })?;
    let mut tables = Vec::new();
    let mut pending = vec![(String::new(), root.get_ref().clone())];
    while let Some((prefix, table)) = pending.pop() {
        for (key, value) in table {
            let name = match prefix.as_str() {
                "" => key.get_ref().to_string(),
                outer => format!("{outer}.{}", key.get_ref()),
            };
            let DeValue::Array(items) = value.get_ref() else {
                let message = format!("`{name}` is not a [[table]]: every key belongs to one");
                return Err(error(key.span().start, message));
            };
            for item in items {
                let DeValue::Table(inner) = item.get_ref() else {
                    let message = format!("`{name}` must be a list of [[{name}]] tables");
                    return Err(error(item.span().start, message));
                };
                let mut pairs = Vec::new();
                let mut nested = DeTable::new();
                for (k, v) in inner {
                    if is_table_array(v) {
                        nested.insert(k.clone(), v.clone());
                    } else {
                        pairs.push(Pair {
                            key: k.get_ref().to_string(),
                            value: value_of(v).map_err(|m| error(v.span().start, m))?,
                            line: line_of(k.span().start),
                        });
                    }
                }
                pairs.sort_by_key(|p| p.line);
                let line = line_of(item.span().start);
                tables.push(Table {
                    name: name.clone(),
                    line,
                    pairs,
                });
                if !nested.is_empty() {
                    pending.push((name.clone(), nested));
                }
            }
        }
    }
    tables.sort_by_key(|t| t.line);
    Ok(tables)
}

/// Whether `value` is an array of tables (`[[a.b]]` inside `[[a]]`).
fn is_table_array(value: &Spanned<DeValue<'_>>) -> bool {
    matches!(value.get_ref(), DeValue::Array(items)
        if !items.is_empty() && items.iter().all(|i| matches!(i.get_ref(), DeValue::Table(_))))
}

/// An integer, a string, or an array of strings; anything else is refused.
fn value_of(value: &Spanned<DeValue<'_>>) -> Result<Value, String> {
    match value.get_ref() {
        DeValue::String(s) => Ok(Value::String(s.to_string())),
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
            .map(Value::Integer)
            .map_err(|e| format!("not an integer: {e}")),
        DeValue::Array(items) => items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::String(s) => Ok(s.to_string()),
                _ => Err("an array here holds strings only".to_string()),
            })
            .collect::<Result<_, _>>()
            .map(Value::Array),
        _ => Err("expected an integer, a string or an array of strings".to_string()),
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
    }

    #[test]
    fn what_is_not_understood_is_an_error_with_its_line() {
        let error = |document: &str| parse(document).expect_err("must fail").line;
        assert_eq!(error("[exercise]\n"), 1);
        assert_eq!(error("key = 1\n"), 1);
        assert_eq!(error("[[t]]\nk = true\n"), 2);
        assert_eq!(error("[[t]]\nk = 1\nk = 2\n"), 3);
        assert_eq!(error("[[t]]\nk = 'a' 'b'\n"), 2);
        // An unclosed string is reported where the parser gives up.
        assert!(parse("[[t]]\n\nk = '''open\n\n").is_err());
        assert_eq!(error("[[t]]\nk = \"bad \\q\"\n"), 2);
        assert_eq!(error("[[t]]\nk = [1]\n"), 2);
    }
}
