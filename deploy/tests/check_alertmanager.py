"""Alertmanager checks: config from a Secret, every route's receiver defined, warnings
inhibited by criticals, credential files mounted, silences/notification log on a PVC,
Prometheus `alerting:` resolving to the Alertmanager Service, and the routing tree of a
variant (components/alert-receivers) identical to deploy/base/alertmanager/alertmanager.yml."""

from __future__ import annotations

import posixpath

import yaml

from checks_k8s import on_pvc, parse_endpoint, pvc_mount_prefixes
from manifests import Finding, Index, arg_value, container_files, find_workload, namespace_of, obj_ref
from stack_common import Context, find_service_port

ROUTING_KEYS = ("route", "inhibit_rules")


def alertmanager_config(idx: Index, w: dict, c: dict):
    files = container_files(idx, w, c)
    path = arg_value(c.get("args") or [], "--config.file") or ""
    return path, files.get(path), files


def _routes(route: dict):
    yield route
    for r in route.get("routes") or []:
        yield from _routes(r)


def check_alertmanager(idx: Index, ctx: Context) -> list[Finding] | None:
    found = find_workload(idx, "prom/alertmanager")
    if not found:
        return None if not find_workload(idx, "prom/prometheus") else [
            Finding("alertmanager", "stack", "Prometheus without an Alertmanager: alerts go nowhere")]
    out = []
    for w, c in found:
        ref = obj_ref(w)
        path, f, files = alertmanager_config(idx, w, c)
        if f is None:
            out.append(Finding("alertmanager", ref, f"--config.file {path!r} is not a mounted file"))
            continue
        if f.source_kind != "Secret":
            out.append(Finding("alertmanager", ref, f"{path} comes from a {f.source_kind}; receivers hold credentials, use a Secret"))
        cfg = yaml.safe_load(f.content) or {}
        names = [r.get("name") for r in cfg.get("receivers") or []]
        for r in _routes(cfg.get("route") or {}):
            if r.get("receiver") and r["receiver"] not in names:
                out.append(Finding("alertmanager", ref, f"route uses undefined receiver {r['receiver']!r}"))
        if not (cfg.get("route") or {}).get("group_by"):
            out.append(Finding("alertmanager", ref, "route has no group_by (one notification per alert)"))
        if not any('severity="critical"' in (i.get("source_matchers") or []) and
                   'severity="warning"' in (i.get("target_matchers") or []) for i in cfg.get("inhibit_rules") or []):
            out.append(Finding("alertmanager", ref, "no inhibit rule mutes warnings while a critical fires"))
        mounted = set(files) | {m.get("mountPath") for m in c.get("volumeMounts") or []}
        for rcv in cfg.get("receivers") or []:
            for kind, lst in rcv.items():
                for integ in lst if isinstance(lst, list) else []:
                    for k, v in integ.items():
                        if k.endswith("_file") and not any(v == m or v.startswith(str(m) + "/") for m in mounted):
                            out.append(Finding("alertmanager", ref, f"receiver {rcv['name']} {kind}.{k} {v} is not mounted"))
                        if k in ("routing_key", "service_key", "api_url") and v:
                            out.append(Finding("alertmanager", ref, f"receiver {rcv['name']} has a literal {k}; use {k}_file from a Secret"))
        storage = arg_value(c.get("args") or [], "--storage.path") or "data/"
        if not on_pvc(storage, pvc_mount_prefixes(idx, w, c)):
            out.append(Finding("alertmanager", ref, f"--storage.path {storage} (silences, notification log) is not on a PVC"))
        if ctx.reference_alertmanager is not None:
            base = yaml.safe_load(ctx.reference_alertmanager) or {}
            drift = [k for k in ROUTING_KEYS if cfg.get(k) != base.get(k)]
            if drift:
                out.append(Finding("alertmanager", ref, f"{drift} drifted from deploy/base/alertmanager/alertmanager.yml"))
    # Prometheus sends to it
    from check_prometheus import prometheus_config  # local import: no cycle at module load
    for pw, pc in find_workload(idx, "prom/prometheus"):
        _, text, _ = prometheus_config(idx, pw, pc)
        cfg = yaml.safe_load(text or "") or {}
        targets = [t for am in (cfg.get("alerting") or {}).get("alertmanagers") or []
                   for sc in am.get("static_configs") or [] for t in sc.get("targets") or []]
        if not targets:
            out.append(Finding("alertmanager", obj_ref(pw), "prometheus.yml has no alerting.alertmanagers targets"))
        for t in targets:
            _, host, port, _ = parse_endpoint("http://" + t)
            svc, why = find_service_port(ctx.services, host, port, namespace_of(pw))
            if svc is None:
                out.append(Finding("alertmanager", obj_ref(pw), f"alerting target {t}: {why}"))
    return out


def extract(idx: Index, outdir: str) -> list[str]:
    """Writes each mounted Alertmanager config to OUTDIR; returns the paths."""
    paths = []
    for w, c in find_workload(idx, "prom/alertmanager"):
        path, f, _ = alertmanager_config(idx, w, c)
        if f is None:
            continue
        os_path = posixpath.join(outdir, f"{w['metadata']['name']}-{posixpath.basename(path)}")
        with open(os_path, "w", encoding="utf-8") as fh:
            fh.write(f.content)
        paths.append(os_path)
    return paths
