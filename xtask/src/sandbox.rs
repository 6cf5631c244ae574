//! The sandbox a lesson's checks run in when the runner can have one: the
//! check binary and every program it starts live in Linux namespaces of
//! their own, so that no program under test can reach the grader, another
//! lesson's run, or another host, whatever it does. In the manner of IOI's
//! `isolate`, made for programs that are *supposed* to fork, listen and
//! signal, and whose process tables the checks read:
//!
//! - a **PID namespace**: the run sees only its own processes, and its
//!   first process (this module's init) stands where PID 1 stands. A
//!   program that calls `kill(getppid())`, `kill(-1, SIGKILL)` or signals
//!   xtask's PID reaches nothing outside. When the init ends, the kernel
//!   kills every process left in the namespace: a daemon, a process that
//!   left its group, an orphan. `/proc` is mounted anew inside, so the
//!   checks read the run's own processes.
//! - a **network namespace** with only loopback, up: the run's ports
//!   cannot collide with another grading run's, and nothing reaches
//!   another host.
//! - a **mount namespace** with a temporary directory of its own
//!   (`$TMPDIR`, a memory file system of bounded size mounted on an empty
//!   directory under the system's) and its own `/dev/shm`: the run's
//!   socket files and temporary directories vanish with it. Nothing else
//!   of the file system is isolated: a program can read and, where its
//!   user may, write files; the programs under test, wherever they are,
//!   stay visible.
//! - a **user namespace** where possible: inside, the run is root of its
//!   own namespace (so it may mount `/proc` and bring loopback up); outside
//!   it is an unprivileged user of its own, so the process limit of its
//!   programs (`RLIMIT_NPROC`) really counts, which it does not for root.
//!
//! How it is entered: the runner starts `xtask __sandbox -- PROGRAM ARGS`
//! ([`command`]) instead of the program. That process forks a child which
//! enters the namespaces, and whose own child is the namespace's init: it
//! mounts, brings loopback up, starts the program, reaps every orphan, and
//! when the program ends kills whatever is left and exits with the
//! program's status. If the program was killed by a signal, the init says
//! so on stderr (`sandbox: the checks' process was killed by SIGKILL`),
//! which the runner turns into a note on every unfinished check.
//!
//! Where namespaces cannot be had (not root, and unprivileged user
//! namespaces disabled), [`probe`] says why in one line and the runner
//! runs the program as it is.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, ExitCode};

use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{execvp, fork, getpid, pipe, read, setresgid, setresuid, write, ForkResult};
use nix::unistd::{Gid, Pid, Uid};

/// The hidden first argument that makes xtask the sandbox's entry.
pub const ENTRY: &str = "__sandbox";

/// What the init prints when the checks' own process was killed by a
/// signal; the runner looks for it.
pub const KILLED: &str = "sandbox: the checks' process was killed by ";

/// A directory under the system's temporary directory that the sandbox
/// mounts its own memory file system on, made before the run and removed
/// after it ([`TempMount`]).
pub struct TempMount(std::path::PathBuf);

impl TempMount {
    pub fn new() -> Result<TempMount, String> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("xtask-sandbox-{}-{number}", getpid()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
        // The run's own user must be able to use it; the memory file system
        // mounted on it inside says so again.
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777));
        Ok(TempMount(dir))
    }
}

