//! Demo 02: a fork server's children in /proc, the zombies it leaves, and
//! what becomes of them when the server stops.

use crate::demo::{Demo, CLIENTS, REFRESH_EVERY};
use crate::lessons::Lesson;
use lesson_testing::procfs::{self as procs, Process};
use lesson_testing::supervisor::Stream;

/// Demo 02: a fork server's children, and the zombies it leaves.
pub fn run(demo: &mut Demo, lesson: &Lesson) -> Result<(), String> {
    demo.narrate(
        "Lesson 02: fork-server runs until stopped and fork()s one child process per connection. \
         On purpose, it never waits for (reaps) its children.",
    );
    demo.build(lesson)?;
    let (mut server, port) = demo.start_server("fork-server", &[])?;
    let silent = demo.connect_silently(&server, port)?;
    demo.run_clients("fork-client", port)?;
    demo.narrate(&format!(
        "All {CLIENTS} clients were served while the silent client kept its connection open: each \
         connection has a process of its own."
    ));

    demo.narrate(&format!(
        "The server's children as /proc shows them (like `ps -o pid,ppid,stat,comm --ppid {}`), \
         refreshed every {} s:",
        server.pid(),
        REFRESH_EVERY.as_secs_f64()
    ));
    let children = demo.watch_children(server.pid())?;
    let zombies = children.iter().filter(|p| p.is_zombie()).count();
    demo.narrate(&format!(
        "STAT Z means zombie. {zombies} children served their client and exited, but the kernel keeps \
         each one's exit status, and its PID, until the parent collects it with wait() or waitpid(). \
         fork-server never does, so they stay for as long as it runs. The one in S still serves the \
         silent client."
    ));

    demo.narrate(
        "We close the silent connection: its child's read() returns 0 (end of file), so it prints an \
         empty message, answers, exits, and becomes a zombie like the others.",
    );
    drop(silent);
    let expected = CLIENTS + 1;
    demo.wait_for("the silent client's server child to finish", |log| {
        log.count("server", Stream::Stdout, "Here is the message:") >= expected
    })?;
    let pid = server.pid();
    demo.wait_for("all the server's children to be zombies", |_| {
        let children = procs::children_of(pid);
        children.len() >= expected && children.iter().all(Process::is_zombie)
    })?;
    demo.show_table(&procs::children_of(pid));

    let status = demo.stop_server(&mut server)?;
    let me = std::process::id() as i32;
    demo.narrate(&format!(
        "The server is gone ({status}). Its zombies lost their parent, so the kernel re-parented them \
         to the nearest \"subreaper\" ancestor: xtask (PID {me}), which declared itself one with \
         prctl(PR_SET_CHILD_SUBREAPER). Without one, init (PID 1) would inherit them. They are \
         xtask's children now:"
    ));
    demo.show_table(&procs::children_of(me));
    let reaped = lesson_testing::supervisor::reap_zombies(&[]);
    demo.narrate(&format!(
        "xtask collects their exit statuses with waitpid(), as init would: {reaped} zombies reaped. \
         xtask's children now:"
    ));
    demo.show_table(&procs::children_of(me));
    Ok(())
}
