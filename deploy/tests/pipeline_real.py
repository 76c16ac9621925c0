#!/usr/bin/env python3
"""The example pipeline's telemetry through the real stack, on loopback:

    brain + worker (release build, OTLP/gRPC)
      -> our Collector (collector/manifest.yaml) running deploy/'s base config
           traces  -> Jaeger v2 (trace store: trace by id)
           metrics -> Prometheus 3 OTLP receiver, with deploy/'s Prometheus flags, otlp block
                      and rules; Prometheus also scrapes the collector's self-metrics as
                      job="otel-collector", like deploy/ does
           logs    -> an OTLP/HTTP receiver in this script (where Loki's /otlp would be)
      Prometheus -> Alertmanager (deploy/'s routing) -> a webhook in this script

Phase 1 (healthy): every 200 response's X-Trace-Id is found in Jaeger with the whole
Brain -> NATS -> Worker tree; the request's log lines arrive with that trace id from both
services; Prometheus holds the services' OTLP metrics and the collector's counters (with
`_total`); the effective retention is the manifest's and below the volume alert threshold;
every dashboard panel query returns data where traffic exists (check_dashboards.py --live).
Phase 2 (broken backends): the collector restarts with the same config, Tempo's endpoint
pointing at a gRPC server without the OTLP trace service (Jaeger's query port: permanent
Unimplemented errors) and Loki's at a closed port (retried, its queue fills): the real
counters drive OtelCollectorRefusingData and BakerTelemetryDropped to firing in Prometheus,
and Alertmanager delivers both to the webhook.
Only time is shortened in the test copies (rules `for: 0s`, 1 s intervals), as in alert_e2e.py.

usage: pipeline_real.py --brain BIN --worker BIN [--requests N] [--timeout S]
Prints PASS/FAIL lines and "pipeline-real: N passed, M failed".
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realstack  # noqa: E402
from realstack import check, summary  # noqa: E402
from alert_e2e import Webhook, test_alertmanager_config, test_rules  # noqa: E402
from realstack import Proc, free_port, http_get, wait_for  # noqa: E402

REPO = realstack.REPO
def rendered_prometheus(work: Path) -> tuple[dict, list[str], dict]:
    """deploy/'s Prometheus as rendered: (config, container args, rendered PVC size bytes)."""
    import checks_stack
    from checks_k8s import parse_bytes
    from check_prometheus import _claim_for
    from manifests import Index, arg_value, load_documents
    import prometheus_split
    text = subprocess.run(["kubectl", "kustomize", str(REPO / "deploy")], capture_output=True, text=True, check=True).stdout
    idx = Index.build(load_documents(text))
    w, c = checks_stack.find_workload(idx, "prom/prometheus")[0]
    path, cfg_text, files = checks_stack.prometheus_config(idx, w, c)
    s = prometheus_split.split(cfg_text, path, files, keep=True)
    claim = _claim_for(idx, w, c, arg_value(c.get("args") or [], "--storage.tsdb.path") or "/prometheus")
    cap = parse_bytes(claim["spec"]["resources"]["requests"]["storage"])
    return s.compat, list(c.get("args") or []), {"pvc_bytes": cap}


