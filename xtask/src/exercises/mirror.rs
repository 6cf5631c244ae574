//! The copy of the workspace that exercises are applied to, so that the
//! student's own files are never touched.
//!
//! The copy lives in the build directory (`target/exercises/workspace`)
//! and is kept between runs, with its own `CARGO_TARGET_DIR` beside it, so
//! that each exercise rebuilds only what its edit changed. Keeping it
//! needs care with cargo's notion of "changed": cargo compares a source
//! file's modification time with its last build. A fresh copy that kept
//! the original times would hand cargo, after an exercise, the original
//! text with an *old* time, and cargo would keep running the exercise's
//! binary. So [`sync`] writes a file only when its content differs from
//! what the copy holds, and writing gives it a new time: the copy's times
//! always tell cargo the truth.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::entry::Edit;

/// Directories never copied: build output, git's database, the rendered
/// book. `target` is skipped at any depth.
fn skipped(relative: &Path) -> bool {
    let name = relative.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "target"
        || relative == Path::new(".git")
        || relative == Path::new("docs/book")
        || relative == Path::new("workbook")
}

/// Makes `copy` hold exactly the files of `original` (less the skipped
/// directories): new or different files are written, files and
/// directories that `original` no longer has are removed, identical files
/// are left alone. Symbolic links are not followed, nor copied.
pub fn sync(original: &Path, copy: &Path) -> io::Result<()> {
    sync_dir(original, copy, Path::new(""))
}

fn sync_dir(original: &Path, copy: &Path, relative: &Path) -> io::Result<()> {
    let from = original.join(relative);
    let to = copy.join(relative);
    fs::create_dir_all(&to)?;
    let mut kept = BTreeSet::new();
    for entry in fs::read_dir(&from)? {
        let entry = entry?;
        let name = entry.file_name();
        let path = relative.join(&name);
        let kind = entry.file_type()?;
        if kind.is_dir() {
            if skipped(&path) {
                continue;
            }
            sync_dir(original, copy, &path)?;
        } else if kind.is_file() {
            let content = fs::read(entry.path())?;
            let target = copy.join(&path);
            if fs::read(&target).ok().as_deref() != Some(&content[..]) {
                if target.is_dir() {
                    fs::remove_dir_all(&target)?;
                }
                fs::write(&target, &content)?;
            }
        } else {
            continue;
        }
        kept.insert(name);
    }
    for entry in fs::read_dir(&to)? {
        let entry = entry?;
        if kept.contains(&entry.file_name()) || skipped(&relative.join(entry.file_name())) {
            continue;
        }
        if entry.file_type()?.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Why an edit could not be applied: the entry itself is broken (its
/// `find` text is not in the file exactly once, or the file is missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenEdit(pub String);

/// Applies `edits` in order to the files under `root` (the copy). Each
/// `find` must occur exactly once in its file as it is at that point.
pub fn apply(root: &Path, edits: &[Edit]) -> Result<(), BrokenEdit> {
    for (index, edit) in edits.iter().enumerate() {
        let which = format!("edit {} of {}", index + 1, edits.len());
        let path: PathBuf = root.join(&edit.file);
        let text = fs::read_to_string(&path)
            .map_err(|e| BrokenEdit(format!("{which}: cannot read {}: {e}", edit.file)))?;
        let found = text.matches(edit.find.as_str()).count();
        if found != 1 {
            let times = match found {
                0 => "does not occur".to_string(),
                n => format!("occurs {n} times"),
            };
            return Err(BrokenEdit(format!(
                "{which}: its `find` text {times} in {} (it must occur exactly once; \
                 has the code changed since the entry was written?):\n{}",
                edit.file,
                indent(&edit.find)
            )));
        }
        let changed = text.replacen(edit.find.as_str(), &edit.replace, 1);
        fs::write(&path, changed)
            .map_err(|e| BrokenEdit(format!("{which}: cannot write {}: {e}", edit.file)))?;
    }
    Ok(())
}

/// `text` indented by four spaces, for quoting in a message.
fn indent(text: &str) -> String {
    text.lines()
        .map(|line| format!("    {line}\n"))
        .collect::<String>()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory under the system's temp dir, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("xtask-mirror-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).expect("scratch dir");
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().expect("a parent")).expect("dirs");
        fs::write(path, text).expect("write");
    }

    #[test]
    fn sync_copies_changes_only_and_skips_build_output() {
        let original = Scratch::new("original");
        let copy = Scratch::new("copy");
        let (a, b) = (&original.0, &copy.0);
        write(&a.join("src/lib.rs"), "one");
        write(&a.join("same.txt"), "same");
        write(&a.join("target/debug/big"), "build output");
        write(&a.join("crates/x/target/y"), "nested build output");
        write(&a.join("docs/book/index.html"), "rendered");
        write(&a.join(".git/HEAD"), "ref");
        sync(a, b).expect("first sync");
        assert_eq!(fs::read_to_string(b.join("src/lib.rs")).unwrap(), "one");
        for skipped in ["target", "crates/x/target", "docs/book", ".git"] {
            assert!(!b.join(skipped).exists(), "{skipped} was copied");
        }

        let same_time = fs::metadata(b.join("same.txt"))
            .unwrap()
            .modified()
            .unwrap();
        write(&b.join("src/lib.rs"), "edited by an exercise");
        write(&b.join("stale.rs"), "not in the original");
        std::thread::sleep(std::time::Duration::from_millis(20));
        sync(a, b).expect("second sync");
        assert_eq!(fs::read_to_string(b.join("src/lib.rs")).unwrap(), "one");
        assert!(!b.join("stale.rs").exists());
        let after = fs::metadata(b.join("same.txt"))
            .unwrap()
            .modified()
            .unwrap();
        assert_eq!(same_time, after, "an identical file must keep its time");
    }

    #[test]
    fn edits_need_their_text_exactly_once() {
        let dir = Scratch::new("edits");
        write(&dir.0.join("a.rs"), "let x = 1;\nlet y = 1;\n");
        let edit = |find: &str| Edit {
            file: "a.rs".to_string(),
            find: find.to_string(),
            replace: "let z = 2;".to_string(),
        };
        apply(&dir.0, &[edit("let x = 1;")]).expect("once: applied");
        assert_eq!(
            fs::read_to_string(dir.0.join("a.rs")).unwrap(),
            "let z = 2;\nlet y = 1;\n"
        );
        let twice = apply(&dir.0, &[edit(" = ")]).expect_err("twice: broken");
        assert!(twice.0.contains("occurs 2 times"), "{}", twice.0);
        let never = apply(&dir.0, &[edit("let x")]).expect_err("never: broken");
        assert!(never.0.contains("does not occur"), "{}", never.0);
        let missing = apply(
            &dir.0,
            &[Edit {
                file: "b.rs".to_string(),
                ..edit("x")
            }],
        );
        assert!(missing.is_err());
    }
}
