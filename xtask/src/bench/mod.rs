//! `cargo xtask bench`: measures what the tutorial only asserts. Forking
//! per connection is slow; a stream socket costs more than a datagram; one
//! process with `select()` serves many clients. Each claim becomes a
//! scenario with a number, next to the machine's own limit for the same
//! exchange, and, with `--against`, next to another implementation of the
//! same contract, such as the tutorial's C.
//!
//! The pieces: [`loadgen`] (the clients), [`scenarios`] (which server,
//! which load, what a run measures), [`limits`] (the bare machine),
//! [`machine`] (CPU pinning, descriptor limit, load average), [`report`]
//! (medians, ratios, targets, JSON) and [`chart`] (the SVG).

mod chart;
mod limits;
mod loadgen;
mod machine;
mod report;
mod scenarios;

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use crate::lessons::{self, LESSONS};
use crate::{procs, term, usage_error};

use limits::Limit;
use loadgen::Budget;
use machine::{Pin, Placement};
use report::{LimitResult, Report, Runs, ScenarioResult};
use scenarios::{Implementation, Scenario};

crate::help_text! {
    /// Measure the servers: throughput, latency, CPU and memory per design.
    ///
    /// usage: cargo xtask bench [--quick] [--json FILE] [--svg FILE] [--against DIR]
    ///                          [--pin one|split|off] [--only TEXT]
    ///
    /// Builds lessons 02 to 06 in release mode (release numbers are the
    /// ones that count), and xtask too, since its load generator shares
    /// the CPU with the servers; then, in one run:
    ///
    /// - measures the machine's limits: a bare loopback TCP and Unix-domain
    ///   exchange (connect, one request, close), a bare UDP round trip, a
    ///   bare line server, and a bare fork() + _exit() + waitpid() loop;
    /// - runs each scenario: connections per second and latency of the
    ///   fork server (02), the reaping server (03) and the select server
    ///   (06) at 1 and 8 clients; UDP round trips (04) at 1 and 4 clients;
    ///   Unix-domain connections (05) at 1 and 8 clients, and at 1 client
    ///   with `--show-peer` (ours only: the price of naming each client);
    ///   lines per second,
    ///   latency and memory of the select server at 10, 100 and 1000
    ///   clients, 16 lines in flight each.
    ///
    /// Each scenario runs 6 rounds (2 with --quick), each with a fresh
    /// server; every reply is checked byte for byte. The table shows the
    /// median with its spread (half the range), the server's CPU time per
    /// operation (its forked children included), p50 and p99 latency, the
    /// server's peak RSS, errors, and the throughput as a fraction of its
    /// limit.
    /// Lesson 02 never reaps its children, so its runs stop after 3000
    /// connections each (every zombie holds a process ID).
    ///
    /// options:
    ///   --quick        fewer and shorter rounds: under a minute
    ///   --against DIR  also run DIR's binaries (DIR/fork-server, ...), such
    ///                  as the tutorial's C built with gcc -O2, in turns
    ///                  (ours, theirs, theirs, ours, ...); prints the ratio
    ///                  of each pair of rounds and checks the targets
    ///   --pin P        where the servers and the load generator run:
    ///                  `one` (default) both on one CPU, the steadiest on a
    ///                  small machine; `split` on two different CPUs; `off`
    ///                  wherever the scheduler puts them
    ///   --json FILE    write every number, round by round, as JSON
    ///   --svg FILE     draw the chart (the book's is docs/src/bench.svg)
    ///   --only TEXT    run only the scenarios whose id contains TEXT
    ///                  (02-fork-1, 04-udp-4, 06-lines-1000, ...); may be
    ///                  given more than once
    ///
    /// The machine's load average is printed before and after: numbers
    /// measured while other work runs are noisy.
    pub const HELP;
}

/// What the command line asked for.
struct Options {
    quick: bool,
    json: Option<PathBuf>,
    svg: Option<PathBuf>,
    against: Option<PathBuf>,
    pin: Pin,
    /// `--only`, any number of times: a scenario runs if its id contains
    /// any of them.
    only: Vec<String>,
}

/// Rounds, warm-up and window for a full and a quick run.
struct Plan {
    rounds: usize,
    limit_rounds: usize,
    budget: Budget,
}

impl Plan {
    fn for_options(options: &Options) -> Plan {
        if options.quick {
            Plan {
                rounds: 2,
                limit_rounds: 1,
                budget: Budget {
                    warmup: Duration::from_millis(100),
                    window: Duration::from_millis(300),
                    max_ops: None,
                },
            }
        } else {
            Plan {
                rounds: 6,
                limit_rounds: 3,
                budget: Budget {
                    warmup: Duration::from_millis(100),
                    window: Duration::from_millis(700),
                    max_ops: None,
                },
            }
        }
    }
}

