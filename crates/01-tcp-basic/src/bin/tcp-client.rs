//! Lesson 01, the client binary: `tcp-client HOST PORT`. The code is in
//! `src/client.rs`, which later lessons' clients share.

fn main() {
    lesson01_tcp_basic::client::run("tcp-client HOST PORT");
}
