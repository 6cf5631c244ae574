//! Headless Chromium, driven over the DevTools protocol on a pair of pipes
//! (`--remote-debugging-pipe`): JSON messages, each ended by a NUL byte,
//! which the browser reads on its descriptor 3 and writes on its 4. That
//! is the whole transport: no WebSocket, no port, no driver program, and
//! no crate beyond serde_json, which xtask has anyway.
//!
//! The browser starts through the harness's supervisor like every other
//! program (its own process group, output captured and bounded, killed
//! with its group when dropped). Its two pipe ends are put on 3 and 4 by
//! a line of bash in front of it, since std cannot place a descriptor at
//! a given number without `unsafe`. Every wait for the browser is bounded,
//! and Ctrl-C ends it.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

use lesson_testing::supervisor::{self, Supervised};
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use serde_json::{json, Value};

use crate::term;

/// The flags this machine's Chromium needs: headless as root in a
/// container (no sandbox, no GPU), and none of the background traffic to
/// Google's services, which a machine without a network refuses one
/// connection at a time.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
];

/// How long Chromium may take to start and answer its first command, on a
/// busy two-core machine.
const START_LIMIT: Duration = Duration::from_secs(60);

/// A running headless Chromium and its end of the pipes.
pub struct Browser {
    /// Killed first (see `drop`), so the browser is dead before its
    /// profile directory is removed.
    process: Supervised,
    /// What we write to; the browser reads it on its descriptor 3.
    commands: File,
    /// Messages the reader thread took from the browser's descriptor 4.
    messages: Receiver<Value>,
    /// Events that came while waiting for something else, oldest first.
    events: VecDeque<Value>,
    next_id: u64,
    pub version: String,
    _profile: Profile,
}

impl Drop for Browser {
    /// Kills the browser's process group, then what left it: Chromium's
    /// crash handlers run in groups of their own, and once their parent
    /// is gone they are children of this process (the child subreaper),
    /// which starts no other program while the browser runs. Then the
    /// fields go, the profile last.
    fn drop(&mut self) {
        self.process.finish();
        supervisor::kill_orphans();
    }
}

/// A fresh, empty `--user-data-dir`, removed when dropped.
struct Profile(PathBuf);

impl Drop for Profile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Browser {
    /// Starts `chromium` headless with a new empty profile, and asks it for
    /// its version to see that it answers.
    pub fn launch(chromium: &Path) -> Result<Browser, String> {
        let profile = Profile(
            std::env::temp_dir().join(format!("xtask-book-chromium-{}", std::process::id())),
        );
        let _ = std::fs::remove_dir_all(&profile.0);
        std::fs::create_dir_all(&profile.0)
            .map_err(|e| format!("cannot create {}: {e}", profile.0.display()))?;

        // Both pipes close on exec, but for the two ends the browser gets,
        // which it must inherit. Nothing else in xtask starts a program
        // meanwhile, so they reach no other one.
        let pipe = || nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("pipe: {e}"));
        let (browser_reads, commands) = pipe()?;
        let (replies, browser_writes) = pipe()?;
        for end in [&browser_reads, &browser_writes] {
            fcntl(end, FcntlArg::F_SETFD(FdFlag::empty())).map_err(|e| format!("fcntl: {e}"))?;
        }
        // First to fresh numbers (bash picks them, from 10 up) so that
        // neither end is overwritten when the other moves to 3 or 4, then
        // to 3 and 4, then the browser.
        let (r, w) = (browser_reads.as_raw_fd(), browser_writes.as_raw_fd());
        let shim = format!(
            "exec {{r}}<&{r} {{w}}>&{w} {r}<&- {w}>&- && exec 3<&$r 4>&$w {{r}}<&- {{w}}>&- \
             && exec \"$@\""
        );
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg(shim)
            .arg("chromium")
            .arg(chromium)
            .args(FLAGS)
            .arg(format!("--user-data-dir={}", profile.0.display()))
            .arg("about:blank")
            // Its home and temporary directory too: what it keeps beside
            // the profile (crash reports, dconf's cache, its certificate
            // store, its singleton socket) goes there, not into the user's
            // ~/.config, ~/.cache or /tmp, and goes with the profile.
            .env("HOME", &profile.0)
            .env("XDG_CONFIG_HOME", profile.0.join(".config"))
            .env("XDG_CACHE_HOME", profile.0.join(".cache"))
            .env("TMPDIR", &profile.0)
            .stdin(Stdio::null());
        let process = Supervised::start(&mut command)
            .map_err(|e| format!("cannot start {}: {e}", chromium.display()))?;
        // Ours closed, so the browser's exit closes the pipe it writes.
        drop((browser_reads, browser_writes));

