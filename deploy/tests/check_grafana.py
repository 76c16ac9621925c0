"""Grafana checks: anonymous access off, admin credentials from a Secret, provisioned
datasources with fixed uids and both-way correlations, dashboards provider with one
mounted ConfigMap per dashboard and only known datasource uids."""

from __future__ import annotations

import configparser
import json
import posixpath
import re

import yaml

from checks_k8s import on_pvc, parse_endpoint, pvc_mount_prefixes
from manifests import (
    Finding, Index, container_files, find_workload, glob_files, namespace_of, obj_ref, pod_spec,
)
from stack_common import DATASOURCES, Context, env_map, find_service_port


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
    env = env_map(c)
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
            path = ef.get("value", "")
            f = files.get(path)
            generated = on_pvc(path, pvc_mount_prefixes(idx, w, c)) and any(
                posixpath.dirname(path) in " ".join(i.get("command") or [])
                for i in pod_spec(w).get("initContainers") or [])
            if not generated and (f is None or f.source_kind != "Secret"):
                out.append(f"{var}__FILE {path!r} is neither a file from a Secret nor written "
                           "on the PVC by an init container (per-install credentials)")
        if e is None and ef is None:
            out.append(f"{var} is not provided (Secret or per-install generated file)")
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
        svc, why = find_service_port(ctx.services, host or "", port, ns)
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
