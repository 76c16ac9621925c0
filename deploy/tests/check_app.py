"""App-side checks: the app-otel snippet on Baker Street Deployments, and alert runbook
anchors into deploy/README.md."""

from __future__ import annotations

import re


from checks_k8s import parse_endpoint
from manifests import (
    Finding, Index, find_workload, namespace_of, obj_ref, pod_spec, pod_template_metadata,
)
from stack_common import SEND_TELEMETRY_LABEL, Context, env_map, find_service_port, grpc_port
from check_prometheus import rule_groups


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
        c, env = named_app[0], env_map(named_app[0])
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
            svc, p = find_service_port(ctx.services, host or "", port, namespace_of(w))
            if svc is None:
                out.append(Finding("app-otel", ref, f"OTEL_EXPORTER_OTLP_ENDPOINT {ep}: {p}"))
            else:
                proto = (env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or {}).get("value", "grpc")
                if (proto == "grpc") != grpc_port(p):
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


def check_runbooks(idx: Index, ctx: Context) -> list[Finding] | None:
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
