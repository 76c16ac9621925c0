#!/usr/bin/env python3
"""End-to-end alert delivery against the running example pipeline (loopback only):

    real brain + worker /metrics  ->  Prometheus 3 (scripts/go-build) with the production rule files
    ->  Alertmanager (scripts/go-build) with the production routing tree
    ->  a webhook receiver in this script

The production files stay the source of truth; the test copies only shorten time (every
`for:` becomes 0s, rule groups evaluate every second, Alertmanager's group_wait /
group_interval are 1s) and set this environment's LLM budget the documented way (the
recording rule currency:baker_llm_cost_budget:per_hour, production default 5 USD/h) to
0.01 USD/h, which the example's real LLM spend exceeds within seconds. Every receiver of deploy/base/alertmanager/alertmanager.yml gets a
webhook to this script, so the payload also shows which route matched.

Passes when an alert driven by the pipeline's real traffic (default: the budget alert
BakerLlmCostBurnAboveBudget)
arrives with its labels (alertname, severity, job), summary, description and runbook_url,
Watchdog arrives through the `watchdog` route, and a warning for a service whose critical
alert fires is inhibited. Bounded by --timeout; every process it
starts is stopped on exit.

usage: alert_e2e.py --target brain=URL --target worker=URL [--alert NAME] [--timeout S]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "deploy/base/prometheus/rules"
AM_CONFIG = REPO / "deploy/base/alertmanager/alertmanager.yml"
README = REPO / "deploy/README.md"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, deadline: float) -> bool:
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except OSError:
            time.sleep(0.2)
    return False


class Webhook:
    """Collects Alertmanager webhook payloads POSTed to 127.0.0.1:<port>/<receiver>."""

    def __init__(self):
        self.payloads: list[dict] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                try:
                    outer.payloads.append(dict(json.loads(body), _path=self.path))
                except ValueError:
                    pass
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self):
        for p in list(self.payloads):
            for a in p.get("alerts") or []:
                yield p, a

    def close(self):
        self.server.shutdown()


BUDGET_RULE = "currency:baker_llm_cost_budget:per_hour"


def test_rules(tmp: Path, budget: float) -> list[str]:
    out, found = [], []
    for f in sorted(RULES_DIR.glob("*.yaml")):
        doc = yaml.safe_load(f.read_text())
        for g in doc.get("groups") or []:
            g["interval"] = "1s"
            for r in g.get("rules") or []:
                if "for" in r:
                    r["for"] = "0s"
                # The per-environment budget (a recording rule meant to be overridden):
                # this environment's is tiny, so the example's real spend exceeds it.
                if r.get("record") == BUDGET_RULE:
                    r["expr"] = f'label_replace(vector({budget}), "currency", "USD", "", "")'
                    found.append(r["record"])
        (tmp / "rules").mkdir(exist_ok=True)
        dst = tmp / "rules" / f.name  # same file names as deploy/ (checkers match on them)
        dst.write_text(yaml.safe_dump(doc, sort_keys=False))
        out.append(str(dst))
    if not found:
        raise SystemExit(f"FAIL recording rule {BUDGET_RULE} not found in {RULES_DIR}")
    return out


def test_alertmanager_config(tmp: Path, hook: str) -> Path:
    cfg = yaml.safe_load(AM_CONFIG.read_text())
    for k in ("group_wait", "group_interval"):
        cfg["route"][k] = "1s"
    for rcv in cfg["receivers"]:
        rcv["webhook_configs"] = [{"url": f"{hook}/{rcv['name']}", "send_resolved": False}]
    dst = tmp / "alertmanager.yml"
    dst.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dst


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", action="append", default=[], metavar="JOB=URL")
    ap.add_argument("--alert", default="BakerLlmCostBurnAboveBudget")
    ap.add_argument("--budget-usd-per-hour", type=float, default=0.01,
                    help="test value of the per-environment budget rule (production: 5)")
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    # `timeout` sends SIGTERM: unwind through `finally` so Prometheus/Alertmanager stop too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for tool in ("prometheus", "alertmanager", "amtool"):
        if not shutil.which(tool):
            print(f"FAIL {tool} not on PATH (scripts/go-build; scripts/lib.sh ensure_go_tools)")
            return 1
    tmp = Path(tempfile.mkdtemp(prefix="alert-e2e-"))
    procs: list[subprocess.Popen] = []
    hook = Webhook()
    failed = passed = 0

    def check(ok: bool, what: str, detail: str = ""):
        nonlocal failed, passed
        failed += not ok
        passed += bool(ok)
        print(f"{'PASS' if ok else 'FAIL'}  {what}" + (f"  {detail}" if detail else ""))

    try:
        deadline = time.time() + args.timeout
        am_cfg = test_alertmanager_config(tmp, hook.url)
        p = subprocess.run(["amtool", "check-config", str(am_cfg)], capture_output=True, text=True)
        check(p.returncode == 0, "amtool check-config (test copy of the production routing)", p.stderr.strip()[-200:])
        am_port, prom_port = free_port(), free_port()
        am_log = open(tmp / "alertmanager.log", "w")
        procs.append(subprocess.Popen(
            ["alertmanager", f"--config.file={am_cfg}", f"--storage.path={tmp / 'am'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
            stdout=am_log, stderr=subprocess.STDOUT))
        scrapes = []
        for spec in args.target:
            job, url = spec.split("=", 1)
            u = urllib.parse.urlsplit(url)
            scrapes.append({"job_name": job, "metrics_path": u.path or "/metrics",
                            "static_configs": [{"targets": [u.netloc]}]})
        prom_cfg = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": test_rules(tmp, args.budget_usd_per_hour),
            "alerting": {"alertmanagers": [{"api_version": "v2",
                                            "static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
            "scrape_configs": scrapes,
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(prom_cfg, sort_keys=False))
        prom_log = open(tmp / "prometheus.log", "w")
        procs.append(subprocess.Popen(
            ["prometheus", f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--rules.alert.resend-delay=1s", "--log.level=warn"],
            stdout=prom_log, stderr=subprocess.STDOUT))
        check(wait_http(f"http://127.0.0.1:{am_port}/-/ready", deadline), f"Alertmanager ready on 127.0.0.1:{am_port}")
        check(wait_http(f"http://127.0.0.1:{prom_port}/-/ready", deadline), f"Prometheus ready on 127.0.0.1:{prom_port}")

        got = watchdog = None
        while time.time() < deadline and (got is None or watchdog is None):
            for payload, a in hook.alerts():
                name = a.get("labels", {}).get("alertname")
                if name == args.alert and got is None:
                    got = (payload, a)
                if name == "Watchdog" and watchdog is None:
                    watchdog = payload
            time.sleep(0.5)
        check(watchdog is not None and watchdog.get("receiver") == "watchdog",
              "Watchdog delivered through the 'watchdog' route", str((watchdog or {}).get("receiver")))
        check(got is not None, f"{args.alert} driven by the live pipeline reached the webhook",
              f"received: {sorted({(p.get('receiver'), a.get('labels', {}).get('alertname')) for p, a in hook.alerts()})}")
        if got:
            payload, a = got
            labels, ann = a.get("labels", {}), a.get("annotations", {})
            print(f"      payload: receiver={payload.get('receiver')} labels={labels}")
            print(f"      summary={ann.get('summary')!r} runbook_url={ann.get('runbook_url')!r}")
            check(labels.get("severity") in ("critical", "warning"), "alert carries severity", str(labels))
            check(set(labels) - {"alertname", "severity"} != set(), "alert carries identifying labels", str(labels))
            check(payload.get("receiver") == labels.get("severity"), "routed by severity",
                  f"receiver {payload.get('receiver')}")
            check(bool(ann.get("summary")) and bool(ann.get("description")), "summary and description present")
            anchor = (ann.get("runbook_url") or "").rpartition("#")[2]
            check(anchor == args.alert.lower() and f"### {args.alert}" in README.read_text(),
                  "runbook_url points at its README section", ann.get("runbook_url", ""))
        # Inhibition: a warning about a service whose critical alert fires is muted. No
        # collector runs here, so OtelCollectorDown (critical, job="otel-collector") fires;
        # a queue warning for the same job must be inhibited by the production rules.
        am = f"http://127.0.0.1:{am_port}/api/v2"
        if any(a.get("labels", {}).get("alertname") == "OtelCollectorDown" for _, a in hook.alerts()):
            probe = [{"labels": {"alertname": "OtelCollectorSendingQueueFull", "severity": "warning",
                                 "job": "otel-collector", "exporter": "e2e-probe"}}]
            req = urllib.request.Request(f"{am}/alerts", data=json.dumps(probe).encode(),
                                         headers={"content-type": "application/json"})
            urllib.request.urlopen(req, timeout=5).close()
            inhibited = []
            for _ in range(20):
                q = urllib.parse.quote('alertname="OtelCollectorSendingQueueFull"')
                with urllib.request.urlopen(f"{am}/alerts?filter={q}", timeout=5) as r:
                    inhibited = [a["status"]["inhibitedBy"] for a in json.load(r)]
                if inhibited and inhibited[0]:
                    break
                time.sleep(0.5)
            check(bool(inhibited and inhibited[0]), "a warning for job otel-collector is inhibited by the critical OtelCollectorDown",
                  str(inhibited))
        else:
            print("SKIP  inhibition (OtelCollectorDown is not firing: a collector is scraped)")
        if failed:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{am_port}/api/v2/alerts/groups", timeout=5) as r:
                    groups = json.load(r)
                with urllib.request.urlopen(f"http://127.0.0.1:{am_port}/api/v2/alerts", timeout=5) as r:
                    print("--- Alertmanager alerts:", [(a["labels"].get("alertname"), a["status"]) for a in json.load(r)])
                print("--- Alertmanager groups:", [(g["receiver"]["name"], [a["labels"].get("alertname") for a in g["alerts"]]) for g in groups])
                with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/alerts", timeout=5) as r:
                    print("--- Prometheus alerts:", sorted((a["labels"]["alertname"], a["state"])
                                                         for a in json.load(r)["data"]["alerts"]))
            except OSError as e:
                print("--- Alertmanager/Prometheus API unavailable:", e)
            for log in ("prometheus.log", "alertmanager.log"):
                print(f"--- {log} (tail)")
                print("\n".join((tmp / log).read_text().splitlines()[-15:]))
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        hook.close()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"alert-e2e: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
