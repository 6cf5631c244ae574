//! The lesson registry: one row per lesson, the only place the course's list
//! of lessons is written. `check`, `demo`, `exercises`, `stress`, the bench
//! and the tidy tests all read it, and everything else about a lesson
//! follows from its row: its package (`lesson` + directory), its chapter
//! (`docs/src/` + directory + `.md`), its tests and exercises (fixed places
//! in its crate). Adding a lesson means its crate, its chapter and one row
//! here; the tidy tests name every document that must then mention it
//! (see ARCHITECTURE.md, "Adding a lesson").
//!
//! Also here: where the workspace is, and how to call cargo.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub use lesson_testing::Transport;

/// One lesson of the course.
#[derive(Debug)]
pub struct Lesson {
    /// 1 for lesson 01.
    pub number: u8,
    /// Its crate's directory under `crates/`, which starts with its
    /// two-digit number: `01-tcp-basic`.
    pub dir: &'static str,
    /// The server and the client the contract names for it (the same
    /// names for our programs, a student's and the tutorial's C).
    pub server: &'static str,
    pub client: &'static str,
    pub transport: Transport,
}

/// The course, in order.
pub const LESSONS: &[Lesson] = &[
    Lesson {
        number: 1,
        dir: "01-tcp-basic",
        server: "tcp-server",
        client: "tcp-client",
        transport: Transport::Tcp,
    },
    Lesson {
        number: 2,
        dir: "02-fork-server",
        server: "fork-server",
        client: "fork-client",
        transport: Transport::Tcp,
    },
    Lesson {
        number: 3,
        dir: "03-zombie-reaping",
        server: "reaping-server",
        client: "reaping-client",
        transport: Transport::Tcp,
    },
    Lesson {
        number: 4,
        dir: "04-udp",
        server: "udp-server",
        client: "udp-client",
        transport: Transport::Udp,
    },
    Lesson {
        number: 5,
        dir: "05-unix-domain",
        server: "unix-server",
        client: "unix-client",
        transport: Transport::Unix,
    },
    Lesson {
        number: 6,
        dir: "06-select-server",
        server: "select-server",
        client: "select-client",
        transport: Transport::Tcp,
    },
];

impl Lesson {
    /// `01`, as lessons are named everywhere in the course.
    pub fn id(&self) -> String {
        format!("{:02}", self.number)
    }

    /// Its crate's package name, for `cargo -p`: `lesson01-tcp-basic`.
    pub fn package(&self) -> String {
        format!("lesson{}", self.dir)
    }

    /// Its crate's directory, absolute.
    pub fn path(&self) -> PathBuf {
        workspace_root().join("crates").join(self.dir)
    }

    /// The server and the client, in that order.
    pub fn binaries(&self) -> [&'static str; 2] {
        [self.server, self.client]
    }

    /// Where its end-to-end checks live.
    pub fn e2e_tests(&self) -> PathBuf {
        self.path().join("tests").join("e2e.rs")
    }

    /// Its exercises and common mistakes, as data.
    pub fn exercises_file(&self) -> PathBuf {
        self.path().join("exercises.toml")
    }

    /// Its chapter's file name under `docs/src/`: `01-tcp-basic.md`.
    pub fn chapter(&self) -> String {
        format!("{}.md", self.dir)
    }

    /// Its chapter, absolute.
    pub fn chapter_path(&self) -> PathBuf {
        workspace_root()
            .join("docs")
            .join("src")
            .join(self.chapter())
    }
}

/// Every lesson's id, for messages: `01, 02, 03, 04, 05, 06`.
pub fn ids() -> String {
    LESSONS
        .iter()
        .map(Lesson::id)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Finds the lesson `name` means: `01`, `1`, the directory name
/// `01-tcp-basic`, or the package name.
pub fn resolve(name: &str) -> Result<&'static Lesson, String> {
    let number = name
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| name.parse::<u8>().ok())
        .flatten();
    LESSONS
        .iter()
        .find(|l| Some(l.number) == number || l.dir == name || l.package() == name)
        .ok_or_else(|| {
            format!(
                "unknown lesson `{name}`: expected one of {}, or a directory name under crates/",
                ids()
            )
        })
}

/// The lessons `names` mean, each once, in the order given; every lesson
/// when `names` is empty.
pub fn resolve_all(names: &[String]) -> Result<Vec<&'static Lesson>, String> {
    if names.is_empty() {
        return Ok(LESSONS.iter().collect());
    }
    let mut chosen: Vec<&'static Lesson> = Vec::new();
    for name in names {
        let lesson = resolve(name)?;
        if !chosen.iter().any(|l| l.number == lesson.number) {
            chosen.push(lesson);
        }
    }
    Ok(chosen)
}

/// The workspace's root directory: xtask's own manifest sits one below it.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The cargo that runs us (`$CARGO`, which cargo sets for `cargo run`),
/// so a toolchain chosen with `cargo +nightly xtask` is used throughout.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Where cargo puts its builds: `$CARGO_TARGET_DIR` (relative to the
/// current directory, as cargo reads it) or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => std::env::current_dir().unwrap_or_default().join(dir),
        None => workspace_root().join("target"),
    }
}

/// Where cargo puts debug builds.
pub fn debug_dir() -> PathBuf {
    target_dir().join("debug")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lessons_are_named_by_number_directory_or_package() {
        for name in ["1", "01", "01-tcp-basic", "lesson01-tcp-basic"] {
            assert_eq!(resolve(name).map(|l| l.number), Ok(1), "{name}");
        }
        assert!(resolve("99").is_err());
        assert!(resolve("").is_err());
        assert!(resolve("tcp").is_err());
        let chosen = resolve_all(&["2".into(), "02-fork-server".into(), "1".into()]);
        let numbers: Vec<u8> = chosen.expect("valid").iter().map(|l| l.number).collect();
        assert_eq!(numbers, [2, 1], "each lesson once, in the order given");
        assert_eq!(resolve_all(&[]).map(|all| all.len()), Ok(LESSONS.len()));
    }

    #[test]
    fn rows_are_in_order_and_named_consistently() {
        for (index, lesson) in LESSONS.iter().enumerate() {
            assert_eq!(usize::from(lesson.number), index + 1);
            assert!(lesson.dir.starts_with(&format!("{}-", lesson.id())));
            assert!(lesson.server.ends_with("-server") && lesson.client.ends_with("-client"));
        }
    }
}
