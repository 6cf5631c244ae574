//! Faults the checks make a program under test meet, on demand: what a
//! machine produces rarely, or never, and a correct program must survive.
//!
//! - **Injected**, by a library preloaded into the program
//!   ([`preload`]; its source and what it does: `faults/src/lib.rs`): a
//!   host name that resolves to two addresses, the first refusing
//!   ([`TWO_ADDRESSES`]), and `accept()` calls that fail with the `errno`s
//!   listed in [`ACCEPT_FAULTS`]. Only a dynamically linked program loads
//!   it; the checks that depend on it tell when a program did not
//!   ([`NOT_LOADED`]).
//! - **Real**: a server's own descriptor limit, lowered from outside
//!   ([`DescriptorLimit`]), so that its next `accept()` fails with the
//!   kernel's `EMFILE`. That works for any program, static or not.

use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::process::Command;

/// The fault-injection library, built by the harness's build script.
pub const LIBRARY: &str = env!("LESSON_FAULTS_LIBRARY");

/// A host name that only the library knows (no resolver knows a name
/// under `.invalid`): it resolves to [`REFUSING`], then [`ANSWERING`].
pub const TWO_ADDRESSES: &str = "first-refuses.lesson.invalid";

/// The first address of [`TWO_ADDRESSES`], where the checks listen on
/// nothing: a connection there is refused.
pub const REFUSING: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// The second address of [`TWO_ADDRESSES`], where the checks listen.
pub const ANSWERING: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// The variable that lists the failures the library injects into the
/// program's first `accept()` calls, one per call: `errno` names separated
/// by commas (`EINTR,ECONNABORTED`).
pub const ACCEPT_FAULTS: &str = "LESSON_FAULTS_ACCEPT";

/// Why a program may not have met an injected fault, for the checks'
/// messages.
pub const NOT_LOADED: &str = "the faults are injected by a library that the check preloads \
     (LD_PRELOAD); a statically linked program never loads it, and a program that resolves \
     names or accepts connections without the C library's calls never meets it, so this \
     check cannot judge it";

/// The value of `LD_PRELOAD` that loads the library first, before any
/// library the environment already preloads.
pub fn ld_preload() -> OsString {
    let mut value = OsString::from(LIBRARY);
    if let Some(already) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        value.push(":");
        value.push(already);
    }
    value
}

/// Makes `command` load the library.
pub fn preload(command: &mut Command) -> &mut Command {
    command.env("LD_PRELOAD", ld_preload())
}

/// A process's descriptor limit (`RLIMIT_NOFILE`), lowered from outside
/// with prlimit(2) so that it can open no descriptor at all, and put back
/// by [`DescriptorLimit::restore`] or on drop.
///
/// The limit bounds descriptor *numbers*: a new descriptor takes the lowest
/// free number, and fails with `EMFILE` when that number is not below the
/// soft limit. So the limit is lowered to the lowest number the process
/// has free, which `/proc/PID/fd` tells. (A call that already reserved a
/// number, such as an `accept()` blocked when the limit was lowered, still
/// completes: the kernel takes the number before it waits.)
pub struct DescriptorLimit {
    pid: i32,
    saved: Option<libc::rlimit>,
}

impl DescriptorLimit {
    /// Lowers `pid`'s soft limit to the lowest descriptor number it has
    /// free; the hard limit stays.
    pub fn exhaust(pid: i32) -> DescriptorLimit {
        let open: Vec<i32> = procfs::process::Process::new(pid)
            .and_then(|p| p.fd())
            .map(|fds| fds.filter_map(|fd| fd.ok().map(|fd| fd.fd)).collect())
            .unwrap_or_else(|e| panic!("cannot list the descriptors of process {pid}: {e}"));
        let lowest_free = (0..).find(|n| !open.contains(n)).unwrap_or(0);
        let current = prlimit(pid, None);
        let lowered = libc::rlimit {
            rlim_cur: lowest_free as libc::rlim_t,
            rlim_max: current.rlim_max,
        };
        prlimit(pid, Some(&lowered));
        DescriptorLimit {
            pid,
            saved: Some(current),
        }
    }

    /// Puts the limit back as it was.
    pub fn restore(mut self) {
        self.put_back();
    }

    fn put_back(&mut self) {
        if let Some(saved) = self.saved.take() {
            // The process may have ended meanwhile: nothing to put back.
            let _ = try_prlimit(self.pid, Some(&saved));
        }
    }
}

impl Drop for DescriptorLimit {
    fn drop(&mut self) {
        self.put_back();
    }
}

/// prlimit(2) on `RLIMIT_NOFILE` of `pid`: sets `new` if given, and returns
/// the limit as it was. Fails the test if the call fails.
fn prlimit(pid: i32, new: Option<&libc::rlimit>) -> libc::rlimit {
    try_prlimit(pid, new).unwrap_or_else(|e| panic!("prlimit(RLIMIT_NOFILE) on process {pid}: {e}"))
}

fn try_prlimit(pid: i32, new: Option<&libc::rlimit>) -> std::io::Result<libc::rlimit> {
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    let new = new.map_or(std::ptr::null(), |n| n as *const libc::rlimit);
    // SAFETY: prlimit() reads `new` when it is not NULL, and writes the old
    // limit into `old`; both point to valid `struct rlimit`s that outlive
    // the call. Changing another process's limit needs the same user (or
    // CAP_SYS_RESOURCE), which the kernel checks.
    let done = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, new, &mut old) };
    if done == 0 {
        Ok(old)
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    /// `getent ahosts NAME` asks getaddrinfo(), as the clients do (glibc
    /// ships `getent`; without it there is nothing to run).
    fn getent(database: &str) -> Option<String> {
        let mut command = Command::new("getent");
        command
            .args([database, TWO_ADDRESSES])
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        let output = preload(&mut command).output().ok()?;
        Some(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    #[test]
    fn the_library_resolves_the_name_to_two_addresses_first_refusing_first() {
        let Some(found) = getent("ahostsv4") else {
            return;
        };
        let addresses: Vec<&str> = found
            .lines()
            .filter(|l| l.contains("STREAM"))
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(
            addresses,
            [REFUSING.to_string(), ANSWERING.to_string()],
            "getaddrinfo() through the library answered:\n{found}"
        );
    }

    #[test]
    fn gethostbyname_sees_the_same_two_addresses() {
        let Some(found) = getent("hosts") else {
            return;
        };
        let first: Vec<&str> = found
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(first.first(), Some(&"127.0.0.2"), "{found}");
    }

    #[test]
    fn a_lowered_limit_is_the_lowest_free_descriptor_and_comes_back() {
        let mut child = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sleep");
        let pid = child.id() as i32;
        let before = prlimit(pid, None);
        let limit = DescriptorLimit::exhaust(pid);
        let lowered = prlimit(pid, None);
        assert_eq!(lowered.rlim_cur, 3, "stdin, stdout and stderr are open");
        assert_eq!(lowered.rlim_max, before.rlim_max);
        limit.restore();
        assert_eq!(prlimit(pid, None).rlim_cur, before.rlim_cur);
        let _ = child.kill();
        let _ = child.wait();
    }
}
