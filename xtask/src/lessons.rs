//! The lesson registry: one row per lesson, the only place the course's list
//! of lessons is written. `check`, `demo`, the exercises and the tidy tests
//! all read it, so adding a lesson means one new row here and one new crate
//! under `crates/` (the tidy tests fail until both exist).
//!
//! Also here: where the workspace is, and how to call cargo.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::demo;

/// How a lesson's server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
    Unix,
}

impl Transport {
    /// As the check's header line shows it: `tcp`, `udp`, `unix`.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Unix => "unix",
        }
    }
}

/// One lesson of the course.
#[derive(Debug)]
pub struct Lesson {
    /// 1 for lesson 01.
    pub number: u8,
    /// Its crate's directory under `crates/`.
    pub dir: &'static str,
    /// Its crate's package name, for `cargo -p`.
    pub package: &'static str,
    /// The server and the client the contract names for it (the same
    /// names for our programs, a student's and the tutorial's C).
    pub server: &'static str,
    pub client: &'static str,
    pub transport: Transport,
    /// Its chapter, under `docs/src/`.
    pub chapter: &'static str,
    /// `cargo xtask demo NN`, if it has one.
    pub demo: Option<demo::Narration>,
}

/// The course, in order.
pub const LESSONS: &[Lesson] = &[
    Lesson {
        number: 1,
        dir: "01-tcp-basic",
        package: "lesson01-tcp-basic",
        server: "tcp-server",
        client: "tcp-client",
        transport: Transport::Tcp,
        chapter: "01-tcp-basic.md",
        demo: Some(demo::lesson01::run),
    },
    Lesson {
        number: 2,
        dir: "02-fork-server",
        package: "lesson02-fork-server",
        server: "fork-server",
        client: "fork-client",
        transport: Transport::Tcp,
        chapter: "02-fork-server.md",
        demo: Some(demo::lesson02::run),
    },
    Lesson {
        number: 3,
        dir: "03-zombie-reaping",
        package: "lesson03-zombie-reaping",
        server: "reaping-server",
        client: "reaping-client",
        transport: Transport::Tcp,
        chapter: "03-zombie-reaping.md",
        demo: Some(demo::lesson03::run),
    },
    Lesson {
        number: 4,
        dir: "04-udp",
        package: "lesson04-udp",
        server: "udp-server",
        client: "udp-client",
        transport: Transport::Udp,
        chapter: "04-udp.md",
        demo: Some(demo::lesson04::run),
    },
    Lesson {
        number: 5,
        dir: "05-unix-domain",
        package: "lesson05-unix-domain",
        server: "unix-server",
        client: "unix-client",
        transport: Transport::Unix,
        chapter: "05-unix-domain.md",
        demo: Some(demo::lesson05::run),
    },
    Lesson {
        number: 6,
        dir: "06-select-server",
        package: "lesson06-select-server",
        server: "select-server",
        client: "select-client",
        transport: Transport::Tcp,
        chapter: "06-select-server.md",
        demo: Some(demo::lesson06::run),
    },
];

impl Lesson {
    /// `01`, as lessons are named everywhere in the course.
    pub fn id(&self) -> String {
        format!("{:02}", self.number)
    }

    /// Its crate's directory, absolute.
    pub fn path(&self) -> PathBuf {
        workspace_root().join("crates").join(self.dir)
    }

    /// The server and the client, in that order.
    pub fn binaries(&self) -> [&'static str; 2] {
        [self.server, self.client]
    }

    /// Where its end-to-end tests live.
    pub fn e2e_tests(&self) -> PathBuf {
        self.path().join("tests").join("e2e.rs")
    }

    /// Its chapter, absolute (for the tidy tests).
    #[cfg(test)]
    pub fn chapter_path(&self) -> PathBuf {
        workspace_root().join("docs/src").join(self.chapter)
    }
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
        .find(|l| Some(l.number) == number || l.dir == name || l.package == name)
        .ok_or_else(|| {
            let known: Vec<String> = LESSONS.iter().map(Lesson::id).collect();
            format!(
                "unknown lesson `{name}`: expected one of {}, or a directory name under crates/",
                known.join(", ")
            )
        })
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

/// Where cargo puts debug builds: `$CARGO_TARGET_DIR/debug` (relative to
/// the current directory, as cargo reads it) or `<workspace>/target/debug`.
pub fn debug_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => std::env::current_dir()
            .unwrap_or_default()
            .join(dir)
            .join("debug"),
        None => workspace_root().join("target").join("debug"),
    }
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
    }

    #[test]
    fn rows_are_in_order_and_named_consistently() {
        for (index, lesson) in LESSONS.iter().enumerate() {
            assert_eq!(usize::from(lesson.number), index + 1);
            assert!(lesson.dir.starts_with(&format!("{}-", lesson.id())));
            assert!(lesson.chapter.starts_with(&format!("{}-", lesson.id())));
            assert!(lesson.server.ends_with("-server") && lesson.client.ends_with("-client"));
        }
    }
}
