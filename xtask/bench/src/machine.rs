//! The machine the numbers come from: which CPUs the servers and the load
//! generator run on, the descriptor limit, CPU time, and how busy the
//! machine was (the load average) while it was measured.
//!
//! On a small VM, where a process runs matters as much as what it does:
//! a wake-up that crosses CPUs can cost more than a whole round trip on
//! one CPU, and the scheduler decides differently from one run to the
//! next. Pinning (`sched_setaffinity`) takes that choice away, so two
//! implementations are compared on the same footing.

use std::time::Duration;

use lesson_testing::procfs;
use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::sys::resource::{getrlimit, getrusage, setrlimit, Resource, UsageWho};
use nix::sys::time::TimeValLike;
use nix::unistd::Pid;

/// A set of CPUs to pin to, or none (the scheduler decides).
#[derive(Debug, Clone, Default)]
pub struct Cpus {
    pub set: Option<Vec<usize>>,
}

impl Cpus {
    fn cpuset(&self) -> Option<CpuSet> {
        let cpus = self.set.as_ref()?;
        let mut set = CpuSet::new();
        for &cpu in cpus {
            set.set(cpu).ok()?;
        }
        Some(set)
    }

    /// `cpu 1`, `cpus 0,1`, or `any cpu`.
    pub fn shown(&self) -> String {
        match &self.set {
            None => "any cpu".to_string(),
            Some(cpus) if cpus.len() == 1 => format!("cpu {}", cpus[0]),
            Some(cpus) => {
                let list: Vec<String> = cpus.iter().map(usize::to_string).collect();
                format!("cpus {}", list.join(","))
            }
        }
    }
}

/// Where the servers and the load generator run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// Server and load generator on one CPU: each exchange is a pair of
    /// context switches on that CPU, with no cross-CPU wake-up. The most
    /// stable numbers on a small VM, and the default.
    One,
    /// Server on one CPU, load generator on another: the server has a
    /// CPU to itself, and every exchange wakes a process on the other CPU.
    Split,
    /// No pinning: wherever the scheduler puts them.
    Off,
}

impl Pin {
    pub fn parse(value: &str) -> Option<Pin> {
        match value {
            "one" => Some(Pin::One),
            "split" => Some(Pin::Split),
            "off" => Some(Pin::Off),
            _ => None,
        }
    }
}

/// The CPUs chosen for a [`Pin`].
#[derive(Debug, Clone)]
pub struct Placement {
    pub pin: Pin,
    pub server: Cpus,
    pub load: Cpus,
}

impl Placement {
    /// Chooses CPUs among those this process may use: the last one for
    /// the server (CPU 0 takes more of the machine's interrupts), the one
    /// before it for the load generator when split.
    pub fn choose(pin: Pin) -> Placement {
        let allowed = allowed_cpus();
        let last = allowed.last().copied();
        let (server, load) = match (pin, last) {
            (Pin::One, Some(cpu)) => (vec![cpu], vec![cpu]),
            (Pin::Split, Some(cpu)) if allowed.len() >= 2 => {
                (vec![cpu], vec![allowed[allowed.len() - 2]])
            }
            _ => {
                return Placement {
                    pin: Pin::Off,
                    server: Cpus::default(),
                    load: Cpus::default(),
                }
            }
        };
        Placement {
            pin,
            server: Cpus { set: Some(server) },
            load: Cpus { set: Some(load) },
        }
    }

    /// As the report says it.
    pub fn shown(&self) -> String {
        match self.pin {
            Pin::One => format!(
                "server and load generator pinned to one CPU ({})",
                self.server.shown()
            ),
            Pin::Split => format!(
                "server pinned to {}, load generator to {}",
                self.server.shown(),
                self.load.shown()
            ),
            Pin::Off => "not pinned (the scheduler places every process)".to_string(),
        }
    }

    /// `one`, `split` or `off`.
    pub fn name(&self) -> &'static str {
        match self.pin {
            Pin::One => "one",
            Pin::Split => "split",
            Pin::Off => "off",
        }
    }
}

