"""Collector checks: pipelines reference defined components, no removed or renamed
component names, memory_limiter first, persistent batching sending queues, health_check
probes, reachable self-metrics, exporter endpoints that match a Service and port, and
credentials only from Secrets."""

from __future__ import annotations

import re

import yaml

from checks_k8s import on_pvc, parse_endpoint, pvc_mount_prefixes
from manifests import (
    Finding, Index, arg_values, container_files, deep_merge, find_workload, namespace_of, obj_ref,
)
from stack_common import ENV_REF, Context, component_type, env_map, find_service_port, grpc_port


# Collector component types that must not be used (removed, renamed or superseded).
FORBIDDEN_TYPES = {
    "exporters": {
        "loki": "was removed from the collector (v0.131); use otlp_http to Loki's /otlp endpoint",
        "otlp": "is the deprecated name of otlp_grpc",
        "otlphttp": "is the deprecated name of otlp_http",
        "logging": "was removed; use debug",
        "jaeger": "was removed; Tempo accepts OTLP",
        "loadbalancing": "is the deprecated name of load_balancing (warning logged by collector 0.159)",
    },
    "processors": {
        "k8sattributes": "is the deprecated name of k8s_attributes",
        "resourcedetection": "is the deprecated name of resource_detection",
        "batch": "is superseded: batch inside the exporter's sending_queue (sending_queue.batch)",
    },
    "extensions": {
        "memory_ballast": "was removed; use GOMEMLIMIT",
    },
    "receivers": {},
    "connectors": {
        "spanmetrics": "is the deprecated name of span_metrics (warning logged by collector 0.159)",
        "servicegraph": "is the deprecated name of service_graph (warning logged by collector 0.159)",
    },
}
FORBIDDEN_DETECTORS = {"k8snode": "is now k8s_api (v0.154)"}
SECRET_HEADER = re.compile(r"^(authorization|x-api-key|api-key|x-auth-token)$", re.I)


def collector_config(idx: Index, w: dict, c: dict) -> tuple[dict, list[str]]:
    files = container_files(idx, w, c)
    merged: dict = {}
    problems = []
    paths = arg_values(c.get("args") or [], "--config")
    if not paths:
        problems.append("collector container has no --config argument")
    for p in paths:
        p = p[len("file:"):] if p.startswith("file:") else p
        f = files.get(p)
        if f is None:
            problems.append(f"--config={p} is not a file mounted into the container")
            continue
        merged = deep_merge(merged, yaml.safe_load(f.content) or {})
    return merged, problems


SDK_EXPORT_CAP_MIB = 3  # baker-otel's byte cap per OTLP export request


def check_collector(idx: Index, ctx: Context) -> list[Finding] | None:
    if not find_workload(idx, "opentelemetry-collector"):
        return None
    out = []
    for w, c in find_workload(idx, "opentelemetry-collector"):
        ref = obj_ref(w)
        cfg, problems = collector_config(idx, w, c)
        out += [Finding("collector", ref, p) for p in problems]
        if not cfg:
            continue
        out += [Finding("collector", ref, p) for p in _collector_problems(idx, ctx, w, c, cfg)]
    return out


