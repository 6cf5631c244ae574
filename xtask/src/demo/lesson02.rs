//! Demo 02: a fork server's children in /proc, the zombies it leaves, and
//! what becomes of them when the server stops.

use crate::demo::{Demo, Note, Tracing, CLIENTS, REFRESH_EVERY};
use crate::lessons::Lesson;
use lesson_testing::procfs::{self as procs, Process};
use lesson_testing::supervisor::Stream;

/// The calls of a fork server beyond a socket's life: fork(), wait and
/// signals (the same for lesson 03).
pub const CALLS: &[&str] = &[
    "listen",
    "accept",
    "accept4",
    "clone",
    "clone3",
    "fork",
    "vfork",
    "wait4",
    "rt_sigaction",
];

/// `--trace`: the parent's accept() and fork(), each child serving its
/// client and exiting, SIGCHLD that nobody handles.
pub const TRACING: Tracing = Tracing {
    more_calls: CALLS,
    signals: &["SIGCHLD", "SIGTERM"],
    handlers: &["SIGCHLD"],
    files: &[],
    notes: &[Note {
        starts: "--- SIGCHLD",
        contains: "",
        text: "--- SIGCHLD ---: the kernel tells the server that a child has ended. fork-server \
               leaves SIGCHLD at its default action, which is to do nothing: no handler runs, \
               nothing calls wait4(), and the child stays a zombie.",
    }],
};

/// Demo 02: a fork server's children, and the zombies it leaves.
pub fn run(demo: &mut Demo, lesson: &Lesson) -> Result<(), String> {
    demo.narrate(
        "Lesson 02: fork-server runs until stopped and fork()s one child process per connection. \
         On purpose, it never waits for (reaps) its children.",
    )?;
    demo.build(lesson)?;
    let (mut server, port) = demo.start_server("fork-server", &[])?;
    let silent = demo.connect_silently(&server, port)?;
    demo.run_clients("fork-client", port)?;
    demo.narrate(&format!(
        "All {CLIENTS} clients were served while the silent client kept its connection open: each \
         connection has a process of its own."
    ))?;

    demo.narrate(&format!(
        "The server's children as /proc shows them (like `ps -o pid,ppid,stat,comm --ppid {}`), \
         refreshed every {} s:",
        server.pid(),
        REFRESH_EVERY.as_secs_f64()
    ))?;
    let children = demo.watch_children(server.pid())?;
    let zombies = children.iter().filter(|p| p.is_zombie()).count();
    demo.narrate(&format!(
        "STAT Z means zombie. {zombies} children served their client and exited, but the kernel keeps \
         each one's exit status, and its PID, until the parent collects it with wait() or waitpid(). \
         fork-server never does, so they stay for as long as it runs. The one in S still serves the \
         silent client."
    ))?;

    demo.narrate(
        "We close the silent connection: its child's read() returns 0 (end of file), so it prints an \
         empty message, answers, exits, and becomes a zombie like the others.",
    )?;
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

    // Stopped, but not finished: the supervisor's finish() would reap the
    // orphans at once, and the class is to see them first.
    let former: Vec<i32> = procs::children_of(pid).iter().map(|p| p.pid).collect();
    let status = demo.terminate(&mut server)?;
    let me = std::process::id() as i32;
    let adopted = || -> Vec<Process> {
        procs::children_of(me)
            .into_iter()
            .filter(|p| former.contains(&p.pid))
            .collect()
    };
    let parent = if demo.tracing() {
        " (under --trace the server's parent is strace, which is not one)"
    } else {
        ""
    };
    demo.narrate(&format!(
        "The server is gone ({status}). Its zombies lost their parent, so the kernel re-parented them \
         to the nearest \"subreaper\" ancestor: xtask (PID {me}), which declared itself one with \
         prctl(PR_SET_CHILD_SUBREAPER){parent}. Without one, init (PID 1) would inherit them. The \
         server's former children, as /proc shows them now:"
    ))?;
    let orphans = adopted();
    demo.show_table(&orphans);
    let zombies = orphans.iter().filter(|p| p.is_zombie()).count();
    if orphans.iter().all(|p| p.parent == me) && zombies == orphans.len() && zombies > 0 {
        demo.narrate(&format!(
            "PPID {me}: all {zombies} are xtask's children now, still zombies. xtask collects their \
             exit statuses with waitpid(), as init would:"
        ))?;
    } else {
        demo.narrate(&format!(
            "{zombies} of them are zombies with PPID {me}. xtask collects the exit statuses of \
             its zombie children with waitpid(), as init would:"
        ))?;
    }
    // The supervisor's finish(): the server's group is killed and the
    // orphans of that group are reaped with waitpid().
    server.finish();
    let left = adopted();
    demo.narrate(&format!(
        "{} zombies reaped. Of the server's former children, /proc now shows:",
        orphans.len() - left.len()
    ))?;
    demo.show_table(&left);
    Ok(())
}
