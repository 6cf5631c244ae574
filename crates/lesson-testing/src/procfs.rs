//! What the kernel shows in `/proc`, read in one place for the tests and
//! xtask, through the `procfs` crate.
//!
//! Lessons 02 and 03 are about processes more than sockets: children that
//! finish and, unless their parent collects them, stay behind as zombies
//! (state `Z`). The checks also look at what a server cannot lie about:
//! its open descriptors, its signal masks, and its sockets in the kernel's
//! tables (TCP through sock_diag, the netlink interface behind `ss`; UDP
//! and the Unix domain through `/proc/net/udp` and `/proc/net/unix`),
//! which tell that a server is ready without a probe connection that would
//! disturb it.

use std::collections::HashSet;
use std::path::PathBuf;

use procfs::net::UdpState;
use procfs::process::FDTarget;
use procfs::{Current, CurrentSI};

/// One process, as `ps -o pid,ppid,pgid,stat,comm` would show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: i32,
    pub parent: i32,
    /// Its process group (a supervised program's group is its own PID).
    pub group: i32,
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

/// Process `pid` from `/proc/PID/stat`, or `None` if there is none.
pub fn process(pid: i32) -> Option<Process> {
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    Some(Process {
        pid,
        parent: stat.ppid,
        group: stat.pgrp,
        state: stat.state,
        command: stat.comm,
    })
}

/// Every process whose parent is `parent`, by ascending PID.
pub fn children_of(parent: i32) -> Vec<Process> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    let mut children: Vec<Process> = all
        .filter_map(|p| process(p.ok()?.pid))
        .filter(|p| p.parent == parent)
        .collect();
    children.sort_by_key(|p| p.pid);
    children
}

/// Every process of the machine (as far as this process can see).
pub fn all_processes() -> Vec<Process> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.filter_map(|p| process(p.ok()?.pid)).collect()
}

/// `pid`'s command line, its arguments joined by spaces (`ps -o args`).
pub fn command_line(pid: i32) -> Option<String> {
    let arguments = procfs::process::Process::new(pid).ok()?.cmdline().ok()?;
    Some(arguments.join(" "))
}

/// The file `pid` runs (`/proc/PID/exe`).
pub fn executable(pid: i32) -> Option<PathBuf> {
    procfs::process::Process::new(pid).ok()?.exe().ok()
}

/// Every process in process group `group`, by ascending PID.
pub fn group_members(group: i32) -> Vec<Process> {
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    let mut members: Vec<Process> = all
        .filter_map(|p| process(p.ok()?.pid))
        .filter(|p| p.group == group)
        .collect();
    members.sort_by_key(|p| p.pid);
    members
}

/// How a process that has ended but is not reaped yet (a zombie) ended:
/// its wait status, which `/proc/PID/stat` keeps until it is reaped. Reads
/// it without reaping, so the process's parent still can.
pub fn exit_status(pid: i32) -> Option<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    (stat.state == 'Z')
        .then_some(stat.exit_code)
        .flatten()
        .map(std::process::ExitStatus::from_raw)
}

/// How many descriptors `pid` has open: the entries of `/proc/PID/fd`,
/// counted one by one.
///
/// Not `fd_count()`'s fast path, the size that `stat()` reports for the
/// directory since Linux 6.2: that is the number of descriptor numbers
/// taken, and a call that creates a descriptor takes its number before it
/// waits. A server blocked in `accept()` has one more number taken than
/// descriptors open, one that is idle between two `accept()`s does not,
/// and a count that depended on that moment made a check fail now and
/// then. The entries show only descriptors that are really open.
pub fn open_descriptors(pid: i32) -> usize {
    procfs::process::Process::new(pid)
        .and_then(|p| p.fd())
        .map(|entries| entries.count())
        .unwrap_or(0)
}