def start_prometheus(work: Path, port: int, am_port: int, collector_metrics: str) -> tuple[Proc, dict]:
    cfg, args, facts = rendered_prometheus(work)
    cfg["global"].update({"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"})
    cfg["rule_files"] = test_rules(work, budget=1000.0)
    cfg.pop("scrape_config_files", None)
    u = urllib.parse.urlsplit(collector_metrics)
    # deploy/ discovers the collector pod in Kubernetes; here the same job name, one static target
    cfg["scrape_configs"] = [{"job_name": "otel-collector", "sample_limit": 10000, "label_limit": 40,
                              "static_configs": [{"targets": [u.netloc]}]}]
    cfg["alerting"] = {"alertmanagers": [{"api_version": "v2", "static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]}
    (work / "prometheus.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    keep = [a for a in args if not a.startswith(("--config.file", "--storage.tsdb.path", "--web.listen-address"))]
    argv = [realstack.go_binary("prometheus"), f"--config.file={work / 'prometheus.yml'}",
            f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
            "--rules.alert.resend-delay=1s", *keep]
    proc = Proc(argv, work / "prometheus.log")
    wait_for(lambda: proc.alive() and http_get(f"http://127.0.0.1:{port}/-/ready")[0] == 200, 60, "Prometheus ready")
    return proc, facts


def prom_query(port: int, q: str) -> list[dict]:
    status, body = http_get(f"http://127.0.0.1:{port}/api/v1/query?query={urllib.parse.quote(q)}")
    return json.loads(body)["data"]["result"] if status == 200 else []


def trace_tree_problems(spans: list[dict]) -> list[str]:
    ids = {s["spanID"] for s in spans}
    roots, out = [], []
    for s in spans:
        parents = [r["spanID"] for r in s.get("references") or [] if r.get("refType") == "CHILD_OF"]
        if not parents:
            roots.append(s["operationName"])
        out += [f"{s['operationName']}: parent {p} not in the trace" for p in parents if p not in ids]
    if len(roots) != 1:
        out.append(f"{len(roots)} roots: {roots}")
    names = {(s["serviceName"], s["operationName"].split(" ")[0]) for s in spans}
    for need in [("brain", "POST"), ("brain", "send"), ("worker", "process"), ("worker", "invoke_agent"),
                 ("worker", "chat"), ("brain", "process")]:
        if need not in names:
            out.append(f"no {need[1]} span of {need[0]}")
    return out


BODIES = [b'{not json', b'{"message":"How much tea is in my standing order? What is 12 * 7?"}',
          b'{"message":"please fail tool"}', b'{"message":"What is 6 * 7?"}']


def send_requests(brain: str, n: int) -> list[tuple[int, str]]:
    """n requests: good ones, a tool failure the agent recovers from, and bad JSON (400)."""
    out = []
    for i in range(n):
        req = urllib.request.Request(f"http://{brain}/v1/conversations/real-{i % 3}/messages", data=BODIES[i % 4],
                                     headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                out.append((r.status, r.headers.get("x-trace-id", "")))
        except urllib.error.HTTPError as e:
            out.append((e.code, e.headers.get("x-trace-id", "")))
    return out


def flood_logs(otlp_http: str, batches: int, per_batch: int) -> int:
    """OTLP/HTTP log exports straight to the collector; returns how many were refused."""
    rec = logs_pb2.LogRecord(body=common_pb2.AnyValue(string_value="flood " + "x" * 64), severity_number=9)
    req = logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
        resource={"attributes": [common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="flood"))]},
        scope_logs=[logs_pb2.ScopeLogs(log_records=[rec] * per_batch)])]).SerializeToString()
    refused = 0
    for _ in range(batches):
        r = urllib.request.Request(f"{otlp_http}/v1/logs", data=req, headers={"content-type": "application/x-protobuf"})
        try:
            urllib.request.urlopen(r, timeout=30).close()
        except urllib.error.HTTPError:
            refused += 1
    return refused


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--brain", required=True)
    ap.add_argument("--worker", required=True)
    ap.add_argument("--requests", type=int, default=12)
    ap.add_argument("--timeout", type=float, default=150)
    ap.add_argument("--record-fixtures", metavar="DIR",
                    help="after phase 1, write the scrapes of brain, worker and the collector to DIR "
                         "(brain.prom, worker.prom, otelcol.prom: check_dashboards --self-test's fixtures)")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="pipeline-real-"))
    stop: list = []
    sink, hook = realstack.OtlpHttpSink(), Webhook()
    suffix = f"{random.getrandbits(32):08x}"
    try:
        jaeger = realstack.Jaeger(work / "jaeger"); stop.append(jaeger)
        am_port = free_port()
        am = Proc([realstack.go_binary("alertmanager"), f"--config.file={test_alertmanager_config(work, hook.url)}",
                   f"--storage.path={work / 'am'}", f"--web.listen-address=127.0.0.1:{am_port}",
                   "--cluster.listen-address="], work / "alertmanager.log"); stop.append(am)
        prom_port = free_port()
        spec = realstack.base_collector_spec()
        col = realstack.Collector(spec, work / "collector", targets={
            "otlp_grpc": jaeger.otlp_grpc, "otlp_http/loki": sink.port, "otlp_http/prometheus": prom_port})
        stop.append(col)
        (work / "prom").mkdir()
        prom, facts = start_prometheus(work / "prom", prom_port, am_port, col.metrics_url); stop.append(prom)
        check(True, "Jaeger, Alertmanager, Prometheus 3 and the Collector (deploy/ base config) are up")

        info = json.loads(http_get(f"http://127.0.0.1:{prom_port}/api/v1/status/runtimeinfo")[1])["data"]
        retention = info.get("storageRetention", "")
        size_gib = float(retention.split(" or ")[-1].removesuffix("GiB")) if "GiB" in retention else None
        check(size_gib is not None and size_gib * 2**30 <= 0.75 * facts["pvc_bytes"],
              f"Prometheus reports retention {retention!r}: at most 75 % of its {facts['pvc_bytes'] / 2**30:.0f}Gi volume", retention)

        env = {"NATS_URL": os.environ["NATS_URL"], "BAKER_STREAM": f"REAL_JOBS_{suffix}",
               "BAKER_SUBJECT_PREFIX": f"real_{suffix}.jobs", "BAKER_CONSUMER": f"worker-{suffix}",
               "OTEL_EXPORTER_OTLP_ENDPOINT": col.otlp_grpc, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
               "OTEL_TRACES_EXPORTER": "otlp", "OTEL_LOGS_EXPORTER": "otlp", "OTEL_METRICS_EXPORTER": "otlp,prometheus",
               "BAKER_LLM_JOB_BUDGET_USD": "0.005",
               "OTEL_METRIC_EXPORT_INTERVAL": "1000", "OTEL_BSP_SCHEDULE_DELAY": "200", "OTEL_BLRP_SCHEDULE_DELAY": "200",
               "WORKER_METRICS_ADDR": f"127.0.0.1:{free_port()}", "BRAIN_METRICS_ADDR": f"127.0.0.1:{free_port()}"}
        brain_addr = f"127.0.0.1:{free_port()}"
        worker = Proc([args.worker], work / "worker.log", env={**env, "OTEL_SERVICE_NAME": "worker"}); stop.append(worker)
        wait_for(lambda: http_get(f"http://{env['WORKER_METRICS_ADDR']}/healthz")[0] == 200, 30, "worker healthy")
        brain = Proc([args.brain], work / "brain.log", env={**env, "OTEL_SERVICE_NAME": "brain", "BRAIN_ADDR": brain_addr})
        stop.append(brain)
        wait_for(lambda: http_get(f"http://{brain_addr}/healthz")[0] == 200, 30, "brain healthy")

        answers = send_requests(brain_addr, args.requests)
        ok_ids = [t for s, t in answers if s == 200 and t]
        check(len(ok_ids) >= args.requests // 2 and all(t for _, t in answers),
              f"{len(ok_ids)} of {len(answers)} requests answered 200, every response has X-Trace-Id", str(answers))
        for tid in ok_ids[:5]:
            try:
                spans = wait_for(lambda: (lambda s: s if not trace_tree_problems(s) else None)(jaeger.trace(tid)),
                                 30, f"trace {tid} complete in Jaeger")
                check(True, f"trace {tid}: {len(spans)} spans in Jaeger, one tree brain -> NATS -> worker -> brain")
            except TimeoutError:
                check(False, f"trace {tid} complete in Jaeger", "; ".join(trace_tree_problems(jaeger.trace(tid))))
        try:
            wait_for(lambda: all({"brain", "worker"} <= {s for s, t, _ in sink.records if t == tid} for tid in ok_ids[:5]),
                     30, "log records of both services for each trace")
            check(True, "log records with each request's trace id arrive from brain and worker (collector otlp_http/loki)")
        except TimeoutError:
            check(False, "log records with each request's trace id from brain and worker",
                  f"{len(sink.records)} records; services {sorted({s for s, _, _ in sink.records})}")
        for q, what in [('sum(http_server_request_duration_seconds_count{job="brain"})', "brain HTTP metrics (OTLP)"),
                        ('sum(gen_ai_client_token_usage_sum)', "token usage (OTLP)"),
                        ('sum(otelcol_receiver_accepted_spans_total{job="otel-collector"})', "collector counters with _total (scraped)")]:
            try:
                wait_for(lambda: prom_query(prom_port, q), 40, what)
                check(True, f"Prometheus 3 has {what}: {q}")
            except TimeoutError:
                check(False, f"Prometheus 3 has {what}: {q}")
        if args.record_fixtures:
            record_fixtures(Path(args.record_fixtures), {
                "brain.prom": (f"http://{env['BRAIN_METRICS_ADDR']}/metrics", f"http://{brain_addr}/metrics"),
                "worker.prom": (f"http://{env['WORKER_METRICS_ADDR']}/metrics",),
                "otelcol.prom": (col.metrics_url,)})
        dash = subprocess.run([sys.executable, str(REPO / "deploy/tests/check_dashboards.py"), "--live",
                               "--prometheus", f"http://127.0.0.1:{prom_port}"], capture_output=True, text=True)
        check(dash.returncode == 0, "every dashboard panel query returns data in this Prometheus (check_dashboards --live)",
              "\n".join(l for l in dash.stdout.splitlines() if "FAIL" in l)[-3000:] or dash.stderr[-2000:])

        # ---- phase 2: broken backends
        col.stop(); stop.remove(col)
        col = realstack.Collector(spec, work / "collector3", targets={
            "otlp_grpc": jaeger.ports["QUERY_GRPC"], "otlp_http/loki": free_port(), "otlp_http/prometheus": prom_port})
        stop.append(col)
        reload_scrape(work / "prom", prom, col.metrics_url)
        brain.stop(); worker.stop(); stop.remove(brain); stop.remove(worker)
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = col.otlp_grpc
        worker = Proc([args.worker], work / "worker2.log", env={**env, "OTEL_SERVICE_NAME": "worker"}); stop.append(worker)
        wait_for(lambda: http_get(f"http://{env['WORKER_METRICS_ADDR']}/healthz")[0] == 200, 30, "worker healthy")
        brain = Proc([args.brain], work / "brain2.log", env={**env, "OTEL_SERVICE_NAME": "brain", "BRAIN_ADDR": brain_addr})
        stop.append(brain)
        wait_for(lambda: http_get(f"http://{brain_addr}/healthz")[0] == 200, 30, "brain healthy")
        send_requests(brain_addr, 4)
        # rate() needs the counter's samples from before the refusals: wait for the first scrape
        wait_for(lambda: prom_query(prom_port, 'otelcol_receiver_refused_log_records_total{job="otel-collector"}'),
                 60, "the restarted collector's refused-log-records counter in Prometheus")
        refused = flood_logs(col.otlp_http, batches=40, per_batch=8000)
        check(refused > 0, f"a Loki outage fills the collector's 200000-item log queue: {refused} of 40 exports refused")
        want = {"OtelCollectorRefusingData", "BakerTelemetryDropped"}
        deadline = time.monotonic() + args.timeout
        got: dict[str, dict] = {}
        while time.monotonic() < deadline and set(got) != want:
            send_requests(brain_addr, 1)
            flood_logs(col.otlp_http, batches=2, per_batch=8000)  # Loki stays down: still refused
            for payload, a in hook.alerts():
                name = a.get("labels", {}).get("alertname")
                if name in want and (name != "BakerTelemetryDropped" or a["labels"].get("exporter")):
                    got.setdefault(name, a)
            time.sleep(1)
        for name in sorted(want):
            a = got.get(name)
            check(a is not None, f"{name} fired in Prometheus 3 and Alertmanager delivered it to the webhook",
                  str(sorted({x.get('labels', {}).get('alertname') for _, x in hook.alerts()})))
            if a:
                print(f"      {name}: labels={a['labels']}")
    except Exception as e:  # a crash is a failure, with the logs that explain it
        check(False, f"pipeline through the real stack: {type(e).__name__}: {e}")
    finally:
        for p in reversed(stop):
            p.stop()
        sink.stop()
        hook.close()
    if realstack.RESULTS["failed"]:
        for log in sorted(work.rglob("*.log")):
            print(f"--- {log.relative_to(work)} (tail)")
            print("\n".join(log.read_text(errors="replace").splitlines()[-12:]))
    return summary("pipeline-real")


