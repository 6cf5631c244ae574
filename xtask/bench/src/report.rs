//! What a bench run found, summed up: the median of the rounds with their
//! spread, the ratio of two implementations measured in turns, the
//! targets, and the same as JSON.
//!
//! Rounds of the two implementations alternate (A B A B ...), so a change
//! in the machine's load hits both alike; the ratio is taken per pair of
//! neighbouring runs, then the median of those ratios is reported.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};

use super::memory::{IdleResult, IdleRuns, IDLE_CLIENTS};
use super::references::{Reference, ReferenceMeasurement};
use super::scenarios::{Measurement, Scenario};
use super::stat::Stat;

/// One implementation's rounds of one scenario.
#[derive(Debug, Clone, Default)]
pub struct Runs {
    /// One per round that ran (a failed round leaves `None`).
    pub rounds: Vec<Option<Measurement>>,
    pub failures: Vec<String>,
}

impl Runs {
    fn measured(&self) -> impl Iterator<Item = &Measurement> {
        self.rounds.iter().flatten()
    }

    pub fn rate(&self) -> Option<Stat> {
        Stat::of(&self.measured().map(|m| m.rate).collect::<Vec<_>>())
    }

    /// Server CPU time per operation, in microseconds.
    pub fn cpu_us(&self) -> Option<Stat> {
        let values: Vec<f64> = self
            .measured()
            .filter_map(|m| m.cpu_per_op)
            .map(|d| d.as_secs_f64() * 1e6)
            .collect();
        Stat::of(&values)
    }

    fn percentile_us(&self, fraction: f64) -> Option<Stat> {
        let values: Vec<f64> = self
            .measured()
            .filter_map(|m| m.outcome.latency.percentile(fraction))
            .map(|d| d.as_secs_f64() * 1e6)
            .collect();
        Stat::of(&values)
    }

    pub fn p50_us(&self) -> Option<Stat> {
        self.percentile_us(0.5)
    }

    pub fn p99_us(&self) -> Option<Stat> {
        self.percentile_us(0.99)
    }

    /// The highest peak RSS of any round, in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.measured().filter_map(|m| m.peak_rss_kib).max()
    }

    pub fn errors(&self) -> u64 {
        self.measured().map(|m| m.outcome.errors).sum()
    }

    fn first_error(&self) -> Option<&str> {
        self.measured()
            .find_map(|m| m.outcome.first_error.as_deref())
    }

    /// The load generator's CPU share, at its highest.
    fn generator_share(&self) -> Option<f64> {
        self.measured().map(|m| m.generator_share).reduce(f64::max)
    }

    fn load_averages(&self) -> Vec<f64> {
        self.measured().filter_map(|m| m.load_average).collect()
    }

    fn json(&self) -> Value {
        let rounds: Vec<Value> = self
            .rounds
            .iter()
            .map(|round| match round {
                None => Value::Null,
                Some(m) => json!({
                    "rate": m.rate,
                    "ops": m.outcome.ops,
                    "total_ops": m.outcome.total_ops,
                    "window_s": m.outcome.window.as_secs_f64(),
                    "errors": m.outcome.errors,
                    "first_error": m.outcome.first_error,
                    "p50_us": us(m.outcome.latency.percentile(0.5)),
                    "p99_us": us(m.outcome.latency.percentile(0.99)),
                    "server_cpu_us_per_op": us(m.cpu_per_op),
                    "peak_rss_kib": m.peak_rss_kib,
                    "generator_cpu_share": m.generator_share,
                    "load_average": m.load_average,
                }),
            })
            .collect();
        json!({
            "rate": self.rate().map(|s| s.json()),
            "server_cpu_us_per_op": self.cpu_us().map(|s| s.json()),
            "p50_us": self.p50_us().map(|s| s.json()),
            "p99_us": self.p99_us().map(|s| s.json()),
            "peak_rss_kib": self.peak_rss_kib(),
            "errors": self.errors(),
            "failures": self.failures,
            "rounds": rounds,
        })
    }
}

