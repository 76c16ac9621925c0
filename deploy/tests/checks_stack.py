"""Checks specific to the Baker Street observability stack: the collector pipelines and
exporter wiring, Prometheus, Loki, Tempo, Grafana provisioning, NetworkPolicy flows, the
app-side snippet and the alert runbooks."""

from __future__ import annotations

import configparser
import json
import posixpath
import re
from dataclasses import dataclass, field

import yaml

import prometheus_split
from checks_k8s import (
    NetworkPolicies, on_pvc, parse_bytes, parse_endpoint, pvc_mount_prefixes, service_for_host,
)
from manifests import (
    Finding, Index, MountedFile, all_containers, arg_value, arg_values, container_files,
    deep_merge, find_workload, glob_files, namespace_of, obj_ref, pod_spec, pod_template_metadata,
)

STACK_NS = "baker-street-observability"
SEND_TELEMETRY_LABEL = "observability.baker-street.io/send-telemetry"

# Collector component types that must not be used (removed, renamed or superseded).
FORBIDDEN_TYPES = {
    "exporters": {
        "loki": "was removed from the collector (v0.131); use otlp_http to Loki's /otlp endpoint",
        "otlp": "is the deprecated name of otlp_grpc",
        "otlphttp": "is the deprecated name of otlp_http",
        "logging": "was removed; use debug",
        "jaeger": "was removed; Tempo accepts OTLP",
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
}
FORBIDDEN_DETECTORS = {"k8snode": "is now k8s_api (v0.154)"}
SECRET_HEADER = re.compile(r"^(authorization|x-api-key|api-key|x-auth-token)$", re.I)
ENV_REF = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")

DATASOURCES = {"prometheus": "prometheus", "tempo": "tempo", "loki": "loki"}  # uid -> type


@dataclass
class Context:
    """Inputs beyond the rendered variant itself."""
    services: list[dict] = field(default_factory=list)  # Services of every render (cross-render endpoints)
    readme: str | None = None
    rules_sources: list[str] = field(default_factory=list)  # file names in deploy/base/prometheus/rules
    dashboard_sources: list[str] = field(default_factory=list)  # file names in .../grafana/dashboards
    reference_prometheus: str | None = None  # text of deploy/base/prometheus/prometheus.yml


def _type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def _env_map(container: dict) -> dict[str, dict]:
    return {e.get("name"): e for e in container.get("env") or []}


def _find_service_port(services: list[dict], host: str, port: int | None, default_ns: str | None):
    """(service, port entry) for an in-cluster host:port, or (None, reason)."""
    target = service_for_host(host, default_ns)
    if target is None:
        return None, "external"
    name, ns = target
    for svc in services:
        meta = svc.get("metadata") or {}
        if meta.get("name") == name and meta.get("namespace") == ns:
            for p in (svc.get("spec") or {}).get("ports") or []:
                if p.get("port") == port:
                    return svc, p
            ports = [p.get("port") for p in (svc.get("spec") or {}).get("ports") or []]
            return None, f"Service {ns}/{name} has no port {port} (ports {ports})"
    return None, f"no Service {ns}/{name}"


def _grpc_port(p: dict) -> bool:
    return "grpc" in (p.get("name") or "") or p.get("appProtocol") == "grpc"


# ================================================================== collector ========

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
            if _type(cid) in bad:
                out.append(f"{section[:-1]} {cid!r} {bad[_type(cid)]}")
    for cid, pc in sections["processors"].items():
        if _type(cid) == "resource_detection":
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
        if not procs or _type(procs[0]) != "memory_limiter":
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
    hc = [cid for cid in service.get("extensions") or [] if _type(cid) == "health_check"]
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

    # persistent sending queues with batching
    storages = {cid for cid in service.get("extensions") or [] if _type(cid) == "file_storage"}
    pvc_paths = pvc_mount_prefixes(idx, w, c)
    for cid in storages:
        d = (sections["extensions"].get(cid) or {}).get("directory", "")
        if not on_pvc(d, pvc_paths):
            out.append(f"extension {cid} directory {d!r} is not on a PersistentVolumeClaim mount")
    for cid, ec in sections["exporters"].items():
        if _type(cid) in ("debug", "nop"):
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
    env = _env_map(c)
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
        svc, p = _find_service_port(ctx.services, host or "", port, ns)
        if svc is None:
            if p != "external":
                out.append(f"exporter {cid} endpoint {ep!r}: {p}")
            continue
        if _type(cid) == "otlp_grpc" and not _grpc_port(p):
            out.append(f"exporter {cid} (gRPC) points at Service port {p.get('name')!r}, which is not a gRPC port")
        if _type(cid) == "otlp_http" and _grpc_port(p):
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


# ================================================================== prometheus =======

def prometheus_config(idx: Index, w: dict, c: dict) -> tuple[str | None, str | None, dict[str, MountedFile]]:
    files = container_files(idx, w, c)
    path = arg_value(c.get("args") or [], "--config.file")
    f = files.get(path or "")
    return path, (f.content if f else None), files


def check_prometheus(idx: Index, ctx: Context) -> list[Finding] | None:
    if not find_workload(idx, "prom/prometheus"):
        return None
    out = []
    for w, c in find_workload(idx, "prom/prometheus"):
        ref = obj_ref(w)
        path, text, files = prometheus_config(idx, w, c)
        if text is None:
            out.append(Finding("prometheus", ref, f"--config.file {path!r} is not a mounted file"))
            continue
        args = c.get("args") or []
        for flag, why in (("--web.enable-otlp-receiver", "the collector pushes OTLP metrics"),
                          ("--web.enable-remote-write-receiver", "Tempo's metrics generator remote-writes"),
                          ("--enable-feature=exemplar-storage", "Grafana links exemplars to Tempo")):
            if flag not in args:
                out.append(Finding("prometheus", ref, f"flag {flag} is missing ({why})"))
        s = prometheus_split.split(text, path, files)
        out += [Finding("prometheus", ref, p) for p in s.problems]
        cfg = yaml.safe_load(text) or {}
        out += [Finding("prometheus", ref, p) for p in _prometheus_wiring(idx, ctx, w, c, cfg, s, files, path)]
    return out


def _prometheus_wiring(idx, ctx, w, c, cfg, s, files, path) -> list[str]:
    out = []
    jobs = {sc.get("job_name"): sc for sc in s.compat.get("scrape_configs") or []}
    if "otel-collector" not in jobs:
        out.append("no scrape job 'otel-collector' (collector self-metrics; alerts use up{job=\"otel-collector\"})")
    else:
        keep = [r for r in jobs["otel-collector"].get("relabel_configs") or []
                if r.get("action") == "keep" and "__meta_kubernetes_pod_container_port_name" in (r.get("source_labels") or [])]
        for coll_w, coll_c in find_workload(idx, "opentelemetry-collector"):
            names = {p.get("name") for p in coll_c.get("ports") or []}
            for r in keep:
                if r.get("regex") not in names:
                    out.append(f"otel-collector job keeps port name {r.get('regex')!r}, which the collector does not declare")
    annotated = [sc for sc in jobs.values()
                 if any("__meta_kubernetes_pod_annotation_prometheus_io_scrape" in (r.get("source_labels") or [])
                        for r in sc.get("relabel_configs") or [])]
    if not annotated:
        out.append("no scrape job discovers pods by the prometheus.io/scrape annotation (Brain/Worker /metrics)")
    else:
        srcs = {x for sc in annotated for r in sc.get("relabel_configs") or [] for x in r.get("source_labels") or []}
        for ann in ("port", "path"):
            if f"__meta_kubernetes_pod_annotation_prometheus_io_{ann}" not in srcs:
                out.append(f"annotation-based scrape job ignores prometheus.io/{ann}")

    # every rule file shipped in deploy/base/prometheus/rules is mounted and loaded
    base_dir = posixpath.dirname(path)
    patterns = [p if p.startswith("/") else posixpath.join(base_dir, p) for p in cfg.get("rule_files") or []]
    loaded = {p for pat in patterns for p in glob_files(files, pat)}
    loaded_names = {posixpath.basename(p) for p in loaded}
    for name in ctx.rules_sources:
        if name not in loaded_names:
            out.append(f"rule file {name} is not mounted into Prometheus and matched by rule_files")

    # retention must fit the data volume
    size = arg_value(c.get("args") or [], "--storage.tsdb.retention.size")
    tsdb = arg_value(c.get("args") or [], "--storage.tsdb.path") or "/prometheus"
    pvc_paths = pvc_mount_prefixes(idx, w, c)
    if not on_pvc(tsdb, pvc_paths):
        out.append(f"TSDB path {tsdb} is not on a PersistentVolumeClaim")
    claim = _claim_for(idx, w, c, tsdb)
    if size and claim is not None:
        cap = parse_bytes(((claim.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage", ""))
        want = parse_bytes(size)
        if cap and want and want >= cap:
            out.append(f"--storage.tsdb.retention.size={size} does not fit PVC {obj_ref(claim)} ({cap / 2**30:.1f} GiB)")
    elif not size:
        out.append("--storage.tsdb.retention.size is not set (the PVC could fill up)")

    # a variant's copy of prometheus.yml may differ from the base only by remote_write
    if ctx.reference_prometheus is not None:
        ref_cfg = yaml.safe_load(ctx.reference_prometheus) or {}
        mine = {k: v for k, v in cfg.items() if k != "remote_write"}
        if mine != ref_cfg:
            keys = sorted({k for k in set(mine) | set(ref_cfg) if mine.get(k) != ref_cfg.get(k)})
            out.append(f"prometheus.yml drifted from deploy/base/prometheus/prometheus.yml in {keys}")
    return out


def _claim_for(idx: Index, w: dict, c: dict, path: str):
    vols = {v.get("name"): v for v in pod_spec(w).get("volumes") or []}
    for m in c.get("volumeMounts") or []:
        v = vols.get(m.get("name")) or {}
        if "persistentVolumeClaim" in v and on_pvc(path, [m.get("mountPath")]):
            return idx.get("PersistentVolumeClaim", namespace_of(w), v["persistentVolumeClaim"].get("claimName"))
    return None


def rule_groups(idx: Index) -> list[tuple[str, dict]]:
    """(file path, rule) for every rule in files loaded by the rendered Prometheus."""
    out = []
    for w, c in find_workload(idx, "prom/prometheus"):
        path, text, files = prometheus_config(idx, w, c)
        if text is None:
            continue
        cfg = yaml.safe_load(text) or {}
        base = posixpath.dirname(path)
        for pat in cfg.get("rule_files") or []:
            for p in glob_files(files, pat if pat.startswith("/") else posixpath.join(base, pat)):
                doc = yaml.safe_load(files[p].content) or {}
                for g in doc.get("groups") or []:
                    out += [(p, r) for r in g.get("rules") or []]
    return out


# ================================================================== loki / tempo =====

def _component_config(idx: Index, image: str, flag: str):
    for w, c in find_workload(idx, image):
        files = container_files(idx, w, c)
        path = arg_value(c.get("args") or [], flag)
        f = files.get(path or "")
        yield w, c, path, (yaml.safe_load(f.content) if f else None)


def check_loki(idx: Index, ctx: Context) -> list[Finding] | None:
    if not find_workload(idx, "grafana/loki"):
        return None
    out = []
    for w, c, path, cfg in _component_config(idx, "grafana/loki", "-config.file"):
        ref = obj_ref(w)
        if cfg is None:
            out.append(Finding("loki", ref, f"-config.file {path!r} is not a mounted file"))
            continue
        limits = cfg.get("limits_config") or {}
        if limits.get("allow_structured_metadata") is False:
            out.append(Finding("loki", ref, "allow_structured_metadata is false (OTLP needs it)"))
        sm = {a for rule in ((limits.get("otlp_config") or {}).get("log_attributes") or [])
              if rule.get("action") == "structured_metadata" for a in rule.get("attributes") or []}
        for attr in ("conversation_id", "job_id"):
            if attr not in sm:
                out.append(Finding("loki", ref, f"log attribute {attr} is not stored as structured metadata"))
        schemas = (cfg.get("schema_config") or {}).get("configs") or []
        if not schemas or schemas[-1].get("schema") != "v13" or schemas[-1].get("store") != "tsdb":
            out.append(Finding("loki", ref, "latest schema must be v13 on tsdb (needed for structured metadata)"))
        prefix = (cfg.get("common") or {}).get("path_prefix", "")
        if not on_pvc(prefix, pvc_mount_prefixes(idx, w, c)):
            out.append(Finding("loki", ref, f"common.path_prefix {prefix!r} is not on a PersistentVolumeClaim"))
    for w, c in find_workload(idx, "opentelemetry-collector"):
        cfg, _ = collector_config(idx, w, c)
        for cid, ec in (cfg.get("exporters") or {}).items():
            ep = str((ec or {}).get("endpoint", ""))
            _, host, _, p = parse_endpoint(ep)
            if host and host.split(".")[0] == "loki" and p.rstrip("/") != "/otlp":
                out.append(Finding("loki", obj_ref(w), f"exporter {cid} must target Loki's OTLP endpoint /otlp (is {ep})"))
    return out


def check_tempo(idx: Index, ctx: Context) -> list[Finding] | None:
    if not find_workload(idx, "grafana/tempo"):
        return None
    out = []
    for w, c, path, cfg in _component_config(idx, "grafana/tempo", "-config.file"):
        ref = obj_ref(w)
        if cfg is None:
            out.append(Finding("tempo", ref, f"-config.file {path!r} is not a mounted file"))
            continue
        for block in ("ingester", "ingester_client", "compactor", "metrics_generator_client"):
            if block in cfg:
                out.append(Finding("tempo", ref, f"block {block!r} does not exist in Tempo 3 (remove it)"))
        protos = (((cfg.get("distributor") or {}).get("receivers") or {}).get("otlp") or {}).get("protocols") or {}
        if not protos:
            out.append(Finding("tempo", ref, "no OTLP receiver configured"))
        for name, pc in protos.items():
            ep = str((pc or {}).get("endpoint", ""))
            if not ep.startswith(("0.0.0.0:", "[::]:", ":")):
                out.append(Finding("tempo", ref, f"OTLP {name} receiver must bind 0.0.0.0 explicitly (is {ep!r})"))
        trace = (cfg.get("storage") or {}).get("trace") or {}
        prefixes = pvc_mount_prefixes(idx, w, c)
        for key in ("local", "wal"):
            p = (trace.get(key) or {}).get("path", "")
            if trace.get("backend") == "local" or key == "wal":
                if not on_pvc(p, prefixes):
                    out.append(Finding("tempo", ref, f"storage.trace.{key}.path {p!r} is not on a PersistentVolumeClaim"))
        for rw in ((cfg.get("metrics_generator") or {}).get("storage") or {}).get("remote_write") or []:
            _, host, port, _ = parse_endpoint(rw.get("url", ""))
            svc, why = _find_service_port(ctx.services, host or "", port, namespace_of(w))
            if svc is None and why != "external":
                out.append(Finding("tempo", ref, f"metrics_generator remote_write {rw.get('url')}: {why}"))
    return out


# ================================================================== grafana ==========

def check_grafana(idx: Index, ctx: Context) -> list[Finding] | None:
    if not find_workload(idx, "grafana/grafana"):
        return None
    out = []
    for w, c in find_workload(idx, "grafana/grafana"):
        out += [Finding("grafana", obj_ref(w), p) for p in _grafana_problems(idx, ctx, w, c)]
    return out


def _grafana_problems(idx: Index, ctx: Context, w: dict, c: dict) -> list[str]:
    out = []
    files = container_files(idx, w, c)
    env = _env_map(c)
    ns = namespace_of(w)

    ini = configparser.ConfigParser(interpolation=None)
    ini_file = files.get("/etc/grafana/grafana.ini")
    if ini_file is None:
        out.append("/etc/grafana/grafana.ini is not mounted")
    else:
        ini.read_string(ini_file.content)
    anon = (env.get("GF_AUTH_ANONYMOUS_ENABLED") or {}).get("value")
    anon = anon if anon is not None else ini.get("auth.anonymous", "enabled", fallback=None)
    if str(anon).lower() != "false":
        out.append(f"anonymous access must be explicitly disabled (auth.anonymous enabled = {anon!r})")
    if ini.get("security", "admin_password", fallback=None):
        out.append("grafana.ini sets security.admin_password (credentials belong in the Secret)")
    for var in ("GF_SECURITY_ADMIN_USER", "GF_SECURITY_ADMIN_PASSWORD"):
        e, ef = env.get(var), env.get(var + "__FILE")
        if e is not None and "secretKeyRef" not in (e.get("valueFrom") or {}):
            out.append(f"{var} is set literally; it must come from a Secret")
        if ef is not None:
            f = files.get(ef.get("value", ""))
            if f is None or f.source_kind != "Secret":
                out.append(f"{var}__FILE {ef.get('value')!r} is not a file from a Secret")
        if e is None and ef is None:
            out.append(f"{var} is not provided (from the grafana-admin Secret)")
    data = ini.get("paths", "data", fallback="/var/lib/grafana")
    if not on_pvc(data, pvc_mount_prefixes(idx, w, c)):
        out.append(f"Grafana data path {data} is not on a PersistentVolumeClaim")

    prov = ini.get("paths", "provisioning", fallback="/etc/grafana/provisioning")
    ds_files = glob_files(files, f"{prov}/datasources/*.yaml") + glob_files(files, f"{prov}/datasources/*.yml")
    if not ds_files:
        out.append(f"no datasource provisioning files under {prov}/datasources")
    datasources = {}
    for p in ds_files + glob_files(files, f"{prov}/dashboards/*.yaml"):
        for m in re.finditer(r"(?<!\$)\$\{__[a-zA-Z.]+\}", files[p].content):
            out.append(f"{p}: {m.group(0)} would be expanded as an environment variable; write $${m.group(0)[1:]}")
    for p in ds_files:
        for ds in (yaml.safe_load(files[p].content) or {}).get("datasources") or []:
            datasources[ds.get("uid")] = ds
    for uid, typ in DATASOURCES.items():
        ds = datasources.get(uid)
        if ds is None:
            out.append(f"datasource uid {uid!r} is not provisioned")
        elif ds.get("type") != typ:
            out.append(f"datasource {uid} has type {ds.get('type')!r}, expected {typ!r}")
    for uid, ds in datasources.items():
        _, host, port, _ = parse_endpoint(ds.get("url", ""))
        svc, why = _find_service_port(ctx.services, host or "", port, ns)
        if svc is None and why != "external":
            out.append(f"datasource {uid} url {ds.get('url')}: {why}")
        for ref_uid in _datasource_uids(ds.get("jsonData") or {}):
            if ref_uid not in datasources:
                out.append(f"datasource {uid} refers to unknown datasource uid {ref_uid!r}")
    out += _correlations(datasources)

    # dashboards provider -> mounted directory holding one file per source dashboard
    providers = []
    for p in glob_files(files, f"{prov}/dashboards/*.yaml") + glob_files(files, f"{prov}/dashboards/*.yml"):
        providers += (yaml.safe_load(files[p].content) or {}).get("providers") or []
    if not providers:
        out.append("no dashboards provider is provisioned")
    mounted = {}
    for pv in providers:
        d = ((pv.get("options") or {}).get("path") or "").rstrip("/")
        hits = [p for p in files if p.startswith(d + "/") and p.endswith(".json")]
        if not hits:
            out.append(f"dashboards provider {pv.get('name')} path {d} has no dashboards mounted")
        for p in hits:
            mounted[posixpath.basename(p)] = files[p]
    for name in ctx.dashboard_sources:
        if name not in mounted:
            out.append(f"dashboard {name} has no ConfigMap mounted at the provider path")
    uids = set()
    for name, f in mounted.items():
        try:
            dash = json.loads(f.content)
        except ValueError as e:
            out.append(f"dashboard {name} (ConfigMap {f.source_name}) is not valid JSON: {e}")
            continue
        if not dash.get("uid") or not dash.get("title"):
            out.append(f"dashboard {name} needs a uid and a title")
        if dash.get("uid") in uids:
            out.append(f"dashboard uid {dash.get('uid')!r} is used twice")
        uids.add(dash.get("uid"))
        for ref_uid in sorted(_dashboard_uids(dash)):
            if ref_uid not in datasources:
                out.append(f"dashboard {name} uses datasource uid {ref_uid!r} which is not provisioned")
        cm = idx.get("ConfigMap", ns, f.source_name)
        if cm is not None and len(cm.get("data") or {}) != 1:
            out.append(f"ConfigMap {f.source_name} holds {len(cm.get('data') or {})} files; one dashboard per ConfigMap")
    return out


def _datasource_uids(obj) -> set[str]:
    found = set()
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "datasourceUid" and isinstance(v, str):
                found.add(v)
            else:
                found |= _datasource_uids(v)
    elif isinstance(obj, list):
        for v in obj:
            found |= _datasource_uids(v)
    return found


def _dashboard_uids(obj) -> set[str]:
    """Datasource uids a dashboard hard-codes (template variables and built-ins excluded)."""
    found = set()
    if isinstance(obj, dict):
        ds = obj.get("datasource")
        if isinstance(ds, dict):
            uid = ds.get("uid")
            if isinstance(uid, str) and not uid.startswith("$") and uid not in ("-- Grafana --", "grafana", "-- Mixed --", "-- Dashboard --"):
                found.add(uid)
        for v in obj.values():
            found |= _dashboard_uids(v)
    elif isinstance(obj, list):
        for v in obj:
            found |= _dashboard_uids(v)
    return found


def _correlations(ds: dict) -> list[str]:
    out = []
    prom = (ds.get("prometheus") or {}).get("jsonData") or {}
    tempo = (ds.get("tempo") or {}).get("jsonData") or {}
    loki = (ds.get("loki") or {}).get("jsonData") or {}
    if not any(d.get("datasourceUid") == "tempo" for d in prom.get("exemplarTraceIdDestinations") or []):
        out.append("Prometheus exemplars do not link to Tempo (exemplarTraceIdDestinations)")
    if (tempo.get("tracesToLogsV2") or {}).get("datasourceUid") != "loki":
        out.append("Tempo tracesToLogsV2 does not point at Loki")
    if (tempo.get("tracesToMetrics") or {}).get("datasourceUid") != "prometheus":
        out.append("Tempo tracesToMetrics does not point at Prometheus")
    if (tempo.get("serviceMap") or {}).get("datasourceUid") != "prometheus":
        out.append("Tempo serviceMap does not point at Prometheus")
    if not any(d.get("datasourceUid") == "tempo" and "trace_id" in str(d.get("matcherRegex"))
               for d in loki.get("derivedFields") or []):
        out.append("Loki has no trace_id derived field linking to Tempo")
    return out


# ================================================================== network flows ====

def check_network(idx: Index, ctx: Context) -> list[Finding]:
    """Flows the stack needs must be allowed; everything else into the backends denied."""
    out = []
    stack = {name: find_workload(idx, img) for name, img in (
        ("otel-collector", "opentelemetry-collector"), ("tempo", "grafana/tempo"), ("loki", "grafana/loki"),
        ("prometheus", "prom/prometheus"), ("grafana", "grafana/grafana"))}
    if not any(stack.values()):
        return None
    missing = [n for n, found in stack.items() if not found]
    if missing:
        return [Finding("network", "stack", f"components missing from this variant: {missing}")]
    ns = namespace_of(stack["otel-collector"][0][0])
    policies = [p for p in idx.of_kind("NetworkPolicy") if namespace_of(p) == ns]
    if not any((p.get("spec") or {}).get("podSelector") in ({}, None) and not (p.get("spec") or {}).get("ingress")
               and "Ingress" in ((p.get("spec") or {}).get("policyTypes") or []) for p in policies):
        out.append(Finding("network", f"Namespace/{ns}", "no default-deny ingress NetworkPolicy"))
    namespaces = {(n.get("metadata") or {}).get("name"): dict((n.get("metadata") or {}).get("labels") or {},
                  **{"kubernetes.io/metadata.name": (n.get("metadata") or {}).get("name")})
                  for n in idx.of_kind("Namespace")}
    namespaces["baker-street"] = {"kubernetes.io/metadata.name": "baker-street", SEND_TELEMETRY_LABEL: "true"}
    namespaces["intruder"] = {"kubernetes.io/metadata.name": "intruder"}
    np = NetworkPolicies(idx, namespaces)

    def labels(name):
        return pod_template_metadata(stack[name][0][0]).get("labels") or {}

    def port_of(name, port_name):
        for p in stack[name][0][1].get("ports") or []:
            if p.get("name") == port_name:
                return p.get("containerPort")
        return None

    must = [  # (from ns, from labels, to, port, why)
        ("baker-street", {"app.kubernetes.io/name": "brain"}, "otel-collector", 4317, "apps send OTLP/gRPC"),
        ("baker-street", {"app.kubernetes.io/name": "brain"}, "otel-collector", 4318, "apps send OTLP/HTTP"),
        (ns, labels("prometheus"), "otel-collector", 8888, "Prometheus scrapes collector self-metrics"),
        (ns, labels("otel-collector"), "tempo", 4317, "collector exports traces"),
        (ns, labels("otel-collector"), "loki", 3100, "collector exports logs"),
        (ns, labels("otel-collector"), "prometheus", 9090, "collector exports OTLP metrics"),
        (ns, labels("tempo"), "prometheus", 9090, "Tempo remote-writes span metrics"),
        (ns, labels("grafana"), "prometheus", 9090, "Grafana queries Prometheus"),
        (ns, labels("grafana"), "tempo", 3200, "Grafana queries Tempo"),
        (ns, labels("grafana"), "loki", 3100, "Grafana queries Loki"),
    ]
    for src_ns, src_labels, dst, port, why in must:
        if not np.allowed(src_ns, src_labels, stack[dst][0][0], port):
            out.append(Finding("network", obj_ref(stack[dst][0][0]), f"blocks port {port} from {src_ns} {src_labels} ({why})"))
    intruders = [("intruder", {"app": "x"}), (ns, {"app.kubernetes.io/name": "intruder"}),
                 ("baker-street", {"app.kubernetes.io/name": "brain"})]
    for dst in ("tempo", "loki", "prometheus"):
        for cport in [p.get("containerPort") for p in stack[dst][0][1].get("ports") or []]:
            for src_ns, src_labels in intruders:
                if np.allowed(src_ns, src_labels, stack[dst][0][0], cport):
                    out.append(Finding("network", obj_ref(stack[dst][0][0]),
                                       f"port {cport} is reachable from {src_ns} {src_labels}; only Grafana and the stack may reach backends"))
    for src_ns, src_labels in intruders[:2]:
        if np.allowed(src_ns, src_labels, stack["otel-collector"][0][0], 4317):
            out.append(Finding("network", obj_ref(stack["otel-collector"][0][0]),
                               f"OTLP is reachable from {src_ns} {src_labels}; only labelled app namespaces may send"))
    return out


# ================================================================== app-otel snippet ==

APP_DOWNWARD = {
    "K8S_POD_NAME": "metadata.name", "K8S_NAMESPACE_NAME": "metadata.namespace",
    "K8S_NODE_NAME": "spec.nodeName", "K8S_POD_UID": "metadata.uid",
}


def check_app_otel(idx: Index, ctx: Context) -> list[Finding] | None:
    out = []
    apps = [w for w in idx.workloads()
            if (((w.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/part-of") == "baker-street")]
    if not apps:
        return None
    for w in apps:
        ref = obj_ref(w)
        spec, tmeta = pod_spec(w), pod_template_metadata(w)
        named_app = [c for c in spec.get("containers") or [] if c.get("name") == "app"]
        if not named_app:
            out.append(Finding("app-otel", ref, "has no container named 'app' for the app-otel snippet"))
            continue
        c, env = named_app[0], _env_map(named_app[0])
        for var, field_path in APP_DOWNWARD.items():
            got = (((env.get(var) or {}).get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
            if got != field_path:
                out.append(Finding("app-otel", ref, f"{var} must come from the downward API fieldRef {field_path}"))
        if (env.get("K8S_CONTAINER_NAME") or {}).get("value") != c.get("name"):
            out.append(Finding("app-otel", ref, "K8S_CONTAINER_NAME must equal the container name"))
        if "OTEL_SERVICE_NAME" not in env:
            out.append(Finding("app-otel", ref, "OTEL_SERVICE_NAME is not set"))
        ep = (env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or {}).get("value")
        if not ep:
            out.append(Finding("app-otel", ref, "OTEL_EXPORTER_OTLP_ENDPOINT is not set"))
        else:
            _, host, port, _ = parse_endpoint(ep)
            svc, p = _find_service_port(ctx.services, host or "", port, namespace_of(w))
            if svc is None:
                out.append(Finding("app-otel", ref, f"OTEL_EXPORTER_OTLP_ENDPOINT {ep}: {p}"))
            else:
                proto = (env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or {}).get("value", "grpc")
                if (proto == "grpc") != _grpc_port(p):
                    out.append(Finding("app-otel", ref, f"protocol {proto} does not match Service port {p.get('name')}"))
        ann = tmeta.get("annotations") or {}
        if ann.get("prometheus.io/scrape") == "true":
            ports = {p.get("containerPort") for p in c.get("ports") or []}
            if not str(ann.get("prometheus.io/port", "")).isdigit() or int(ann["prometheus.io/port"]) not in ports:
                out.append(Finding("app-otel", ref, "prometheus.io/port must name a declared container port"))
            if "otlp" in (env.get("OTEL_METRICS_EXPORTER") or {}).get("value", "otlp"):
                out.append(Finding("app-otel", ref, "metrics are scraped and pushed over OTLP: every series would be stored twice"))
    for n in idx.of_kind("Namespace"):
        if any(namespace_of(w) == (n.get("metadata") or {}).get("name") and
               ((w.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/part-of") == "baker-street"
               for w in idx.workloads()):
            if ((n.get("metadata") or {}).get("labels") or {}).get(SEND_TELEMETRY_LABEL) != "true":
                out.append(Finding("app-otel", obj_ref(n), f"label {SEND_TELEMETRY_LABEL}=true missing (collector NetworkPolicy)"))
    return out


# ================================================================== runbooks =========

def github_slug(heading: str) -> str:
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def runbook_anchors(readme: str) -> set[str]:
    anchors, in_runbooks = set(), False
    for line in readme.splitlines():
        if line.startswith("## "):
            in_runbooks = line[3:].strip().lower() == "runbooks"
        elif in_runbooks and line.startswith("### "):
            anchors.add(github_slug(line[4:]))
    return anchors


def check_runbooks(idx: Index, ctx: Context) -> list[Finding]:
    out = []
    if not find_workload(idx, "prom/prometheus"):
        return None
    rules = [(p, r) for p, r in rule_groups(idx) if "alert" in r]
    anchors = runbook_anchors(ctx.readme or "")
    for path, r in rules:
        who = f"alert {r['alert']} ({path})"
        if not (r.get("labels") or {}).get("severity"):
            out.append(Finding("runbooks", who, "has no severity label"))
        ann = r.get("annotations") or {}
        for a in ("summary", "description", "runbook_url"):
            if not ann.get(a):
                out.append(Finding("runbooks", who, f"has no {a} annotation"))
        url = ann.get("runbook_url", "")
        if "#" in url:
            frag = url.rsplit("#", 1)[1]
            if frag not in anchors:
                out.append(Finding("runbooks", who, f"runbook_url anchor #{frag} has no '### ' section under '## Runbooks' in deploy/README.md"))
        elif url:
            out.append(Finding("runbooks", who, "runbook_url has no #anchor into deploy/README.md"))
    return out