/// `pid`'s open descriptors in order, each with what it refers to as
/// `ls -l /proc/PID/fd` shows it (`socket:[1234]`, `/dev/null`, ...).
pub fn descriptors(pid: i32) -> Vec<(u32, String)> {
    let Ok(fds) = procfs::process::Process::new(pid).and_then(|p| p.fd()) else {
        return Vec::new();
    };
    let mut found: Vec<(u32, String)> = fds
        .filter_map(|fd| {
            let fd = fd.ok()?;
            let target = match fd.target {
                FDTarget::Path(path) => path.display().to_string(),
                FDTarget::Socket(inode) => format!("socket:[{inode}]"),
                FDTarget::Pipe(inode) => format!("pipe:[{inode}]"),
                FDTarget::AnonInode(what) => format!("anon_inode:{what}"),
                FDTarget::MemFD(name) => format!("/memfd:{name}"),
                FDTarget::Net(inode) => format!("net:[{inode}]"),
                FDTarget::Other(kind, inode) => format!("{kind}:[{inode}]"),
            };
            Some((u32::try_from(fd.fd).ok()?, target))
        })
        .collect();
    found.sort();
    found
}

/// How many threads `pid` runs (`Threads:` in `/proc/PID/status`).
pub fn threads(pid: i32) -> Option<u64> {
    Some(
        procfs::process::Process::new(pid)
            .ok()?
            .status()
            .ok()?
            .threads,
    )
}

/// A process's signal masks, from `/proc/PID/status`: bit `n - 1` stands
/// for signal `n` (SIGINT, 2, is bit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalMasks {
    /// `SigBlk`: blocked, so they stay pending instead of being delivered.
    pub blocked: u64,
    /// `SigIgn`: their disposition is SIG_IGN.
    pub ignored: u64,
    /// `SigCgt`: a handler is installed for them.
    pub caught: u64,
}

impl SignalMasks {
    /// Whether `mask` (one of the fields) has `signal`'s bit.
    pub fn has(mask: u64, signal: nix::sys::signal::Signal) -> bool {
        mask & (1u64 << (signal as i32 - 1)) != 0
    }
}

/// The signal masks of `pid`.
pub fn signal_masks(pid: i32) -> Option<SignalMasks> {
    let status = procfs::process::Process::new(pid).ok()?.status().ok()?;
    Some(SignalMasks {
        blocked: status.sigblk,
        ignored: status.sigign,
        caught: status.sigcgt,
    })
}

/// The inode numbers of the sockets `pid` has open (`socket:[1234]` in
/// `/proc/PID/fd`): how its entries in the kernel's tables are found.
pub fn socket_inodes(pid: i32) -> HashSet<u64> {
    let Ok(fds) = procfs::process::Process::new(pid).and_then(|p| p.fd()) else {
        return HashSet::new();
    };
    fds.filter_map(|fd| match fd.ok()?.target {
        FDTarget::Socket(inode) => Some(inode),
        _ => None,
    })
    .collect()
}

/// The port of a TCP socket among `inodes` in LISTEN state.
pub fn tcp_listening_port(inodes: &HashSet<u64>) -> Option<u16> {
    tcp_sockets(1 << TCP_LISTEN)
        .into_iter()
        .find(|s| inodes.contains(&s.inode))
        .map(|s| s.local_port)
}

/// How many bytes the TCP socket with local port `local_port`, connected
/// to port `remote_port`, has received that its program has not read yet
/// (its receive queue); `None` if there is no such connection.
pub fn tcp_unread_bytes(local_port: u16, remote_port: u16) -> Option<u32> {
    tcp_sockets(CONNECTED_STATES)
        .into_iter()
        .find(|s| s.local_port == local_port && s.remote_port == remote_port)
        .map(|s| s.unread)
}

/// The port of a bound UDP socket among `inodes` (a bound, unconnected UDP
/// socket shows in state 07, "close").
pub fn udp_bound_port(inodes: &HashSet<u64>) -> Option<u16> {
    let tables = [procfs::net::udp(), procfs::net::udp6()];
    tables
        .into_iter()
        .flatten()
        .flatten()
        .find(|e| e.state == UdpState::Close && inodes.contains(&e.inode))
        .map(|e| e.local_address.port())
}

