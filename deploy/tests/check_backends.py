"""Loki and Tempo checks: OTLP ingestion with structured metadata, Tempo 3 configuration
(no ingester/compactor blocks, receivers bound to 0.0.0.0), data on PVCs."""

from __future__ import annotations

import yaml

from checks_k8s import on_pvc, parse_endpoint, pvc_mount_prefixes
from manifests import (
    Finding, Index, arg_value, container_files, find_workload, namespace_of, obj_ref,
)
from stack_common import Context, find_service_port
from check_collector import collector_config


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
            svc, why = find_service_port(ctx.services, host or "", port, namespace_of(w))
            if svc is None and why != "external":
                out.append(Finding("tempo", ref, f"metrics_generator remote_write {rw.get('url')}: {why}"))
    return out
