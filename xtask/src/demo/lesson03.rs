//! Demo 03: the same clients against both ways of reaping, and no zombie.

use crate::demo::stage::Log;
use crate::demo::{lesson02, Demo, Note, Tracing, CLIENTS, REFRESH_EVERY};
use crate::lessons::Lesson;
use lesson_testing::procfs as procs;
use lesson_testing::supervisor::Stream;

/// `--trace`: lesson 02's calls, and now the SIGCHLD handler's wait4().
pub const TRACING: Tracing = Tracing {
    more_calls: lesson02::CALLS,
    signals: &["SIGCHLD", "SIGTERM"],
    handlers: &["SIGCHLD"],
    files: &[],
    notes: &[Note {
        starts: "--- SIGCHLD",
        contains: "",
        text: "--- SIGCHLD ---: a child has ended, and the kernel interrupts the server wherever \
               it is (in accept4()) to run its handler. The wait4() calls that follow are the \
               handler's waitpid(-1, WNOHANG) loop: each returns a child's PID, until one \
               returns 0 (children left, none ended) or ECHILD (no children). Then the \
               interrupted accept4() starts again (SA_RESTART; strace marks it ERESTARTSYS, a \
               return the server never sees, which the demo leaves out).",
    }],
};

/// Demo 03: the same clients against both ways of reaping.
pub fn run(demo: &mut Demo, lesson: &Lesson) -> Result<(), String> {
    demo.narrate(
        "Lesson 03: reaping-server serves like fork-server, but reaps its children, in one of two \
         ways chosen with --reap.",
    )?;
    demo.build(lesson)?;
    let strategies = [
        (
            "handler",
            "--reap handler (the default): a SIGCHLD handler calls waitpid(-1, WNOHANG) in a loop \
             until no exited child is left. A loop, because signals coalesce: while one SIGCHLD is \
             pending, more children exiting add no second one.",
        ),
        (
            "ignore",
            "--reap ignore: SIGCHLD set to SIG_IGN. That tells the kernel this parent will never ask \
             for its children's exit statuses, so an exiting child is removed at once and never \
             becomes a zombie (the tutorial's AIX way, in POSIX since 2001).",
        ),
    ];
    for (strategy, explanation) in strategies {
        demo.narrate(explanation)?;
        let (mut server, port) = demo.start_server("reaping-server", &["--reap", strategy])?;
        let pid = server.pid();
        let silent = demo.connect_silently(&server, port)?;
        demo.run_clients("reaping-client", port)?;

        demo.narrate(&format!(
            "The server's children as /proc shows them (like `ps -o pid,ppid,stat,comm --ppid {pid}`), \
             refreshed every {} s:",
            REFRESH_EVERY.as_secs_f64()
        ))?;
        let children = demo.watch_children(pid)?;
        let zombies = children.iter().filter(|p| p.is_zombie()).count();
        if zombies == 0 {
            demo.narrate(&format!(
                "No Z: each of the {CLIENTS} children was reaped as soon as it exited. Only the child \
                 serving the silent client is left (S)."
            ))?;
        } else {
            demo.narrate(&format!(
                "{zombies} zombies (Z) after 2 s: this server does not reap as `--reap {strategy}` promises!"
            ))?;
        }

        if demo.tracing() {
            tell_trace(demo, strategy)?;
        }

        demo.narrate(
            "We close the silent connection; its child answers, exits, and is reaped too:",
        )?;
        drop(silent);
        demo.wait_for("the silent client's server child to finish", |log| {
            // The five clients' messages, and the silent one's empty one.
            log.count("server", Stream::Stdout, "Here is the message:") > CLIENTS
        })?;
        demo.wait_for("the last child to be reaped", |_| {
            procs::children_of(pid).is_empty()
        })?;
        demo.show_table(&procs::children_of(pid));

        let status = demo.stop_server(&mut server)?;
        demo.narrate(&format!(
            "The server is gone ({status}), and it left no zombies behind."
        ))?;
        // Its output has a label of its own; start the next one afresh.
        demo.log = Log::default();
    }
    demo.narrate(
        "Both ways leave no zombies. The handler still lets the server learn how each child ended \
         (waitpid() returns its status); SIG_IGN gives that up for simplicity.",
    )?;
    Ok(())
}

/// Says what the trace showed of the server's signals and waits so far.
fn tell_trace(demo: &mut Demo, strategy: &str) -> Result<(), String> {
    let signals = demo.log.calls("server", "--- SIGCHLD");
    let waits = demo.log.calls("server", "wait4(");
    let reaped = demo
        .log
        .call_lines("server", "wait4(")
        .filter(|call| {
            call.rsplit_once(") = ")
                .is_some_and(|(_, result)| result.parse::<u32>().is_ok_and(|pid| pid > 0))
        })
        .count();
    let text = match (strategy, signals, waits) {
        ("ignore", 0, 0) => {
            "In the trace: no SIGCHLD and no wait4(). A parent that ignores SIGCHLD \
                             is not even sent one: the kernel removes each child as it exits."
                .to_string()
        }
        _ => format!(
            "In the trace: {signals} SIGCHLD signals reached the server, and it made {waits} \
             wait4() calls, {reaped} of which returned a child's PID: that child reaped. Signals \
             coalesce, so there can be fewer SIGCHLDs than children."
        ),
    };
    demo.narrate(&text)
}