/// `__SO_ACCEPTCON`, the flag `/proc/net/unix` shows (column `Flags`) on a
/// socket that `listen()` has been called on.
const ACCEPTING_CONNECTIONS: u32 = 0x0001_0000;

/// The path of a Unix-domain socket among `inodes` that is *listening*,
/// as the kernel shows it (the path given to `bind()`).
///
/// Bound is not enough for a stream server: between its `bind()` and its
/// `listen()`, the socket file exists and the socket is in the table, but
/// a client's `connect()` is refused. The table tells the two apart by the
/// `__SO_ACCEPTCON` flag, which the `procfs` crate does not expose, so
/// that one column is read here: `Num RefCount Protocol Flags Type St
/// Inode Path`, numbers in hex except the inode.
pub fn unix_listening_path(inodes: &HashSet<u64>) -> Option<PathBuf> {
    let table = std::fs::read_to_string("/proc/net/unix").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, _, _, flags, _, _, inode, ..] = fields[..] else {
            return None;
        };
        let flags = u32::from_str_radix(flags, 16).unwrap_or(0);
        let listening = flags & ACCEPTING_CONNECTIONS != 0
            && inode.parse().is_ok_and(|i: u64| inodes.contains(&i));
        (listening && fields.len() > 7).then(|| PathBuf::from(fields[7..].join(" ")))
    })
}

/// How many sockets `pid` holds open that are not TCP listeners: for a
/// TCP server, the connections it has not closed (yet). Needs no
/// cooperation from the server.
///
/// Counted from `/proc/PID/fd`, not from the kernel's table of TCP
/// sockets: a connection whose client reset it is in state CLOSE, which
/// that table no longer lists, and a fork server's parent that has not yet
/// closed its copy still holds it.
pub fn connection_sockets(pid: i32) -> usize {
    let inodes = socket_inodes(pid);
    if inodes.is_empty() {
        return 0;
    }
    let listening: HashSet<u64> = tcp_sockets(1 << TCP_LISTEN)
        .into_iter()
        .map(|s| s.inode)
        .collect();
    inodes.difference(&listening).count()
}

/// TCP's state numbers, as the kernel numbers them (`include/net/tcp_states.h`).
const TCP_TIME_WAIT: u32 = 6;
const TCP_LISTEN: u32 = 10;
const TCP_ALL_STATES: u32 = 0xfff;
/// Every state but LISTEN and TIME_WAIT (a TIME_WAIT socket belongs to
/// nobody any more: its inode is 0).
const CONNECTED_STATES: u32 = TCP_ALL_STATES & !(1 << TCP_LISTEN) & !(1 << TCP_TIME_WAIT);

/// One TCP socket, as sock_diag reports it.
struct TcpSocket {
    local_port: u16,
    remote_port: u16,
    /// Bytes received that its program has not read yet.
    unread: u32,
    inode: u64,
}

/// Every TCP socket, IPv4 and IPv6, in one of the `states` (a bit per
/// state number), as the kernel reports them through sock_diag, the
/// netlink interface behind `ss`.
///
/// Why not `/proc/net/tcp`: that table lists every TCP socket of the
/// machine, and after a test suite's thousands of connections most of
/// them wait out TIME_WAIT there for a minute. Reading and parsing it then
/// takes a large fraction of a second, every time a test polls for a
/// server's readiness. sock_diag filters by state in the kernel, so asking
/// for listeners returns a handful of entries whatever the machine did.
fn tcp_sockets(states: u32) -> Vec<TcpSocket> {
    let mut found = Vec::new();
    for family in [libc::AF_INET, libc::AF_INET6] {
        // Best effort: a failure leaves the list shorter, and the caller
        // polls again.
        let _ = sock_diag_dump(family as u8, states, &mut found);
    }
    found
}

