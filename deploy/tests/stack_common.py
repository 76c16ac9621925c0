"""Shared pieces of the stack checks (check_collector, check_prometheus, check_backends,
check_grafana, check_network, check_app): the check Context, Service lookup for
endpoints, small helpers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


from checks_k8s import service_for_host

SEND_TELEMETRY_LABEL = "observability.baker-street.io/send-telemetry"

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
    reference_alertmanager: str | None = None  # text of deploy/base/alertmanager/alertmanager.yml


def component_type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def env_map(container: dict) -> dict[str, dict]:
    return {e.get("name"): e for e in container.get("env") or []}


def find_service_port(services: list[dict], host: str, port: int | None, default_ns: str | None):
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


def grpc_port(p: dict) -> bool:
    return "grpc" in (p.get("name") or "") or p.get("appProtocol") == "grpc"