fn us(duration: Option<Duration>) -> Option<f64> {
    duration.map(|d| d.as_secs_f64() * 1e6)
}

/// A scenario's results: ours, and the other implementation's if any.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub scenario: Scenario,
    pub ours: Runs,
    pub against: Option<Runs>,
    /// The share of the machine's CPU time that other programs took
    /// while this scenario ran.
    pub others: Option<f64>,
}

impl ScenarioResult {
    /// Per pair of neighbouring rounds, ours divided by theirs, of what
    /// `pick` takes from a measurement.
    fn pair_ratios(&self, pick: impl Fn(&Measurement) -> Option<f64>) -> Option<Stat> {
        let against = self.against.as_ref()?;
        let ratios: Vec<f64> = self
            .ours
            .rounds
            .iter()
            .zip(&against.rounds)
            .filter_map(|(a, b)| Some(pick(a.as_ref()?)? / pick(b.as_ref()?)?))
            .collect();
        Stat::of(&ratios)
    }

    /// Throughput, ours over theirs.
    pub fn ratio(&self) -> Option<Stat> {
        self.pair_ratios(|m| Some(m.rate))
    }

    /// Server CPU per operation, ours over theirs (below 1 is better).
    pub fn cpu_ratio(&self) -> Option<Stat> {
        self.pair_ratios(|m| m.cpu_per_op.map(|d| d.as_secs_f64()))
    }

    /// Peak RSS, ours over theirs.
    pub fn rss_ratio(&self) -> Option<f64> {
        let ours = self.ours.peak_rss_kib()? as f64;
        let theirs = self.against.as_ref()?.peak_rss_kib()? as f64;
        Some(ours / theirs)
    }
}

/// A bare reference's rounds.
#[derive(Debug, Clone)]
pub struct ReferenceResult {
    pub reference: Reference,
    pub rounds: Vec<ReferenceMeasurement>,
    pub failures: Vec<String>,
}

impl ReferenceResult {
    pub fn rate(&self) -> Option<Stat> {
        Stat::of(&self.rounds.iter().map(|m| m.rate).collect::<Vec<_>>())
    }

    pub fn cpu_us(&self) -> Option<Stat> {
        let values: Vec<f64> = self
            .rounds
            .iter()
            .filter_map(|m| m.cpu_per_op)
            .map(|d| d.as_secs_f64() * 1e6)
            .collect();
        Stat::of(&values)
    }
}

/// Everything a run found, and how it was run.
#[derive(Debug, Clone)]
pub struct Report {
    pub machine: String,
    pub placement: String,
    pub placement_name: &'static str,
    pub rounds: usize,
    pub warmup: Duration,
    pub window: Duration,
    pub ours: String,
    pub against: Option<String>,
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
    /// The share of the machine's CPU time other programs took during
    /// the whole run.
    pub others: Option<f64>,
    pub elapsed: Duration,
    pub references: Vec<ReferenceResult>,
    pub scenarios: Vec<ScenarioResult>,
    /// The select server's memory per idle client, when measured.
    pub idle: Option<IdleResult>,
}

