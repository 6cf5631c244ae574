//! `--trace`: the lesson's programs run under `strace`, and the system
//! calls the chapter is about are shown beside their output, labelled by
//! side, in the order they returned.
//!
//! Each program runs as `strace -f -qq -yy -ttt -T -e trace=... -o FILE
//! PROGRAM ARGS`: strace is the supervised process and the program its
//! child (so it traces a child of its own, which ptrace allows wherever
//! strace works at all; `-D` would trace its parent, which Yama's
//! ptrace_scope = 1 forbids). `-f` follows a fork server's children, `-qq`
//! drops the attach and exit messages, `-yy` tells what each descriptor
//! is, so reads, writes and closes are shown for sockets only (not the
//! dynamic loader reading libc; the demo then leaves those details out, to
//! keep lines short), and `-ttt -T` give when each call began and how long
//! it took: when it returned. A [`Follower`] reads each file as strace
//! writes it; the demo shows calls from all files in the order they
//! returned, and places each output line of a program where strace saw
//! the `write` that wrote it.
//!
//! What is left out, beyond the chapter's calls: calls that get a signal
//! and are restarted by the kernel (`ERESTARTSYS`: the program never sees
//! them), `rt_sigaction` calls for signals the chapter is not about (Rust's
//! runtime sets up SIGSEGV and SIGPIPE) or that change nothing, and glibc's
//! attempts to reach a name-service cache daemon (nscd) over a Unix socket
//! when resolving `localhost`.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lesson_testing::supervisor::{Stream, Supervised};

use super::WAIT;

/// What a demo traces and shows: the calls its chapter is about.
#[derive(Debug, Clone, Copy)]
pub struct Tracing {
    /// The system calls strace traces (`-e trace=`) beyond [`SOCKET_CALLS`],
    /// which every demo traces. A name this machine lacks (`fork` on
    /// arm64) is skipped.
    pub more_calls: &'static [&'static str],
    /// The signals shown as they arrive (`-e signal=`).
    pub signals: &'static [&'static str],
    /// The signals whose `rt_sigaction` calls are shown (when they set an
    /// action; not when they only ask for the current one).
    pub handlers: &'static [&'static str],
    /// File names whose stat and unlink calls are shown (the loader and
    /// the runtime stat other files).
    pub files: &'static [&'static str],
    /// Notes of this demo's own, beside [`NOTES`].
    pub notes: &'static [Note],
}

impl Tracing {
    /// Every call traced: [`SOCKET_CALLS`], then the lesson's own.
    pub fn calls(&self) -> impl Iterator<Item = &'static str> {
        SOCKET_CALLS.iter().chain(self.more_calls).copied()
    }
}

/// The calls of every chapter: a socket's life, and the end of a process.
/// A stream server's `listen` and `accept` are in its lesson's own list, so
/// the datagram demo does not name calls its programs never make.
pub const SOCKET_CALLS: &[&str] = &[
    "socket",
    "bind",
    "connect",
    "read",
    "write",
    "recvfrom",
    "sendto",
    "shutdown",
    "close",
    "exit_group",
];

/// A narration said once, the first time a system call line it is about
/// is shown: why strace shows a call the tutorial names otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Note {
    /// The shown line starts with this...
    pub starts: &'static str,
    /// ...and contains this.
    pub contains: &'static str,
    pub text: &'static str,
}

impl Note {
    pub fn is_about(&self, line: &str) -> bool {
        line.starts_with(self.starts) && line.contains(self.contains)
    }
}

