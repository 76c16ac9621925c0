"""NetworkPolicy flow checks (ingress and egress, evaluated with checks_k8s.NetworkPolicies):
the flows the stack needs are allowed — including every collector exporter to the pods
behind its endpoint, DNS, and the outside world where a component needs it — and
everything else into the collector, the backends and Grafana, and out of Loki, Tempo and
Grafana, is denied."""

from __future__ import annotations

import re

from checks_k8s import NetworkPolicies
from manifests import (
    Finding, Index, container_files, find_workload, namespace_of, obj_ref, pod_template_metadata,
)
from stack_common import SEND_TELEMETRY_LABEL, Context


def check_network(idx: Index, ctx: Context) -> list[Finding] | None:
    """Flows the stack needs must be allowed; everything else into the backends denied."""
    out = []
    stack = {name: find_workload(idx, img) for name, img in (
        ("otel-collector", "opentelemetry-collector"), ("tempo", "grafana/tempo"), ("loki", "grafana/loki"),
        ("prometheus", "prom/prometheus"), ("grafana", "grafana/grafana"),
        ("alertmanager", "prom/alertmanager"))}
    if not any(stack.values()):
        return None
    missing = [n for n, found in stack.items() if not found]
    if missing:
        return [Finding("network", "stack", f"components missing from this variant: {missing}")]
    ns = namespace_of(stack["otel-collector"][0][0])
    policies = [p for p in idx.of_kind("NetworkPolicy") if namespace_of(p) == ns]
    for kind in ("Ingress", "Egress"):
        if not any((p.get("spec") or {}).get("podSelector") in ({}, None) and not (p.get("spec") or {}).get(kind.lower())
                   and kind in ((p.get("spec") or {}).get("policyTypes") or []) for p in policies):
            out.append(Finding("network", f"Namespace/{ns}", f"no default-deny {kind.lower()} NetworkPolicy"))
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
        (ns, labels("prometheus"), "alertmanager", 9093, "Prometheus sends alerts"),
        (ns, labels("grafana"), "alertmanager", 9093, "Grafana lists alerts and silences"),
    ]
    # Prometheus must reach every annotated scrape port in the stack namespace.
    for w in idx.workloads():
        ann = pod_template_metadata(w).get("annotations") or {}
        if namespace_of(w) == ns and ann.get("prometheus.io/scrape") == "true":
            port = str(ann.get("prometheus.io/port", ""))
            if port.isdigit():
                name = (pod_template_metadata(w).get("labels") or {}).get("app.kubernetes.io/name", "")
                if name in stack:
                    must.append((ns, labels("prometheus"), name, int(port), "Prometheus scrapes it (annotation)"))
    for src_ns, src_labels, dst, port, why in must:
        if not np.allowed(src_ns, src_labels, stack[dst][0][0], port):
            out.append(Finding("network", obj_ref(stack[dst][0][0]), f"blocks port {port} from {src_ns} {src_labels} ({why})"))
    # Every collector exporter (any tier) can reach the pods behind its endpoint.
    out += _exporter_flows(idx, ctx, np, ns)
    # Egress: DNS for everyone; the outside world only where a component needs it.
    namespaces.setdefault("kube-system", {"kubernetes.io/metadata.name": "kube-system"})
    for name in stack:
        if not np.egress_allowed(ns, labels(name), "kube-system", {"k8s-app": "kube-dns"}, 53):
            out.append(Finding("network", obj_ref(stack[name][0][0]), "egress to cluster DNS (kube-dns:53) is blocked"))
    for name, port, why in (("alertmanager", 443, "receivers (Slack, PagerDuty, webhooks)"),
                            ("otel-collector", 443, "the Kubernetes API (k8s_attributes) / OTLP gateways"),
                            ("prometheus", 443, "the Kubernetes API (discovery) / remote write"),
                            ("prometheus", 10250, "kubelet volume statistics")):
        if not np.egress_allowed(ns, labels(name), None, None, port):
            out.append(Finding("network", obj_ref(stack[name][0][0]), f"egress to port {port} outside the cluster is blocked ({why})"))
    for name in ("loki", "tempo", "grafana"):
        w, c = stack[name][0]
        if name != "grafana" and _object_storage(idx, w, c):
            if not np.egress_allowed(ns, labels(name), None, None, 443):
                out.append(Finding("network", obj_ref(w), "egress to the object store (443) is blocked"))
            continue
        for port in (80, 443):
            if np.egress_allowed(ns, labels(name), None, None, port):
                out.append(Finding("network", obj_ref(stack[name][0][0]), f"may reach port {port} outside the cluster; egress must be default-deny"))
    if np.allowed("intruder", {"app": "x"}, stack["grafana"][0][0], 3000):
        out.append(Finding("network", obj_ref(stack["grafana"][0][0]),
                           "port 3000 is open to any namespace; allow only the ingress namespace (README) and Prometheus"))
    intruders = [("intruder", {"app": "x"}), (ns, {"app.kubernetes.io/name": "intruder"}),
                 ("baker-street", {"app.kubernetes.io/name": "brain"})]
    for dst in ("tempo", "loki", "prometheus", "alertmanager"):
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


def _object_storage(idx: Index, w: dict, c: dict) -> bool:
    """Loki/Tempo configured for S3-compatible object storage (needs HTTPS egress)."""
    return any(re.search(r"(?m)^\s*(backend|object_store): s3\s*$", f.content)
               for f in container_files(idx, w, c).values())


def _exporter_flows(idx: Index, ctx: Context, np: NetworkPolicies, ns: str) -> list[Finding]:
    from check_collector import collector_config
    from checks_k8s import parse_endpoint
    from stack_common import find_service_port
    out = []
    for w, c in find_workload(idx, "opentelemetry-collector"):
        cfg, _ = collector_config(idx, w, c)
        src = pod_template_metadata(w).get("labels") or {}
        for cid, ec in (cfg.get("exporters") or {}).items():
            ec = ec or {}
            dns = ((ec.get("resolver") or {}).get("dns") or {})
            ep = f"{dns['hostname']}:{dns.get('port', 4317)}" if dns.get("hostname") else str(ec.get("endpoint", ""))
            if "${" in ep:
                continue  # from the environment: an external endpoint
            _, host, port, _ = parse_endpoint(ep if "://" in ep else "http://" + ep)
            svc, _ = find_service_port(ctx.services, host or "", port, namespace_of(w))
            if svc is None:
                continue  # external, or reported by the collector checks
            sel = (svc.get("spec") or {}).get("selector") or {}
            for dst in idx.workloads():
                labels = pod_template_metadata(dst).get("labels") or {}
                if namespace_of(dst) == namespace_of(svc) and sel and all(labels.get(k) == v for k, v in sel.items()):
                    if not np.allowed(ns, src, dst, port):
                        out.append(Finding("network", obj_ref(w), f"exporter {cid} cannot reach {obj_ref(dst)} port {port}"))
    return out
