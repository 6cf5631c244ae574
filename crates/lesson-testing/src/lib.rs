//! The end-to-end test harness every lesson's tests share, and the process
//! machinery xtask uses too.
//!
//! The tests drive real binaries, so they must be careful citizens:
//!
//! - **Which binary.** [`binary`] returns the workspace's own build unless an
//!   environment variable names another one (`LESSON_BIN_TCP_SERVER` for
//!   `tcp-server`, and so on), so the same tests grade a student's program
//!   or the tutorial's C.
//! - **Ready, not asleep.** [`Server::start`] returns once the kernel's own
//!   socket tables (sock_diag for TCP, `/proc/net/udp` and `/proc/net/unix`)
//!   show the server's socket bound (and listening, for streams). That needs no readiness line and
//!   has no side effect: a probe connection would make a fork server fork,
//!   and would occupy an iterative one.
//! - **Bounded.** Every wait gives up after [`WAIT`] and fails the test with
//!   what the server said so far.
//! - **Nothing left behind.** Every program runs in a process group of its
//!   own ([`supervisor`]), and dropping its guard kills the whole group
//!   with SIGKILL (its forked children too), also when an assertion fails.
//! - **Nothing missed.** Output is read as it comes, and asking for it
//!   reads what is still in the pipe first, so a line written just before
//!   a program exits is never missing from what a check sees.
//! - **Parallel-safe.** Servers listen on port 0 and tests ask the kernel
//!   which port it chose; Unix-domain paths live in fresh temp dirs
//!   ([`unix::SocketDir`]), removed at the end.
//!
//! Where things live:
//!
//! | module | what |
//! | --- | --- |
//! | [`supervisor`] | process groups, captured output, kill on drop (xtask uses it too) |
//! | [`procfs`] | `/proc`: processes, descriptors, signal masks, socket tables |
//! | [`server`] | a server under test, an interactive client |
//! | [`stream`] | lesson 01's conversation, over TCP or the Unix domain |
//! | [`tcp`], [`udp`], [`unix`] | each transport's helpers and fake servers |
//! | [`rules`] | checks of the rules every binary follows |
//! | [`forking`] | scenarios for servers that fork per connection |
//! | [`accepting`] | scenarios for servers whose `accept()` fails (02, 03, 05) |
//! | [`faults`] | faults made on demand: a preloaded library, a lowered descriptor limit |

use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

pub mod accepting;
pub mod faults;
pub mod forking;
pub mod procfs;
pub mod report;
pub mod rules;
pub mod run;
pub mod server;
pub mod stream;
pub mod supervisor;
pub mod tcp;
pub mod udp;
pub mod unix;

pub use server::{Address, Interactive, Server, Transport};

/// The longest any single wait in a test may take. Generous, because CI is
/// a busy 2-core machine; a passing test never waits this long.
pub const WAIT: Duration = Duration::from_secs(10);

/// The binary to test: `$LESSON_BIN_<NAME>` when set, else `built` (pass
/// `env!("CARGO_BIN_EXE_<name>")`, the workspace's own build). Every check
/// asks for one first, so this is where the checks' failure report is put
/// in place ([`report::install`]).
pub fn binary(name: &str, built: &str) -> PathBuf {
    report::install();
    match std::env::var_os(override_variable(name)) {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from(built),
    }
}

/// The variable that overrides binary `name`: `tcp-server` →
/// `LESSON_BIN_TCP_SERVER`.
pub fn override_variable(name: &str) -> String {
    format!("LESSON_BIN_{}", name.to_uppercase().replace('-', "_"))
}

/// Whether servers under test are expected to print the contract's
/// readiness line. Set `LESSON_NO_READINESS_LINE=1` to grade programs
/// that do not, such as the tutorial's own C.
pub fn expects_readiness_line() -> bool {
    std::env::var_os("LESSON_NO_READINESS_LINE").is_none_or(|v| v.is_empty() || v == "0")
}

/// A program under test to run to its end (a client, or a server that
/// should exit at once), stdin closed, bounded by [`WAIT`]: see [`run`].
pub fn client(bin: &Path) -> run::Command {
    run::Command::new(bin)
}

/// Polls `condition` every few milliseconds until it holds (true) or
/// `limit` has passed (false).
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}