/// The notes every demo may need.
pub const NOTES: &[Note] = &[
    Note {
        starts: "accept4(",
        contains: "",
        text: "accept4() is the tutorial's accept() with a fourth argument, flags: Rust asks for \
               SOCK_CLOEXEC, so that the new socket would be closed if the server ever exec()ed \
               another program. It returns the new socket's descriptor.",
    },
    Note {
        starts: "clone(",
        contains: "",
        text: "clone() is the tutorial's fork(): glibc's fork() makes this call. The flags end \
               with SIGCHLD, the signal the parent will get when this child ends; the parent \
               gets the child's PID back.",
    },
    Note {
        starts: "recvfrom(",
        contains: "NULL, NULL) =",
        text: "recvfrom(fd, buffer, size, 0, NULL, NULL) is the tutorial's read(): Rust reads a \
               socket with recv(), which glibc makes a recvfrom() without an address; on a \
               connected socket the kernel does just what read() does.",
    },
    Note {
        starts: "sendto(",
        contains: "NULL, 0) =",
        text: "sendto(fd, data, size, flags, NULL, 0) is the tutorial's write(): Rust writes to a \
               socket with send(), which glibc makes a sendto() without an address.",
    },
    Note {
        starts: "pselect6(",
        contains: "",
        text: "pselect6() is the tutorial's select(): glibc's select() makes this call, which \
               takes its timeout as a timespec and one more argument, a signal mask. After `=`: \
               how many descriptors are ready, and which.",
    },
    Note {
        starts: "wait4(",
        contains: "",
        text: "wait4() is waitpid(): glibc's waitpid(pid, &status, options) makes wait4(pid, \
               &status, options, NULL). It returns the PID of the child it reaped.",
    },
    Note {
        starts: "rt_sigaction(",
        contains: "",
        text: "rt_sigaction() is sigaction(), or the tutorial's signal(): the new action, then \
               the old one, then the size of a signal set.",
    },
    Note {
        starts: "newfstatat(",
        contains: "AT_SYMLINK_NOFOLLOW",
        text: "newfstatat(AT_FDCWD, path, ..., AT_SYMLINK_NOFOLLOW) is lstat(): glibc makes \
               lstat() this call.",
    },
    Note {
        starts: "statx(",
        contains: "AT_SYMLINK_NOFOLLOW",
        text: "statx(AT_FDCWD, path, ...AT_SYMLINK_NOFOLLOW...) is lstat() too: Rust's standard \
               library asks with statx(), the newer call, which can say what it should find out.",
    },
    Note {
        starts: "exit_group(",
        contains: "",
        text: "exit_group() ends the process, every thread of it: exit() and _exit() both make \
               this call. It never returns, hence `= ?`.",
    },
];

/// What the demo says, in one line, when strace is not installed.
const NO_STRACE: &str = "--trace needs strace (apt-get install strace); going on without tracing.";

/// strace, found and able to trace here, and where its files go.
pub struct Tracer {
    tracing: Tracing,
    /// A directory of this run's own, removed with the tracer.
    dir: PathBuf,
    /// How many programs were started under it: each file's number.
    started: usize,
}

impl Tracer {
    /// strace, if it is installed and may trace here; else why not, in a
    /// line or two that say how to go on.
    pub fn new(tracing: Tracing) -> Result<Tracer, String> {
        let mut command = Command::new("strace");
        command
            .args([
                "-f",
                "-qq",
                "-e",
                "trace=exit_group",
                "-o",
                "/dev/null",
                "--",
            ])
            .arg("true")
            .stdin(Stdio::null());
        let mut check = match Supervised::start(&mut command) {
            Ok(check) => check,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(NO_STRACE.to_string()),
            Err(e) => {
                return Err(format!(
                    "cannot start strace ({e}); going on without tracing."
                ))
            }
        };
        let status = check.wait_for_exit(WAIT);
        if !status.is_some_and(|s| s.success()) {
            let said = check.stderr().lines();
            let why = said.first().map_or("no message", String::as_str);
            return Err(format!(
                "strace cannot trace here ({why}): tracing needs ptrace, which \
                 kernel.yama.ptrace_scope or a container without CAP_SYS_PTRACE can forbid. \
                 Going on without tracing."
            ));
        }
        check.finish();
        let dir = std::env::temp_dir().join(format!("xtask-demo-trace-{}", std::process::id()));
        fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        Ok(Tracer {
            tracing,
            dir,
            started: 0,
        })
    }

    pub fn tracing(&self) -> &Tracing {
        &self.tracing
    }

