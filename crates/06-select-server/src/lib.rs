//! Lesson 06: the tutorial's third server design, the "single process
//! concurrent server". One process and one thread serve every client at
//! once: `select()` says which sockets are ready, and the server touches
//! only those, so it never waits on any one client.
//!
//! Lesson 02 bought concurrency with a process per client. Here the price
//! is paid in code instead: nothing may block, so every socket is
//! nonblocking, each client keeps the start of a line that is still
//! arriving (a line may come in pieces) and the replies it has not taken
//! yet (a client may be slow to read), and limits keep one client from
//! eating the server's memory.
//!
//! - [`server`]: `select-server PORT`, the loop around `select()` and what
//!   it does for each client;
//! - [`client`]: `select-client HOST PORT`, which needs `select()` too,
//!   to watch its stdin and its socket at the same time;
//! - [`lines`]: printing lines whole, shared by both.

pub mod client;
pub mod lines;
pub mod server;
