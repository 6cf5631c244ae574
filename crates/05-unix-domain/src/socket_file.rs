//! The socket file and its lifetime.
//!
//! `bind()` on a Unix-domain stream socket creates a file of type socket
//! at the path (`ls -l` shows an `s` and a size of 0). Closing the socket
//! does not remove it, and neither does the process's death: the file
//! stays until someone calls `unlink()`. While it is there, any new
//! `bind()` to that path fails with `EADDRINUSE`, whether a server still
//! listens behind it or the server that made it crashed long ago.
//!
//! So this module does three things:
//!
//! - [`bind_or_reclaim`]: when the path is taken, look before touching it.
//!   A socket file that no socket is bound to any more (left by a crash)
//!   is removed and the bind retried; a live socket's file (listening or
//!   not, stream or datagram), or anything that is not a socket at all, is
//!   left alone and the server exits 1. It removes nothing but a dead
//!   socket's file.
//! - [`hold_stop_signals`] and [`remove_on_stop`]: on SIGINT or SIGTERM,
//!   remove the file we created and exit 0, from a signal handler that
//!   makes only async-signal-safe calls.
//! - [`remove_and_fail`]: a fatal error after `bind()` removes the file
//!   too before exiting 1.
//!
//! Removing "our" file is done with care as well: a name is not a file.
//! If someone removes our socket file while we run and another server
//! binds the same path, the path then leads to *their* file. So the
//! server records which file `bind()` created (device and inode number)
//! and removes the file at PATH only if it is still that one.

use std::ffi::{c_int, CStr, CString};
use std::fs;
use std::io::{self, ErrorKind};
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;
use std::sync::OnceLock;

use lesson::report::error;
use lesson::OrDie;
use nix::sys::signal::{
    sigaction, sigprocmask, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal,
};
use socket2::{Domain, SockAddr, Socket, Type};

// ANCHOR: bind
/// `bind()`, and what to do when PATH is taken (`EADDRINUSE`).
///
/// Something exists at PATH. It is removed only when all of this holds:
/// it is a socket (`lstat`, which does not follow a symbolic link), and
/// no process has a socket bound to it any more ([`is_stale`]). Anything
/// else ends the server with exit status 1 and leaves PATH as it was.
pub fn bind_or_reclaim(listener: &Socket, path: &Path, address: &SockAddr) {
    let taken = match listener.bind(address) {
        Ok(()) => return,
        Err(e) if e.kind() == ErrorKind::AddrInUse => e,
        Err(e) => bind_failed(path, e),
    };
    let shown = path.display();
    match fs::symlink_metadata(path) {
        Ok(found) if !found.file_type().is_socket() => error(
            "ERROR on binding",
            &format!("{taken}: {shown} is not a socket, so it is left as it is"),
        ),
        Ok(_) => match is_stale(address) {
            Ok(true) => remove_stale(path),
            // All the probe can tell: a socket is bound there and still
            // open. Listening or not, of which type, it cannot say.
            Ok(false) => error(
                "ERROR on binding",
                &format!("{taken}: a live socket is bound to {shown}"),
            ),
            Err(reason) => error(
                "ERROR on binding",
                &format!(
                    "{taken}: cannot tell whether a live socket is bound to {shown}: {reason}"
                ),
            ),
        },
        // Gone since our bind() failed: nothing to remove, just bind again.
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => error("ERROR on binding", &format!("{taken}: {shown}: {e}")),
    }
    listener.bind(address).or_die("ERROR on binding");
}
// ANCHOR_END: bind

/// Any other failure of `bind()`: reported, and the server ends. When a
/// directory on the way to PATH does not exist (`ENOENT`), the message
/// names it, since the OS reason alone ("No such file or directory") does
/// not say which part of the path is missing.
fn bind_failed(path: &Path, failure: io::Error) -> ! {
    if failure.kind() == ErrorKind::NotFound {
        if let Some(missing) = missing_directory(path) {
            error(
                "ERROR on binding",
                &format!(
                    "{failure}: the directory {} does not exist",
                    missing.display()
                ),
            );
        }
    }
    error("ERROR on binding", &failure)
}