/// `cargo xtask bench ...`
pub fn run(args: &[String]) -> ExitCode {
    if let Some((first, rest)) = args.split_first() {
        if first == limits::FORK_LOOP_OPTION {
            return limits::fork_loop(rest);
        }
    }
    let options = match parse(args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            crate::print_help(HELP);
            return ExitCode::SUCCESS;
        }
        Err(message) => return usage_error(&message, HELP),
    };
    if cfg!(debug_assertions) && std::env::var_os(IN_RELEASE).is_none() {
        // Returns only if the optimized xtask could not be built or run.
        run_optimized(args);
    }
    let scenarios: Vec<Scenario> = scenarios::all()
        .into_iter()
        .filter(|s| {
            options.only.is_empty() || options.only.iter().any(|o| s.id.contains(o.as_str()))
        })
        .collect();
    if scenarios.is_empty() {
        return usage_error("--only matches no scenario", HELP);
    }
    let against = match &options.against {
        Some(dir) => match dir.canonicalize() {
            Ok(dir) => Some(Implementation {
                name: implementation_name(&dir),
                dir,
            }),
            Err(e) => return usage_error(&format!("--against {}: {e}", dir.display()), HELP),
        },
        None => None,
    };
    term::catch_interrupts();
    if let Err(e) = procs::become_subreaper() {
        // Without it, lesson 02's zombies are re-parented to init when its
        // server stops, and their CPU time is lost to the count.
        eprintln!("warning: {e}");
    }
    let started = Instant::now();
    let servers: Vec<&'static str> = {
        let mut names: Vec<&'static str> = scenarios.iter().map(|s| s.server).collect();
        names.dedup();
        names
    };
    let ours = match build(&servers) {
        Ok(dir) => Implementation {
            name: "ours".to_string(),
            dir,
        },
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = machine::raise_descriptor_limit(4096) {
        eprintln!("warning: {e}; the 1000-client scenario may fail");
    }
    let plan = Plan::for_options(&options);
    let (cpus, kernel, model) = machine::description();
    let placement = Placement::choose(options.pin);
    // The coordinating thread and everything it starts (the supervisor's
    // reader threads) run where the load generator runs.
    machine::pin_this_thread(&placement.load);

    let machine_text = format!("{cpus} CPUs ({model}), Linux {kernel}");
    let load_before = machine::load_average();
    println!("machine: {machine_text}");
    println!("placement: {}", placement.shown());
    println!(
        "load average before: {}",
        load_before.map_or("?".to_string(), |l| format!("{l:.2}"))
    );
    println!(
        "{} rounds per scenario, {:.1} s each after {:.1} s of warm-up; ours: {}{}",
        plan.rounds,
        plan.budget.window.as_secs_f64(),
        plan.budget.warmup.as_secs_f64(),
        ours.dir.display(),
        against
            .as_ref()
            .map(|a| format!("; against: {}", a.dir.display()))
            .unwrap_or_default()
    );
    println!();

    // The limits' rounds are spread over the run (one pass at the start,
    // the others between scenarios and at the end), so that a change in
    // the machine's load during the run shows in their spread instead of
    // tilting every fraction of a limit the same way.
    let mut limits = wanted_limits(&scenarios);
    let passes_after: Vec<usize> = (1..plan.limit_rounds)
        .map(|pass| (pass * scenarios.len() / (plan.limit_rounds - 1).max(1)).max(1))
        .collect();
    let others = machine::Others::start();
    measure_limits(&mut limits, &plan, &placement);
    let mut results = Vec::new();
    for (index, scenario) in scenarios.iter().enumerate() {
        if term::interrupted() {
            break;
        }
        // A scenario with options beyond the contract runs ours only.
        let against = against.as_ref().filter(|_| scenario.flags.is_empty());
        let result = measure_scenario(scenario, &ours, against, &plan, &placement);
        print_progress(&result);
        results.push(result);
        for _ in passes_after.iter().filter(|&&after| after == index + 1) {
            measure_limits(&mut limits, &plan, &placement);
        }
    }
    procs::kill_orphans();

    let report = Report {
        machine: machine_text,
        placement: placement.shown(),
        placement_name: placement.name(),
        rounds: plan.rounds,
        warmup: plan.budget.warmup,
        window: plan.budget.window,
        ours: ours.dir.display().to_string(),
        against: against.as_ref().map(|a| a.name.clone()),
        load_before,
        load_after: machine::load_average(),
        others: others.share(),
        elapsed: started.elapsed(),
        limits,
        scenarios: results,
    };
    println!();
    print!("{}", report.limits_table());
    println!();
    print!("{}", report.table());
    let targets = report.targets();
    if !targets.is_empty() {
        println!();
        println!("targets:");
        for (holds, what) in &targets {
            println!("  {}  {what}", if *holds { "ok  " } else { "MISS" });
        }
    }
    println!();
    if let Some(others) = report.others {
        println!(
            "other programs took {:.0}% of the machine's CPU time during the run",
            others * 100.0
        );
    }
    println!(
        "load average: {} before, {} after (the bench's own threads count too); {:.0} s in all",
        report
            .load_before
            .map_or("?".to_string(), |l| format!("{l:.2}")),
        report
            .load_after
            .map_or("?".to_string(), |l| format!("{l:.2}")),
        report.elapsed.as_secs_f64()
    );
    let mut status = ExitCode::SUCCESS;
    if let Some(path) = &options.json {
        let text = serde_json::to_string_pretty(&report.json()).unwrap_or_default();
        match std::fs::write(path, text + "\n") {
            Ok(()) => println!("wrote {}", path.display()),
            Err(e) => {
                eprintln!("error: cannot write {}: {e}", path.display());
                status = ExitCode::FAILURE;
            }
        }
    }
    if let Some(path) = &options.svg {
        match chart::draw(&report, path) {
            Ok(()) => println!("wrote {}", path.display()),
            Err(e) => {
                eprintln!("error: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    if term::interrupted() {
        return ExitCode::from(term::EXIT_INTERRUPTED);
    }
    let broken = report.scenarios.iter().any(|r| {
        let failed = |runs: &Runs| !runs.failures.is_empty() || runs.errors() > 0;
        failed(&r.ours) || r.against.as_ref().is_some_and(failed)
    });
    if broken {
        eprintln!("error: some runs failed or saw wrong replies (see above)");
        status = ExitCode::FAILURE;
    }
    status
}

/// Set in the optimized xtask that [`run_optimized`] starts, so that it
/// does not try again.
const IN_RELEASE: &str = "XTASK_BENCH_OPTIMIZED";

/// The load generator is part of what is measured: on one CPU its every
/// microsecond is taken from the server, so it runs optimized, like the
/// servers. `cargo xtask` builds xtask for debugging; this builds it in
/// release mode too (the first time takes a few minutes) and becomes that
/// program, with the same arguments. On failure it says so and returns:
/// the bench then runs as it is, slower.
fn run_optimized(args: &[String]) {
    use std::os::unix::process::CommandExt;
    println!("building xtask (release): the load generator runs optimized");
    let built = Command::new(lessons::cargo())
        .args(["build", "--quiet", "--release", "-p", "xtask"])
        .current_dir(lessons::workspace_root())
        .stdin(Stdio::null())
        .status();
    match built {
        Ok(status) if status.success() => {
            let error = Command::new(release_dir().join("xtask"))
                .arg("bench")
                .args(args)
                .env(IN_RELEASE, "1")
                .exec();
            eprintln!("warning: cannot run the optimized xtask ({error}); running unoptimized");
        }
        Ok(_) | Err(_) => {
            eprintln!("warning: xtask did not build in release mode; running unoptimized");
        }
    }
}

/// What the report calls the other implementation: its directory's name,
/// or its parent's when the directory is a plain `bin`.
fn implementation_name(dir: &std::path::Path) -> String {
    let name = |d: &std::path::Path| d.file_name().map(|n| n.to_string_lossy().into_owned());
    match name(dir) {
        Some(n) if n == "bin" => dir.parent().and_then(name).unwrap_or(n),
        Some(n) => n,
        None => "theirs".to_string(),
    }
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        quick: false,
        json: None,
        svg: None,
        against: None,
        pin: Pin::One,
        only: Vec::new(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |what: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs {what}"))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quick" => options.quick = true,
            "--json" => options.json = Some(value("a file name")?.into()),
            "--svg" => options.svg = Some(value("a file name")?.into()),
            "--against" => options.against = Some(value("a directory")?.into()),
            "--only" => options.only.push(value("part of a scenario id")?),
            "--pin" => {
                let given = value("one, split or off")?;
                options.pin = Pin::parse(&given)
                    .ok_or_else(|| format!("--pin {given}: expected one, split or off"))?;
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(options))
}

/// Builds the lessons that own `servers`, in release mode, one package at
/// a time (a lesson that does not build costs only its own scenarios);
/// returns the directory the binaries are in.
fn build(servers: &[&str]) -> Result<PathBuf, String> {
    let mut packages: Vec<&str> = LESSONS
        .iter()
        .filter(|l| servers.contains(&l.server))
        .map(|l| l.package)
        .collect();
    packages.dedup();
    for package in packages {
        println!("building {package} (release)");
        let status = Command::new(lessons::cargo())
            .args(["build", "--quiet", "--release", "-p", package])
            .current_dir(lessons::workspace_root())
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            eprintln!("warning: {package} did not build; its scenarios will fail");
        }
    }
    Ok(release_dir())
}

/// Where cargo puts release builds: `$CARGO_TARGET_DIR/release` (relative
/// to the current directory, as cargo reads it) or
/// `<workspace>/target/release`.
fn release_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => std::env::current_dir()
            .unwrap_or_default()
            .join(dir)
            .join("release"),
        None => lessons::workspace_root().join("target").join("release"),
    }
}

/// The limits the chosen scenarios are compared with, plus the fork
/// loops when a forking lesson is among them, not measured yet.
fn wanted_limits(scenarios: &[Scenario]) -> Vec<LimitResult> {
    let forking = scenarios.iter().any(|s| matches!(s.lesson, 2 | 3));
    Limit::ALL
        .into_iter()
        .filter(|limit| match limit {
            Limit::Fork | Limit::ForkLarge => forking,
            _ => scenarios.iter().any(|s| s.limit == *limit),
        })
        .map(|limit| LimitResult {
            limit,
            rounds: Vec::new(),
            failures: Vec::new(),
        })
        .collect()
}

/// One round of each limit.
fn measure_limits(limits: &mut [LimitResult], plan: &Plan, placement: &Placement) {
    for result in limits {
        if term::interrupted() {
            return;
        }
        let round = match limits::measure(result.limit, plan.budget, placement) {
            Ok(measured) => {
                let rate = format!("{}/s", report::rate_text(measured.rate));
                result.rounds.push(measured);
                rate
            }
            Err(e) => {
                result.failures.push(e);
                "failed".to_string()
            }
        };
        let load = machine::load_average().map_or(String::new(), |l| format!("  (load {l:.2})"));
        println!("limit  {:<56} {round:>8}{load}", result.limit.title());
    }
}

/// Runs `scenario`'s rounds, alternating ours and theirs.
fn measure_scenario(
    scenario: &Scenario,
    ours: &Implementation,
    against: Option<&Implementation>,
    plan: &Plan,
    placement: &Placement,
) -> ScenarioResult {
    let others = machine::Others::start();
    let mut result = ScenarioResult {
        scenario: scenario.clone(),
        ours: Runs::default(),
        against: against.map(|_| Runs::default()),
        others: None,
    };
    'rounds: for round in 0..plan.rounds {
        // Ours first in even rounds, theirs first in odd ones (A B B A
        // ...), so that a machine slowly getting busier or quieter
        // favours neither.
        let mut turns = [
            (Some(ours), Some(&mut result.ours)),
            (against, result.against.as_mut()),
        ];
        if round % 2 == 1 {
            turns.reverse();
        }
        for (implementation, runs) in turns {
            let (Some(implementation), Some(runs)) = (implementation, runs) else {
                continue;
            };
            if term::interrupted() {
                break 'rounds;
            }
            let binary = implementation.binary(scenario.server);
            let measured = if binary.exists() {
                scenarios::measure(scenario, &binary, plan.budget, placement)
            } else {
                Err(format!("{} does not exist", binary.display()))
            };
            match measured {
                Ok(m) => runs.rounds.push(Some(m)),
                Err(e) => {
                    runs.rounds.push(None);
                    if !runs.failures.contains(&e) {
                        runs.failures.push(e);
                    }
                }
            }
        }
    }
    result.others = others.share();
    result
}

/// One line per scenario as soon as its rounds are done.
fn print_progress(result: &ScenarioResult) {
    let show = |runs: &Runs| {
        runs.rate()
            .map(|s| format!("{}/s {}", report::rate_text(s.median), s.spread()))
            .unwrap_or_else(|| "failed".to_string())
    };
    let mut line = format!("{:<16} {:>14}", result.scenario.id, show(&result.ours));
    if let Some(against) = &result.against {
        line.push_str(&format!("  theirs {:>14}", show(against)));
        if let Some(ratio) = result.ratio() {
            line.push_str(&format!("  ratio {:.2}", ratio.median));
        }
    }
    if let Some(load) = machine::load_average() {
        line.push_str(&format!("  (load {load:.2}"));
        if let Some(others) = result.others {
            line.push_str(&format!(", others {:.0}%", others * 100.0));
        }
        line.push(')');
    }
    println!("{line}");
}
