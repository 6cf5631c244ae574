//! Processes as the kernel shows them in `/proc`, and the clean-up that
//! guarantees nothing xtask starts outlives it.
//!
//! A server under test may fork, hang, or double-fork into the background.
//! Three habits make sure it cannot escape:
//!
//! - every program xtask starts leads a process group of its own (the
//!   harness's `Supervised`, see [`crate::spawn`]), so one `killpg` reaches
//!   it and everything it forked without leaving the group;
//! - xtask is a *child subreaper* ([`become_subreaper`]): a process below
//!   xtask whose parent dies is re-parented to xtask instead of to init
//!   (PID 1), so it stays findable even after `setsid()`;
//! - [`kill_orphans`] kills and reaps every such process.

use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

pub use lesson_testing::procfs::{children_of, Process};

/// xtask's own process ID.
pub fn my_pid() -> i32 {
    std::process::id() as i32
}

/// Marks xtask as a child subreaper (`prctl(PR_SET_CHILD_SUBREAPER)`):
/// orphans below it are re-parented to it, not to init.
pub fn become_subreaper() -> Result<(), String> {
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| format!("cannot become a child subreaper: {e}"))
}

/// Collects the exit status of xtask's children that are zombies, except
/// those in `keep` (children someone still waits for). Returns how many.
/// Orphans that exited while re-parented to xtask would otherwise each
/// hold a process ID until xtask ends.
pub fn reap_zombies(keep: &[i32]) -> usize {
    children_of(my_pid())
        .into_iter()
        .filter(|p| p.is_zombie() && !keep.contains(&p.pid))
        .filter(|p| reap(p.pid))
        .count()
}

/// Kills every child of xtask (after the runs are over, these are only
/// orphans re-parented to it) and reaps them, until none is left or a few
/// seconds have passed. Killing one may orphan its own children, which
/// then become xtask's: the loop finds them on the next round. Returns how
/// many it reaped.
pub fn kill_orphans() -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut reaped = 0;
    loop {
        let children = children_of(my_pid());
        if children.is_empty() || Instant::now() >= deadline {
            return reaped;
        }
        for child in children {
            let _ = kill(Pid::from_raw(child.pid), Signal::SIGKILL);
            if reap(child.pid) {
                reaped += 1;
            }
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// `waitpid(pid, WNOHANG)`: whether `pid` was collected just now.
fn reap(pid: i32) -> bool {
    match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) | Err(_) => false,
        Ok(_) => true,
    }
}
