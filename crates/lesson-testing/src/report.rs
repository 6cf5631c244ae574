//! What a failing check says, as a student reads it: the check's own
//! message, where in the lesson's tests it failed, and the state of every
//! program it was running at that moment (how each ended, or that it still
//! runs, and what each printed, cut to a readable length). No panic
//! location inside this harness, and no hint about backtraces: to a
//! student those read as the grader crashing.
//!
//! The checks fail by panicking, as Rust tests do. [`install`] replaces
//! the panic hook once per test process: libtest captures what the hook
//! writes for each test, so the text lands in the check's verdict. The
//! programs a check starts register themselves on its thread ([`track`])
//! for as long as they live.

use std::cell::RefCell;
use std::panic::PanicHookInfo;
use std::sync::{Arc, Once};

use crate::procfs;
use crate::supervisor::{cut_for_a_message, Capture, Limits, Supervised};

/// A program a check runs, as the report describes it.
#[derive(Clone)]
pub struct Tracked {
    /// How it was started: `tcp-server 0`.
    pub shown: String,
    pub pid: i32,
    pub stdout: Arc<Capture>,
    pub stderr: Arc<Capture>,
    pub limits: Option<Limits>,
}

thread_local! {
    /// The programs the check running on this thread has started and not
    /// yet finished, by a number of their own.
    static RUNNING: RefCell<Vec<(u64, Tracked)>> = const { RefCell::new(Vec::new()) };
}

impl Tracked {
    /// `run`, labelled `shown` (how it was started: `tcp-server 0`).
    pub fn of(run: &Supervised, shown: String) -> Tracked {
        let (stdout, stderr) = run.captures();
        Tracked {
            shown,
            pid: run.pid(),
            stdout,
            stderr,
            limits: run.limits(),
        }
    }
}

/// Keeps a program in its check's report until dropped.
pub struct Tracking(u64);

/// Adds `program` to the report of the check running on this thread.
pub fn track(program: Tracked) -> Tracking {
    install();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    RUNNING.with(|running| running.borrow_mut().push((id, program)));
    Tracking(id)
}

impl Drop for Tracking {
    fn drop(&mut self) {
        let _ = RUNNING.try_with(|running| {
            if let Ok(mut running) = running.try_borrow_mut() {
                running.retain(|(id, _)| *id != self.0);
            }
        });
    }
}

/// Puts this module's panic hook in place, once per process.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::panic::set_hook(Box::new(hook)));
}

/// The hook: the message, where in the lesson's tests, and the programs.
fn hook(info: &PanicHookInfo<'_>) {
    let message = match info.payload().downcast_ref::<&str>() {
        Some(text) => text.to_string(),
        None => match info.payload().downcast_ref::<String>() {
            Some(text) => text.clone(),
            None => "the check failed".to_string(),
        },
    };
    // A check may put a whole output in its message: cut, as everything a
    // student reads is.
    let mut text = cut_for_a_message(&message);
    // Where in the lesson's own tests, not where in this harness.
    if let Some(location) = info.location() {
        if !location.file().contains("lesson-testing") {
            text.push_str(&format!(
                "\n(at {}:{})",
                location
                    .file()
                    .rsplit("crates/")
                    .next()
                    .unwrap_or(location.file()),
                location.line()
            ));
        }
    }
    let programs = RUNNING
        .try_with(|running| {
            running
                .try_borrow()
                .map(|r| r.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    for program in &programs {
        text.push_str(&format!("\n\n{}", describe(program)));
    }
    // Through the test's captured stderr, which libtest hands to the
    // runner as the check's output.
    eprintln!("{text}");
}

/// One program as the report shows it.
pub fn describe(program: &Tracked) -> String {
    let state = match procfs::process(program.pid) {
        Some(p) if p.is_zombie() => ended(program),
        Some(_) => "it was still running".to_string(),
        None => "it had ended".to_string(),
    };
    let mut text = format!("`{}` (process {}): {state}", program.shown, program.pid);
    for (name, capture) in [("stdout", &program.stdout), ("stderr", &program.stderr)] {
        let shown = capture.shown();
        if shown.is_empty() {
            text.push_str(&format!("\n  its {name}: nothing"));
        } else {
            text.push_str(&format!("\n  its {name}:\n{}", indent(&shown)));
        }
    }
    text
}

/// How a program that has ended (a zombie, not reaped yet) ended, read
/// from /proc without reaping it, with the limit that stopped it if one
/// did.
fn ended(program: &Tracked) -> String {
    let Some(status) = procfs::exit_status(program.pid) else {
        return "it had ended".to_string();
    };
    let stderr = String::from_utf8_lossy(&program.stderr.bytes()).into_owned();
    crate::supervisor::describe_ending(status, &stderr, program.limits)
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Text for a message: at most a few lines of `bytes`, shown lossily.
pub fn shown(bytes: &[u8]) -> String {
    cut_for_a_message(&String::from_utf8_lossy(bytes))
}
