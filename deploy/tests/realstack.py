"""Running the real programs of the stack on loopback: our Collector distribution, Prometheus 3,
Alertmanager and Jaeger (all built from the Go module proxy by scripts/go-build), with the
configs deploy/ ships.

- `go_binary(name)`: the cached binary (scripts/go-build builds it on a miss).
- `collector_specs(rendered)`: every collector container of a rendered variant: its --config
  files in order and its environment, as the pod would see them.
- `loopback(cfg, ...)`: the *only* edits made to a deploy/ config before it runs here: listen
  addresses and exporter endpoints on 127.0.0.1, on-disk paths in a temp dir, and the
  in-cluster-only pieces in their documented off-cluster mode.
- `Proc`: a started program with its log file, stopped with SIGTERM (then SIGKILL).
"""

from __future__ import annotations

import copy
import gzip
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

from manifests import Index, arg_values, container_files, find_workload, load_documents, obj_ref

REPO = Path(__file__).resolve().parents[2]


RESULTS = {"passed": 0, "failed": 0}


def check(ok: bool, what: str, detail: str = "") -> bool:
    """One counted check of a test script: a PASS/FAIL line, the detail (indented) on failure."""
    RESULTS["passed" if ok else "failed"] += 1
    print(f"{'PASS' if ok else 'FAIL'}: {what}", flush=True)
    if not ok and detail:
        print("    " + detail.replace("\n", "\n    "), flush=True)
    return bool(ok)


