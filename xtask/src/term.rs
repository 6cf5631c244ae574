//! The terminal: colours (only when stdout is one, and never with
//! `NO_COLOR` set), and Ctrl-C, which must not leave a server running.
//!
//! Servers run in process groups of their own, so the Ctrl-C a terminal
//! sends to its foreground group never reaches them: xtask catches it
//! instead ([`catch_interrupts`]), and its loops stop at the next
//! [`interrupted`] check and kill what they started on the way out.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// A colour (or weight) for [`Style::paint`].
#[derive(Debug, Clone, Copy)]
pub enum Color {
    Red,
    Green,
    Yellow,
    Magenta,
    Cyan,
    Bold,
    Dim,
}

impl Color {
    /// The ANSI SGR parameter that selects it.
    fn code(self) -> &'static str {
        match self {
            Color::Red => "31",
            Color::Green => "32",
            Color::Yellow => "33",
            Color::Magenta => "35",
            Color::Cyan => "36",
            Color::Bold => "1",
            Color::Dim => "2",
        }
    }
}

/// Whether to colour what goes to stdout.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// True when stdout is a terminal and `NO_COLOR` is not set: escape
    /// codes in a pipe or a log file would only be noise.
    pub color: bool,
}

impl Style {
    pub fn for_stdout() -> Style {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: std::io::stdout().is_terminal() && !no_color,
        }
    }

    /// `text` in `color`, or `text` as it is when colours are off.
    pub fn paint(&self, color: Color, text: &str) -> String {
        if self.color {
            format!("\x1b[{}m{text}\x1b[0m", color.code())
        } else {
            text.to_string()
        }
    }
}

/// Set by the signal handler; read by every loop that waits.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_signal: std::ffi::c_int) {
    // Storing to an atomic is async-signal-safe; nothing else happens here.
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// From now on SIGINT (Ctrl-C), SIGTERM and SIGHUP only set a flag, which
/// the waiting loops check, so that xtask cleans up before it exits.
pub fn catch_interrupts() {
    let action = SigAction::new(
        SigHandler::Handler(on_interrupt),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe, so it may interrupt any code. Programs we
        // start get the default action back: exec resets handlers.
        let _ = unsafe { sigaction(signal, &action) };
    }
}

/// Whether the user asked xtask to stop.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The exit status of a program stopped by Ctrl-C, as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;
