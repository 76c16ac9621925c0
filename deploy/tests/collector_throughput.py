#!/usr/bin/env python3
"""Throughput through the real Collector: one process (the whole_process bench's child: only
`baker_otel::init()` and plain `tracing`) exports over OTLP/gRPC to our Collector running
deploy/'s base config on loopback (persistent sending queues on disk, traces on to Jaeger,
logs and metrics to an OTLP/HTTP sink). For each row it reports what the SDK emitted and
dropped, what the Collector accepted, refused and exported (its own counters), and how long
the Collector took to drain; sustained = items accepted and exported per second with zero
drops on either side. The burst row offers more than the SDK's 2048-entry queue drains.

usage: collector_throughput.py --child BIN [--quick] [--json OUT]
BIN: the whole_process bench executable (cargo bench -p baker-otel --bench whole_process --no-run).
A report, not a test: figures depend on the machine; nothing here asserts a rate.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realstack  # noqa: E402

# (name, signal, items, offered rate/s over all threads, items per pacing slice, threads)
ROWS = [
    ("steady span 20k/s", "span", 100_000, 20_000, 50, 1),
    ("steady span 50k/s", "span", 200_000, 50_000, 50, 1),
    ("steady log 10k/s", "log", 50_000, 10_000, 10, 1),
    ("steady log 25k/s", "log", 100_000, 25_000, 10, 1),
    ("burst span 150k/s", "span", 200_000, 150_000, 75, 2),
    ("burst log 50k/s", "log", 120_000, 50_000, 25, 2),
]
KEYS = {"span": ("spans", "spans"), "log": ("log_records", "log_records")}


def counters(col: realstack.Collector, sig: str) -> dict[str, float]:
    m = realstack.scrape(col.metrics_url)
    unit = KEYS[sig][0]
    return {k: m.get(f"otelcol_{k.replace('X', unit)}_total", 0.0) for k in
            ("receiver_accepted_X", "receiver_refused_X", "exporter_sent_X", "exporter_send_failed_X",
             "exporter_enqueue_failed_X")}


def run_row(child: str, col: realstack.Collector, row, work: Path) -> dict:
    name, sig, items, rate, chunk, threads = row
    before = counters(col, sig)
    out = work / f"{name.replace(' ', '_').replace('/', '')}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "RUST_LOG"}
    env.update({"OTEL_SERVICE_NAME": "whole-process", "OTEL_EXPORTER_OTLP_ENDPOINT": col.otlp_grpc,
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    env = {**env, "WHOLE_PROCESS_ROLE": "ours", "WHOLE_PROCESS_ENDPOINT": col.otlp_grpc,
           "WHOLE_PROCESS_KIND": sig, "WHOLE_PROCESS_ITEMS": str(items), "WHOLE_PROCESS_RATE": str(rate),
           "WHOLE_PROCESS_CHUNK": str(chunk), "WHOLE_PROCESS_THREADS": str(threads), "WHOLE_PROCESS_OUT": str(out)}
    t0 = time.monotonic()
    subprocess.run([child], env=env, timeout=300, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = time.monotonic()
    rep = json.loads(out.read_text()) if out.exists() else {"error": "child wrote no report"}
    # The collector drains its queue to Jaeger / the sink: wait until exported == accepted.
    after = counters(col, sig)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        after = counters(col, sig)
        d = {k: after[k] - before[k] for k in after}
        if d["exporter_sent_X"] + d["exporter_send_failed_X"] >= d["receiver_accepted_X"] > 0:
            break
        if d["receiver_accepted_X"] == 0 and time.monotonic() > done + 5:
            break  # nothing arrived: nothing to drain
        time.sleep(0.25)
    drained = time.monotonic()
    d = {k: int(after[k] - before[k]) for k in after}
    emitted = rep.get("emitted", 0)
    wall = (rep.get("emit_wall_ns") or 1) / 1e9
    return {
        "row": name, "signal": sig, "offered_per_s": rate, "emitted": emitted,
        "emitted_per_s": round(emitted / wall), "sdk_dropped": rep.get("dropped"),
        "collector_accepted": d["receiver_accepted_X"], "collector_refused": d["receiver_refused_X"],
        "collector_exported": d["exporter_sent_X"], "collector_export_failed": d["exporter_send_failed_X"],
        "collector_enqueue_failed": d["exporter_enqueue_failed_X"],
        "child_s": round(done - t0, 2), "drain_s": round(drained - done, 2),
        "sustained_per_s": round(d["exporter_sent_X"] / max(drained - t0, 1e-9)),
        "error": rep.get("error"),
    }


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", required=True)
    ap.add_argument("--quick", action="store_true", help="the first and the burst rows only")
    ap.add_argument("--json", default=str(realstack.REPO / "target/bench-collector.json"))
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="collector-throughput-"))
    jaeger = realstack.Jaeger(work / "jaeger")
    sink = realstack.OtlpHttpSink()
    col = realstack.Collector(realstack.base_collector_spec(), work / "collector",
                              targets={"otlp_grpc": jaeger.otlp_grpc, "otlp_http": sink.port})
    rows = ROWS if not args.quick else [ROWS[0], ROWS[2], ROWS[4], ROWS[5]]
    results = []
    try:
        for row in rows:
            r = run_row(args.child, col, row, work)
            results.append(r)
            zero = (r["sdk_dropped"] == 0 and r["collector_refused"] == 0 and r["collector_export_failed"] == 0
                    and r["collector_enqueue_failed"] == 0 and r["collector_accepted"] == r["emitted"] and not r["error"])
            print(f"{r['row']:<20} emitted {r['emitted']:>7} ({r['emitted_per_s']:>6}/s)  sdk dropped {r['sdk_dropped']}  "
                  f"collector accepted {r['collector_accepted']} refused {r['collector_refused']} exported "
                  f"{r['collector_exported']} failed {r['collector_export_failed']}  drain {r['drain_s']} s  "
                  f"sustained {r['sustained_per_s']}/s  {'ZERO DROPS' if zero else 'drops'}"
                  + (f"  error {r['error']}" if r["error"] else ""), flush=True)
    finally:
        col.stop()
        jaeger.stop()
        sink.stop()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"collector-throughput: {len(results)} rows -> {args.json}")
    return 0 if all(not r["error"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
