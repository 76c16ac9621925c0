//! Whole-process cost of the default path (issue #19): a program that calls only
//! `baker_otel::init()` and plain `tracing`, exporting over OTLP to a live receiver on loopback,
//! against the same program on tracing-opentelemetry + the SDK batch processors +
//! opentelemetry-otlp (+ fmt JSON + the appender bridge for log lines).
//!
//! The bench spawns itself: each side runs in its own child process (`WHOLE_PROCESS_ROLE`), the
//! receiver (gRPC and HTTP/protobuf, counting what arrives) runs here. Per child it measures the
//! process CPU from the first item to the end of shutdown (export thread, metrics and JSON
//! included) and the emitting threads' own CPU; the receiver says what was exported, ours'
//! `baker_otel.exporter.dropped` what it dropped (the peer: emitted − received). The cost of an
//! item is the emitting CPU per emitted item plus the background CPU (export, metrics,
//! shutdown) per exported item — with no drops, simply process CPU per item; under drops a side
//! is not rewarded for exporting less (process CPU per emitted item is in each row's note). Loads: `steady`
//! (a paced rate well under export capacity), `burst` (the same paced rate for both sides, from
//! two threads in 1 ms slices, beyond what either exporter drains and ~100× the 2048-entry
//! queues, so drops compare at equal offered load) and `flood` (report only: as fast as each
//! side can emit, so the faster emitter fills its queue sooner). Ours and the peer run
//! alternately, the median of the per-pair ratios is reported, and the rows go to
//! `target/bench-whole-process.json`. `WHOLE_PROCESS_ONLY=<substring>` runs the matching rows.
//!
//! `cargo bench -p baker-otel --bench whole_process [-- --quick | --sample-size 10]`; without
//! `--bench` (test mode) it does nothing. `WHOLE_PROCESS_QUICK=1` forces the short run.
#[path = "support/otlp_sink.rs"]
mod otlp_sink;
#[path = "support/whole_app.rs"]
mod whole_app;

use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use whole_app::{Report, Spec, LINES_PER_SPAN};

const ROLE: &str = "WHOLE_PROCESS_ROLE";
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

fn main() {
    match std::env::var(ROLE).as_deref() {
        Ok("sink") => return sink(),
        Ok(role) => std::process::exit(child(role)),
        Err(_) => {}
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("whole_process: nothing to do in test mode (run it with `cargo bench`)");
        return;
    }
    let quick = std::env::var("WHOLE_PROCESS_QUICK").is_ok_and(|v| v == "1")
        || args.iter().any(|a| a == "--quick")
        || args
            .windows(2)
            .any(|w| w[0] == "--sample-size" && w[1].parse::<u32>().is_ok_and(|n| n <= 10));
    let rows = match otlp_sink::Receiver::start() {
        Ok(receiver) => run_all(&receiver, quick),
        Err(e) => configs(quick)
            .iter()
            .map(|c| not_run(c, &format!("receiver did not start: {e}")))
            .collect(),
    };
    print_table(&rows);
    write_json(&rows);
}

// ---------------------------------------------------------------------------------------------
// Child side.

/// `WHOLE_PROCESS_ROLE=sink`: only the receiver, for profiling a child by hand (prints its
/// addresses, then the counts every second until killed).
fn sink() {
    let r = match otlp_sink::Receiver::start() {
        Ok(r) => r,
        Err(e) => return eprintln!("receiver: {e}"),
    };
    println!("grpc http://{}  http http://{}", r.grpc, r.http);
    loop {
        std::thread::sleep(Duration::from_secs(1));
        println!("{:?}", r.counts.snapshot());
    }
}