/// The first directory on the way to `path` that does not exist, if any.
fn missing_directory(path: &Path) -> Option<&Path> {
    let mut ancestors: Vec<&Path> = path.parent()?.ancestors().collect();
    ancestors.reverse();
    ancestors.into_iter().find(|dir| {
        !dir.as_os_str().is_empty()
            && fs::metadata(dir).is_err_and(|e| e.kind() == ErrorKind::NotFound)
    })
}

// ANCHOR: probe
/// Whether the socket file at `address` is stale: no process has a socket
/// bound to it any more.
///
/// A datagram socket's `connect()` asks the kernel exactly that, without
/// disturbing anyone:
///
/// - `ECONNREFUSED`: the file is there, but no socket is behind it: stale;
/// - `EPROTOTYPE`: a socket of another type is behind it (a datagram
///   socket cannot connect to a stream socket), whether it listens or has
///   only been bound: live;
/// - success: a datagram socket is bound there: live;
/// - `EPERM`: a datagram socket is bound there and connected to another
///   socket, so it takes datagrams from that one only: live;
/// - `ENOENT`: the file has gone meanwhile: nothing to remove.
///
/// A stream socket's `connect()` would answer a different question: to a
/// listening server it would be a real connection (the server would
/// `accept()` it, read nothing and answer no one), and to a stream socket
/// that is bound but not listening it would say `ECONNREFUSED`, as for a
/// stale file, and the live socket's file would be removed.
fn is_stale(address: &SockAddr) -> io::Result<bool> {
    let probe = Socket::new(Domain::UNIX, Type::DGRAM, None)?;
    match probe.connect(address) {
        Ok(()) => Ok(false),
        Err(e) => match e.raw_os_error() {
            Some(libc::ECONNREFUSED) | Some(libc::ENOENT) => Ok(true),
            Some(libc::EPROTOTYPE) | Some(libc::EPERM) => Ok(false),
            _ => Err(e),
        },
    }
    // `probe` is closed here: it never sent anything.
}
// ANCHOR_END: probe

/// `unlink()` a stale socket file. Someone else removing it first is fine.
fn remove_stale(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => error("ERROR removing a stale socket file", &e),
    }
}

// ANCHOR: signals
/// SIGINT and SIGTERM, the signals that stop a server.
fn stop_signals() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set
}

/// Blocks SIGINT and SIGTERM: from now on they wait, pending, instead of
/// ending the process. Call it before `bind()`. Then a stop signal that
/// arrives between `bind()` creating the file and [`remove_on_stop`]
/// installing the handler is not lost, and does not leave the file behind:
/// it is delivered, to the handler, the moment they are unblocked.
pub fn hold_stop_signals() {
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&stop_signals()), None).or_die("ERROR on sigprocmask");
}

