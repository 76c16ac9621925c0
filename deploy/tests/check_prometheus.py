"""Prometheus checks: required flags, the Prometheus-3-only parts (via prometheus_split),
scrape jobs for the collector and annotated pods, rule files wired from
deploy/base/prometheus/rules, retention that fits the volume, and drift of a variant's
prometheus.yml from the base file."""

from __future__ import annotations

import posixpath

import yaml

import prometheus_split
from checks_k8s import on_pvc, parse_bytes, pvc_mount_prefixes
from manifests import (
    Finding, Index, MountedFile, arg_value, container_files, find_workload, glob_files,
    namespace_of, obj_ref, pod_spec,
)
from stack_common import Context


RETENTION_MAX_SHARE = 0.75


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
    for name, sc in jobs.items():
        for limit in ("sample_limit", "label_limit"):
            if not sc.get(limit):
                out.append(f"scrape job {name!r} has no {limit} (a runaway target could flood the TSDB)")
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
        # The size counts WAL and head chunks; compaction needs scratch space on top. Above
        # 75 % of the volume, KubePersistentVolumeFillingUp (> 80 %) fires whenever it is full.
        if cap and want and want > RETENTION_MAX_SHARE * cap:
            out.append(f"--storage.tsdb.retention.size={size} does not fit PVC {obj_ref(claim)} "
                       f"({cap / 2**30:.1f} GiB): keep it at most {RETENTION_MAX_SHARE:.0%} of the volume, "
                       "below the 80 % volume alert")
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