fn env_u64(name: &str) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Runs one side and writes its [`Report`] to `WHOLE_PROCESS_OUT`; the exit code says whether
/// it went through.
fn child(role: &str) -> i32 {
    let spec = Spec {
        ours: role == "ours",
        log: std::env::var("WHOLE_PROCESS_KIND").is_ok_and(|k| k == "log"),
        http: std::env::var("WHOLE_PROCESS_HTTP").is_ok_and(|k| k == "1"),
        endpoint: std::env::var("WHOLE_PROCESS_ENDPOINT").unwrap_or_default(),
        items: env_u64("WHOLE_PROCESS_ITEMS"),
        rate: Some(env_u64("WHOLE_PROCESS_RATE")).filter(|r| *r > 0),
        chunk: env_u64("WHOLE_PROCESS_CHUNK").max(1),
        threads: env_u64("WHOLE_PROCESS_THREADS").max(1),
    };
    let report = whole_app::run(&spec);
    let text = serde_json::to_string(&report).unwrap_or_default();
    match std::env::var("WHOLE_PROCESS_OUT") {
        Ok(path) => {
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("whole_process child: cannot write {path}: {e}");
                return 2;
            }
        }
        Err(_) => eprintln!("{text}"),
    }
    i32::from(report.error.is_some())
}

// ---------------------------------------------------------------------------------------------
// Parent side.

/// How a row offers its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Load {
    /// A paced rate well under export capacity.
    Steady,
    /// The same paced rate for both sides, far beyond what the exporter drains and the queue
    /// holds: drops compare at equal offered load.
    Burst,
    /// As fast as each side can emit (report only: the faster emitter fills its queue sooner).
    Flood,
}

/// One row: protocol × load × signal.
#[derive(Debug, Clone)]
struct Config {
    http: bool,
    load: Load,
    log: bool,
    items: u64,
    /// Offered items a second over all threads; 0 for as fast as possible.
    rate: u64,
    /// Items a thread emits between two pacing sleeps.
    chunk: u64,
    threads: u64,
}

impl Config {
    fn name(&self) -> String {
        format!(
            "whole process {} {} {}",
            if self.http { "http" } else { "grpc" },
            match self.load {
                Load::Steady => "steady",
                Load::Burst => "burst",
                Load::Flood => "flood",
            },
            if self.log { "log" } else { "span" }
        )
    }

    fn target(&self) -> Option<f64> {
        (self.load != Load::Flood).then(|| target(self.log))
    }
}

/// Offered rate of the burst rows (items a second over two threads), overridable with
/// `WHOLE_PROCESS_BURST_SPAN_RATE` / `WHOLE_PROCESS_BURST_LOG_RATE`. Measured on two shared,
/// loaded cores: both sides' emitters sustain it (the peer's log line costs ~9 µs of emitting
/// CPU; at 60 000 lines/s it fell to ~55 000/s, at 200 000 spans/s ours fell to ~155 000/s), the
/// peer's exporter does not drain it (it drops in every burst row), and the totals (200 000
/// spans, 120 000 lines) are ~100× and ~60× the 2048-entry queue.
const BURST_SPAN_RATE: u64 = 150_000;
const BURST_LOG_RATE: u64 = 50_000;

