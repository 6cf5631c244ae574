//! Lesson 06, the client binary: `select-client HOST PORT`. It sends the
//! lines of its stdin and prints the server's replies as they come,
//! watching both with `select()`. The code is in `src/client.rs`.

fn main() {
    lesson06_select_server::client::run();
}
