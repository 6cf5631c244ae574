//! Just enough HTML for checking a built book: the tags of a page with
//! their attributes, the ids a fragment can point at, and where a relative
//! link leads. mdBook writes well-formed HTML of a known shape, so a small
//! scanner does the job and no HTML crate has to be built for it.

use std::collections::BTreeSet;

/// A start tag: its name (lower case) and its attributes, values decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    /// Where it starts in the page, in bytes, for messages.
    pub at: usize,
}

impl Tag {
    /// The value of attribute `name`, if the tag has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The start tags of `html`, in order. Comments are skipped, and so is the
/// text of `<script>` and `<style>`, where a `<` is code, not a tag (the
/// book's own scripts build the sidebar out of strings of HTML).
pub fn tags(html: &str) -> Vec<Tag> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(offset) = html[at..].find('<') {
        let start = at + offset;
        let rest = &html[start..];
        if rest.starts_with("<!--") {
            at = rest
                .find("-->")
                .map_or(html.len(), |end| start + end + "-->".len());
            continue;
        }
        let name_len = rest[1..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len() - 1);
        if name_len == 0 || !rest[1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            // `</p>`, `<!DOCTYPE`, or a lone `<`: not a start tag.
            at = start + 1;
            continue;
        }
        let name = rest[1..1 + name_len].to_ascii_lowercase();
        let (attributes, length) = attributes(&rest[1 + name_len..]);
        at = start + 1 + name_len + length;
        if name == "script" || name == "style" {
            let close = format!("</{name}");
            at = html[at..]
                .to_ascii_lowercase()
                .find(&close)
                .map_or(html.len(), |end| at + end);
        }
        found.push(Tag {
            name,
            attributes,
            at: start,
        });
    }
    found
}

/// The attributes of a start tag, from just after its name; and how many
/// bytes they took, up to and including the closing `>`.
fn attributes(text: &str) -> (Vec<(String, String)>, usize) {
    let bytes = text.as_bytes();
    let mut attributes = Vec::new();
    let mut i = 0;
    let skip_space = |i: &mut usize| {
        while *i < bytes.len() && bytes[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    loop {
        skip_space(&mut i);
        match bytes.get(i) {
            None => return (attributes, i),
            Some(b'>') => return (attributes, i + 1),
            Some(b'/') => {
                i += 1;
                continue;
            }
            Some(_) => {}
        }
        let name_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && !b"=>/".contains(&bytes[i]) {
            i += 1;
        }
        let name = text[name_start..i].to_ascii_lowercase();
        skip_space(&mut i);
        let mut value = String::new();
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            skip_space(&mut i);
            let value_start;
            match bytes.get(i) {
                Some(&quote @ (b'"' | b'\'')) => {
                    value_start = i + 1;
                    i = value_start;
                    while i < bytes.len() && bytes[i] != quote {
                        i += 1;
                    }
                    value = decode_entities(&text[value_start..i]);
                    i = (i + 1).min(bytes.len());
                }
                _ => {
                    value_start = i;
                    while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                        i += 1;
                    }
                    value = decode_entities(&text[value_start..i]);
                }
            }
        }
        if !name.is_empty() {
            attributes.push((name, value));
        }
    }
}

/// `&amp;`, `&quot;`, `&#39;`, `&lt;`, `&gt;` and numeric references: the
/// entities mdBook writes into attribute values.
pub fn decode_entities(text: &str) -> String {
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        decoded.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let entity = after.find(';').map(|end| (&after[..end], end));
        let character = entity.and_then(|(name, _)| match name {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "nbsp" => Some('\u{a0}'),
            _ => {
                let number = name.strip_prefix('#')?;
                let code = match number.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                    None => number.parse().ok()?,
                };
                char::from_u32(code)
            }
        });
        match (character, entity) {
            (Some(c), Some((_, end))) => {
                decoded.push(c);
                rest = &after[end + 1..];
            }
            _ => {
                decoded.push('&');
                rest = after;
            }
        }
    }
    decoded.push_str(rest);
    decoded
}

/// Every name a fragment of a link to this page can point at: the ids of
/// its elements, and the names of its `<a name>` anchors.
pub fn anchors(tags: &[Tag]) -> BTreeSet<String> {
    tags.iter()
        .flat_map(|tag| {
            let name = (tag.name == "a").then(|| tag.get("name")).flatten();
            tag.get("id").into_iter().chain(name)
        })
        .map(str::to_string)
        .collect()
}

/// Where a link in the book leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Outside the book (`https:`, `mailto:`, `//host/...`): not followed,
    /// since the machines this runs on may have no network.
    External,
    /// A file of the book (`/`-separated, relative to the book's root,
    /// percent-decoded, no query), and the fragment if there is one.
    Internal {
        path: String,
        fragment: Option<String>,
    },
    /// A relative link that climbs above the book's root.
    Outside,
}