/// From now on, SIGINT or SIGTERM removes the socket file that `bind()`
/// just created at `path` and ends the process with status 0. Records
/// which file that is, installs [`remove_socket_file_and_exit`] for both
/// signals, then unblocks them (see [`hold_stop_signals`]).
pub fn remove_on_stop(path: &Path) {
    // A path from the command line never holds a NUL byte, since argv's
    // strings end at the first one; the check costs nothing.
    let c_path = CString::new(path.as_os_str().as_bytes())
        .unwrap_or_else(|e| error("ERROR on the socket path", &e));
    // The socket file bind() created, as it is now. Should there be no
    // socket file at PATH, there is nothing of ours to remove later.
    if let Some(created) = socket_file_at(&c_path) {
        // Only main() calls this, once: the cell is empty.
        let _ = SOCKET_FILE.set((c_path, created));
    }

    let action = SigAction::new(
        SigHandler::Handler(remove_socket_file_and_exit),
        // No SA_RESTART, no other flag: the handler never returns, so
        // nothing is left to restart.
        SaFlags::empty(),
        // While the handler runs, the other stop signal waits.
        stop_signals(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler may interrupt the main program anywhere, in
        // the middle of an allocation or holding stdout's lock, so it may
        // only make async-signal-safe calls (signal-safety(7)) and touch
        // no memory that the main program could be changing. It reads
        // SOCKET_FILE, which was set above, before the handler could run,
        // and is never written again; and it calls lstat(), unlink() and
        // _exit(), all three on the async-signal-safe list. It never
        // returns, so errno needs no saving.
        unsafe { sigaction(signal, &action) }.or_die("ERROR on sigaction");
    }
    // Whatever was held since hold_stop_signals() is delivered now.
    sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&stop_signals()), None)
        .or_die("ERROR on sigprocmask");
}
// ANCHOR_END: signals

// ANCHOR: handler
/// The socket file `bind()` created: its path, NUL-terminated and ready
/// for the C calls, and which file it was. Set once, before the handler is
/// installed, and never changed: the handler only reads it.
static SOCKET_FILE: OnceLock<(CString, FileId)> = OnceLock::new();

/// Which file a name leads to: the device it is on and its inode number.
/// A file removed and created again under the same name is a new file,
/// with another inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    device: libc::dev_t,
    inode: libc::ino_t,
}

/// The SIGINT and SIGTERM handler: remove our socket file, then
/// `_exit(0)`. Only async-signal-safe C calls; no allocation, no lock, no
/// Rust I/O.
extern "C" fn remove_socket_file_and_exit(_signal: c_int) {
    remove_if_ours();
    // SAFETY: _exit() ends the process at once, without running atexit
    // handlers or flushing stdio buffers; unlike exit(), it is
    // async-signal-safe. Our stdout lines are written with one write(2)
    // each and never buffered, so nothing is lost. The kernel closes our
    // sockets: a client being served sees its connection closed.
    unsafe { libc::_exit(0) }
}

/// `unlink()`s the socket file `bind()` created, if PATH still leads to
/// it. If someone removed it meanwhile and another server has bound the
/// path since, that file is theirs: PATH names a new file, and it stays.
/// Async-signal-safe: lstat() and unlink(), nothing else.
fn remove_if_ours() {
    if let Some((path, created)) = SOCKET_FILE.get() {
        if socket_file_at(path) == Some(*created) {
            // SAFETY: `path` is a valid NUL-terminated string that lives
            // as long as the program (it is in a static); unlink() only
            // reads it. Its result does not matter: we are leaving.
            unsafe { libc::unlink(path.as_ptr()) };
        }
    }
}

/// The socket file `path` leads to now, without following a symbolic
/// link; `None` if there is none, or if the file there is not a socket.
/// One lstat() call into a buffer on the stack: async-signal-safe.
fn socket_file_at(path: &CStr) -> Option<FileId> {
    let mut found = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: `path` is NUL-terminated, and `found` has room for a whole
    // `struct stat`, which lstat() fills in when it returns 0. We read it
    // only then.
    if unsafe { libc::lstat(path.as_ptr(), found.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: lstat() returned 0, so it has written the whole structure.
    let found = unsafe { found.assume_init() };
    (found.st_mode & libc::S_IFMT == libc::S_IFSOCK).then_some(FileId {
        device: found.st_dev,
        inode: found.st_ino,
    })
}
// ANCHOR_END: handler

/// A fatal error after `bind()`: remove the socket file we created, then
/// report the error and exit 1, the tutorial's way. The stop signals are
/// blocked first, so the handler cannot run half-way through.
pub fn remove_and_fail(msg: &str, reason: &dyn std::fmt::Display) -> ! {
    hold_stop_signals();
    remove_if_ours();
    error(msg, reason)
}
