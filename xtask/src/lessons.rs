//! The course's lessons as xtask finds them: one crate per lesson under
//! `crates/NN-name/`, the binaries the contract names for each, and how to
//! call cargo and where it puts what it builds.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};

/// The binaries of each lesson, as the contract names them (the same
/// names for our programs, a student's and the tutorial's C).
const BINARIES: [&[&str]; 6] = [
    &["tcp-server", "tcp-client"],
    &["fork-server", "fork-client"],
    &["reaping-server", "reaping-client"],
    &["udp-server", "udp-client"],
    &["unix-server", "unix-client"],
    &["select-server", "select-client"],
];

/// The last lesson the course plans.
pub const LAST: u8 = BINARIES.len() as u8;

/// One lesson crate in the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lesson {
    /// 1 for `crates/01-tcp-basic`.
    pub number: u8,
    /// `crates/01-tcp-basic`, absolute.
    pub dir: PathBuf,
    /// The package name from its `Cargo.toml`, for `cargo -p`.
    pub package: String,
}

impl Lesson {
    /// `01`, as lessons are named everywhere in the course.
    pub fn id(&self) -> String {
        format!("{:02}", self.number)
    }

    /// Its directory name, e.g. `01-tcp-basic`.
    pub fn dir_name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The server and client the contract names for it.
    pub fn binaries(&self) -> &'static [&'static str] {
        binaries(self.number)
    }

    /// Where its end-to-end tests live.
    pub fn e2e_tests(&self) -> PathBuf {
        self.dir.join("tests").join("e2e.rs")
    }
}

/// The binaries the contract names for lesson `number` (none for a lesson
/// it does not plan).
pub fn binaries(number: u8) -> &'static [&'static str] {
    usize::from(number)
        .checked_sub(1)
        .and_then(|i| BINARIES.get(i))
        .copied()
        .unwrap_or(&[])
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

/// Every lesson crate in `crates/`, by number: the directories named
/// `NN-something` whose `Cargo.toml` names a package.
pub fn discover() -> Vec<Lesson> {
    let Ok(entries) = fs::read_dir(workspace_root().join("crates")) else {
        return Vec::new();
    };
    let mut lessons: Vec<Lesson> = entries
        .filter_map(|entry| {
            let dir = entry.ok()?.path();
            let name = dir.file_name()?.to_str()?.to_string();
            let (digits, rest) = name.split_at_checked(2)?;
            if !digits.bytes().all(|b| b.is_ascii_digit()) || !rest.starts_with('-') {
                return None;
            }
            let package = package_name(&fs::read_to_string(dir.join("Cargo.toml")).ok()?)?;
            Some(Lesson {
                number: digits.parse().ok()?,
                dir,
                package,
            })
        })
        .collect();
    lessons.sort_by_key(|l| l.number);
    lessons
}

/// Finds the lesson `name` means: `01`, `1`, the directory name
/// `01-tcp-basic`, or the package name.
pub fn resolve<'a>(name: &str, lessons: &'a [Lesson]) -> Result<&'a Lesson, String> {
    let number = if name.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty() {
        name.parse::<u8>().ok()
    } else {
        None
    };
    let found = lessons
        .iter()
        .find(|l| Some(l.number) == number || l.dir_name() == name || l.package == name);
    match (found, number) {
        (Some(lesson), _) => Ok(lesson),
        (None, Some(n)) if (1..=LAST).contains(&n) => Err(format!(
            "lesson {n:02} does not exist yet (no crates/{n:02}-* directory)"
        )),
        _ => Err(format!(
            "unknown lesson `{name}`: expected 01..{LAST:02}, or a directory name under crates/"
        )),
    }
}

/// The `name` of the `[package]` table in a `Cargo.toml`. A few lines of
/// reading instead of a TOML parser: our manifests write it as
/// `name = "..."`.
fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some((key, value)) = line.split_once('=') {
                if key.trim() == "name" {
                    return Some(value.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_name_comes_from_the_package_table() {
        let manifest =
            "[workspace]\nname = \"not this\"\n\n[package]\nname = \"lesson01-tcp-basic\"\n";
        assert_eq!(
            package_name(manifest).as_deref(),
            Some("lesson01-tcp-basic")
        );
        assert_eq!(package_name("[dependencies]\nname = \"x\"\n"), None);
    }

    #[test]
    fn every_planned_lesson_has_a_server_and_a_client() {
        for number in 1..=LAST {
            let names = binaries(number);
            assert_eq!(names.len(), 2);
            assert!(names[0].ends_with("-server") && names[1].ends_with("-client"));
        }
        assert!(binaries(0).is_empty() && binaries(LAST + 1).is_empty());
    }
}