/// Where `href`, found on the page at `page` (relative to the book's root,
/// as `figures/a.html`), leads; `base` is the page's `<base href>` if it
/// has one (mdBook's 404 page has `/`, so its links start at the root).
pub fn resolve(page: &str, base: Option<&str>, href: &str) -> Target {
    let href = href.trim();
    let scheme = href
        .find(':')
        .is_some_and(|colon| is_scheme(&href[..colon]));
    if scheme || href.starts_with("//") {
        return Target::External;
    }
    let (href, fragment) = match href.split_once('#') {
        Some((href, fragment)) => (href, Some(percent_decode(fragment))),
        None => (href, None),
    };
    let href = href.split_once('?').map_or(href, |(path, _)| path);
    let directory = match base {
        Some(base) if base.starts_with('/') => base.trim_start_matches('/'),
        Some(base) => return resolve(page, None, &format!("{base}{href}")),
        None => page.rsplit_once('/').map_or("", |(directory, _)| directory),
    };
    let joined = if href.is_empty() {
        // `#fragment` alone: this very page.
        return Target::Internal {
            path: page.to_string(),
            fragment,
        };
    } else if let Some(from_root) = href.strip_prefix('/') {
        from_root.to_string()
    } else if directory.is_empty() {
        href.to_string()
    } else {
        format!("{}/{href}", directory.trim_end_matches('/'))
    };
    let mut parts: Vec<String> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Target::Outside;
                }
            }
            part => parts.push(percent_decode(part)),
        }
    }
    let mut path = parts.join("/");
    if joined.ends_with('/') || path.is_empty() {
        // A directory: its index page, as a web server serves it.
        path = if path.is_empty() {
            "index.html".to_string()
        } else {
            format!("{path}/index.html")
        };
    }
    Target::Internal { path, fragment }
}

/// Whether `text` is a URL scheme (`https`, `mailto`): a letter, then
/// letters, digits, `+`, `-` or `.`.
fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// `%20` and the like decoded; an invalid escape is kept as it is.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                decoded.push(byte);
                i += 3;
            }
            (byte, _) => {
                decoded.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The line of `at` (a byte offset) in `text`, counting from 1.
pub fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_and_attributes_are_read_as_a_browser_reads_them() {
        let page = r#"<!DOCTYPE html><p class=x>text</p>
<!-- <a href="commented.html"> -->
<a href="02-fork-server.html#a-signal&#39;s-action" id='top'>x</a>
<script>let s = '<a href="in-a-script.html">';</script>
<IMG SRC="figures/a%20b.svg" alt="1 &lt; 2"/><code class="language-rust"></code>"#;
        let found = tags(page);
        let names: Vec<&str> = found.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["p", "a", "script", "img", "code"]);
        assert_eq!(found[0].get("class"), Some("x"));
        assert_eq!(
            found[1].get("href"),
            Some("02-fork-server.html#a-signal's-action")
        );
        assert_eq!(found[3].get("src"), Some("figures/a%20b.svg"));
        assert_eq!(found[3].get("alt"), Some("1 < 2"));
        assert_eq!(anchors(&found), BTreeSet::from(["top".to_string()]));
        assert_eq!(line_of(page, found[1].at), 3);
    }

    #[test]
    fn relative_links_resolve_inside_the_book() {
        let internal = |path: &str, fragment: Option<&str>| Target::Internal {
            path: path.to_string(),
            fragment: fragment.map(str::to_string),
        };
        assert_eq!(
            resolve("02-fork-server.html", None, "figures/02-zombie.svg"),
            internal("figures/02-zombie.svg", None)
        );
        assert_eq!(
            resolve("a/b.html", None, "../bench.html#what-a-line%20costs"),
            internal("bench.html", Some("what-a-line costs"))
        );
        assert_eq!(
            resolve("a/b.html", None, "#exercises"),
            internal("a/b.html", Some("exercises"))
        );
        assert_eq!(
            resolve("a/b.html", None, "./c.html?x=1"),
            internal("a/c.html", None)
        );
        assert_eq!(resolve("a/b.html", None, "/"), internal("index.html", None));
        assert_eq!(
            resolve("404.html", Some("/"), "css/general.css"),
            internal("css/general.css", None)
        );
        assert_eq!(
            resolve("a/404.html", Some("/"), "toc.html"),
            internal("toc.html", None)
        );
        assert_eq!(resolve("a.html", None, "../../etc/passwd"), Target::Outside);
        for external in [
            "https://rust-lang.github.io/mdBook/",
            "mailto:someone@example.org",
            "//example.org/x.css",
        ] {
            assert_eq!(resolve("a.html", None, external), Target::External);
        }
    }

    #[test]
    fn escapes_decode() {
        assert_eq!(percent_decode("a%20b%2"), "a b%2");
        assert_eq!(decode_entities("&amp;&#x41;&#66;&bogus;&"), "&AB&bogus;&");
    }
}
