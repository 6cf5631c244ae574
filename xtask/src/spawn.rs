//! Running a program to its end under a deadline, for the checks: the
//! process machinery itself (process groups, captured output, kill on
//! drop) is the test harness's [`Supervised`], shared with the tests.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

pub use lesson_testing::supervisor::{Event, Split, Stream, Supervised};

use crate::{procs, term};

/// How a [`supervise`]d run ended.
#[derive(Debug, Clone, Copy)]
pub enum Ended {
    /// It exited by itself, with this status.
    Exited(ExitStatus),
    /// It ran past its deadline and was killed.
    TimedOut,
    /// The user pressed Ctrl-C (or xtask got SIGTERM); it was killed.
    Interrupted,
}

/// Runs `command` (stdin closed) in its own process group until it exits,
/// `deadline` passes, or the user interrupts, handing every output line to
/// `on_line`, which may move the deadline. Afterwards nothing of it is
/// left: its group is killed, and so is every orphan re-parented to xtask
/// (xtask must be a subreaper for that, see [`procs::become_subreaper`]).
/// While it runs, orphans that exit are reaped, so they hold no PIDs.
pub fn supervise(
    command: &mut Command,
    mut deadline: Instant,
    mut on_line: impl FnMut(Stream, &str, &mut Instant),
) -> io::Result<Ended> {
    /// How long output may keep arriving after the run was killed.
    const DRAIN: Duration = Duration::from_secs(5);
    let (sender, events) = mpsc::channel();
    command.stdin(Stdio::null());
    let mut run = Supervised::watched(command, "run", Split::Lines, &sender)?;
    drop(sender);

    let mut ended: Option<(Ended, Instant)> = None;
    let mut next_reap = Instant::now();
    loop {
        match events.recv_timeout(Duration::from_millis(50)) {
            Ok(Event {
                stream,
                line: Some(line),
                ..
            }) => on_line(stream, &line, &mut deadline),
            Ok(_) | Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => {}
        }
        let now = Instant::now();
        match ended {
            None => {
                let why = if run.has_exited() {
                    Some(None)
                } else if now >= deadline {
                    Some(Some(Ended::TimedOut))
                } else if term::interrupted() {
                    Some(Some(Ended::Interrupted))
                } else {
                    None
                };
                if let Some(why) = why {
                    let status = run.finish();
                    procs::kill_orphans();
                    let how = match (why, status) {
                        (Some(how), _) => how,
                        (None, Some(status)) => Ended::Exited(status),
                        // Its status was collected elsewhere (it cannot
                        // be, as nothing else reaps it): count a failure.
                        (None, None) => Ended::Exited(ExitStatus::from_raw(255 << 8)),
                    };
                    ended = Some((how, now + DRAIN));
                } else if now >= next_reap {
                    procs::reap_zombies(&[run.pid()]);
                    next_reap = now + Duration::from_millis(500);
                }
            }
            // Everything that could write to the pipes is dead now; read
            // what they still hold, until both are closed.
            Some((how, drained_by)) => {
                let closed = run.stdout().is_closed() && run.stderr().is_closed();
                if closed || now >= drained_by {
                    // Once both are closed, every line has been sent.
                    for event in events.try_iter() {
                        if let Some(line) = event.line {
                            on_line(event.stream, &line, &mut deadline);
                        }
                    }
                    return Ok(how);
                }
            }
        }
    }
}
