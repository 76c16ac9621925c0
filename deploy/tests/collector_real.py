#!/usr/bin/env python3
"""Every collector config deploy/ renders, loaded by the real Collector (our distribution,
collector/manifest.yaml, built by scripts/go-build).

usage: collector_real.py [--work DIR] NAME=RENDERED.yaml [NAME=RENDERED.yaml ...]

For each collector container of each render (base, local, grafana-cloud, scale-out agent and
gateway, ...):
  1. `otelcol-baker validate` on its --config files exactly as mounted in the pod, with the
     pod's environment (downward-API and Secret values made up);
  2. the program really starts with the loopback copy of the same files (realstack.loopback:
     listen addresses and endpoints on 127.0.0.1, storage in a temp dir, k8s_attributes in
     passthrough mode; no other edit), becomes healthy on its health_check endpoint and serves
     its self-metrics, where every counter ends in `_total` (the names the alert rules use);
  3. it stops on SIGTERM, and its log holds no line at warn level or above and no deprecation.
Prints PASS/FAIL per check, ends with "collector-checks: N passed, M failed".
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realstack  # noqa: E402
from realstack import check, summary  # noqa: E402

def counters_without_total(metrics_text: str) -> list[str]:
    names = re.findall(r"^# TYPE (\S+) counter$", metrics_text, re.M)
    return [n for n in names if not n.endswith("_total")]


def validate(otelcol: str, spec: realstack.CollectorSpec, work: Path) -> None:
    d = work / "as-mounted"
    d.mkdir(parents=True, exist_ok=True)
    args = []
    for i, (pod_path, text) in enumerate(spec.files):
        p = d / f"{i}-{Path(pod_path).name}"
        p.write_text(text)
        args.append(f"--config=file:{p}")
    out = subprocess.run([otelcol, "validate", *args], capture_output=True, text=True,
                         env={**os.environ, **spec.env}, timeout=120)
    problems = realstack.collector_log_problems(out.stdout + out.stderr)
    check(out.returncode == 0, f"validate [{spec.slug}] ({', '.join(p for p, _ in spec.files)})",
          (out.stderr or out.stdout)[-2000:])
    check(not problems, f"validate [{spec.slug}] logs no warning or deprecation", "\n".join(problems[:20]))


def run(otelcol: str, spec: realstack.CollectorSpec, work: Path, sink: int) -> None:
    # gRPC exporters connect at start: they (and the load_balancing resolver) get a live OTLP
    # endpoint, the Jaeger sink; HTTP exporters connect only when data flows.
    paths, lb, env = realstack.write_loopback_spec(spec, work / "loopback", targets={"otlp_grpc": sink},
                                                   gateway_port=sink)
    proc = realstack.Proc([otelcol, *[f"--config=file:{p}" for p in paths]], work / "run.log", env=env)
    what = f"run [{spec.slug}]"
    try:
        try:
            realstack.wait_for(lambda: proc.alive() and lb.health and
                               realstack.http_get(f"http://127.0.0.1:{lb.health}/")[0] == 200,
                               60, "health_check to report ready")
            healthy = True
        except TimeoutError as e:
            healthy = False
            check(False, f"{what} starts and reports healthy", f"{e}\n{proc.text()[-3000:]}")
        if healthy:
            check(True, f"{what} starts and reports healthy on its health_check endpoint")
            time.sleep(2)  # let every component finish starting (and log whatever it logs)
            status, body = realstack.http_get(f"http://127.0.0.1:{lb.metrics}/metrics")
            text = body.decode(errors="replace")
            check(status == 200 and "otelcol_" in text, f"{what} serves its self-metrics", text[:500])
            bad = counters_without_total(text)
            check(not bad, f"{what} self-metric counters end in _total (as the alert rules query them)",
                  ", ".join(bad[:10]))
    finally:
        rc = proc.stop()
    log = proc.text()
    check(rc == 0 and "Shutdown complete" in log, f"{what} shuts down cleanly on SIGTERM", log[-1500:])
    problems = realstack.collector_log_problems(log)
    check(not problems, f"{what} logs no warning, error or deprecation", "\n".join(problems[:20]))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work")
    ap.add_argument("renders", nargs="+", metavar="NAME=FILE")
    args = ap.parse_args(argv)
    otelcol = realstack.go_binary("otelcol-baker")
    work = Path(args.work or tempfile.mkdtemp(prefix="collector-real-"))
    seen = 0
    sink = realstack.Jaeger(work / "jaeger")
    try:
        for spec_arg in args.renders:
            name, _, path = spec_arg.rpartition("=")
            for spec in realstack.collector_specs(name or path, Path(path).read_text()):
                seen += 1
                d = work / spec.slug
                validate(otelcol, spec, d)
                run(otelcol, spec, d, sink.otlp_grpc)
    finally:
        sink.stop()
    check(seen > 0, "at least one collector config found in the renders")
    return summary("collector-checks")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
