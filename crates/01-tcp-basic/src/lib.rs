//! Lesson 01: the tutorial's first TCP server and client.
//!
//! The server is `src/bin/tcp-server.rs`, one system call per step. The
//! client is [`client`], shared with the clients of the lessons that follow.

pub mod client;
