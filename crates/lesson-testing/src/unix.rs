//! The Unix domain for the tests (lesson 05): fresh directories for socket
//! paths, connecting to a path, socket files that are stale or held by a
//! live listener, paths of a chosen length, and a fake server that shows
//! exactly what a client sends.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::stream::Stream;
use crate::{Server, Transport, WAIT};

/// A fresh, private directory for socket paths, removed with everything in
/// it when dropped. Tests running in parallel each get their own, so their
/// paths never collide.
pub struct SocketDir {
    path: PathBuf,
}

impl SocketDir {
    /// Creates a new directory (mode 0700) under the system's temp dir.
    /// Its name is short, since a socket path must fit in 107 bytes.
    pub fn new() -> SocketDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "lesson-{}-{}-{nanos}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        SocketDir { path }
    }

    /// The directory itself.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `name` inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Default for SocketDir {
    fn default() -> SocketDir {
        SocketDir::new()
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A connection to the Unix-domain stream socket at `path`, with [`WAIT`]
/// as its read and write timeout.
pub fn connect(path: &Path) -> Stream {
    let stream = UnixStream::connect(path)
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", path.display()));
    stream.set_read_timeout(Some(WAIT)).ok();
    stream.set_write_timeout(Some(WAIT)).ok();
    Stream::Unix(stream)
}

/// The longest socket path Linux's `sun_path` holds with its NUL: 107.
pub const MAX_PATH_LEN: usize = 107;

/// A path of exactly `length` bytes inside `dir` (a file name of `x`s
/// after the directory), for the `sun_path` limit. Fails the test if the
/// directory's own path is already too long for that.
pub fn path_of_length(dir: &SocketDir, length: usize) -> PathBuf {
    let prefix = dir.path().as_os_str().len() + 1;
    assert!(
        length > prefix,
        "the temp dir {} is too long for a {length}-byte socket path (set TMPDIR)",
        dir.path().display()
    );
    let path = dir.join(&"x".repeat(length - prefix));
    assert_eq!(path.as_os_str().len(), length);
    path
}

/// Leaves a *stale* socket file at `path`, as a crashed server does: a
/// listener is bound there, then closed, and its file stays behind with
/// no socket behind it.
pub fn stale_socket_file(path: &Path) {
    drop(UnixListener::bind(path).unwrap_or_else(|e| panic!("binding {}: {e}", path.display())));
    assert!(is_socket_file(path), "{} should remain", path.display());
}

/// A live listener at `path`, for "address already in use": the path is
/// taken for as long as the returned listener lives.
pub fn live_listener(path: &Path) -> UnixListener {
    UnixListener::bind(path).unwrap_or_else(|e| panic!("binding {}: {e}", path.display()))
}

/// Whether `path` itself (not what a symbolic link there points to) is a
/// socket file.
pub fn is_socket_file(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// A stand-in Unix-domain server at `path`, to see exactly what a client
/// sends: it accepts one connection and hands it to `serve` on a thread.
/// Its accept is bounded by [`WAIT`]. Join the handle to learn whether
/// `serve`'s assertions held.
pub fn fake_server(
    path: &Path,
    serve: impl FnOnce(UnixStream) + Send + 'static,
) -> thread::JoinHandle<()> {
    let listener = live_listener(path);
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    crate::tcp::serve_first_connection(
        move || listener.accept().ok().map(|(stream, _)| stream),
        |stream: &UnixStream| {
            stream.set_nonblocking(false).expect("blocking stream");
            stream.set_read_timeout(Some(WAIT)).ok();
        },
        serve,
    )
}

/// Waits until the other end of `stream` has read every byte we sent: in
/// the Unix domain the bytes stay charged to our socket (`TIOCOUTQ`) until
/// the peer's program has read them. True once it has, false after
/// [`WAIT`].
pub fn wait_until_peer_has_read(stream: &UnixStream) -> bool {
    crate::wait_until(WAIT, || crate::stream::unsent_bytes(stream) == Some(0))
}

/// Starts the Unix-domain server `bin PATH` and returns once it is
/// listening at `path`, so that a client may connect at once.
pub fn start_server(bin: &Path, path: &Path) -> Server {
    Server::start(bin, &[path], Transport::Unix)
}
