//! Lesson 03, the client binary: `reaping-client HOST PORT`. Reaping is the
//! server's business; the client is lesson 01's
//! (`crates/01-tcp-basic/src/client.rs`), unchanged.

fn main() {
    lesson01_tcp_basic::client::run("reaping-client HOST PORT");
}
