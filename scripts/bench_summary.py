#!/usr/bin/env python3
"""Collects criterion medians of every workspace bench into target/bench-summary.json.

Usage:
  bench_summary.py list-benches                 # "<package> <bench target>" per line (cargo metadata)
  bench_summary.py summarize --since EPOCH [--status FILE] [--demo FILE]
  bench_summary.py markdown                     # the issue #19 table of the last run, for README

Every row is a time per operation: ratio = ours_ns / peer_ns, lower is better, a row passes
when ratio <= target. Absolute budgets (disabled path, cost computation) use a pseudo peer
("5 ns budget", peer_ns = 5.0) so that ratio <= 1.0 means "within budget". Throughput targets
are inverted into time ratios (>= 0.9x throughput -> <= 1/0.9 = 1.11).

Criterion 0.8 writes `<dir>/criterion/<group>/<function>/new/{estimates,benchmark}.json`
where <dir> is $CARGO_TARGET_DIR or `target/` relative to the directory `cargo bench` ran in
(the package directory), so every plausible location is scanned and each benchmark is keyed
by the (group_id, function_id) recorded in its benchmark.json. Results older than --since are
ignored so a bench that failed this run shows as "not run" instead of a stale figure.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Row:
    name: str
    ours: tuple[str, tuple[str, ...]]  # (group, candidate function ids)
    peer: tuple[str, tuple[str, ...]] | None  # None: absolute budget
    target: float | None
    budget_ns: float | None = None  # absolute budget (peer = "<n> ns budget")
    minus: tuple[str, tuple[str, ...]] | None = None  # subtract from both (added-cost rows)
    bench: str = ""  # which bench file provides it, for "not run" notes


CORE = "baker-otel/benches/core.rs"
AXUM = "baker-otel-axum/benches/axum.rs"
NATS = "baker-otel-nats/benches/propagation.rs"
LLM = "baker-otel-llm/benches/llm.rs"

ROWS: list[Row] = [
    Row("span vs t-o default", ("span", ("ours",)), ("span", ("t-o default",)), 0.6, bench=CORE),
    Row("span vs raw sdk", ("span", ("ours",)), ("span", ("raw sdk",)), 1.5, bench=CORE),
    Row("span via t-o layer vs t-o default", ("span", ("ours via t-o layer",)), ("span", ("t-o default",)), 1.0, bench=CORE),
    Row("json log line vs fmt json + t-o", ("json_log", ("ours",)), ("json_log", ("fmt json + t-o",)), 0.35, bench=CORE),
    Row("disabled span (absolute, report)", ("disabled", ("ours",)), None, None, budget_ns=5.0, bench=CORE),
    Row("disabled span vs no subscriber", ("disabled", ("ours",)), ("disabled", ("no subscriber",)), 1.1, bench=CORE),
    Row(
        "nats inject+extract vs hashmap (trace context)",
        ("inject_extract_trace_context", ("nats_headermap_baker",)),
        ("inject_extract_trace_context", ("hashmap_sdk_composite",)),
        0.5,
        bench=NATS,
    ),
    Row(
        "nats inject+extract vs hashmap (+ 2 baggage ids)",
        ("inject_extract_round_trip", ("nats_headermap_baker",)),
        ("inject_extract_round_trip", ("hashmap_sdk_composite",)),
        0.5,
        bench=NATS,
    ),
    Row("axum added cpu vs OtelAxumLayer", ("axum", ("ours",)), ("axum", ("peer",)), 0.5, minus=("axum", ("bare",)), bench=AXUM),
    Row("axum in-process time vs bare (report)", ("axum", ("ours",)), ("axum", ("bare",)), None, bench=AXUM),
    Row(
        "llm_span! vs hand-written span",
        ("llm_span", ("llm_span_macro_6_attrs_usage_cost_metrics",)),
        ("llm_span", ("hand_written_info_span",)),
        1.1,
        bench=LLM,
    ),
    Row(
        "llm_span! vs hand-written span + same metrics",
        ("llm_span", ("llm_span_macro_6_attrs_usage_cost_metrics",)),
        ("llm_span", ("hand_written_info_span_plus_same_metrics",)),
        None,
        bench=LLM,
    ),
    Row("cost computation (absolute)", ("cost", ("lookup_and_compute",)), None, 1.0, budget_ns=200.0, bench=LLM),
]
DEMO_TARGET = round(1 / 0.95, 2)

# The table issue #19 set (and README's performance section shows): (label, summary row, kind).
# "time" rows read as ours/peer time (lower is better, target is a ceiling); "throughput" rows as
# ours/bare requests per second (higher is better, target is a floor), i.e. 1 / the time ratio.
HEADLINE: list[tuple[str, str, str]] = [
    ("span create + 4 attrs + end vs tracing-opentelemetry defaults (paired)", "span vs t-o default", "time"),
    ("same vs raw SDK (paired)", "span vs raw sdk", "time"),
    ("same span from a crate built on tracing-opentelemetry (`CompatSpans`: its layer, our pipeline) vs tracing-opentelemetry defaults (paired)", "span via t-o layer vs t-o default", "time"),
    ("JSON log line in a span vs fmt JSON + t-o (paired)", "json log line vs fmt json + t-o", "time"),
    ("span with the SDK disabled vs a bare `tracing` span, no subscriber", "disabled span vs no subscriber", "time"),
    ("NATS inject + extract with the two Baker ids in baggage (paired)", "nats inject+extract vs hashmap (+ 2 baggage ids)", "time"),
    ("axum over loopback, throughput vs bare", "axum loopback throughput vs bare (time)", "throughput"),
    ("example pipeline, instrumented vs OTEL_SDK_DISABLED", "example pipeline instrumented vs disabled", "throughput"),
]


def criterion_dirs() -> list[Path]:
    dirs: list[Path] = []
    if os.environ.get("CARGO_TARGET_DIR"):
        dirs.append(Path(os.environ["CARGO_TARGET_DIR"]) / "criterion")
    dirs.append(ROOT / "target" / "criterion")
    dirs += sorted(ROOT.glob("*/target/criterion")) + sorted(ROOT.glob("*/*/target/criterion"))
    return [d for d in dirs if d.is_dir()]


def collect(since: float) -> dict[tuple[str, str], float]:
    """(group_id, function_id) -> median ns, newest measurement wins, only those after `since`."""
    found: dict[tuple[str, str], tuple[float, float]] = {}
    for base in criterion_dirs():
        for meta in base.glob("**/new/benchmark.json"):
            est = meta.with_name("estimates.json")
            try:
                mtime = est.stat().st_mtime
                if mtime < since:
                    continue
                m = json.loads(meta.read_text())
                median = float(json.loads(est.read_text())["median"]["point_estimate"])
            except (OSError, ValueError, KeyError, TypeError):
                continue
            key = (str(m.get("group_id")), str(m.get("function_id")))
            if key not in found or found[key][1] < mtime:
                found[key] = (median, mtime)
    return {k: v[0] for k, v in found.items()}


def collect_paired(since: float) -> dict[tuple[str, str, str], dict]:
    """(group, ours id, peer id) -> entry, from target/bench-paired/*.json written this run.

    A bench may time ours and the peer interleaved (alternating short rounds, median of the
    per-round ratios): on a shared machine that ratio is far steadier than two criterion
    medians taken seconds apart, so it is preferred where present."""
    found: dict[tuple[str, str, str], dict] = {}
    for path in sorted((ROOT / "target" / "bench-paired").glob("*.json")):
        try:
            if path.stat().st_mtime < since:
                continue
            for e in json.loads(path.read_text()):
                found[(str(e["group"]), str(e["ours"]), str(e["peer"]))] = {
                    "ours_ns": float(e["ours_ns"]), "peer_ns": float(e["peer_ns"]), "ratio": float(e["ratio"])}
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def pick(results: dict[tuple[str, str], float], spec: tuple[str, tuple[str, ...]]) -> tuple[str, float] | None:
    group, ids = spec
    for fid in ids:
        if (group, fid) in results:
            return fid, results[(group, fid)]
    return None


def parse_rps(path: Path) -> float | None:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return None
    m = re.findall(r"([0-9]+(?:\.[0-9]+)?)\s*(?:req/s|requests/s|rps)", text)
    return float(m[-1]) if m else None


def axum_loopback_row(since: float) -> dict:
    """Throughput under a local load: the axum bench's loopback run (keep-alive HTTP/1.1 clients,
    written to target/bench-axum.json). As time per request: ratio = bare_rps / ours_rps."""
    row: dict = {"name": "axum loopback throughput vs bare (time)", "ours_ns": None, "peer": "bare axum",
                 "peer_ns": None, "ratio": None, "target": round(1 / 0.85, 2)}
    path = ROOT / "target" / "bench-axum.json"
    try:
        if path.stat().st_mtime < since:
            raise OSError("stale")
        d = json.loads(path.read_text())
        ours, bare = float(d["ours_rps"]), float(d["bare_rps"])
        # Paired: the median of per-round ratios (rounds run bare, ours, peer back to back).
        paired = d.get("rps_ratio")
        ratio = 1 / float(paired) if paired else bare / ours
        row.update(ours_ns=1e9 / ours, peer_ns=1e9 / bare, ratio=ratio)
        if paired:
            row["note"] = "paired: median of per-round ours/bare requests/s"
        floor = d.get("minimal_ratio")
        if floor:
            # The bench's reference floor: a layer that only inserts one constant header.
            row["note"] = (row.get("note", "") + f"; a minimal layer (one constant response header) "
                           f"serves {float(floor):.2f} of bare").lstrip("; ")
        sb, so = d.get("bare_server_cpu_ns"), d.get("ours_server_cpu_ns")
        if sb and so:
            # The server thread's CPU time per request (median over rounds): what the layer
            # costs, where the request rate of a shared VM drifts by ±30 % between rounds.
            row["note"] = (row.get("note", "") + f"; server CPU per request {float(so):.0f} vs "
                           f"{float(sb):.0f} ns (bare/ours {float(sb) / float(so):.2f})").lstrip("; ")
    except (OSError, ValueError, KeyError, TypeError, ZeroDivisionError):
        row["note"] = "not run: no fresh loopback figures in target/bench-axum.json"
    return row


def median_rps(demo_dir: Path, side: str) -> float | None:
    """Median req/s over the rounds `<side>.<n>.txt` (or the single `<side>.txt`)."""
    runs = [r for r in (parse_rps(f) for f in sorted(demo_dir.glob(f"{side}*.txt"))) if r]
    return sorted(runs)[len(runs) // 2] if runs else None


def demo_row(demo_dir: Path | None) -> dict:
    row = {"name": "example pipeline instrumented vs disabled", "ours_ns": None, "peer": "OTEL_SDK_DISABLED=true",
           "peer_ns": None, "ratio": None, "target": DEMO_TARGET}
    report = ROOT / "target" / "bench-demo.json"  # if the example ever writes its own figures
    inst = dis = None
    if report.is_file():
        try:
            d = json.loads(report.read_text())
            inst, dis = float(d["instrumented_rps"]), float(d["disabled_rps"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
    if (inst is None or dis is None) and demo_dir is not None:
        inst, dis = median_rps(demo_dir, "instrumented"), median_rps(demo_dir, "disabled")
    if inst and dis:
        row.update(ours_ns=1e9 / inst, peer_ns=1e9 / dis, ratio=(1e9 / inst) / (1e9 / dis))
    else:
        note = (demo_dir / "note.txt").read_text().strip() if demo_dir and (demo_dir / "note.txt").is_file() else ""
        row["note"] = note or "not run: no req/s figure from target/release/demo"
    return row


def whole_process_rows(since: float) -> list[dict]:
    """The whole-process rows (baker-otel/benches/whole_process.rs, target/bench-whole-process.json):
    process CPU per span / log line of `init()` + plain tracing exporting to a live OTLP receiver,
    vs the same program on tracing-opentelemetry + the SDK batch processors. A row misses when
    ours dropped more than the peer, whatever its ratio."""
    base = Path(os.environ["CARGO_TARGET_DIR"]) if os.environ.get("CARGO_TARGET_DIR") else ROOT / "target"
    path = base / "bench-whole-process.json"
    try:
        if path.stat().st_mtime < since:
            raise OSError("stale")
        rows = [dict(r) for r in json.loads(path.read_text()) if isinstance(r, dict) and r.get("name")]
    except (OSError, ValueError, TypeError):
        return [{"name": "whole process", "ours_ns": None, "peer": None, "peer_ns": None, "ratio": None,
                 "target": None, "note": "not run: no fresh target/bench-whole-process.json (baker-otel/benches/whole_process.rs)"}]
    for r in rows:
        od, pd = r.get("ours_dropped"), r.get("peer_dropped")
        if isinstance(od, (int, float)) and isinstance(pd, (int, float)) and od > pd:
            r["drops"] = True
            if "drops" not in str(r.get("note", "")):
                r["note"] = (str(r.get("note") or "") + "; drops: ours dropped more than the peer").lstrip("; ")
    return rows


def summarize(since: float, status: Path | None, demo_dir: Path | None) -> int:
    results = collect(since)
    paired = collect_paired(since)
    failed = {}
    if status and status.is_file():
        for line in status.read_text().splitlines():
            parts = line.split(" ", 2)
            if len(parts) >= 2 and parts[1] != "ok":
                failed[parts[0]] = parts[2] if len(parts) > 2 else parts[1]
    out = []
    for r in ROWS:
        row: dict = {"name": r.name, "ours_ns": None, "peer": None, "peer_ns": None, "ratio": None, "target": r.target}
        ours = pick(results, r.ours)
        peer = pick(results, r.peer) if r.peer else ("%g ns budget" % r.budget_ns, r.budget_ns)
        minus = pick(results, r.minus) if r.minus else ("", 0.0)
        if r.peer is None:
            row["peer"] = "%g ns budget" % r.budget_ns
        pair = paired.get((r.ours[0], ours[0], peer[0])) if ours and peer and r.peer and not r.minus else None
        if pair:
            row.update(ours_ns=pair["ours_ns"], peer=peer[0], peer_ns=pair["peer_ns"], ratio=pair["ratio"])
            row["note"] = "paired: ours and peer timed in alternating rounds, median ratio"
        elif ours and peer and minus:
            o, p = ours[1] - minus[1], peer[1] - minus[1]
            row.update(ours_ns=o, peer=peer[0] + (" - " + minus[0] if r.minus else ""), peer_ns=p)
            row["ratio"] = o / p if p > 0 else None
        else:
            why = failed.get(r.bench)
            row["note"] = f"not run ({r.bench}{': ' + why if why else ': no matching criterion ids'})"
        out.append(row)
    out.append(axum_loopback_row(since))
    out.append(demo_row(demo_dir))
    out += whole_process_rows(since)
    for row in out:
        row["pass"] = None if row["ratio"] is None or row["target"] is None else row["ratio"] <= row["target"]
        if row.pop("drops", False) and row["pass"] is not None:
            row["pass"] = False

    dest = ROOT / "target" / "bench-summary.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=2) + "\n")

    def f(v, fmt):
        return "-" if v is None else fmt % v

    print(f"\n{'row':<44} {'ours ns':>11} {'peer':<28} {'peer ns':>11} {'ratio':>7} {'target':>7}  result")
    for row in out:
        verdict = {True: "PASS", False: "MISS", None: "report" if row["ratio"] is not None else "not run"}[row["pass"]]
        print(f"{row['name']:<44} {f(row['ours_ns'], '%.1f'):>11} {str(row['peer'] or '-')[:28]:<28} "
              f"{f(row['peer_ns'], '%.1f'):>11} {'-' if row['ratio'] is None else shown(row['ratio'], row['target']):>7} "
              f"{f(row['target'], '%.2f'):>7}  {verdict}")
        if row.get("note"):
            print(f"{'':<4}{row['note']}")
    print_headline(out)
    print(f"\nwrote {dest.relative_to(ROOT)}")
    return 0


def headline_rows(out: list[dict]) -> list[tuple[str, str, str, str]]:
    """(label, today, target, result) for the issue #19 table plus every whole-process row."""
    by_name = {r["name"]: r for r in out}
    wanted = list(HEADLINE) + [(r["name"], r["name"], "time") for r in out if r["name"].startswith("whole process")]
    rows = []
    for label, name, kind in wanted:
        r = by_name.get(name, {})
        ratio, target = r.get("ratio"), r.get("target")
        if kind == "throughput":
            today = "-" if not ratio else shown(1 / ratio, target and 1 / target) + "×"
            goal = "-" if not target else "≥ %.2f×" % (1 / target)
        else:
            today = "-" if ratio is None else shown(ratio, target)
            goal = "-" if target is None else "≤ %g" % target
        if kind == "time" and r.get("ours_ns") is not None and r.get("peer_ns") is not None and ratio is not None:
            today += " (%s vs %s ns)" % (fmt_ns(r["ours_ns"]), fmt_ns(r["peer_ns"]))
        od, pd = r.get("ours_dropped"), r.get("peer_dropped")
        if od is not None and pd is not None and ratio is not None:
            today += f"; dropped {od:,} vs {pd:,}"
        result = {True: "PASS", False: "MISS", None: "report" if ratio is not None else "not run"}[r.get("pass")]
        rows.append((label, today, goal, result))
    return rows


def shown(value: float, target: float | None) -> str:
    """`value` to 2 decimals, or 3 where 2 would print the target itself (a MISS by 0.003
    must not read as the target)."""
    two = "%.2f" % value
    if target is not None and two == "%.2f" % target and value != target:
        return "%.3f" % value
    return two


def fmt_ns(v: float) -> str:
    return "%.1f" % v if v < 100 else "%.0f" % v


def print_headline(out: list[dict]) -> None:
    rows = headline_rows(out)
    w, t = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    print(f"\nissue #19 table: today vs target\n{'row':<{w}}  {'today':<{t}}  {'target':<9} result")
    for label, today, goal, result in rows:
        print(f"{label:<{w}}  {today:<{t}}  {goal:<9} {result}")


def markdown() -> int:
    """The issue #19 table of the last run (target/bench-summary.json) as Markdown, for README."""
    try:
        out = json.loads((ROOT / "target" / "bench-summary.json").read_text())
    except (OSError, ValueError) as e:
        print(f"no target/bench-summary.json ({e}); run scripts/bench first", file=sys.stderr)
        return 1
    print("| hot path | today | target | result |\n|---|---|---|---|")
    for label, today, goal, result in headline_rows(out):
        print(f"| {label} | {today} | {goal} | {result} |")
    return 0


def list_benches() -> int:
    try:
        meta = json.loads(subprocess.run(["cargo", "metadata", "--no-deps", "--format-version", "1"], cwd=ROOT,
                                         check=True, capture_output=True, text=True).stdout)
    except (subprocess.CalledProcessError, ValueError) as e:
        print(f"cargo metadata failed: {e}", file=sys.stderr)
        return 1
    for pkg in meta["packages"]:
        for t in pkg["targets"]:
            if "bench" in t["kind"]:
                src = os.path.relpath(t["src_path"], ROOT)
                print(pkg["name"], t["name"], src)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list-benches")
    sub.add_parser("markdown")
    s = sub.add_parser("summarize")
    s.add_argument("--since", type=float, default=0.0)
    s.add_argument("--status", type=Path)
    s.add_argument("--demo", type=Path)
    a = ap.parse_args()
    if a.cmd == "list-benches":
        return list_benches()
    if a.cmd == "markdown":
        return markdown()
    return summarize(a.since, a.status, a.demo)


if __name__ == "__main__":
    sys.exit(main())