    /// `program` (its program, arguments, directory and environment) under
    /// strace, and the follower of its file, labelled `label` (its
    /// children's lines are labelled `child PID`). The caller sets stdin.
    pub fn command(
        &mut self,
        label: &str,
        program: &Command,
    ) -> Result<(Command, Follower), String> {
        self.started += 1;
        let slug: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let path = self.dir.join(format!("{:02}-{slug}.strace", self.started));
        let follower = Follower::new(&path, label, self.tracing)?;
        let calls: Vec<String> = self
            .tracing
            .calls()
            .map(|call| format!("?{call}"))
            .collect();
        let signals = match self.tracing.signals {
            [] => "none".to_string(),
            some => some.join(","),
        };
        let mut command = Command::new("strace");
        command
            .args(["-f", "-qq", "-yy", "-ttt", "-T", "-e"])
            .arg(format!("trace={}", calls.join(",")))
            .arg("-e")
            .arg(format!("signal={signals}"))
            .arg("-o")
            .arg(&path)
            .arg("--")
            .arg(program.get_program())
            .args(program.get_args());
        if let Some(dir) = program.get_current_dir() {
            command.current_dir(dir);
        }
        for (name, value) in program.get_envs() {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        Ok((command, follower))
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The most of one program's trace the demo reads: far more than any demo
/// makes, and a bound on what a runaway program can make it hold.
const MOST: u64 = 8 << 20;

/// Something strace saw, to be shown in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// When it happened, in seconds since 1970 (strace's `-ttt`): when a
    /// call returned, or a signal arrived.
    pub at: f64,
    /// The traced program's label (`server`, `client 1`), or `child PID`
    /// for a process it forked.
    pub who: String,
    pub what: What,
}

#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// A system call or a signal, as shown.
    Call(String),
    /// A write to the program's stdout or stderr: the moment one of its
    /// output lines was written, which places that line among the calls.
    /// Its label is the program's (a fork server's children write to the
    /// server's pipes), not the child's.
    Wrote(Stream),
}

/// One program's trace file, read as strace writes it.
pub struct Follower {
    path: PathBuf,
    file: File,
    label: String,
    tracing: Tracing,
    /// The program's own PID, once known; other PIDs are its children.
    pid: Option<i32>,
    /// Bytes read but not yet a whole line.
    partial: Vec<u8>,
    read: u64,
    cut: bool,
    /// Per process: the start of a call that has not returned yet
    /// (`accept4(3,  <unfinished ...>`), until its `<... resumed>` line.
    unfinished: HashMap<i32, String>,
    /// Per process: a `socket()` call held until the process's next line
    /// says whether it is glibc's attempt to reach nscd.
    held: HashMap<i32, Item>,
    /// Sockets (by their `-yy` annotation) whose calls are not shown.
    hidden: HashSet<String>,
}

impl Follower {
    fn new(path: &Path, label: &str, tracing: Tracing) -> Result<Follower, String> {
        // Created here, so it can be opened before strace starts; strace
        // truncates it, which changes nothing in an empty file.
        File::create(path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        let file = File::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        Ok(Follower {
            path: path.to_path_buf(),
            file,
            label: label.to_string(),
            tracing,
            pid: None,
            partial: Vec::new(),
            read: 0,
            cut: false,
            unfinished: HashMap::new(),
            held: HashMap::new(),
            hidden: HashSet::new(),
        })
    }

    /// The program's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The program's PID, once strace has started it.
    pub fn set_pid(&mut self, pid: i32) {
        self.pid = Some(pid);
    }

    /// The PID of the first line strace wrote: the program's own, as its
    /// children come later (for a program that was gone before the demo
    /// could find it among strace's children).
    pub fn first_pid(&self) -> Option<i32> {
        let text = fs::read_to_string(&self.path).ok()?;
        text.split_whitespace().next()?.parse().ok()
    }

    /// What strace has written since the last call. With `flush`, also
    /// the calls held to see what follows them.
    pub fn poll(&mut self, flush: bool) -> Vec<Item> {
        let mut items = Vec::new();
        let mut chunk = [0u8; 16 << 10];
        while !self.cut {
            match self.file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    self.read += n as u64;
                    self.partial.extend_from_slice(&chunk[..n]);
                    if self.read > MOST {
                        self.cut = true;
                        items.push(Item {
                            at: 0.0,
                            who: self.label.clone(),
                            what: What::Call(format!(
                                "(more than {} MiB of trace: no more shown)",
                                MOST >> 20
                            )),
                        });
                    }
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        while let Some(newline) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=newline).collect();
            let line = String::from_utf8_lossy(&line[..newline]).into_owned();
            self.take(&line, &mut items);
        }
        if flush {
            items.extend(self.held.drain().map(|(_, item)| item));
        }
        items
    }

