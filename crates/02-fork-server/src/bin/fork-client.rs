//! Lesson 02, the client binary: `fork-client HOST PORT`. A fork server
//! talks to each client exactly as lesson 01's server did, so this is
//! lesson 01's client (`crates/01-tcp-basic/src/client.rs`), unchanged.

fn main() {
    lesson01_tcp_basic::client::run("fork-client HOST PORT");
}
