//! Demo 03: the same clients against both ways of reaping, and no zombie.

use crate::demo::stage::Log;
use crate::demo::{Demo, CLIENTS, REFRESH_EVERY};
use crate::lessons::Lesson;
use lesson_testing::procfs as procs;
use lesson_testing::supervisor::Stream;

/// Demo 03: the same clients against both ways of reaping.
pub fn run(demo: &mut Demo, lesson: &Lesson) -> Result<(), String> {
    demo.narrate(
        "Lesson 03: reaping-server serves like fork-server, but reaps its children, in one of two \
         ways chosen with --reap.",
    );
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
        demo.narrate(explanation);
        let (mut server, port) = demo.start_server("reaping-server", &["--reap", strategy])?;
        let pid = server.pid();
        let silent = demo.connect_silently(&server, port)?;
        demo.run_clients("reaping-client", port)?;

        demo.narrate(&format!(
            "The server's children as /proc shows them (like `ps -o pid,ppid,stat,comm --ppid {pid}`), \
             refreshed every {} s:",
            REFRESH_EVERY.as_secs_f64()
        ));
        let children = demo.watch_children(pid)?;
        let zombies = children.iter().filter(|p| p.is_zombie()).count();
        if zombies == 0 {
            demo.narrate(&format!(
                "No Z: each of the {CLIENTS} children was reaped as soon as it exited. Only the child \
                 serving the silent client is left (S)."
            ));
        } else {
            demo.narrate(&format!(
                "{zombies} zombies (Z) after 2 s: this server does not reap as `--reap {strategy}` promises!"
            ));
        }

        demo.narrate(
            "We close the silent connection; its child answers, exits, and is reaped too:",
        );
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
        ));
        // Its output has a label of its own; start the next one afresh.
        demo.log = Log::default();
    }
    demo.narrate(
        "Both ways leave no zombies. The handler still lets the server learn how each child ended \
         (waitpid() returns its status); SIG_IGN gives that up for simplicity.",
    );
    Ok(())
}