    /// One line of strace's output: `PID SECONDS text [<DURATION>]`.
    fn take(&mut self, line: &str, items: &mut Vec<Item>) {
        let mut fields = line.trim_start().splitn(2, ' ');
        let (Some(pid), Some(rest)) = (fields.next(), fields.next()) else {
            return;
        };
        let mut fields = rest.trim_start().splitn(2, ' ');
        let (Some(stamp), Some(text)) = (fields.next(), fields.next()) else {
            return;
        };
        let (Ok(pid), Ok(stamp)) = (pid.parse::<i32>(), stamp.parse::<f64>()) else {
            return;
        };
        let (text, took) = without_duration(text.trim_start());
        let (complete, at) = if let Some(start) = text.strip_suffix(" <unfinished ...>") {
            if start.starts_with("exit_group(") {
                // It never returns: show it now, as strace would at the end.
                (format!("{start}) = ?"), stamp)
            } else {
                self.unfinished.insert(pid, start.to_string());
                return;
            }
        } else if let Some(resumed) = text.strip_prefix("<... ") {
            let Some((_, rest)) = resumed.split_once(" resumed>") else {
                return;
            };
            match self.unfinished.remove(&pid) {
                // Written as the call returned: that is its time.
                Some(start) => (format!("{start}{rest}"), stamp),
                // exit_group, shown already; or a start we never saw.
                None => return,
            }
        } else {
            // Stamped when the call began: it returned `took` later.
            (text.to_string(), stamp + took)
        };
        self.decide(pid, at, &complete, items);
    }

    /// Whether a whole call (or a signal) is shown, and how.
    fn decide(&mut self, pid: i32, at: f64, line: &str, items: &mut Vec<Item>) {
        let held = self.held.remove(&pid);
        let who = match self.pid {
            Some(main) if main != pid => format!("child {pid}"),
            _ => self.label.clone(),
        };
        let name = line.split('(').next().unwrap_or_default();
        let first = first_descriptor(line);
        if name == "connect" && line.contains("sun_path=\"/var/run/nscd/socket\"") {
            // glibc looking for nscd: this socket (held above) and its
            // calls are not the lesson's.
            if let Some((_, socket)) = first {
                self.hidden.insert(socket.to_string());
            }
            return;
        }
        items.extend(held);
        if line.starts_with("+++") || first.is_some_and(|(_, socket)| self.hidden.contains(socket))
        {
            // How a process ended (-qq leaves these out anyway), or nscd.
            return;
        }
        if let Some(stream) = wrote_output(name, line, first) {
            items.push(Item {
                at,
                who: self.label.clone(),
                what: What::Wrote(stream),
            });
        } else if line.starts_with("---") || self.shows(name, line, first) {
            let item = Item {
                at,
                who,
                what: What::Call(plain(line)),
            };
            if name == "socket" {
                self.held.insert(pid, item);
            } else {
                items.push(item);
            }
        }
    }