fn configs(quick: bool) -> Vec<Config> {
    let secs = if quick { 1 } else { 2 };
    let burst_rate = |log: bool| match env_u64(if log {
        "WHOLE_PROCESS_BURST_LOG_RATE"
    } else {
        "WHOLE_PROCESS_BURST_SPAN_RATE"
    }) {
        0 if log => BURST_LOG_RATE,
        0 => BURST_SPAN_RATE,
        r => r,
    };
    let only = std::env::var("WHOLE_PROCESS_ONLY").unwrap_or_default();
    let mut out = Vec::new();
    for http in [false, true] {
        for log in [false, true] {
            for load in [Load::Steady, Load::Burst, Load::Flood] {
                let (items, rate, chunk) = match (log, load) {
                    (false, Load::Steady) => (20_000 * secs, 20_000, 50),
                    (true, Load::Steady) => (10_000 * secs, 10_000, LINES_PER_SPAN),
                    // Paced in 1 ms slices (rate / 1000 items per slice over both threads),
                    // so pacing itself costs little.
                    (false, Load::Burst) => (200_000, burst_rate(log), burst_rate(log) / 2000),
                    (true, Load::Burst) => (120_000, burst_rate(log), burst_rate(log) / 2000),
                    (false, Load::Flood) => (200_000, 0, 1),
                    (true, Load::Flood) => (100_000, 0, 1),
                };
                let c = Config {
                    http,
                    load,
                    log,
                    items,
                    rate,
                    chunk: chunk.max(1),
                    threads: 2,
                };
                if c.name().contains(&only) {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// One child's figures with what the receiver got from it.
#[derive(Debug, Clone)]
struct Run {
    report: Report,
    received: u64,
    /// Metric export requests the receiver got from this child.
    metric_requests: u64,
}

impl Run {
    fn cpu_per_item(&self) -> f64 {
        self.report.cpu_ns as f64 / self.report.emitted.max(1) as f64
    }
    /// Cost of one item: the emitting threads' CPU per emitted item plus the background CPU
    /// (export, metrics, shutdown) per item the receiver got. With no drops it equals
    /// [`Run::cpu_per_item`]; under drops it does not reward a side for exporting less.
    fn unit_cost(&self) -> f64 {
        self.emit_per_item()
            + self.report.cpu_ns.saturating_sub(self.report.emit_cpu_ns) as f64
                / self.received.max(1) as f64
    }
    fn emit_per_item(&self) -> f64 {
        self.report.emit_cpu_ns as f64 / self.report.emitted.max(1) as f64
    }
    /// Items a second the emitting threads achieved.
    fn achieved_rate(&self) -> f64 {
        self.report.emitted as f64 * 1e9 / self.report.emit_wall_ns.max(1) as f64
    }
    /// Ours: its own counter; the peer: emitted − received.
    fn dropped(&self) -> u64 {
        self.report
            .dropped
            .unwrap_or_else(|| self.report.emitted.saturating_sub(self.received))
    }
}

fn run_child(r: &otlp_sink::Receiver, c: &Config, ours: bool, seq: u32) -> Result<Run, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let dir = std::env::temp_dir();
    let out = dir.join(format!("whole-process-{}-{seq}.json", std::process::id()));
    let err_path = dir.join(format!("whole-process-{}-{seq}.err", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let stderr = std::fs::File::create(&err_path).map_err(|e| format!("stderr file: {e}"))?;
    let endpoint = format!("http://{}", if c.http { r.http } else { r.grpc });
    let mut cmd = Command::new(exe);
    for (k, _) in std::env::vars() {
        if k.starts_with("OTEL_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.env(ROLE, if ours { "ours" } else { "peer" })
        .env("WHOLE_PROCESS_KIND", if c.log { "log" } else { "span" })
        .env("WHOLE_PROCESS_HTTP", if c.http { "1" } else { "0" })
        .env("WHOLE_PROCESS_ENDPOINT", &endpoint)
        .env("WHOLE_PROCESS_ITEMS", c.items.to_string())
        .env("WHOLE_PROCESS_RATE", c.rate.to_string())
        .env("WHOLE_PROCESS_CHUNK", c.chunk.to_string())
        .env("WHOLE_PROCESS_THREADS", c.threads.to_string())
        .env("WHOLE_PROCESS_OUT", &out)
        .env("OTEL_SERVICE_NAME", "whole-process")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env(
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            if c.http { "http/protobuf" } else { "grpc" },
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    let before = r.counts.snapshot();
    let mut child = cmd.spawn().map_err(|e| format!("spawn: {e}"))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() > CHILD_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("child timed out after {CHILD_TIMEOUT:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("wait: {e}")),
        }
    };
    let after = r.counts.snapshot();
    let received = if c.log {
        after.logs - before.logs
    } else {
        after.spans - before.spans
    };
    let stderr_tail = || {
        let s = std::fs::read_to_string(&err_path).unwrap_or_default();
        let s = s.trim();
        s[s.len().saturating_sub(300)..].replace('\n', " | ")
    };
    let report: Option<Report> = std::fs::read_to_string(&out)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let _ = std::fs::remove_file(&out);
    let result = match report {
        Some(report) => match &report.error {
            Some(e) if !status.success() => Err(format!("{e} ({})", stderr_tail())),
            _ => Ok(Run {
                report,
                received,
                metric_requests: after.metric_requests - before.metric_requests,
            }),
        },
        None => Err(format!(
            "child {status} without a report: {}",
            stderr_tail()
        )),
    };
    let _ = std::fs::remove_file(&err_path);
    result
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn median_u(v: impl Iterator<Item = u64>) -> u64 {
    median(v.map(|x| x as f64).collect()).round() as u64
}

fn peer_name(log: bool) -> &'static str {
    if log {
        "fmt json + t-o + appender bridge + SDK batch"
    } else {
        "tracing-opentelemetry + SDK batch"
    }
}

fn target(log: bool) -> f64 {
    if log {
        0.35
    } else {
        0.6
    }
}

fn not_run(c: &Config, why: &str) -> serde_json::Value {
    json!({
        "name": c.name(), "ours_ns": null, "peer": peer_name(c.log), "peer_ns": null,
        "ratio": null, "target": c.target(), "ours_exported": null, "ours_dropped": null,
        "peer_exported": null, "peer_dropped": null, "emitted": c.items,
        "note": format!("not run: {why}"),
    })
}

fn run_all(r: &otlp_sink::Receiver, quick: bool) -> Vec<serde_json::Value> {
    let reps = if quick { 2 } else { 5 };
    let mut seq = 0;
    let mut rows = Vec::new();
    for c in configs(quick) {
        let (mut ours, mut peer, mut errors) = (Vec::new(), Vec::new(), Vec::new());
        let (mut ratios, mut emitted_ratios) = (Vec::new(), Vec::new());
        for rep in 0..reps {
            // Alternate which side goes first.
            let mut pair = [None, None];
            for side in [rep % 2 == 0, rep % 2 == 1] {
                seq += 1;
                match run_child(r, &c, side, seq) {
                    Ok(run) => pair[usize::from(!side)] = Some(run),
                    Err(e) => errors.push(format!("{}: {e}", if side { "ours" } else { "peer" })),
                }
            }
            if let [Some(o), Some(p)] = &pair {
                ratios.push(o.unit_cost() / p.unit_cost());
                emitted_ratios.push(o.cpu_per_item() / p.cpu_per_item());
            }
            let [o, p] = pair;
            ours.extend(o);
            peer.extend(p);
        }
        eprintln!(
            "{}: {} ours / {} peer runs{}",
            c.name(),
            ours.len(),
            peer.len(),
            errors
                .first()
                .map(|e| format!(", error: {e}"))
                .unwrap_or_default()
        );
        if ratios.is_empty() {
            let why = errors.first().cloned().unwrap_or_else(|| "no runs".into());
            rows.push(not_run(&c, &why));
            continue;
        }
        let cost = |v: &[Run]| median(v.iter().map(Run::unit_cost).collect());
        let cpu = |v: &[Run]| median(v.iter().map(Run::cpu_per_item).collect());
        let emit = |v: &[Run]| median(v.iter().map(Run::emit_per_item).collect());
        let exported = |v: &[Run]| median_u(v.iter().map(|x| x.received));
        let dropped = |v: &[Run]| median_u(v.iter().map(Run::dropped));
        let (od, pd) = (dropped(&ours), dropped(&peer));
        let rate = |v: &[Run]| median(v.iter().map(Run::achieved_rate).collect());
        let offered = if c.rate == 0 {
            "as fast as possible".to_owned()
        } else {
            format!("{}/s", c.rate)
        };
        let mut note = format!(
            "{} emitted from {} threads, offered {offered}, achieved ours {:.0}/s peer {:.0}/s; \
             exported/dropped ours {}/{od} peer {}/{pd}; ",
            c.items,
            c.threads,
            rate(&ours),
            rate(&peer),
            exported(&ours),
            exported(&peer),
        );
        note += &format!(
            "{} pairs, median of ratios; emitting threads ns/item ours {:.0} peer {:.0}; \
             background (export, metrics, shutdown) ns/item ours {:.0} peer {:.0}",
            ratios.len(),
            emit(&ours),
            emit(&peer),
            cpu(&ours) - emit(&ours),
            cpu(&peer) - emit(&peer),
        );
        let lost = median_u(
            ours.iter()
                .map(|x| x.report.emitted.saturating_sub(x.received)),
        );
        let per_exported = |v: &[Run]| {
            median(
                v.iter()
                    .map(|x| {
                        x.report.cpu_ns.saturating_sub(x.report.emit_cpu_ns) as f64
                            / x.received.max(1) as f64
                    })
                    .collect(),
            )
        };
        note += &format!(
            "; background ns per exported item ours {:.0} peer {:.0}",
            per_exported(&ours),
            per_exported(&peer)
        );
        note += &format!(
            "; process CPU per emitted item ours {:.0} peer {:.0}, ratio {:.2}",
            cpu(&ours),
            cpu(&peer),
            median(emitted_ratios)
        );
        note += &format!(
            "; metric export requests ours {}",
            median_u(ours.iter().map(|x| x.metric_requests))
        );
        if lost != od {
            note += &format!("; ours emitted − received = {lost}");
        }
        if od > pd && c.load == Load::Flood {
            note += "; drops: ours dropped more than the peer, having emitted faster (report only)";
        } else if od > pd {
            note += "; drops: ours dropped more than the peer";
        }
        if let Some(e) = errors.first() {
            note += &format!("; {} failed run(s), first: {e}", errors.len());
        }
        rows.push(json!({
            "name": c.name(),
            "ours_ns": cost(&ours),
            "peer": peer_name(c.log),
            "peer_ns": cost(&peer),
            "ours_cpu_per_emitted_ns": cpu(&ours),
            "peer_cpu_per_emitted_ns": cpu(&peer),
            "ratio": median(ratios),
            "target": c.target(),
            "ours_exported": exported(&ours),
            "ours_dropped": od,
            "peer_exported": exported(&peer),
            "peer_dropped": pd,
            "emitted": c.items,
            "offered_rate": (c.rate > 0).then_some(c.rate),
            "ours_rate": rate(&ours),
            "peer_rate": rate(&peer),
            "ours_emit_ns": emit(&ours),
            "peer_emit_ns": emit(&peer),
            "note": note,
        }));
    }
    rows
}

fn print_table(rows: &[serde_json::Value]) {
    let f = |v: &serde_json::Value, p: usize| {
        v.as_f64()
            .map_or_else(|| "-".to_owned(), |x| format!("{x:.p$}"))
    };
    let u = |v: &serde_json::Value| v.as_u64().map_or_else(|| "-".to_owned(), |x| x.to_string());
    println!(
        "\n{:<34} {:>9} {:>9} {:>6} {:>6} {:>8} {:>17} {:>17}",
        "whole process (cpu ns/item*)",
        "ours",
        "peer",
        "ratio",
        "target",
        "emitted",
        "ours exp/drop",
        "peer exp/drop"
    );
    for r in rows {
        println!(
            "{:<34} {:>9} {:>9} {:>6} {:>6} {:>8} {:>17} {:>17}",
            r["name"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("whole process "),
            f(&r["ours_ns"], 0),
            f(&r["peer_ns"], 0),
            f(&r["ratio"], 2),
            f(&r["target"], 2),
            u(&r["emitted"]),
            format!("{}/{}", u(&r["ours_exported"]), u(&r["ours_dropped"])),
            format!("{}/{}", u(&r["peer_exported"]), u(&r["peer_dropped"])),
        );
        if let Some(n) = r["note"].as_str() {
            println!("    {n}");
        }
    }
    println!(
        "* emitting CPU per emitted item + background CPU per exported item \
         (= process CPU per item when nothing is dropped)"
    );
}

fn write_json(rows: &[serde_json::Value]) {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_owned());
    let path = std::path::Path::new(&dir).join("bench-whole-process.json");
    let text = serde_json::to_string_pretty(rows).unwrap_or_default();
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, text + "\n")) {
        Ok(()) => println!("\nwrote {}", path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", path.display()),
    }
}