def record_fixtures(out: Path, sources: dict[str, tuple[str, ...]]) -> None:
    """Real scrapes, written with a header saying where they come from (never typed by hand)."""
    version = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                             capture_output=True, text=True).stdout.strip()
    for name, urls in sources.items():
        for url in urls:
            status, body = http_get(url)
            if status == 200 and body.strip():
                break
        else:
            raise RuntimeError(f"no scrape for {name} at {urls}")
        header = (f"# RECORDED by scripts/record-fixtures (deploy/tests/pipeline_real.py --record-fixtures)\n"
                  f"# from {name.removesuffix('.prom')}'s /metrics while the example "
                  f"pipeline served traffic through the real Collector (repo {version}).\n"
                  f"# Do not edit: regenerate with scripts/record-fixtures.\n")
        (out / name).write_text(header + body.decode())
        lines = len(body.splitlines())
        check(True, f"recorded {name} from {url} ({lines} lines)")


def reload_scrape(prom_dir: Path, prom: Proc, metrics_url: str) -> None:
    """Points the otel-collector job at a restarted collector; Prometheus re-reads its config on
    SIGHUP (deploy/ does not enable the lifecycle API)."""
    cfg = yaml.safe_load((prom_dir / "prometheus.yml").read_text())
    cfg["scrape_configs"][0]["static_configs"] = [{"targets": [urllib.parse.urlsplit(metrics_url).netloc]}]
    (prom_dir / "prometheus.yml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    prom.p.send_signal(signal.SIGHUP)
    time.sleep(1)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
