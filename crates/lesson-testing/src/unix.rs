//! The Unix domain for the tests (lesson 05): fresh directories for socket
//! paths, and connecting to a path.

use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::stream::Stream;
use crate::WAIT;

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
