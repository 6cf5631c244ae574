//! `cargo xtask bench` (this crate's `bench` binary, built in release mode
//! by xtask): measures what the tutorial only asserts. Forking
//! per connection is slow; a stream socket costs more than a datagram; one
//! process with `select()` serves many clients. Each claim becomes a
//! scenario with a number, next to a bare in-process reference for the
//! same exchange, and, with `--against`, next to another implementation of
//! the same contract, such as the tutorial's C.
//!
//! The pieces: [`loadgen`] (the clients), [`scenarios`] (which server,
//! which load, what a run measures), [`memory`] (what an idle client costs
//! the select server), [`references`] (the bare in-process references),
//! [`machine`] (CPU pinning, descriptor limit, load average), [`report`]
//! (ratios, targets, JSON), [`stat`] (medians and spreads) and [`chart`]
//! (the SVG).

mod chart;
mod loadgen;
mod machine;
mod memory;
mod references;
mod report;
mod scenarios;
mod stat;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use argh::FromArgs;
use lesson_testing::supervisor;
use xtask::lessons::{self, LESSONS};
use xtask::term;

use loadgen::Budget;
use machine::{Pin, Placement};
use references::Reference;
use report::{ReferenceResult, Report, Runs, ScenarioResult};
use scenarios::{Implementation, Scenario};

/// Measure the servers: throughput, latency, CPU and memory per design.
#[derive(FromArgs, Debug)]
#[argh(
    note = "Builds lessons 02 to 06 in release mode (release numbers are the ones that \
count); then, in one run: measures bare in-process references (a bare loopback TCP and \
Unix-domain exchange, a bare UDP round trip, a bare line server, and a bare fork() + _exit() \
+ waitpid() loop); and runs each scenario: connections per second and latency of the fork \
server (02), the reaping server (03) and the select server (06) at 1 and 8 clients; UDP round \
trips (04) at 1 and 4 clients; Unix-domain connections (05) at 1 and 8 clients, and at 1 \
client with `--show-peer` (ours only); lines per second, latency and memory of the select \
server at 10, 100 and 1000 clients, 16 lines in flight each; and the select server's memory \
per idle client, at 1000 connected clients that send nothing, next to a bare program that only \
holds 1000 accepted sockets. Each scenario runs 6 rounds (2 with --quick), each with a fresh \
server; every reply is checked byte for byte. Lesson 02 \
never reaps its children, so its runs stop after 3000 connections each. The machine's load \
average is printed before and after: numbers measured while other work runs are noisy."
)]
struct Options {
    /// fewer and shorter rounds: under a minute
    #[argh(switch)]
    quick: bool,
    /// also run DIR's binaries (DIR/fork-server, ...), such as the
    /// tutorial's C, in turns (ours, theirs, theirs, ours, ...); prints the
    /// ratio of each pair of rounds and checks the targets
    #[argh(option, arg_name = "DIR")]
    against: Option<PathBuf>,
    /// where the servers and the load generator run: `one` (default) both
    /// on one CPU, the steadiest on a small machine; `split` on two
    /// different CPUs; `off` wherever the scheduler puts them
    #[argh(option, default = "Pin::One", from_str_fn(pin), arg_name = "P")]
    pin: Pin,
    /// write every number, round by round, as JSON
    #[argh(option, arg_name = "FILE")]
    json: Option<PathBuf>,
    /// draw the chart (the book's is docs/src/bench.svg)
    #[argh(option, arg_name = "FILE")]
    svg: Option<PathBuf>,
    /// run only the scenarios whose id contains TEXT (02-fork-1, 04-udp-4,
    /// 06-lines-1000, 06-idle-1000, ...); may be given more than once
    #[argh(option, arg_name = "TEXT")]
    only: Vec<String>,
}

fn pin(value: &str) -> Result<Pin, String> {
    Pin::parse(value).ok_or_else(|| format!("--pin {value}: expected one, split or off"))
}

/// Rounds, warm-up and window for a full and a quick run.
struct Plan {
    rounds: usize,
    reference_rounds: usize,
    budget: Budget,
}

