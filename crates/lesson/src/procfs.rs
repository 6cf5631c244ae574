//! Processes as the kernel shows them in `/proc`, the way `ps` reads them.
//!
//! Lessons 02 and 03 are about processes more than sockets: children that
//! finish and, unless their parent collects them, stay behind as zombies
//! (state `Z`). The tests, the demos and `cargo xtask` all look at them
//! the same way, through these few functions.

use std::fs;

/// One process, as `ps -o pid,ppid,stat,comm` would show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: i32,
    pub parent: i32,
    /// The state letter of `/proc/PID/stat`: R running, S sleeping,
    /// Z zombie (exited, its status not yet collected by its parent), ...
    pub state: char,
    /// The command name (at most 15 bytes, as the kernel keeps it).
    pub command: String,
}

impl Process {
    /// Whether it has exited and waits for its parent to collect its status.
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }
}

/// Reads `/proc/PID/stat`: `pid (comm) state ppid ...`. The command name
/// may itself contain spaces and parentheses, so split after the last `)`.
pub fn process(pid: i32) -> Option<Process> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let command = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 1..)?.split_whitespace();
    let state = rest.next()?.chars().next()?;
    let parent = rest.next()?.parse().ok()?;
    Some(Process {
        pid,
        parent,
        state,
        command,
    })
}

/// Every process whose parent is `parent`, by ascending PID.
pub fn children_of(parent: i32) -> Vec<Process> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: Vec<Process> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(process)
        .filter(|p| p.parent == parent)
        .collect();
    children.sort_by_key(|p| p.pid);
    children
}

/// How many descriptors `pid` has open (the entries of `/proc/PID/fd`).
pub fn open_descriptors(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_reads_back_as_running_with_its_parent() {
        let me = process(std::process::id() as i32).expect("/proc/self");
        assert_eq!(me.pid, std::process::id() as i32);
        assert!(me.parent > 0);
        assert!(!me.is_zombie());
        assert!(open_descriptors(me.pid) >= 3, "stdin, stdout, stderr");
    }

    #[test]
    fn a_finished_child_is_a_zombie_until_waited_for() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let me = std::process::id() as i32;
        let pid = child.id() as i32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !process(pid).is_some_and(|p| p.is_zombie()) {
            assert!(std::time::Instant::now() < deadline, "never a zombie");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(children_of(me)
            .iter()
            .any(|p| p.pid == pid && p.is_zombie()));
        child.wait().expect("reaping it");
        assert!(process(pid).is_none());
    }
}
