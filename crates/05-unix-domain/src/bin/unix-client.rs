//! Lesson 05, the client: `unix-client PATH`. Lesson 01's client with a
//! path instead of a host and a port: there is no name to look up, so it
//! is socket(), connect(), and then lesson 01's conversation, unchanged.

use lesson::args::Args;
use lesson::OrDie;
use lesson05_unix_domain::address;
use socket2::{Domain, Socket, Type};

fn main() {
    // ANCHOR: main
    let args = Args::parse("unix-client PATH", &["PATH"], &[]);
    let (_path, address) = address::socket_address(&args, 0);

    // socket(): the same domain and type as the server's.
    let server = Socket::new(Domain::UNIX, Type::STREAM, None).or_die("ERROR opening socket");

    // connect(): the kernel looks PATH up in the file system. No file
    // there: ENOENT, "No such file or directory". A socket file that no
    // server holds any more: ECONNREFUSED. Without write permission on
    // the file: EACCES.
    server.connect(&address).or_die("ERROR connecting");

    // From here on, lesson 01: prompt, one line from stdin, send it,
    // print the reply.
    lesson01_tcp_basic::client::converse(&server);
    // ANCHOR_END: main
}