/// One sock_diag dump (`SOCK_DIAG_BY_FAMILY` with `NLM_F_DUMP`) of the TCP
/// sockets of `family` in `states`; appends them to `found`.
/// The message layouts are the kernel's ABI (`linux/netlink.h`,
/// `linux/inet_diag.h`), stable since Linux 3.3.
fn sock_diag_dump(family: u8, states: u32, found: &mut Vec<TcpSocket>) -> std::io::Result<()> {
    use socket2::{Domain, Protocol, Socket, Type};
    const NETLINK_SOCK_DIAG: i32 = 4;
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_DUMP: u16 = 0x300;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    // struct nlmsghdr, then struct inet_diag_req_v2.
    const HEADER: usize = 16;
    const REQUEST: usize = HEADER + 56;
    // In each reply, after its nlmsghdr: family, state, timer, retrans (4
    // bytes), then the socket id whose first fields are the local and the
    // remote port (network order), 48 bytes in all; then expires, rqueue,
    // wqueue and uid (4 bytes each), then the inode.
    const PORT_AT: usize = 4;
    const RQUEUE_AT: usize = 4 + 48 + 4;
    const INODE_AT: usize = 4 + 48 + 16;

    let diag = Socket::new(
        Domain::from(libc::AF_NETLINK),
        Type::DGRAM,
        Some(Protocol::from(NETLINK_SOCK_DIAG)),
    )?;
    diag.set_read_timeout(Some(crate::WAIT))?;
    let mut request = Vec::with_capacity(REQUEST);
    request.extend_from_slice(&(REQUEST as u32).to_ne_bytes());
    request.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    request.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    request.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    request.extend_from_slice(&0u32.to_ne_bytes()); // port 0: the kernel
    request.extend_from_slice(&[family, libc::IPPROTO_TCP as u8, 0, 0]);
    request.extend_from_slice(&states.to_ne_bytes());
    request.resize(REQUEST, 0); // any socket id: all zeros
    diag.send(&request)?;

    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let received = std::io::Read::read(&mut &diag, &mut buffer)?;
        let mut at = 0;
        while at + HEADER <= received {
            let word = |offset: usize| -> u32 {
                let bytes = buffer.get(offset..offset + 4).unwrap_or(&[0; 4]);
                u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
            };
            let length = word(at) as usize;
            let kind = u16::from_ne_bytes([buffer[at + 4], buffer[at + 5]]);
            if kind == NLMSG_DONE || kind == NLMSG_ERROR {
                return Ok(());
            }
            if length < HEADER || at + length > received {
                return Ok(());
            }
            let body = at + HEADER;
            if length >= HEADER + INODE_AT + 4 {
                let port = |at: usize| u16::from_be_bytes([buffer[at], buffer[at + 1]]);
                found.push(TcpSocket {
                    local_port: port(body + PORT_AT),
                    remote_port: port(body + PORT_AT + 2),
                    unread: word(body + RQUEUE_AT),
                    inode: u64::from(word(body + INODE_AT)),
                });
            }
            // Messages are aligned to 4 bytes.
            at += (length + 3) & !3;
        }
        if received == 0 {
            return Ok(());
        }
    }
}

/// The machine's 1-minute load average (`/proc/loadavg`).
pub fn load_average() -> Option<f64> {
    procfs::LoadAverage::current()
        .ok()
        .map(|l| f64::from(l.one))
}

/// The kernel's release (`/proc/sys/kernel/osrelease`): `6.18.44`.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The first CPU's model name (`/proc/cpuinfo`).
pub fn cpu_model() -> String {
    procfs::CpuInfo::current()
        .ok()
        .and_then(|info| info.model_name(0).map(str::to_string))
        .unwrap_or_default()
}

/// CPU time the whole machine has spent busy since it booted (every CPU,
/// every process and the kernel: all but idle and iowait; guest time is
/// already in user), and how many CPUs are online (`/proc/stat`).
pub fn machine_busy_time() -> Option<(std::time::Duration, usize)> {
    let stats = procfs::KernelStats::current().ok()?;
    let total = &stats.total;
    let ticks = total.user
        + total.nice
        + total.system
        + total.irq.unwrap_or(0)
        + total.softirq.unwrap_or(0)
        + total.steal.unwrap_or(0);
    let per_second = procfs::ticks_per_second();
    let busy = std::time::Duration::from_secs_f64(ticks as f64 / per_second as f64);
    Some((busy, stats.cpu_time.len().max(1)))
}

