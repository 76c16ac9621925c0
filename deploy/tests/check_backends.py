"""Loki and Tempo checks: OTLP ingestion with structured metadata, Tempo 3 configuration
(no ingester/compactor blocks, receivers bound to 0.0.0.0), data on PVCs."""

from __future__ import annotations

import re

import yaml

from checks_k8s import on_pvc, parse_bytes, parse_endpoint, pvc_mount_prefixes
from manifests import (
    Finding, Index, arg_value, container_files, find_workload, namespace_of, obj_ref,
)
from stack_common import Context, find_service_port
from check_collector import collector_config


ENV_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
# Neither Loki 3.7 nor Tempo 3.0 has size-based retention: the disk is bounded by
# ingestion rate x retention. Assumed compression of stored data vs. ingested bytes
# (chunks / parquet blocks), and the share of the PVC that may be used.
COMPRESSION = 4
PVC_SHARE = 0.8


def _expand(text: str, c: dict, problems: list[str]) -> str:
    """${VAR} / ${VAR:-default} as Loki's and Tempo's -config.expand-env do, from the
    container's literal env."""
    env = {e.get("name"): e.get("value") for e in c.get("env") or [] if "value" in e}
    env.update({e.get("name"): "from-secret" for e in c.get("env") or [] if "valueFrom" in e})
    from_secret = any("secretRef" in ef for ef in c.get("envFrom") or [])

    def sub(m):
        if m.group(1) in env:
            return str(env[m.group(1)])
        if m.group(2) is not None:
            return m.group(2)
        if from_secret:  # envFrom a Secret: its keys are not in the render
            return "from-secret"
        problems.append(f"config uses ${{{m.group(1)}}} but the container does not set it")
        return ""
    return ENV_VAR.sub(sub, text)


def _component_config(idx: Index, image: str, flag: str, problems: list[str] | None = None):
    for w, c in find_workload(idx, image):
        files = container_files(idx, w, c)
        path = arg_value(c.get("args") or [], flag)
        f = files.get(path or "")
        text = f.content if f else None
        if text is not None and "-config.expand-env=true" in (c.get("args") or []):
            text = _expand(text, c, problems if problems is not None else [])
        yield w, c, path, (yaml.safe_load(text) if text is not None else None)


def _duration_s(v) -> float | None:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m|h|d|w)", str(v or "").strip())
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)] if m else None


def _fits_pvc(idx: Index, w: dict, c: dict, data_path: str, rate_bytes: float | None, retention, what: str) -> list[str]:
    secs = _duration_s(retention)
    if rate_bytes is None or secs is None:
        return [f"{what}: needs both an ingestion rate limit and a retention period to bound its disk use "
                f"(rate={rate_bytes}, retention={retention!r})"]
    from check_prometheus import _claim_for
    claim = _claim_for(idx, w, c, data_path)
    cap = parse_bytes((((claim or {}).get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage", ""))
    if not cap:
        return [f"{what}: data path {data_path} has no PVC with a size"]
    worst = rate_bytes * secs / COMPRESSION
    if worst > PVC_SHARE * cap:
        return [f"{what}: rate {rate_bytes:.0f} B/s x retention {retention} / {COMPRESSION} = {worst / 2**30:.1f} GiB "
                f"exceeds {PVC_SHARE:.0%} of PVC {obj_ref(claim)} ({cap / 2**30:.1f} GiB)"]
    return []


def check_loki(idx: Index, ctx: Context) -> list[Finding] | None:
    if not find_workload(idx, "grafana/loki"):
        return None
    out = []
    problems: list[str] = []
    for w, c, path, cfg in _component_config(idx, "grafana/loki", "-config.file", problems):
        ref = obj_ref(w)
        out += [Finding("loki", ref, p) for p in problems]
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
        elif (cfg.get("common") or {}).get("storage", {}).get("filesystem") is not None:
            rate = limits.get("ingestion_rate_mb")
            out += [Finding("loki", ref, p) for p in _fits_pvc(
                idx, w, c, prefix, float(rate) * 2**20 if rate not in (None, "") else None,
                limits.get("retention_period"), "Loki size bound")]
            if not (cfg.get("compactor") or {}).get("retention_enabled"):
                out.append(Finding("loki", ref, "compactor.retention_enabled is not true (retention_period is ignored)"))
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
    problems: list[str] = []
    graph_sources = []
    for w, c in find_workload(idx, "opentelemetry-collector"):
        cfg, _ = collector_config(idx, w, c)
        if any(k.split("/")[0] == "service_graph" for k in (cfg.get("connectors") or {})):
            graph_sources.append(f"collector {obj_ref(w)} service_graph connector")
    for w, c, path, cfg in _component_config(idx, "grafana/tempo", "-config.file", problems):
        ref = obj_ref(w)
        out += [Finding("tempo", ref, p) for p in problems]
        problems.clear()
        if cfg is None:
            out.append(Finding("tempo", ref, f"-config.file {path!r} is not a mounted file"))
            continue
        gen = cfg.get("metrics_generator") or {}
        procs = (((cfg.get("overrides") or {}).get("defaults") or {}).get("metrics_generator") or {}).get("processors") or []
        target = arg_value(c.get("args") or [], "-target") or cfg.get("target", "all")
        if target == "all" and (gen.get("storage") or {}).get("path") and "service-graphs" in procs:
            graph_sources.append(f"{ref} in-process metrics-generator")
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
        writes_wal = target in ("all", "live-store", "block-builder", "scalable-single-binary")
        for key in ("local", "wal"):
            p = (trace.get(key) or {}).get("path", "")
            if trace.get("backend") == "local" or (key == "wal" and writes_wal):
                if not on_pvc(p, prefixes):
                    out.append(Finding("tempo", ref, f"storage.trace.{key}.path {p!r} is not on a PersistentVolumeClaim"))
        if trace.get("backend") == "local":
            ingestion = (((cfg.get("overrides") or {}).get("defaults") or {}).get("ingestion") or {})
            rate = ingestion.get("rate_limit_bytes")
            retention = ((cfg.get("backend_worker") or {}).get("compaction") or {}).get("block_retention")
            out += [Finding("tempo", ref, p) for p in _fits_pvc(
                idx, w, c, (trace.get("local") or {}).get("path", ""),
                float(rate) if rate not in (None, "") else None, retention, "Tempo size bound")]
        for rw in ((cfg.get("metrics_generator") or {}).get("storage") or {}).get("remote_write") or []:
            _, host, port, _ = parse_endpoint(rw.get("url", ""))
            svc, why = find_service_port(ctx.services, host or "", port, namespace_of(w))
            if svc is None and why != "external":
                out.append(Finding("tempo", ref, f"metrics_generator remote_write {rw.get('url')}: {why}"))
    if not graph_sources:
        out.append(Finding("tempo", "stack", "nothing computes service-graph metrics (Tempo monolith generator "
                                             "or collector service_graph connector): the service map stays empty"))
    return out