/// The CPUs this process may run on, in ascending order.
pub fn allowed_cpus() -> Vec<usize> {
    match sched_getaffinity(Pid::from_raw(0)) {
        Ok(set) => (0..CpuSet::count())
            .filter(|&cpu| set.is_set(cpu).unwrap_or(false))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Pins the calling thread to `cpus` (a thread's affinity is its own, and
/// the threads and processes it starts inherit it).
pub fn pin_this_thread(cpus: &Cpus) {
    if let Some(set) = cpus.cpuset() {
        // Failure (a CPU taken offline meanwhile) leaves the thread where
        // the scheduler puts it: the numbers get noisier, nothing breaks.
        let _ = sched_setaffinity(Pid::from_raw(0), &set);
    }
}

/// What [`pin_process_before_exec`] needs, prepared before `fork()`.
pub fn cpuset_for_child(cpus: &Cpus) -> Option<CpuSet> {
    cpus.cpuset()
}

/// In a child between `fork()` and `exec()`: pins it. Only a system call,
/// so it is async-signal-safe.
pub fn pin_process_before_exec(set: &CpuSet) {
    let _ = sched_setaffinity(Pid::from_raw(0), set);
}

/// CPU time (user and system) the calling thread has used.
pub fn thread_cpu_time() -> Duration {
    getrusage(UsageWho::RUSAGE_THREAD).map_or(Duration::ZERO, |usage| {
        micros(usage.user_time().num_microseconds() + usage.system_time().num_microseconds())
    })
}

/// CPU time (user and system) of every child process reaped so far, and
/// their children reaped by them: `getrusage(RUSAGE_CHILDREN)`.
pub fn children_cpu_time() -> Duration {
    getrusage(UsageWho::RUSAGE_CHILDREN).map_or(Duration::ZERO, |usage| {
        micros(usage.user_time().num_microseconds() + usage.system_time().num_microseconds())
    })
}

fn micros(value: i64) -> Duration {
    Duration::from_micros(u64::try_from(value).unwrap_or(0))
}

/// Raises the soft limit on open descriptors to at least `needed`, up to
/// the hard limit. Returns the soft limit now in force.
pub fn raise_descriptor_limit(needed: u64) -> Result<u64, String> {
    let (soft, hard) =
        getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit(RLIMIT_NOFILE): {e}"))?;
    if soft >= needed {
        return Ok(soft);
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
        .map_err(|e| format!("setrlimit(RLIMIT_NOFILE, {hard}): {e}"))?;
    if hard < needed {
        return Err(format!(
            "{needed} descriptors needed, but the hard limit is {hard}"
        ));
    }
    Ok(hard)
}

/// The 1-minute load average.
pub fn load_average() -> Option<f64> {
    procfs::load_average()
}

/// How many CPUs are online, the kernel's release, and the CPU's model
/// name: what a reader needs to compare numbers with their own.
pub fn description() -> (usize, String, String) {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    (cpus, procfs::kernel_release(), procfs::cpu_model())
}

/// CPU time of the bench and of everything it started and reaped.
fn own_cpu_time() -> Duration {
    [UsageWho::RUSAGE_SELF, UsageWho::RUSAGE_CHILDREN]
        .into_iter()
        .filter_map(|who| getrusage(who).ok())
        .map(|u| micros(u.user_time().num_microseconds() + u.system_time().num_microseconds()))
        .sum()
}

/// How much of the machine other programs took while something was
/// measured. The load average cannot say it: it counts the bench's own
/// threads too (eight clients and a server make a load of nine).
pub struct Others {
    started: std::time::Instant,
    busy: Option<(Duration, usize)>,
    own: Duration,
}

impl Others {
    pub fn start() -> Others {
        Others {
            started: std::time::Instant::now(),
            busy: procfs::machine_busy_time(),
            own: own_cpu_time(),
        }
    }

    /// The share of all CPUs' time since [`Others::start`] that went to
    /// other processes: 0.0 on an otherwise idle machine, 1.0 if they used
    /// every CPU all the time. The server being measured must have been
    /// reaped by now, or its time counts as someone else's.
    pub fn share(&self) -> Option<f64> {
        let (now, cpus) = procfs::machine_busy_time()?;
        let busy = now.checked_sub(self.busy?.0)?;
        let own = own_cpu_time().saturating_sub(self.own);
        let elapsed = self.started.elapsed().as_secs_f64() * cpus as f64;
        (elapsed > 0.0).then(|| (busy.saturating_sub(own).as_secs_f64() / elapsed).clamp(0.0, 1.0))
    }
}