        let (sender, messages) = mpsc::channel();
        let reader = File::from(replies);
        thread::spawn(move || read_messages(reader, sender));
        let mut browser = Browser {
            process,
            commands: File::from(commands),
            messages,
            events: VecDeque::new(),
            next_id: 1,
            version: String::new(),
            _profile: profile,
        };
        let version = browser.call(None, "Browser.getVersion", json!({}), START_LIMIT)?;
        browser.version = version["product"]
            .as_str()
            .unwrap_or("Chromium")
            .replace('/', " ");
        Ok(browser)
    }

    /// Sends `method` (to the page of `session`, or to the browser) and
    /// waits up to `limit` for its answer; an error answer is an error.
    pub fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
        limit: Duration,
    ) -> Result<Value, String> {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            message["sessionId"] = session.into();
        }
        let mut bytes = message.to_string().into_bytes();
        bytes.push(0);
        if let Err(e) = self.commands.write_all(&bytes) {
            let ended = self.ending();
            return Err(format!(
                "{method}: the browser no longer reads its pipe ({e}; {ended}){}",
                self.said()
            ));
        }
        let deadline = Instant::now() + limit;
        loop {
            let message = self.next_message(deadline, method)?;
            if message["id"] == id {
                if let Some(error) = message.get("error") {
                    return Err(format!("{method}: the browser answered {error}"));
                }
                return Ok(message["result"].clone());
            }
            if message.get("method").is_some() {
                self.events.push_back(message);
            }
        }
    }

    /// Waits up to `limit` for event `method` of `session`, and returns
    /// its parameters; events that came before it are kept.
    pub fn wait_for_event(
        &mut self,
        session: &str,
        method: &str,
        limit: Duration,
    ) -> Result<Value, String> {
        let matches = |m: &Value| m["method"] == method && m["sessionId"] == session;
        if let Some(at) = self.events.iter().position(matches) {
            return Ok(self.events.remove(at).unwrap_or_default()["params"].take());
        }
        let deadline = Instant::now() + limit;
        loop {
            let mut message = self.next_message(deadline, method)?;
            if matches(&message) {
                return Ok(message["params"].take());
            }
            if message.get("method").is_some() {
                self.events.push_back(message);
            }
        }
    }

    /// The events received so far, oldest first, as `(method, params)`,
    /// taken: the next call starts with none.
    pub fn take_events(&mut self) -> Vec<(String, Value)> {
        while let Ok(message) = self.messages.try_recv() {
            if message.get("method").is_some() {
                self.events.push_back(message);
            }
        }
        self.events
            .drain(..)
            .map(|mut m| {
                let method = m["method"].as_str().unwrap_or_default().to_string();
                (method, m["params"].take())
            })
            .collect()
    }

    /// The next message from the browser, waiting until `deadline`;
    /// `waiting_for` names what for, in the error.
    fn next_message(&mut self, deadline: Instant, waiting_for: &str) -> Result<Value, String> {
        loop {
            if term::interrupted() {
                return Err("interrupted".to_string());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "{waiting_for}: no answer from the browser in time{}",
                    self.said()
                ));
            }
            match self
                .messages
                .recv_timeout((deadline - now).min(Duration::from_millis(100)))
            {
                Ok(message) => return Ok(message),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let ended = self.ending();
                    return Err(format!(
                        "{waiting_for}: the browser closed its pipe ({ended}){}",
                        self.said()
                    ));
                }
            }
        }
    }

    /// How the browser ended, once its pipe is closed: it closes its
    /// descriptors a moment before its parent can see it exit.
    fn ending(&mut self) -> String {
        self.process.wait_for_exit(Duration::from_secs(2));
        self.process
            .ending()
            .unwrap_or_else(|| "it still runs".to_string())
    }

    /// The last lines the browser wrote on stderr, for a message: they
    /// say why it would not start or answer. Its complaints about D-Bus,
    /// which it makes at every start on a machine without a system bus,
    /// are left out.
    fn said(&self) -> String {
        const LAST: usize = 8;
        let stderr = String::from_utf8_lossy(&self.process.stderr().bytes()).into_owned();
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|line| !line.contains("dbus") && !line.trim().is_empty())
            .collect();
        if lines.is_empty() {
            return String::new();
        }
        let last: Vec<String> = lines[lines.len().saturating_sub(LAST)..]
            .iter()
            .map(|line| supervisor::cut_for_a_message(line))
            .collect();
        format!("; its last words on stderr:\n{}", last.join("\n"))
    }

    /// Asks the browser to close and waits a little for it; the drop kills
    /// whatever is left either way.
    pub fn close(mut self) {
        let _ = self.call(None, "Browser.close", json!({}), Duration::from_secs(5));
        self.process.wait_for_exit(Duration::from_secs(5));
        // Dropping `self` kills what is left, then removes the profile.
    }
}

/// The reader thread: NUL-separated JSON messages from `pipe`, parsed and
/// sent, until the browser closes its end or nobody listens any more.
fn read_messages(pipe: File, sender: mpsc::Sender<Value>) {
    let mut reader = BufReader::new(pipe);
    let mut message = Vec::new();
    loop {
        message.clear();
        match reader.read_until(0, &mut message) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if message.last() == Some(&0) {
            message.pop();
        }
        let Ok(value) = serde_json::from_slice::<Value>(&message) else {
            continue;
        };
        if sender.send(value).is_err() {
            return;
        }
    }
}

/// Decodes standard base64 (the protocol's screenshots); `None` if `text`
/// is not base64.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let text = text.trim_end_matches('=').as_bytes();
    if text.len() % 4 == 1 {
        return None;
    }
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.chunks(4) {
        let mut bits = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            bits |= value(c)? << (18 - 6 * i);
        }
        let decoded = [(bits >> 16) as u8, (bits >> 8) as u8, bits as u8];
        bytes.extend_from_slice(&decoded[..chunk.len() - 1]);
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_as_the_protocol_encodes() {
        assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
        assert_eq!(
            base64_decode("iVBORw0KGgo=").as_deref(),
            Some(&b"\x89PNG\r\n\x1a\n"[..])
        );
        assert_eq!(base64_decode("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64_decode("YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(base64_decode("YWJj").as_deref(), Some(&b"abc"[..]));
        assert_eq!(base64_decode("YW*j"), None);
        assert_eq!(base64_decode("YWJjZ"), None);
    }
}