    /// Whether the complete call `line`, of system call `name`, whose
    /// first argument is descriptor `first` (and its annotation), is one
    /// to show.
    fn shows(&self, name: &str, line: &str, first: Option<(u32, &str)>) -> bool {
        let result = line.rsplit_once(") = ").map_or("", |(_, r)| r);
        // Interrupted by a signal and restarted by the kernel: the program
        // never sees this return. Or killed inside the call: `= ?`.
        if result.starts_with('?') && name != "exit_group" {
            return false;
        }
        match name {
            "read" | "write" | "close" | "recvfrom" | "sendto" | "shutdown" | "getsockopt"
            | "setsockopt" => first.is_some_and(|(_, annotation)| is_socket(annotation)),
            "rt_sigaction" => {
                let mut arguments = line["rt_sigaction(".len()..].split(", ");
                let signal = arguments.next().unwrap_or_default();
                let setting = arguments.next().is_some_and(|a| a != "NULL");
                // Setting the action it had already (the lessons restore
                // defaults in case whoever started them changed one)
                // changes nothing.
                let handlers: Vec<&str> = line
                    .split("sa_handler=")
                    .skip(1)
                    .map(|rest| rest.split([',', '}']).next().unwrap_or_default())
                    .collect();
                let unchanged = handlers.len() == 2 && handlers[0] == handlers[1];
                setting && !unchanged && self.tracing.handlers.contains(&signal)
            }
            "newfstatat" | "lstat" | "stat" | "statx" | "unlink" | "unlinkat" => self
                .tracing
                .files
                .iter()
                .any(|file| line.contains(&format!("{file}\""))),
            _ => true,
        }
    }
}

/// `text` without the `-T` duration strace appends (` <0.000021>`), and
/// that duration in seconds (0 when there is none).
fn without_duration(text: &str) -> (&str, f64) {
    let Some(inside) = text.strip_suffix('>') else {
        return (text, 0.0);
    };
    match inside.rsplit_once(" <") {
        Some((before, seconds)) => match seconds.parse::<f64>() {
            Ok(seconds) => (before.trim_end(), seconds),
            Err(_) => (text, 0.0),
        },
        None => (text, 0.0),
    }
}

/// Which output stream a successful `write` to descriptor 1 or 2 wrote
/// to, if it is one: a line of the program's output, which the demo
/// shows from the pipe, not as a call.
fn wrote_output(name: &str, line: &str, first: Option<(u32, &str)>) -> Option<Stream> {
    let wrote = line
        .rsplit_once(") = ")
        .is_some_and(|(_, result)| result.parse::<u64>().is_ok_and(|n| n > 0));
    match (name, first) {
        ("write", Some((1, _))) if wrote => Some(Stream::Stdout),
        ("write", Some((2, _))) if wrote => Some(Stream::Stderr),
        _ => None,
    }
}

/// The call's first argument, when it is a descriptor, and its `-yy`
/// annotation: `(4, "TCP:[127.0.0.1:5000->127.0.0.1:40000]")` for
/// `read(4<TCP:[127.0.0.1:5000->127.0.0.1:40000]>, ...`.
fn first_descriptor(line: &str) -> Option<(u32, &str)> {
    let arguments = &line[line.find('(')? + 1..];
    let digits = arguments.find(|c: char| !c.is_ascii_digit())?;
    let fd = arguments[..digits].parse().ok()?;
    let annotation = arguments[digits..].strip_prefix('<')?;
    let end = annotation_end(annotation)?;
    Some((fd, &annotation[..end]))
}

/// Where the annotation that `text` starts inside (just after its `<`)
/// ends: the byte offset of its closing `>`. Brackets are skipped whole,
/// so the `->` of a connection (`TCP:[a->b]`) does not end it.
fn annotation_end(text: &str) -> Option<usize> {
    let (mut angles, mut brackets) = (1, 0);
    for (at, c) in text.char_indices() {
        match c {
            '[' => brackets += 1,
            ']' => brackets -= 1,
            '<' if brackets == 0 => angles += 1,
            '>' if brackets == 0 => {
                angles -= 1;
                if angles == 0 {
                    return Some(at);
                }
            }
            _ => {}
        }
    }
    None
}

/// Whether a `-yy` annotation is a socket's: `TCP:[...]`, `UDP:[...]`,
/// `UNIX-STREAM:[...]`, `socket:[...]`; not a path, a pipe or a device.
fn is_socket(annotation: &str) -> bool {
    annotation.starts_with("socket:")
        || (annotation.starts_with(|c: char| c.is_ascii_uppercase()) && annotation.contains(":["))
}

/// `line` as shown: without the `-yy` annotations (`3<TCP:[...]>` becomes
/// `3`), and with strace's alignment padding before ` = ` taken out.
/// Quoted data is left as it is.
fn plain(line: &str) -> String {
    let mut shown = String::with_capacity(line.len());
    let mut chars = line.chars();
    let mut quoted = false;
    let mut escaped = false;
    while let Some(c) = chars.next() {
        if quoted {
            shown.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                shown.push(c);
            }
            '<' if shown.ends_with(|d: char| d.is_ascii_digit()) || shown.ends_with("AT_FDCWD") => {
                // An annotation: skip to its end.
                let rest = chars.as_str();
                let end = annotation_end(rest).map_or(rest.len(), |end| end + 1);
                chars = rest[end..].chars();
            }
            ' ' if shown.ends_with(' ') => {}
            _ => shown.push(c),
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACING: Tracing = Tracing {
        more_calls: &[],
        signals: &["SIGCHLD"],
        handlers: &["SIGCHLD"],
        files: &["lesson05.sock"],
        notes: &[],
    };

    /// A directory of the test's own (tests run in parallel).
    fn scratch(test: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{test}-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("a temporary directory");
        dir
    }

    /// What a follower of program 100 makes of `lines`, as strace writes
    /// them (`PID SECONDS text`).
    fn items(test: &str, lines: &[&str]) -> Vec<Item> {
        let dir = scratch(test);
        let path = dir.join("trace");
        let mut follower = Follower::new(&path, "server", TRACING).expect("a follower");
        follower.set_pid(100);
        fs::write(&path, lines.join("\n") + "\n").expect("written");
        let items = follower.poll(true);
        let _ = fs::remove_dir_all(&dir);
        items
    }

    /// The calls among `items`: who, and the call as shown.
    fn calls(items: &[Item]) -> Vec<(&str, &str)> {
        items
            .iter()
            .filter_map(|item| match &item.what {
                What::Call(text) => Some((item.who.as_str(), text.as_str())),
                What::Wrote(_) => None,
            })
            .collect()
    }

    #[test]
    fn calls_are_shown_plainly_labelled_and_timed() {
        let items = items(
            "labelled",
            &[
                "100   5.000000 accept4(3<TCP:[0.0.0.0:5000]>, {sa_family=AF_INET, \
                 sin_port=htons(4000), sin_addr=inet_addr(\"127.0.0.1\")}, [128 => 16], \
                 SOCK_CLOEXEC) = 4<TCP:[127.0.0.1:5000->127.0.0.1:4000]> <2.500000>",
                "101   8.000000 recvfrom(4<TCP:[127.0.0.1:5000->127.0.0.1:4000]>, \"a<b>  c\\n\", \
                 255, 0, NULL, NULL) = 7 <0.000100>",
                "101   9.000000 exit_group(0)                     = ?",
            ],
        );
        assert_eq!(
            calls(&items),
            [
                (
                    "server",
                    "accept4(3, {sa_family=AF_INET, sin_port=htons(4000), \
                     sin_addr=inet_addr(\"127.0.0.1\")}, [128 => 16], SOCK_CLOEXEC) = 4"
                ),
                (
                    "child 101",
                    "recvfrom(4, \"a<b>  c\\n\", 255, 0, NULL, NULL) = 7"
                ),
                ("child 101", "exit_group(0) = ?"),
            ]
        );
        // Each at the moment it returned, to the microsecond.
        let at: Vec<i64> = items
            .iter()
            .map(|item| (item.at * 1e6).round() as i64)
            .collect();
        assert_eq!(at, [7_500_000, 8_000_100, 9_000_000]);
    }

    #[test]
    fn an_unfinished_call_shows_once_when_it_returns() {
        let items = items(
            "unfinished",
            &[
                "100   1.0 accept4(3<TCP:[0.0.0.0:5000]>,  <unfinished ...>",
                "101   2.0 close(3<TCP:[0.0.0.0:5000]>)     = 0 <0.5>",
                "100   3.0 <... accept4 resumed>{sa_family=AF_INET}, [16], SOCK_CLOEXEC) = \
                 5<TCP:[x]> <2.0>",
            ],
        );
        assert_eq!(
            calls(&items),
            [
                ("child 101", "close(3) = 0"),
                (
                    "server",
                    "accept4(3, {sa_family=AF_INET}, [16], SOCK_CLOEXEC) = 5"
                ),
            ]
        );
        assert_eq!(items[1].at, 3.0);
    }

    #[test]
    fn writes_to_stdout_and_stderr_place_output_lines() {
        let items = items(
            "wrote",
            &[
                "101   1.0 write(1</tmp/out>, \"Here is the message: hi\\n\", 24) = 24 <0.25>",
                "100   2.0 write(2<pipe:[7]>, \"listening on 0.0.0.0:5000\\n\", 26) = 26",
                "100   3.0 write(1<pipe:[6]>, \"lost\", 4) = -1 EPIPE (Broken pipe)",
            ],
        );
        let wrote: Vec<(&str, &What, f64)> = items
            .iter()
            .map(|item| (item.who.as_str(), &item.what, item.at))
            .collect();
        // A child's line is the program's (a fork server's children write
        // to its pipes).
        assert_eq!(
            wrote,
            [
                ("server", &What::Wrote(Stream::Stdout), 1.25),
                ("server", &What::Wrote(Stream::Stderr), 2.0),
            ]
        );
    }

    #[test]
    fn noise_is_left_out() {
        let items = items(
            "noise",
            &[
                "100 1.0 read(3</usr/lib/x86_64-linux-gnu/libc.so.6>, \"\\177ELF\", 832) = 832",
                "100 1.0 close(3</etc/ld.so.cache>)        = 0",
                "100 1.0 rt_sigaction(SIGSEGV, {sa_handler=0x1, sa_mask=[], sa_flags=SA_ONSTACK}, \
                 NULL, 8) = 0",
                "100 1.0 rt_sigaction(SIGCHLD, NULL, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, \
                 8) = 0",
                "100 1.0 rt_sigaction(SIGCHLD, {sa_handler=SIG_DFL, sa_mask=[CHLD], \
                 sa_flags=SA_RESTART}, {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0",
                "100 1.0 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0) = \
                 3<UNIX-STREAM:[9]>",
                "100 1.0 connect(3<UNIX-STREAM:[9]>, {sa_family=AF_UNIX, \
                 sun_path=\"/var/run/nscd/socket\"}, 110) = -1 ENOENT (No such file or directory)",
                "100 1.0 close(3<UNIX-STREAM:[9]>)   = 0",
                "100 1.0 accept4(3<TCP:[0.0.0.0:5000]>, 0x7ffc, [128], SOCK_CLOEXEC) = ? \
                 ERESTARTSYS (To be restarted if SA_RESTART is set) <0.3>",
                "100 1.0 newfstatat(3</usr/lib/libc.so.6>, \"\", {st_mode=S_IFREG|0755, ...}, \
                 AT_EMPTY_PATH) = 0",
                "100 1.0 --- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=101} ---",
                "100 1.0 rt_sigaction(SIGCHLD, {sa_handler=0x5, sa_mask=[], sa_flags=SA_RESTART}, \
                 {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0",
                "100 1.0 unlink(\"/tmp/d/lesson05.sock\") = 0",
                "100 1.0 socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3<TCP:[10]>",
            ],
        );
        let texts: Vec<&str> = calls(&items).into_iter().map(|(_, text)| text).collect();
        assert_eq!(
            texts,
            [
                "--- SIGCHLD {si_signo=SIGCHLD, si_code=CLD_EXITED, si_pid=101} ---",
                "rt_sigaction(SIGCHLD, {sa_handler=0x5, sa_mask=[], sa_flags=SA_RESTART}, \
                 {sa_handler=SIG_DFL, sa_mask=[], sa_flags=0}, 8) = 0",
                "unlink(\"/tmp/d/lesson05.sock\") = 0",
                // Held until the next line, or until the demo flushes.
                "socket(AF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_IP) = 3",
            ]
        );
    }

    #[test]
    fn a_line_is_read_only_once_it_is_whole() {
        let dir = scratch("partial");
        let path = dir.join("partial.strace");
        let mut follower = Follower::new(&path, "client 1", TRACING).expect("a follower");
        follower.set_pid(7);
        fs::write(&path, "7     1.5 connect(3<TCP:[1]>, {sa_family=AF_INET").expect("written");
        assert_eq!(follower.poll(true), []);
        let mut file = fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("the file");
        std::io::Write::write_all(&mut file, b"}, 16) = 0 <0.5>\n").expect("written");
        assert_eq!(
            follower.poll(true),
            [Item {
                at: 2.0,
                who: "client 1".to_string(),
                what: What::Call("connect(3, {sa_family=AF_INET}, 16) = 0".to_string()),
            }]
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
