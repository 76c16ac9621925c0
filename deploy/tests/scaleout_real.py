#!/usr/bin/env python3
"""The scale-out collector tiers (deploy/overlays/scale-out), run by the real Collector:

    OTLP/HTTP traces -> agent 0 -> load_balancing (DNS) -> gateway otel-gateway-0 ─┐
    OTLP/HTTP traces -> agent 1 -> load_balancing (DNS) -> gateway otel-gateway-1 ─┴─> Prometheus 3
                                                                                       (OTLP receiver)
Each gateway pairs a CLIENT span of `brain` with the SERVER span of `worker` (service_graph) and
counts spans (span_metrics), then pushes the metrics to one Prometheus 3 started with deploy/'s
`otlp:` translation block. Proves, with the real programs: the two gateways' service-graph
series do not collide (each carries its own `collector_instance`, and Prometheus rejects no
sample: no export error in either gateway's log), and the span-metric latency histogram is
`traces_spanmetrics_duration_seconds_*` as deploy/README says.

usage: scaleout_real.py   (Prints PASS/FAIL lines and "scaleout-real: N passed, M failed".)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realstack  # noqa: E402
from realstack import check, summary  # noqa: E402
from pipeline_real import prom_query, rendered_prometheus  # noqa: E402
from realstack import Proc, free_port, http_get, wait_for  # noqa: E402

def span_pair() -> bytes:
    """One trace: brain's CLIENT span and worker's SERVER span under it (a service-graph edge)."""
    tid, now = os.urandom(16), time.time_ns()
    client_id, server_id = os.urandom(8), os.urandom(8)

    def rs(service: str, span: trace_pb2.Span) -> trace_pb2.ResourceSpans:
        return trace_pb2.ResourceSpans(
            resource=resource_pb2.Resource(attributes=[common_pb2.KeyValue(
                key="service.name", value=common_pb2.AnyValue(string_value=service))]),
            scope_spans=[trace_pb2.ScopeSpans(spans=[span])])
    client = trace_pb2.Span(trace_id=tid, span_id=client_id, name="POST /extensions/order_lookup",
                            kind=trace_pb2.Span.SPAN_KIND_CLIENT, start_time_unix_nano=now - 5_000_000,
                            end_time_unix_nano=now)
    server = trace_pb2.Span(trace_id=tid, span_id=server_id, parent_span_id=client_id,
                            name="POST /extensions/{tool}", kind=trace_pb2.Span.SPAN_KIND_SERVER,
                            start_time_unix_nano=now - 4_000_000, end_time_unix_nano=now - 1_000_000)
    return trace_service_pb2.ExportTraceServiceRequest(
        resource_spans=[rs("brain", client), rs("worker", server)]).SerializeToString()


def post(url: str, body: bytes) -> int:
    req = urllib.request.Request(url, data=body, headers={"content-type": "application/x-protobuf"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="scaleout-real-"))
    rendered = subprocess.run(["kubectl", "kustomize", str(realstack.REPO / "deploy/overlays/scale-out")],
                              capture_output=True, text=True, check=True).stdout
    specs = {s.workload.rsplit("/", 1)[-1]: s for s in realstack.collector_specs("scale-out", rendered)}
    agent, gateway = specs["otel-collector"], specs["otel-gateway"]
    stop: list = []
    jaeger = realstack.Jaeger(work / "jaeger"); stop.append(jaeger)
    sink = realstack.OtlpHttpSink(); stop.append(sink)
    try:
        cfg, args, _ = rendered_prometheus(work)
        prom_port = free_port()
        (work / "prometheus.yml").write_text(yaml.safe_dump(
            {"global": {"scrape_interval": "5s"}, "otlp": cfg.get("otlp") or {}}, sort_keys=False))
        flags = [a for a in args if a.startswith(("--web.enable-otlp-receiver", "--enable-feature"))]
        prom = Proc([realstack.go_binary("prometheus"), f"--config.file={work / 'prometheus.yml'}",
                     f"--storage.tsdb.path={work / 'tsdb'}", f"--web.listen-address=127.0.0.1:{prom_port}", *flags],
                    work / "prometheus.log"); stop.append(prom)
        wait_for(lambda: http_get(f"http://127.0.0.1:{prom_port}/-/ready")[0] == 200, 60, "Prometheus ready")
        agents = []
        for i in (0, 1):
            gateway.env["POD_NAME"] = f"otel-gateway-{i}"
            gw = realstack.Collector(gateway, work / f"gateway-{i}", targets={
                "otlp_grpc": jaeger.otlp_grpc, "otlp_http/prometheus": prom_port}); stop.append(gw)
            ag = realstack.Collector(agent, work / f"agent-{i}", targets={
                "otlp_http/prometheus": prom_port, "otlp_http/loki": sink.port},
                gateway_port=gw.lb.listen["otlp/grpc"]); stop.append(ag)
            agents.append(ag)
        check(True, "two agent -> gateway pairs of the scale-out configs are up (real Collector)")
        for _ in range(3):
            for ag in agents:
                post(f"{ag.otlp_http}/v1/traces", span_pair())
            time.sleep(1)
        q = 'traces_service_graph_request_total{client="brain",server="worker"}'
        try:
            series = wait_for(lambda: (lambda r: r if len(r) >= 2 else None)(prom_query(prom_port, q)), 60,
                              "service-graph series of both gateways")
            inst = sorted(s["metric"].get("collector_instance", "") for s in series)
            check(inst == ["otel-gateway-0", "otel-gateway-1"],
                  f"{q}: one series per gateway, told apart by collector_instance {inst}", str(series))
        except TimeoutError:
            check(False, f"{q} from both gateways", str(prom_query(prom_port, q)))
        hist = prom_query(prom_port, 'count by (__name__) ({__name__=~"traces_spanmetrics_.*"})')
        names = sorted(s["metric"]["__name__"] for s in hist)
        check("traces_spanmetrics_duration_seconds_bucket" in names and "traces_spanmetrics_calls_total" in names
              and not any("latency" in n for n in names),
              f"span metrics are traces_spanmetrics_calls_total and traces_spanmetrics_duration_seconds_* ({names})")
    except Exception as e:
        check(False, f"scale-out tiers: {type(e).__name__}: {e}")
    finally:
        for p in reversed(stop):
            p.stop()
    for log in sorted(work.glob("gateway-*/collector.log")) + sorted(work.glob("agent-*/collector.log")):
        problems = realstack.collector_log_problems(log.read_text())
        check(not problems, f"{log.parent.name}: no warning or error (no sample rejected by Prometheus)",
              "\n".join(problems[:5]))
    return summary("scaleout-real")


if __name__ == "__main__":
    sys.exit(main())