impl Drop for TempMount {
    fn drop(&mut self) {
        // Empty outside: whatever the run wrote went into its own file
        // system, gone with it.
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// `program args...` as the runner would start it, inside the sandbox:
/// `xtask __sandbox TMPDIR -- program args...`, with the same directory and
/// environment; the run's temporary files go to `temp`.
pub fn command(inner: &Command, temp: &TempMount) -> Result<Command, String> {
    // Not xtask's path: a build running meanwhile (the checks' own build,
    // say) may replace the file. The running program's own image stays
    // reachable through /proc/self/exe, in the child that execs it too.
    let mut outer = Command::new("/proc/self/exe");
    outer
        .arg(ENTRY)
        .arg(&temp.0)
        .arg("--")
        .arg(inner.get_program())
        .args(inner.get_args());
    if let Some(dir) = inner.get_current_dir() {
        outer.current_dir(dir);
    }
    for (name, value) in inner.get_envs() {
        match value {
            Some(value) => outer.env(name, value),
            None => outer.env_remove(name),
        };
    }
    // Inside, temporary files go to the sandbox's own file system.
    outer.env("TMPDIR", &temp.0);
    Ok(outer)
}

/// Whether the sandbox can be had here: runs `true` in it once. `Err`
/// says why not, in one line.
pub fn probe() -> Result<(), String> {
    let mut inner = Command::new("true");
    inner.stdin(std::process::Stdio::null());
    let temp = TempMount::new()?;
    let output = command(&inner, &temp)?
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot start xtask's sandbox: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let why = said.lines().last().unwrap_or("it failed").trim();
    Err(why.strip_prefix("sandbox: ").unwrap_or(why).to_string())
}

/// `xtask __sandbox TMPDIR -- PROGRAM ARGS...`: runs PROGRAM in the
/// namespaces. Called before xtask starts any thread, so forking here is
/// safe.
pub fn main(args: &[OsString]) -> ExitCode {
    let (temp, program): (std::path::PathBuf, Vec<CString>) = match args {
        [temp, dashes, program @ ..] if dashes == "--" && !program.is_empty() => (
            temp.into(),
            program
                .iter()
                .filter_map(|a| CString::new(a.as_bytes()).ok())
                .collect(),
        ),
        _ => {
            eprintln!("sandbox: usage: xtask {ENTRY} TMPDIR -- PROGRAM [ARGS...]");
            return ExitCode::from(2);
        }
    };
    match enter(&program, &temp) {
        Ok(code) => ExitCode::from(code),
        Err(why) => {
            eprintln!("sandbox: {why}");
            ExitCode::from(125)
        }
    }
}

/// The user the run is outside its user namespace, when we may choose one
/// (as root): one of its own, so that its processes count apart from
/// anybody else's. Derived from our PID, so that runs side by side differ.
fn outside_user() -> u32 {
    200_000 + (getpid().as_raw() as u32 % 100_000)
}

/// Forks the child that enters the namespaces, writes its user mapping
/// from outside, and returns the program's exit code.
fn enter(program: &[CString], temp: &std::path::Path) -> Result<u8, String> {
    let root = Uid::effective().is_root();
    let (outside_uid, outside_gid) = if root {
        let id = outside_user();
        (id, id)
    } else {
        (Uid::current().as_raw(), Gid::current().as_raw())
    };
    // The child tells us when it has its user namespace (`unshared`); we
    // tell it when its mapping is written (`mapped`).
    let (unshared_read, unshared_write) = pipe().map_err(|e| format!("pipe: {e}"))?;
    let (mapped_read, mapped_write) = pipe().map_err(|e| format!("pipe: {e}"))?;
    // SAFETY: xtask has started no thread yet in this mode (main calls us
    // first thing), so the child is a complete copy of a single-threaded
    // process and may do anything, not only async-signal-safe calls.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => {
            drop(unshared_read);
            drop(mapped_write);
            let code = match child(program, temp, unshared_write, mapped_read) {
                Ok(code) => code,
                Err(why) => {
                    eprintln!("sandbox: {why}");
                    125
                }
            };
            std::process::exit(i32::from(code));
        }
        ForkResult::Parent { child } => {
            drop(unshared_write);
            drop(mapped_read);
            let mut byte = [0u8; 1];
            // Nothing arrives if the child failed before: it has said why.
            if read(&unshared_read, &mut byte) == Ok(1) {
                let mapping = map_user(child, byte[0] == b'u', outside_uid, outside_gid);
                let answer: &[u8] = if mapping.is_ok() { b"y" } else { b"n" };
                let _ = write(&mapped_write, answer);
                if let Err(why) = mapping {
                    eprintln!("sandbox: {why}");
                }
            }
            drop(mapped_write);
            wait_for(child)
        }
    }
}

/// Writes `child`'s user and group mapping: its root inside is
/// `uid`/`gid` outside. Nothing to do when it has no user namespace of its
/// own (`with_user` false: root without user namespaces).
fn map_user(child: Pid, with_user: bool, uid: u32, gid: u32) -> Result<(), String> {
    if !with_user {
        return Ok(());
    }
    let write_file = |name: &str, text: String| {
        std::fs::write(format!("/proc/{child}/{name}"), text)
            .map_err(|e| format!("cannot write /proc/{child}/{name}: {e}"))
    };
    // Unprivileged, setgroups must be denied before the group map is
    // written (user_namespaces(7)); as root it makes no difference here.
    write_file("setgroups", "deny".to_string())?;
    write_file("uid_map", format!("0 {uid} 1"))?;
    write_file("gid_map", format!("0 {gid} 1"))
}

