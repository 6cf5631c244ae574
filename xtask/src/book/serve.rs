//! The built book, served on loopback for the browser: a few dozen lines
//! of std instead of a web server crate. Over `file://` a page cannot
//! `fetch()` another, and a missing file has no status; over HTTP a broken
//! link is a plain 404 that the page itself can see, as a reader's browser
//! would.
//!
//! One thread accepts, and each connection gets a thread of its own (the
//! browser opens several at once, and may open one it never uses); every
//! read and write has a time limit, and each response closes its
//! connection, so nothing waits for long.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::html::{self, Target};

/// How long a connection may take to send its request or take a reply.
const IO_LIMIT: Duration = Duration::from_secs(10);

/// The longest request head read: the browser's are well under this.
const LONGEST_HEAD: u64 = 64 << 10;

/// A directory served on `127.0.0.1`, until dropped.
pub struct Server {
    address: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Serves `root` on a port the kernel chooses.
    pub fn start(root: &Path) -> std::io::Result<Server> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let address = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let root = root.to_path_buf();
        let stopped = Arc::clone(&stop);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    let root = root.clone();
                    thread::spawn(move || {
                        let _ = answer(stream, &root);
                    });
                }
            }
        });
        Ok(Server { address, stop })
    }

    /// `http://127.0.0.1:PORT/` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.address)
    }
}

impl Drop for Server {
    /// Stops accepting: the accept loop sees the flag at its next
    /// connection, which this makes.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
    }
}

/// Reads one request from `stream` and answers it: the file, or 404.
fn answer(stream: TcpStream, root: &Path) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_LIMIT))?;
    stream.set_write_timeout(Some(IO_LIMIT))?;
    let mut reader = BufReader::new(std::io::Read::take(&stream, LONGEST_HEAD));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // The rest of the head, up to its blank line: the browser waits for
    // us to read it before it reads the answer.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut words = request_line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let mut stream = stream;
    if method != "GET" && method != "HEAD" {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"",
            true,
        );
    }
    match file_for(root, target).and_then(|path| Some((std::fs::read(&path).ok()?, path))) {
        Some((body, path)) => respond(
            &mut stream,
            "200 OK",
            content_type(&path),
            &body,
            method == "GET",
        ),
        None => respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            b"not in the book\n",
            method == "GET",
        ),
    }
}

/// The file a request for `target` (`/figures/a.svg?v=1`) asks for, if it
/// is one of the book's.
fn file_for(root: &Path, target: &str) -> Option<PathBuf> {
    match html::resolve("index.html", None, target) {
        Target::Internal { path, .. } => Some(root.join(path)).filter(|p| p.is_file()),
        Target::External | Target::Outside => None,
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    with_body: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body)?;
    }
    stream.flush()
}

/// The media type of a file of the book, by its extension. It matters:
/// the browser shows an SVG as an image only when it is served as one.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "ttf" => "font/ttf",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_map_to_files_of_the_book_only() {
        let root = std::env::temp_dir().join(format!("xtask-book-serve-{}", std::process::id()));
        std::fs::create_dir_all(root.join("figures")).expect("a temporary directory");
        std::fs::write(root.join("index.html"), "<p>").expect("a file");
        std::fs::write(root.join("figures/a b.svg"), "<svg/>").expect("a file");
        assert_eq!(file_for(&root, "/"), Some(root.join("index.html")));
        assert_eq!(
            file_for(&root, "/figures/a%20b.svg?v=2"),
            Some(root.join("figures/a b.svg"))
        );
        assert_eq!(file_for(&root, "/figures/missing.svg"), None);
        assert_eq!(file_for(&root, "/../etc/passwd"), None);
        assert_eq!(file_for(&root, "/figures"), None);
        let _ = std::fs::remove_dir_all(&root);
    }
}