impl Plan {
    fn for_options(options: &Options) -> Plan {
        if options.quick {
            Plan {
                rounds: 2,
                reference_rounds: 1,
                budget: Budget {
                    warmup: Duration::from_millis(100),
                    window: Duration::from_millis(300),
                    max_ops: None,
                },
            }
        } else {
            Plan {
                rounds: 6,
                reference_rounds: 3,
                budget: Budget {
                    warmup: Duration::from_millis(100),
                    window: Duration::from_millis(700),
                    max_ops: None,
                },
            }
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some((first, rest)) = args.split_first() {
        if first == references::FORK_LOOP_OPTION {
            return references::fork_loop(rest);
        }
        if first == memory::HOLD_OPTION {
            return memory::hold_sockets();
        }
    }
    let words: Vec<&str> = args
        .iter()
        .map(|a| if a == "-h" { "--help" } else { a.as_str() })
        .collect();
    let options = match Options::from_args(&["cargo xtask bench"], &words) {
        Ok(options) => options,
        Err(early) if early.status.is_ok() => {
            print!("{}", early.output);
            return ExitCode::SUCCESS;
        }
        Err(early) => return usage_error(early.output.trim_end()),
    };
    run(options)
}

/// One line on stderr, and where to read more.
fn usage_error(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    eprintln!("(`cargo xtask bench --help` shows its options)");
    ExitCode::from(2)
}

fn run(options: Options) -> ExitCode {
    let chosen = |id: &str| options.only.is_empty() || options.only.iter().any(|o| id.contains(o));
    let scenarios: Vec<Scenario> = scenarios::all()
        .into_iter()
        .filter(|s| chosen(&s.id))
        .collect();
    let idle = chosen(memory::ID);
    if scenarios.is_empty() && !idle {
        return usage_error("--only matches no scenario");
    }
    let against = match &options.against {
        Some(dir) => match dir.canonicalize() {
            Ok(dir) => Some(Implementation {
                name: implementation_name(&dir),
                dir,
            }),
            Err(e) => return usage_error(&format!("--against {}: {e}", dir.display())),
        },
        None => None,
    };
    term::catch_interrupts();
    if let Err(e) = supervisor::become_subreaper() {
        // Without it, lesson 02's zombies are re-parented to init when its
        // server stops, and their CPU time is lost to the count.
        eprintln!("warning: {e}");
    }
    let started = Instant::now();
    let servers: Vec<&'static str> = {
        let mut names: Vec<&'static str> = scenarios.iter().map(|s| s.server).collect();
        if idle {
            names.push(memory::SERVER);
        }
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

    // The references' rounds are spread over the run (one pass at the start,
    // the others between scenarios and at the end), so that a change in
    // the machine's load during the run shows in their spread instead of
    // tilting every fraction of a reference the same way.
    let mut references = wanted_references(&scenarios);
    let passes_after: Vec<usize> = (1..plan.reference_rounds)
        .map(|pass| (pass * scenarios.len() / (plan.reference_rounds - 1).max(1)).max(1))
        .collect();
    let others = machine::Others::start();
    measure_references(&mut references, &plan, &placement);
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
            measure_references(&mut references, &plan, &placement);
        }
    }
    let idle = idle.then(|| {
        let result = memory::measure(
            &ours.binary(memory::SERVER),
            against
                .as_ref()
                .map(|a| a.binary(memory::SERVER))
                .as_deref(),
            plan.reference_rounds,
            &placement,
        );
        println!("{}", report::idle_progress(&result));
        result
    });
    supervisor::kill_orphans();

    let report = Report {
        machine: machine_text,
        placement: placement.shown(),
        placement_name: placement.name(),
        rounds: plan.rounds,
        warmup: plan.budget.warmup,
        window: plan.budget.window,
        ours: shown(&ours.dir),
        against: against.as_ref().map(|a| a.name.clone()),
        load_before,
        load_after: machine::load_average(),
        others: others.share(),
        elapsed: started.elapsed(),
        references,
        scenarios: results,
        idle,
    };
    println!();
    print!("{}", report.references_table());
    println!();
    print!("{}", report.table());
    let memory = report.memory_table();
    if !memory.is_empty() {
        println!();
        print!("{memory}");
    }
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
    }) || report.idle.as_ref().is_some_and(|idle| {
        [Some(&idle.ours), idle.against.as_ref(), Some(&idle.bare)]
            .into_iter()
            .flatten()
            .any(|runs| !runs.failures.is_empty())
    });
    if broken {
        eprintln!("error: some runs failed or saw wrong replies (see above)");
        status = ExitCode::FAILURE;
    }
    status
}

/// What the report calls the other implementation: its path relative to
/// the workspace when it is inside it (`target/c`, the repository's C, a
/// name any checkout has); otherwise its directory's name, or its
/// parent's when the directory is a plain `bin`.
fn implementation_name(dir: &Path) -> String {
    if let Ok(inside) = dir.strip_prefix(workspace_root()) {
        return inside.display().to_string();
    }
    let name = |d: &Path| d.file_name().map(|n| n.to_string_lossy().into_owned());
    match name(dir) {
        Some(n) if n == "bin" => dir.parent().and_then(name).unwrap_or(n),
        Some(n) => n,
        None => "theirs".to_string(),
    }
}

/// A directory as the report shows it: relative to the workspace when it
/// is inside it, so that the JSON names no directory of this machine only.
fn shown(dir: &Path) -> String {
    dir.strip_prefix(workspace_root())
        .unwrap_or(dir)
        .display()
        .to_string()
}

/// The workspace's root, as the canonical path `--against` is compared
/// with.
fn workspace_root() -> PathBuf {
    let root = lessons::workspace_root();
    root.canonicalize().unwrap_or(root)
}

/// Builds the lessons that own `servers`, in release mode, one package at
/// a time (a lesson that does not build costs only its own scenarios);
/// returns the directory the binaries are in.
fn build(servers: &[&str]) -> Result<PathBuf, String> {
    let mut packages: Vec<String> = LESSONS
        .iter()
        .filter(|l| servers.contains(&l.server))
        .map(|l| l.package())
        .collect();
    packages.dedup();
    for package in packages {
        println!("building {package} (release)");
        let status = Command::new(lessons::cargo())
            .args(["build", "--quiet", "--release", "-p", &package])
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

/// Where cargo puts release builds.
fn release_dir() -> PathBuf {
    lessons::target_dir().join("release")
}

/// The references the chosen scenarios are compared with, plus the fork
/// loops when a forking lesson is among them, not measured yet.
fn wanted_references(scenarios: &[Scenario]) -> Vec<ReferenceResult> {
    let forking = scenarios.iter().any(|s| matches!(s.lesson, 2 | 3));
    Reference::ALL
        .into_iter()
        .filter(|reference| match reference {
            Reference::Fork | Reference::ForkLarge => forking,
            _ => scenarios.iter().any(|s| s.reference == *reference),
        })
        .map(|reference| ReferenceResult {
            reference,
            rounds: Vec::new(),
            failures: Vec::new(),
        })
        .collect()
}

/// One round of each reference.
fn measure_references(references: &mut [ReferenceResult], plan: &Plan, placement: &Placement) {
    for result in references {
        if term::interrupted() {
            return;
        }
        let round = match references::measure(result.reference, plan.budget, placement) {
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
        println!("{:<63} {round:>8}{load}", result.reference.title());
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
