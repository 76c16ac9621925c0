//! Interleaved ("paired") timing of ours against a peer, shared by the workspace's benches
//! (included with `#[path]`, so it is not a bench target of its own).
//!
//! Criterion measures two functions seconds apart; on a shared 2-core machine the drift between
//! those windows moves a ratio by ±30 %. Here each round times `k` iterations of both back to
//! back (order alternating) and keeps that round's ratio; the medians over the rounds are
//! reported and written to `target/bench-paired/<file>.json`, which `scripts/bench_summary.py`
//! prefers to criterion's medians for the same (group, ours, peer) row.

use std::path::PathBuf;
use std::time::Instant;

/// One paired measurement: medians over the rounds, in ns per iteration.
#[derive(Debug, Clone, Copy)]
pub struct Paired {
    pub ours_ns: f64,
    pub peer_ns: f64,
    pub ratio: f64,
}

/// Times `ours` and `peer` in `rounds` alternating rounds of `k` iterations each.
///
/// `ours`/`peer` receive the iteration count and run the body that many times (so a caller can
/// enter a dispatcher or span once per round, outside the timed loop body).
pub fn paired(
    mut ours: impl FnMut(u32),
    mut peer: impl FnMut(u32),
    rounds: usize,
    k: u32,
) -> Paired {
    let time = |f: &mut dyn FnMut(u32)| {
        let t = Instant::now();
        f(k);
        t.elapsed().as_nanos() as f64 / f64::from(k)
    };
    // One untimed round of each to warm caches and allocator.
    ours(k);
    peer(k);
    let (mut o, mut p, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (on, pn) = if round % 2 == 0 {
            let pn = time(&mut peer);
            (time(&mut ours), pn)
        } else {
            let on = time(&mut ours);
            (on, time(&mut peer))
        };
        o.push(on);
        p.push(pn);
        r.push(on / pn);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Paired {
        ours_ns: median(&mut o),
        peer_ns: median(&mut p),
        ratio: median(&mut r),
    }
}

/// Writes `(group, ours id, peer id, figures)` rows to `<target>/bench-paired/<file>.json`.
pub fn write(target_dir: &str, file: &str, rows: &[(&str, &str, &str, Paired)]) {
    let entries: Vec<_> = rows
        .iter()
        .map(|(group, ours, peer, m)| {
            serde_json::json!({
                "group": group, "ours": ours, "peer": peer,
                "ours_ns": m.ours_ns, "peer_ns": m.peer_ns, "ratio": m.ratio,
            })
        })
        .collect();
    let dir = PathBuf::from(target_dir).join("bench-paired");
    let written = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::write(
            dir.join(format!("{file}.json")),
            serde_json::to_string_pretty(&entries).unwrap_or_default(),
        )
    });
    if let Err(e) = written {
        eprintln!("could not write {}: {e}", dir.display());
    }
}
