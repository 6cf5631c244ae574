//! Builds the fault-injection library that the checks preload into the
//! programs under test (`faults/src/lib.rs`), and tells the harness where
//! it is: `env!("LESSON_FAULTS_LIBRARY")` in `src/faults.rs`.
//!
//! Why a build script, and a bare `rustc` call: a check needs the
//! library's path while it runs, however the tests were built (`cargo test
//! -p lesson01-tcp-basic`, `cargo xtask check`, the copy of the workspace
//! that `cargo xtask exercises` builds, a test binary that `cargo xtask
//! stress` copied elsewhere). Cargo builds the library as a workspace
//! member, but does not tell another package where it put it (that is
//! cargo's unstable "artifact dependencies"), nor build it at all for
//! `cargo test -p` of a lesson. So the harness compiles the one file itself,
//! into its own build directory, and records the absolute path. The file
//! has no dependencies, so rustc needs nothing else; it takes a second.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets it"));
    let source = manifest.join("faults").join("src").join("lib.rs");
    let library = out.join("liblesson_faults.so");

    let mut rustc = Command::new(env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
    rustc
        .args(["--crate-name", "lesson_faults", "--crate-type", "cdylib"])
        .args([
            "--edition",
            "2021",
            "-C",
            "opt-level=1",
            "-C",
            "debuginfo=0",
        ])
        // A panic must not unwind into the C code that called us.
        .args(["-C", "panic=abort"])
        // Its lints are clippy's business, in the workspace build.
        .args(["--cap-lints", "allow"])
        .arg("-o")
        .arg(&library)
        .arg(&source);
    if let Some(target) = env::var_os("TARGET") {
        rustc.arg("--target").arg(target);
    }
    let status = rustc
        .status()
        .unwrap_or_else(|e| panic!("cannot run rustc for {}: {e}", source.display()));
    assert!(status.success(), "rustc failed on {}", source.display());

    println!("cargo:rerun-if-changed={}", source.display());
    println!("cargo:rerun-if-changed=build.rs");
    println!(
        "cargo:rustc-env=LESSON_FAULTS_LIBRARY={}",
        library.display()
    );
}