/// The child: takes a user namespace if it can (and waits for its
/// mapping), then the mount, network and PID namespaces; forks the
/// namespace's init and returns its exit code.
fn child(
    program: &[CString],
    temp: &std::path::Path,
    unshared: std::os::fd::OwnedFd,
    mapped: std::os::fd::OwnedFd,
) -> Result<u8, String> {
    let with_user = unshare(CloneFlags::CLONE_NEWUSER).is_ok();
    if !with_user && !Uid::effective().is_root() {
        return Err(
            "no namespaces: not root, and this kernel refuses unprivileged user namespaces"
                .to_string(),
        );
    }
    let _ = write(&unshared, if with_user { b"u" } else { b"r" });
    drop(unshared);
    let mut answer = [0u8; 1];
    if read(&mapped, &mut answer) != Ok(1) || answer[0] != b'y' {
        return Err("the user namespace's mapping was not written".to_string());
    }
    if with_user {
        // Become the namespace's root: until now we were an unmapped user.
        setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))
            .map_err(|e| format!("setresgid in the user namespace: {e}"))?;
        setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
            .map_err(|e| format!("setresuid in the user namespace: {e}"))?;
    }
    unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWPID)
        .map_err(|e| format!("no namespaces: unshare: {e}"))?;
    // SAFETY: this process is single-threaded (a fork of a process that had
    // started no thread), so the child may do anything.
    match unsafe { fork() }.map_err(|e| format!("fork: {e}"))? {
        ForkResult::Child => std::process::exit(i32::from(init(program, temp))),
        ForkResult::Parent { child } => Ok(wait_for(child)?),
    }
}

/// Waits for `child` and returns its exit code, a signal as 128 + its
/// number, as shells do.
fn wait_for(child: Pid) -> Result<u8, String> {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code as u8),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(128 + signal as u8),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => return Err(format!("waitpid: {e}")),
        }
    }
}

/// PID 1 of the namespace: sets the namespace up, runs the program, reaps
/// everything, and when the program ends, kills what is left. Returns the
/// program's exit code.
fn init(program: &[CString], temp: &std::path::Path) -> u8 {
    if let Err(why) = set_up(temp) {
        eprintln!("sandbox: {why}");
        return 125;
    }
    // SAFETY: still single-threaded: the child may do anything before exec.
    let checks = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let error = execvp(&program[0], program).unwrap_err();
            eprintln!("sandbox: cannot run {:?}: {error}", program[0]);
            std::process::exit(127);
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => {
            eprintln!("sandbox: fork: {e}");
            return 125;
        }
    };
    let mut code = None;
    loop {
        match waitpid(None, None) {
            Ok(WaitStatus::Exited(pid, status)) if pid == checks => {
                code = Some(status as u8);
                // Whatever the checks left behind dies with them.
                let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
            }
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == checks => {
                eprintln!("{KILLED}{signal}");
                code = Some(128 + signal as u8);
                let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
            }
            // An orphan re-parented to us, reaped: nothing to tell.
            Ok(_) | Err(Errno::EINTR) => {}
            // ECHILD: nobody is left.
            Err(_) => return code.unwrap_or(125),
        }
    }
}

/// Inside the new namespaces: mounts private from here on, a /proc of the
/// new PID namespace, a temporary directory (`temp`) and /dev/shm of our
/// own, loopback up.
fn set_up(temp: &std::path::Path) -> Result<(), String> {
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)
        .map_err(|e| format!("making mounts private: {e}"))?;
    let hardened = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), "/proc", Some("proc"), hardened, none)
        .map_err(|e| format!("mounting /proc: {e}"))?;
    let shm = std::path::Path::new("/dev/shm");
    for (dir, size) in [(temp, "512m"), (shm, "64m")] {
        if dir.is_dir() {
            let options = format!("size={size},mode=1777");
            mount(
                Some("tmpfs"),
                dir,
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some(options.as_str()),
            )
            .map_err(|e| format!("mounting {}: {e}", dir.display()))?;
        }
    }
    loopback_up()
}

/// `ip link set lo up`: a new network namespace starts with loopback
/// down. One ioctl to read its flags, one to set IFF_UP.
fn loopback_up() -> Result<(), String> {
    use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
    use std::os::fd::AsRawFd;
    let socket = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(|e| format!("a socket to configure loopback: {e}"))?;
    // SAFETY: `ifreq` is a plain C struct; all zeros is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name from `request` and writes the
    // flags into it; the struct lives for the whole call, and the socket
    // is open.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCGIFFLAGS, &mut request) } < 0 {
        return Err(format!(
            "reading loopback's flags: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    unsafe {
        request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
    }
    // SAFETY: as above; SIOCSIFFLAGS only reads the struct.
    if unsafe { libc::ioctl(socket.as_raw_fd(), libc::SIOCSIFFLAGS, &request) } < 0 {
        return Err(format!(
            "bringing loopback up: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}