def summary(name: str) -> int:
    """Prints the closing `name: N passed, M failed` line; the exit status."""
    print(f"{name}: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def go_binary(name: str) -> str:
    out = subprocess.run([str(REPO / "scripts/go-build"), "--path", name], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"scripts/go-build {name} failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]


def http_get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(pred, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except (OSError, ValueError) as e:
            last = e
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}" + (f" ({last})" if last else ""))


class Proc:
    """A program started with its output in `log`; `stop()` sends SIGTERM and waits."""

    def __init__(self, argv: list[str], log: Path, env: dict | None = None, cwd: Path | None = None):
        self.argv = argv
        self.log = log
        self._fh = open(log, "wb")
        self.p = subprocess.Popen(argv, stdout=self._fh, stderr=subprocess.STDOUT,
                                  env={**os.environ, **(env or {})}, cwd=cwd)

    def alive(self) -> bool:
        return self.p.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._fh.close()
        return self.p.returncode

    def text(self) -> str:
        return self.log.read_text(errors="replace")


# ------------------------------------------------------------------ collector configs ---

@dataclass
class CollectorSpec:
    variant: str
    workload: str            # Kind/namespace/name
    files: list[tuple[str, str]]   # (path in the pod, content), in --config order
    env: dict[str, str] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return f"{self.variant}-{self.workload.rsplit('/', 1)[-1]}"


def collector_specs(variant: str, rendered_text: str) -> list[CollectorSpec]:
    idx = Index.build(load_documents(rendered_text))
    out = []
    for w, c in find_workload(idx, "opentelemetry-collector"):
        files = container_files(idx, w, c)
        paths = [p[len("file:"):] if p.startswith("file:") else p for p in arg_values(c.get("args") or [], "--config")]
        env = {}
        for e in c.get("env") or []:
            if "value" in e:
                env[e["name"]] = str(e["value"])
            else:  # fieldRef / resourceFieldRef / secretKeyRef: what the pod would get, made up
                env[e["name"]] = _env_from(e["name"], e, w)
        out.append(CollectorSpec(variant, obj_ref(w), [(p, files[p].content) for p in paths], env))
    return out


def _env_from(name: str, e: dict, w: dict) -> str:
    src = e.get("valueFrom") or {}
    field_path = (src.get("fieldRef") or {}).get("fieldPath", "")
    if field_path == "metadata.name":
        return f"{(w.get('metadata') or {}).get('name', 'pod')}-0"
    if field_path == "metadata.namespace":
        return (w.get("metadata") or {}).get("namespace", "default")
    if field_path.startswith("status."):
        return "127.0.0.1"
    if "resourceFieldRef" in src:
        return "1073741824"
    if name.endswith(("_ENDPOINT", "_URL")):  # a Secret's URL, e.g. the Grafana Cloud gateway
        return "https://otlp-gateway.invalid/otlp"
    return "loopback-test-value"  # a Secret's value (e.g. a Grafana Cloud token)


# ------------------------------------------------------------------ loopback rewrite ----

def _loopback_endpoint(ep: str, port: int) -> str:
    ep = str(ep)
    if "://" in ep:
        scheme, rest = ep.split("://", 1)
        path = "/" + rest.split("/", 1)[1] if "/" in rest else ""
        return f"{scheme}://127.0.0.1:{port}{path}"
    return f"127.0.0.1:{port}"


@dataclass
class Loopback:
    """Where a rewritten config listens and sends; `targets` maps exporter id -> port."""
    listen: dict[str, int] = field(default_factory=dict)   # "receiver otlp/grpc" -> port
    health: int | None = None
    metrics: int | None = None
    targets: dict[str, int] = field(default_factory=dict)


def loopback(cfg: dict, data_dir: Path, targets: dict[str, int] | None = None,
             gateway_port: int | None = None) -> tuple[dict, Loopback]:
    """The loopback copy of one collector config file (see module doc). `targets` picks the
    port each exporter sends to, by exporter id or type (default: a fresh, unused port = backend
    down); the
    load_balancing exporter's DNS resolver resolves 127.0.0.1 on `gateway_port`."""
    cfg = copy.deepcopy(cfg)
    lb = Loopback()
    targets = targets or {}
    for rid, rc in (cfg.get("receivers") or {}).items():
        for proto, pc in ((rc or {}).get("protocols") or {}).items():
            if isinstance(pc, dict) and "endpoint" in pc:
                lb.listen[f"{rid}/{proto}"] = port = free_port()
                pc["endpoint"] = f"127.0.0.1:{port}"
    for xid, xc in (cfg.get("extensions") or {}).items():
        xc = xc or {}
        kind = xid.split("/", 1)[0]
        if kind in ("health_check", "healthcheck"):
            lb.health = free_port()
            xc["endpoint"] = f"127.0.0.1:{lb.health}"
        if kind == "file_storage":
            d = data_dir / f"storage-{xid.replace('/', '_')}"
            d.mkdir(parents=True, exist_ok=True)
            xc["directory"] = str(d)
            if isinstance(xc.get("compaction"), dict) and "directory" in xc["compaction"]:
                xc["compaction"]["directory"] = str(d)
        cfg["extensions"][xid] = xc
    for pid, pc in (cfg.get("processors") or {}).items():
        # Off-cluster mode documented by the processor: passthrough (no API server calls; the
        # pod IP comes from the connection). Every other key stays as deploy/ has it.
        if pid.split("/", 1)[0] in ("k8s_attributes", "k8sattributes"):
            pc["passthrough"] = True
    for eid, ec in (cfg.get("exporters") or {}).items():
        ec = ec or {}
        if "endpoint" in ec and "${" not in str(ec["endpoint"]):
            port = targets.get(eid) or targets.get(eid.split("/", 1)[0]) or free_port()
            lb.targets[eid] = port
            ec["endpoint"] = _loopback_endpoint(ec["endpoint"], port)
        dns = ((ec.get("resolver") or {}).get("dns"))
        if isinstance(dns, dict):
            dns["hostname"] = "127.0.0.1"  # an IP literal resolves to itself (no ::1 twin)
            dns["port"] = str(gateway_port or free_port())
    readers = (((cfg.get("service") or {}).get("telemetry") or {}).get("metrics") or {}).get("readers") or []
    for r in readers:
        prom = (((r or {}).get("pull") or {}).get("exporter") or {}).get("prometheus")
        if isinstance(prom, dict):
            lb.metrics = free_port()
            prom["host"] = "127.0.0.1"
            prom["port"] = lb.metrics
    return cfg, lb


def merge_loopbacks(parts: list[Loopback]) -> Loopback:
    out = Loopback()
    for p in parts:
        out.listen.update(p.listen)
        out.targets.update(p.targets)
        out.health = p.health or out.health
        out.metrics = p.metrics or out.metrics
    return out


def write_loopback_spec(spec: CollectorSpec, work: Path, targets: dict[str, int] | None = None,
                        gateway_port: int | None = None, env_urls: dict[str, int] | None = None
                        ) -> tuple[list[Path], Loopback, dict[str, str]]:
    """Writes the loopback copies of a spec's config files; returns their paths, where they
    listen/send, and the environment to run them with (URLs from env pointed at loopback)."""
    work.mkdir(parents=True, exist_ok=True)
    paths, parts = [], []
    for i, (pod_path, text) in enumerate(spec.files):
        cfg, lb = loopback(yaml.safe_load(text) or {}, work, targets, gateway_port)
        p = work / f"{i}-{Path(pod_path).name}"
        p.write_text(yaml.safe_dump(cfg, sort_keys=False))
        paths.append(p)
        parts.append(lb)
    env = dict(spec.env)
    for k, v in env.items():
        if v.startswith(("http://", "https://")) or k.endswith("_ENDPOINT"):
            env[k] = f"http://127.0.0.1:{(env_urls or {}).get(k) or free_port()}/otlp"
    return paths, merge_loopbacks(parts), env


def collector_log_problems(text: str) -> list[str]:
    """Every log line at warn level or above, and every line that mentions a deprecation."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            # non-JSON output (start-up banner, panics): only errors and deprecations count
            if any(w in line.lower() for w in ("deprecat", "error", "panic", "warn")):
                out.append(line)
            continue
        level = str(rec.get("level", "")).lower()
        if level in ("warn", "warning", "error", "dpanic", "panic", "fatal") or "deprecat" in line.lower():
            out.append(line)
    return out


# ------------------------------------------------------------------ programs ------------

STACK = Path(__file__).resolve().parent / "stack"


class Jaeger:
    """Jaeger v2 with in-memory storage (stack/jaeger.yaml): OTLP in, trace by id out."""

    def __init__(self, work: Path):
        work.mkdir(parents=True, exist_ok=True)
        self.ports = {k: free_port() for k in ("HEALTH", "QUERY", "QUERY_GRPC", "OTLP_GRPC", "OTLP_HTTP")}
        env = {f"JAEGER_{k}_PORT": str(v) for k, v in self.ports.items()}
        self.proc = Proc([go_binary("jaeger"), f"--config=file:{STACK / 'jaeger.yaml'}"], work / "jaeger.log", env=env)
        wait_for(lambda: self.proc.alive() and http_get(f"http://127.0.0.1:{self.ports['HEALTH']}/status")[0] == 200,
                 60, "Jaeger to report healthy")

    @property
    def otlp_grpc(self) -> int:
        return self.ports["OTLP_GRPC"]

    def trace(self, trace_id: str) -> list[dict]:
        """Spans of one trace as Jaeger's query API returns them ([] when unknown)."""
        status, body = http_get(f"http://127.0.0.1:{self.ports['QUERY']}/api/traces/{trace_id}")
        if status != 200:
            return []
        data = json.loads(body).get("data") or []
        if not data:
            return []
        t = data[0]
        procs = t.get("processes") or {}
        for sp in t.get("spans") or []:
            sp["serviceName"] = (procs.get(sp.get("processID")) or {}).get("serviceName")
        return t.get("spans") or []

    def stop(self) -> int:
        return self.proc.stop()


def base_collector_spec() -> CollectorSpec:
    """The collector container of deploy/ (base), rendered with kubectl kustomize."""
    out = subprocess.run(["kubectl", "kustomize", str(REPO / "deploy")], capture_output=True, text=True, check=True)
    return collector_specs("default", out.stdout)[0]


class Collector:
    """Our Collector distribution running a deploy/ config's loopback copy; `targets` maps
    exporter ids or types to loopback ports (see `loopback`)."""

    def __init__(self, spec: CollectorSpec, work: Path, targets: dict[str, int] | None = None,
                 gateway_port: int | None = None):
        paths, self.lb, env = write_loopback_spec(spec, work / "config", targets, gateway_port)
        self.proc = Proc([go_binary("otelcol-baker"), *[f"--config=file:{p}" for p in paths]],
                         work / "collector.log", env=env)
        wait_for(lambda: self.proc.alive() and http_get(f"http://127.0.0.1:{self.lb.health}/")[0] == 200,
                 60, "the collector to report healthy")

    @property
    def otlp_grpc(self) -> str:
        return f"http://127.0.0.1:{self.lb.listen['otlp/grpc']}"

    @property
    def otlp_http(self) -> str:
        return f"http://127.0.0.1:{self.lb.listen['otlp/http']}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.lb.metrics}/metrics"

    def stop(self) -> int:
        return self.proc.stop()


class OtlpHttpSink:
    """An OTLP/HTTP protobuf receiver on loopback, standing where Loki's /otlp (or any OTLP/HTTP
    backend) would be: log records are decoded (opentelemetry-proto from PyPI) and kept as
    (service.name, trace id hex, body); other signals are counted by request. Answers 200."""

    def __init__(self):
        self.records: list[tuple[str, str, str]] = []
        self.requests: dict[str, int] = {}
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                outer.requests[self.path] = outer.requests.get(self.path, 0) + 1
                out = b""
                if self.path.endswith("/v1/logs"):
                    req = logs_service_pb2.ExportLogsServiceRequest.FromString(body)
                    for rl in req.resource_logs:
                        svc = next((a.value.string_value for a in rl.resource.attributes if a.key == "service.name"), "")
                        for sl in rl.scope_logs:
                            for r in sl.log_records:
                                outer.records.append((svc, r.trace_id.hex(), r.body.string_value))
                    out = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> int:
        self.server.shutdown()
        return 0


def scrape(url: str) -> dict[str, float]:
    """A Prometheus text scrape summed by metric name (labels dropped)."""
    out: dict[str, float] = {}
    status, body = http_get(url)
    if status != 200:
        return out
    for line in body.decode(errors="replace").splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        try:
            out[name] = out.get(name, 0.0) + float(line.rsplit(" ", 1)[-1])
        except ValueError:
            pass
    return out