def _collector_problems(idx: Index, ctx: Context, w: dict, c: dict, cfg: dict) -> list[str]:
    out = []
    sections = {s: (cfg.get(s) or {}) for s in ("receivers", "processors", "exporters", "extensions", "connectors")}
    service = cfg.get("service") or {}
    pipelines = service.get("pipelines") or {}
    if not pipelines:
        out.append("service.pipelines is empty")

    # removed / renamed component names anywhere in the config
    for section, bad in FORBIDDEN_TYPES.items():
        for cid in sections[section]:
            if component_type(cid) in bad:
                out.append(f"{section[:-1]} {cid!r} {bad[component_type(cid)]}")
    for cid, pc in sections["processors"].items():
        if component_type(cid) == "resource_detection":
            for d in (pc or {}).get("detectors") or []:
                if d in FORBIDDEN_DETECTORS:
                    out.append(f"resource_detection detector {d!r} {FORBIDDEN_DETECTORS[d]}")

    # every pipeline reference is defined; memory_limiter first
    used = {s: set() for s in sections}
    for pname, p in pipelines.items():
        p = p or {}
        for role, sec in (("receivers", "receivers"), ("processors", "processors"), ("exporters", "exporters")):
            for cid in p.get(role) or []:
                if cid in sections[sec]:
                    used[sec].add(cid)
                elif role != "processors" and cid in sections["connectors"]:
                    used["connectors"].add(cid)
                else:
                    out.append(f"pipeline {pname} uses {role[:-1]} {cid!r} which is not defined")
        if not p.get("receivers") or not p.get("exporters"):
            out.append(f"pipeline {pname} needs at least one receiver and one exporter")
        procs = p.get("processors") or []
        if not procs or component_type(procs[0]) != "memory_limiter":
            out.append(f"pipeline {pname} must start with the memory_limiter processor (has {procs})")
    for cid in service.get("extensions") or []:
        if cid in sections["extensions"]:
            used["extensions"].add(cid)
        else:
            out.append(f"service.extensions lists {cid!r} which is not defined")
    for sec, defined in sections.items():
        for cid in defined:
            if cid not in used[sec]:
                out.append(f"{sec[:-1]} {cid!r} is defined but not used by any pipeline/service")

    # health_check extension drives the probes
    hc = [cid for cid in service.get("extensions") or [] if component_type(cid) == "health_check"]
    if not hc:
        out.append("health_check extension is not enabled (probes need it)")
    else:
        _, _, hc_port, _ = parse_endpoint(str((sections["extensions"][hc[0]] or {}).get("endpoint", "")))
        ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
        for probe in ("livenessProbe", "readinessProbe"):
            handler = (c.get(probe) or {}).get("httpGet") or {}
            port = handler.get("port")
            port = ports.get(port, port)
            if port != hc_port:
                out.append(f"{probe} does not target the health_check endpoint port {hc_port}")

    # OTLP request size cap: the baker-otel SDK sends at most 3 MiB per export request.
    otlp = ((sections["receivers"].get("otlp") or {}).get("protocols") or {})
    grpc_mib = (otlp.get("grpc") or {}).get("max_recv_msg_size_mib")
    http_bytes = (otlp.get("http") or {}).get("max_request_body_size")
    if "grpc" in otlp and not (isinstance(grpc_mib, int) and SDK_EXPORT_CAP_MIB < grpc_mib <= 2 * SDK_EXPORT_CAP_MIB):
        out.append(f"otlp grpc max_recv_msg_size_mib is {grpc_mib!r}; set it just above the SDK's "
                   f"{SDK_EXPORT_CAP_MIB} MiB export cap (4)")
    if "http" in otlp and not (isinstance(http_bytes, int) and SDK_EXPORT_CAP_MIB * 2**20 < http_bytes <= 2 * SDK_EXPORT_CAP_MIB * 2**20):
        out.append(f"otlp http max_request_body_size is {http_bytes!r}; set it just above the SDK's "
                   f"{SDK_EXPORT_CAP_MIB} MiB export cap (4194304)")

    # persistent sending queues with batching
    storages = {cid for cid in service.get("extensions") or [] if component_type(cid) == "file_storage"}
    pvc_paths = pvc_mount_prefixes(idx, w, c)
    for cid in storages:
        d = (sections["extensions"].get(cid) or {}).get("directory", "")
        if not on_pvc(d, pvc_paths):
            out.append(f"extension {cid} directory {d!r} is not on a PersistentVolumeClaim mount")
    for cid, ec in sections["exporters"].items():
        if component_type(cid) in ("debug", "nop"):
            continue
        q = (ec or {}).get("sending_queue") or {}
        if q.get("enabled") is False or not q:
            out.append(f"exporter {cid} has no sending_queue")
            continue
        if q.get("storage") not in storages:
            out.append(f"exporter {cid} sending_queue.storage must be an enabled file_storage extension (is {q.get('storage')!r})")
        if not isinstance(q.get("batch"), dict):
            out.append(f"exporter {cid} has no sending_queue.batch (batching lives in the exporter)")

    # self-metrics on a pull endpoint Prometheus can reach
    readers = (((service.get("telemetry") or {}).get("metrics") or {}).get("readers")) or []
    pull_ports = [((r.get("pull") or {}).get("exporter") or {}).get("prometheus", {}) for r in readers if "pull" in r]
    if not pull_ports:
        out.append("service.telemetry.metrics has no pull/prometheus reader (self-metrics on :8888)")
    for pp in pull_ports:
        if pp.get("host") not in ("0.0.0.0", "::", "[::]", ""):
            out.append(f"self-metrics bind to {pp.get('host')!r}; Prometheus cannot scrape localhost")
        if pp.get("port") not in {p.get("containerPort") for p in c.get("ports") or []}:
            out.append(f"self-metrics port {pp.get('port')} is not a container port")

    # env references and credentials
    env = env_map(c)
    text = yaml.safe_dump(cfg)
    for var in sorted(set(ENV_REF.findall(text))):
        if var not in env:
            out.append(f"config references ${{env:{var}}} but the container does not define {var}")
    out += _collector_credentials(cfg, env)

    # exporter endpoints
    ns = namespace_of(w)
    for cid, ec in sections["exporters"].items():
        ep = (ec or {}).get("endpoint")
        if not ep:
            continue
        if ENV_REF.search(str(ep)):
            continue  # external endpoint from the environment (checked above)
        scheme, host, port, _ = parse_endpoint(str(ep))
        svc, p = find_service_port(ctx.services, host or "", port, ns)
        if svc is None:
            if p != "external":
                out.append(f"exporter {cid} endpoint {ep!r}: {p}")
            continue
        if component_type(cid) == "otlp_grpc" and not grpc_port(p):
            out.append(f"exporter {cid} (gRPC) points at Service port {p.get('name')!r}, which is not a gRPC port")
        if component_type(cid) == "otlp_http" and grpc_port(p):
            out.append(f"exporter {cid} (HTTP) points at gRPC Service port {p.get('name')!r}")
    return out


def _collector_credentials(cfg: dict, env: dict) -> list[str]:
    out = []

    def from_secret(value: str) -> bool:
        refs = ENV_REF.findall(value)
        return bool(refs) and all("secretKeyRef" in ((env.get(v) or {}).get("valueFrom") or {}) for v in refs)

    for cid, ec in (cfg.get("exporters") or {}).items():
        for h, v in ((ec or {}).get("headers") or {}).items():
            if SECRET_HEADER.match(str(h)) and not from_secret(str(v)):
                out.append(f"exporter {cid} header {h} must come from a Secret (${{env:VAR}} with secretKeyRef)")
    for cid, xc in (cfg.get("extensions") or {}).items():
        auth = (xc or {}).get("client_auth") or {}
        for k in ("password", "token"):
            if k in auth and not from_secret(str(auth[k])):
                out.append(f"extension {cid} client_auth.{k} must come from a Secret")
    return out