/// `5,600`, `1.5M`: rates readable at a glance.
pub fn rate_text(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2}M", rate / 1e6)
    } else if rate >= 1e4 {
        format!("{:.0}k", rate / 1e3)
    } else if rate >= 1e3 {
        format!("{:.1}k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

fn micros_text(us: f64) -> String {
    if us >= 10_000.0 {
        format!("{:.0}ms", us / 1000.0)
    } else if us >= 100.0 {
        format!("{us:.0}µs")
    } else {
        format!("{us:.1}µs")
    }
}

fn kib_text(kib: u64) -> String {
    format!("{:.1}MB", kib as f64 / 1024.0)
}

/// `66 B`, `4.1 kB`: memory per client.
fn bytes_text(bytes: f64) -> String {
    if bytes.abs() >= 1000.0 {
        format!("{:.1} kB", bytes / 1000.0)
    } else {
        format!("{bytes:.0} B")
    }
}

/// The line printed once the idle clients are measured.
pub fn idle_progress(result: &IdleResult) -> String {
    let show = |runs: &IdleRuns| {
        runs.per_client()
            .map(|s| format!("{} per client", bytes_text(s.median)))
            .unwrap_or_else(|| "failed".to_string())
    };
    let mut line = format!("{:<16} {:>14}", super::memory::ID, show(&result.ours));
    if let Some(against) = &result.against {
        line.push_str(&format!("  theirs {:>14}", show(against)));
    }
    line.push_str(&format!("  bare {}", show(&result.bare)));
    line
}

fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".to_string())
}

impl Report {
    fn reference(&self, reference: Reference) -> Option<Stat> {
        self.references
            .iter()
            .find(|r| r.reference == reference)?
            .rate()
    }

    /// The table of the bare in-process references.
    pub fn references_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "bare in-process references (median of rounds, spread):"
        );
        for result in &self.references {
            let rate = result.rate().map(|s| {
                format!(
                    "{:>7} {}/s {:>4}",
                    rate_text(s.median),
                    result.reference.unit(),
                    s.spread()
                )
            });
            let cpu = result
                .cpu_us()
                .map(|s| format!("{} CPU each", micros_text(s.median)));
            let rss = result
                .rounds
                .iter()
                .filter_map(|m| m.rss_kib)
                .max()
                .map(|kib| format!("process RSS {}", kib_text(kib)));
            let extra: Vec<String> = [cpu, rss].into_iter().flatten().collect();
            let _ = writeln!(
                out,
                "  {:<56} {:<28} {}",
                result.reference.title(),
                or_dash(rate),
                extra.join(", ")
            );
            for failure in &result.failures {
                let _ = writeln!(out, "    failed: {failure}");
            }
            let errors: u64 = result.rounds.iter().map(|m| m.errors).sum();
            if let Some(first) = result.rounds.iter().find_map(|m| m.first_error.as_deref()) {
                let _ = writeln!(out, "    {errors} errors, the first: {first}");
            }
        }
        out
    }

    /// The scenarios' table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let theirs = self.against.as_deref().unwrap_or("");
        if self.against.is_some() {
            let _ = writeln!(
                out,
                "{:<40} {:>16} {:>16} {:>18} {:>8}",
                "throughput per second", "ours", theirs, "ours/theirs", "of bare"
            );
        } else {
            let _ = writeln!(
                out,
                "{:<40} {:>16} {:>8}",
                "throughput per second", "ours", "of bare"
            );
        }
        for result in &self.scenarios {
            let name = format!("{:02} {}", result.scenario.lesson, result.scenario.title);
            let rate = |runs: &Runs| {
                runs.rate()
                    .map(|s| format!("{} {}", rate_text(s.median), s.spread()))
            };
            let of_bare = match (
                result.ours.rate(),
                self.reference(result.scenario.reference),
            ) {
                (Some(ours), Some(bare)) if bare.median > 0.0 => {
                    Some(format!("{:.2}", ours.median / bare.median))
                }
                _ => None,
            };
            if self.against.is_some() {
                // A scenario that ran ours only shows dashes for theirs.
                let ratio = result
                    .ratio()
                    .map(|s| format!("{:.2} ({:.2}-{:.2})", s.median, s.min, s.max));
                let _ = writeln!(
                    out,
                    "{name:<40} {:>16} {:>16} {:>18} {:>8}",
                    or_dash(rate(&result.ours)),
                    or_dash(result.against.as_ref().and_then(rate)),
                    or_dash(ratio),
                    or_dash(of_bare)
                );
            } else {
                let _ = writeln!(
                    out,
                    "{name:<40} {:>16} {:>8}",
                    or_dash(rate(&result.ours)),
                    or_dash(of_bare)
                );
            }
        }
        out.push('\n');
        let both = |ours: Option<String>, theirs: Option<String>| match &self.against {
            Some(_) => format!("{} / {}", or_dash(ours), or_dash(theirs)),
            None => or_dash(ours),
        };
        let label = if self.against.is_some() {
            format!("ours / {theirs}")
        } else {
            "ours".to_string()
        };
        let _ = writeln!(
            out,
            "{:<40} {:>22} {:>7} {:>20} {:>20} {:>16} {:>9}",
            format!("server cost, latency ({label})"),
            "server CPU per op",
            "ratio",
            "p50",
            "p99",
            "peak RSS",
            "errors"
        );
        for result in &self.scenarios {
            let name = format!("{:02} {}", result.scenario.lesson, result.scenario.title);
            let against = result.against.as_ref();
            let micros = |stat: Option<Stat>| stat.map(|s| micros_text(s.median));
            let cpu = both(
                micros(result.ours.cpu_us()),
                micros(against.and_then(Runs::cpu_us)),
            );
            let cpu_ratio = result.cpu_ratio().map(|s| format!("{:.2}", s.median));
            let p50 = both(
                micros(result.ours.p50_us()),
                micros(against.and_then(Runs::p50_us)),
            );
            let p99 = both(
                micros(result.ours.p99_us()),
                micros(against.and_then(Runs::p99_us)),
            );
            let rss = both(
                result.ours.peak_rss_kib().map(kib_text),
                against.and_then(Runs::peak_rss_kib).map(kib_text),
            );
            let errors = both(
                Some(result.ours.errors().to_string()),
                against.map(|a| a.errors().to_string()),
            );
            let _ = writeln!(
                out,
                "{name:<40} {cpu:>22} {:>7} {p50:>20} {p99:>20} {rss:>16} {errors:>9}",
                or_dash(cpu_ratio)
            );
        }
        for result in &self.scenarios {
            for (who, runs) in [
                ("ours", Some(&result.ours)),
                (theirs, result.against.as_ref()),
            ] {
                let Some(runs) = runs else { continue };
                for failure in &runs.failures {
                    let _ = writeln!(out, "  {} ({who}): failed: {failure}", result.scenario.id);
                }
                if let Some(error) = runs.first_error() {
                    let _ = writeln!(
                        out,
                        "  {} ({who}): {} errors, the first: {error}",
                        result.scenario.id,
                        runs.errors()
                    );
                }
                if let Some(share) = runs.generator_share() {
                    if share > 0.9 && self.placement_name == "split" {
                        let _ = writeln!(
                            out,
                            "  {} ({who}): the load generator used {:.0}% of its CPU: it may have set the pace",
                            result.scenario.id,
                            share * 100.0
                        );
                    }
                }
            }
        }
        out
    }

    /// The select server's memory: per idle client (ours, theirs, and the
    /// bare holder of sockets), and at 1000 active clients; empty when
    /// neither was measured.
    pub fn memory_table(&self) -> String {
        let mut out = String::new();
        let active = self
            .scenarios
            .iter()
            .find(|r| r.scenario.id == "06-lines-1000");
        if self.idle.is_none() && active.is_none() {
            return out;
        }
        let theirs = self.against.as_deref();
        let _ = writeln!(
            out,
            "{:<56} {:>12} {:>12} {:>12}",
            "memory (median of rounds)",
            "ours",
            theirs.unwrap_or(""),
            if theirs.is_some() { "ours/theirs" } else { "" }
        );
        if let Some(idle) = &self.idle {
            let ours = idle.ours.per_client();
            let against = idle.against.as_ref().and_then(IdleRuns::per_client);
            let ratio = ours
                .zip(against)
                .filter(|(_, t)| t.median > 0.0)
                .map(|(o, t)| format!("{:.2}", o.median / t.median));
            let _ = writeln!(
                out,
                "{:<56} {:>12} {:>12} {:>12}",
                format!("06 select-server, per idle client ({IDLE_CLIENTS} clients)"),
                or_dash(ours.map(|s| bytes_text(s.median))),
                if theirs.is_some() {
                    or_dash(against.map(|s| bytes_text(s.median)))
                } else {
                    String::new()
                },
                if theirs.is_some() {
                    or_dash(ratio)
                } else {
                    String::new()
                }
            );
        }
        if let Some(active) = active {
            let ours = active.ours.peak_rss_kib();
            let against = active.against.as_ref().and_then(Runs::peak_rss_kib);
            let _ = writeln!(
                out,
                "{:<56} {:>12} {:>12} {:>12}",
                "06 select-server, peak RSS at 1000 active clients",
                or_dash(ours.map(kib_text)),
                if theirs.is_some() {
                    or_dash(against.map(kib_text))
                } else {
                    String::new()
                },
                if theirs.is_some() {
                    or_dash(active.rss_ratio().map(|r| format!("{r:.2}")))
                } else {
                    String::new()
                }
            );
        }
        if let Some(idle) = &self.idle {
            let kernel = idle
                .bare
                .kernel_per_connection()
                .map(|s| {
                    format!(
                        "   (the kernel's own, in no RSS: {} per connection, both ends)",
                        bytes_text(s.median)
                    )
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{:<56} {:>12}{kernel}",
                format!("bare: {IDLE_CLIENTS} accepted sockets held, per socket"),
                or_dash(idle.bare.per_client().map(|s| bytes_text(s.median))),
            );
            for (who, runs) in [
                ("ours", Some(&idle.ours)),
                (theirs.unwrap_or("theirs"), idle.against.as_ref()),
                ("bare", Some(&idle.bare)),
            ] {
                for failure in runs.map(|r| r.failures.as_slice()).unwrap_or_default() {
                    let _ = writeln!(out, "  {} ({who}): failed: {failure}", super::memory::ID);
                }
            }
        }
        out
    }

    /// The geometric mean of the throughput ratios.
    pub fn geomean(&self) -> Option<f64> {
        let ratios: Vec<f64> = self
            .scenarios
            .iter()
            .filter_map(|r| r.ratio())
            .map(|s| s.median)
            .collect();
        if ratios.is_empty() {
            return None;
        }
        Some((ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp())
    }

    /// The targets, each with whether it holds: only with
    /// another implementation to compare with.
    pub fn targets(&self) -> Vec<(bool, String)> {
        let mut verdicts = Vec::new();
        if self.against.is_none() {
            return verdicts;
        }
        for result in &self.scenarios {
            let id = &result.scenario.id;
            if let Some(ratio) = result.ratio() {
                verdicts.push((
                    ratio.median >= 0.95,
                    format!(
                        "{id}: throughput {:.2}x theirs (target >= 0.95)",
                        ratio.median
                    ),
                ));
            }
            if let Some(ratio) = result.cpu_ratio() {
                verdicts.push((
                    ratio.median <= 1.05,
                    format!(
                        "{id}: server CPU per operation {:.2}x theirs (target <= 1.05)",
                        ratio.median
                    ),
                ));
            }
        }
        if let Some(geomean) = self.geomean() {
            verdicts.push((
                geomean >= 1.0,
                format!("geometric mean of the throughput ratios {geomean:.3} (target >= 1.0)"),
            ));
        }
        if let Some(idle) = &self.idle {
            if let (Some(ours), Some(bare)) = (idle.ours.per_client(), idle.bare.per_client()) {
                let above = ours.median - bare.median;
                verdicts.push((
                    above < 1024.0,
                    format!(
                        "{}: memory per idle client {}, {} above a bare socket's (target < 1 KiB above)",
                        super::memory::ID,
                        bytes_text(ours.median),
                        bytes_text(above)
                    ),
                ));
            }
        }
        if let Some(result) = self
            .scenarios
            .iter()
            .find(|r| r.scenario.id == "06-lines-1000")
        {
            let errors = result.ours.errors();
            verdicts.push((
                errors == 0 && result.ours.rate().is_some(),
                format!("06-lines-1000: {errors} errors (target 0)"),
            ));
            if let Some(ratio) = result.rss_ratio() {
                verdicts.push((
                    ratio <= 2.0,
                    format!("06-lines-1000: peak RSS {ratio:.2}x theirs (target <= 2)"),
                ));
            }
        }
        verdicts
    }

    pub fn json(&self) -> Value {
        let references: Vec<Value> = self
            .references
            .iter()
            .map(|l| {
                json!({
                    "id": l.reference.id(),
                    "title": l.reference.title(),
                    "unit": l.reference.unit(),
                    "rate": l.rate().map(|s| s.json()),
                    "cpu_us_per_op": l.cpu_us().map(|s| s.json()),
                    "rss_kib": l.rounds.iter().filter_map(|m| m.rss_kib).max(),
                    "errors": l.rounds.iter().map(|m| m.errors).sum::<u64>(),
                    "failures": l.failures,
                    "load_average": l.rounds.iter().filter_map(|m| m.load_average).collect::<Vec<_>>(),
                })
            })
            .collect();
        let scenarios: Vec<Value> = self
            .scenarios
            .iter()
            .map(|r| {
                let bare = self.reference(r.scenario.reference);
                let mut loads = r.ours.load_averages();
                loads.extend(r.against.iter().flat_map(Runs::load_averages));
                json!({
                    "id": r.scenario.id,
                    "lesson": r.scenario.lesson,
                    "server": r.scenario.server,
                    "title": r.scenario.title,
                    "unit": r.scenario.unit,
                    "clients": r.scenario.clients(),
                    "reference": r.scenario.reference.id(),
                    "of_reference": match (r.ours.rate(), bare) {
                        (Some(ours), Some(bare)) if bare.median > 0.0 => Some(ours.median / bare.median),
                        _ => None,
                    },
                    "ours": r.ours.json(),
                    "against": r.against.as_ref().map(Runs::json),
                    "ratio": r.ratio().map(|s| s.json()),
                    "cpu_ratio": r.cpu_ratio().map(|s| s.json()),
                    "rss_ratio": r.rss_ratio(),
                    "load_average": loads,
                    "others_cpu_share": r.others,
                })
            })
            .collect();
        let targets: Vec<Value> = self
            .targets()
            .into_iter()
            .map(|(holds, what)| json!({"holds": holds, "what": what}))
            .collect();
        json!({
            "machine": self.machine,
            "placement": {"name": self.placement_name, "description": self.placement},
            "rounds": self.rounds,
            "warmup_s": self.warmup.as_secs_f64(),
            "window_s": self.window.as_secs_f64(),
            "ours": self.ours,
            "against": self.against,
            "load_average": {"before": self.load_before, "after": self.load_after},
            "others_cpu_share": self.others,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "references": references,
            "scenarios": scenarios,
            "idle_memory": self.idle.as_ref().map(idle_json),
            "geomean_ratio": self.geomean(),
            "targets": targets,
        })
    }
}

/// The idle clients' numbers, as JSON.
fn idle_json(idle: &IdleResult) -> Value {
    let runs = |runs: &IdleRuns| {
        json!({
            "bytes_per_client": runs.per_client().map(|s| s.json()),
            "kernel_bytes_per_connection": runs.kernel_per_connection().map(|s| s.json()),
            "rounds": runs.rounds.iter().map(|m| json!({
                "bytes_per_client": m.per_client,
                "kernel_bytes_per_connection": m.kernel_per_connection,
            })).collect::<Vec<_>>(),
            "failures": runs.failures,
        })
    };
    json!({
        "id": super::memory::ID,
        "server": super::memory::SERVER,
        "clients": IDLE_CLIENTS,
        "ours": runs(&idle.ours),
        "against": idle.against.as_ref().map(runs),
        "bare": runs(&idle.bare),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_at_a_glance() {
        assert_eq!(rate_text(5612.0), "5.6k");
        assert_eq!(rate_text(123_456.0), "123k");
        assert_eq!(rate_text(1_523_000.0), "1.52M");
        assert_eq!(rate_text(950.0), "950");
    }
}