/// The processor time `pid` has used so far, in user and kernel mode
/// (`utime` and `stime` of `/proc/PID/stat`); `None` once it has exited.
/// Its children's time is not counted.
pub fn processor_time(pid: i32) -> Option<std::time::Duration> {
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    let ticks = stat.utime + stat.stime;
    let per_second = procfs::ticks_per_second().max(1);
    Some(std::time::Duration::from_nanos(
        ticks.saturating_mul(1_000_000_000) / per_second,
    ))
}

/// The most memory `pid` has had resident at once, in KiB (`VmHWM` in
/// `/proc/PID/status`, the peak of `VmRSS`): what a server cost in memory
/// under load. `None` once it has exited.
pub fn peak_resident_kib(pid: i32) -> Option<u64> {
    procfs::process::Process::new(pid)
        .ok()?
        .status()
        .ok()?
        .vmhwm
}

/// The memory `pid` has resident now, in KiB (`VmRSS` in
/// `/proc/PID/status`): what a server holds for the clients it has.
/// `None` once it has exited.
pub fn resident_kib(pid: i32) -> Option<u64> {
    procfs::process::Process::new(pid)
        .ok()?
        .status()
        .ok()?
        .vmrss
}

/// The memory the kernel's own objects take, machine-wide, in KiB (`Slab`
/// in `/proc/meminfo`): where a socket's memory is (its socket, inode,
/// file and directory entry), which no process's `VmRSS` counts.
pub fn kernel_slab_kib() -> Option<u64> {
    procfs::Meminfo::current().ok().map(|m| m.slab / 1024)
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
        assert!(
            crate::wait_until(crate::WAIT, || process(pid).is_some_and(|p| p.is_zombie())),
            "never a zombie"
        );
        assert!(children_of(me)
            .iter()
            .any(|p| p.pid == pid && p.is_zombie()));
        child.wait().expect("reaping it");
        assert!(process(pid).is_none());
    }

    #[test]
    fn a_listener_is_found_in_the_kernels_table() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        // A socket's inode, as /proc/PID/fd names it, is what fstat says.
        let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: fstat writes a `struct stat` into the buffer we pass and
        // reads nothing else; the descriptor is open for as long as
        // `listener` lives.
        let done = unsafe {
            libc::fstat(
                std::os::fd::AsRawFd::as_raw_fd(&listener),
                stat.as_mut_ptr(),
            )
        };
        assert_eq!(done, 0, "fstat");
        // SAFETY: fstat succeeded, so it filled the whole struct.
        let inode = unsafe { stat.assume_init() }.st_ino;
        assert!(socket_inodes(std::process::id() as i32).contains(&inode));
        assert_eq!(tcp_listening_port(&HashSet::from([inode])), Some(port));
    }

    #[test]
    fn the_machine_reads_back() {
        assert!(load_average().is_some_and(|l| l >= 0.0));
        assert!(!kernel_release().is_empty());
        let (busy, cpus) = machine_busy_time().expect("/proc/stat");
        assert!(busy > std::time::Duration::ZERO && cpus >= 1);
        let me = std::process::id() as i32;
        assert!(threads(me).is_some_and(|n| n >= 1));
        let descriptors = descriptors(me);
        assert!(
            descriptors.iter().any(|(fd, _)| *fd == 0),
            "stdin in {descriptors:?}"
        );
    }

    #[test]
    fn signal_masks_read_back() {
        let masks = signal_masks(std::process::id() as i32).expect("status");
        // Rust's runtime ignores SIGPIPE before main.
        assert!(SignalMasks::has(
            masks.ignored,
            nix::sys::signal::Signal::SIGPIPE
        ));
    }
}
