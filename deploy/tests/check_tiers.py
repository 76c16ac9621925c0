"""Scale-out collector tiers: agents route traces by trace id (load_balancing exporter) to a
tail-sampling gateway behind a headless Service; both tiers autoscale; span metrics and
the service graph are computed from all spans before sampling; the sampling policies keep
errors, budget breaches, expensive LLM calls and slow requests and sample the rest."""

from __future__ import annotations

from check_collector import collector_config
from manifests import Finding, Index, find_workload, namespace_of, obj_ref, pod_template_metadata
from stack_common import Context, component_type

COST_ATTRIBUTE = "gen_ai.usage.cost.amount"


def _hpa_targets(idx: Index) -> set[tuple[str, str | None, str]]:
    return {((h.get("spec") or {}).get("scaleTargetRef", {}).get("kind"), namespace_of(h),
             (h.get("spec") or {}).get("scaleTargetRef", {}).get("name")) for h in idx.of_kind("HorizontalPodAutoscaler")}


def check_tiers(idx: Index, ctx: Context) -> list[Finding] | None:
    collectors = [(w, c, collector_config(idx, w, c)[0] or {}) for w, c in find_workload(idx, "opentelemetry-collector")]
    tiered = [x for x in collectors if any(component_type(k) in ("load_balancing", "tail_sampling")
                                           for s in ("exporters", "processors") for k in (x[2].get(s) or {}))]
    if not tiered:
        return None
    out = []
    hpas = _hpa_targets(idx)
    for w, c, cfg in tiered:
        ref = obj_ref(w)
        if (w["kind"], namespace_of(w), w["metadata"]["name"]) not in hpas:
            out.append(Finding("tiers", ref, "no HorizontalPodAutoscaler targets this collector tier"))
        for cid, ec in (cfg.get("exporters") or {}).items():
            if component_type(cid) == "load_balancing":
                out += [Finding("tiers", ref, p) for p in _loadbalancing(idx, w, cid, ec or {}, collectors)]
        if any(component_type(k) == "tail_sampling" for k in cfg.get("processors") or {}):
            out += [Finding("tiers", ref, p) for p in _gateway(w, cfg)]
    return out


def _loadbalancing(idx: Index, w: dict, cid: str, ec: dict, collectors) -> list[str]:
    out = []
    if ec.get("routing_key") != "traceID":
        out.append(f"exporter {cid}: routing_key must be traceID (all spans of a trace to one gateway), is {ec.get('routing_key')!r}")
    dns = (ec.get("resolver") or {}).get("dns") or {}
    host = str(dns.get("hostname", ""))
    if not host:
        return out + [f"exporter {cid}: needs a dns resolver on the gateway's headless Service"]
    name, _, rest = host.partition(".")
    ns = rest.split(".")[0] if rest else namespace_of(w)
    svc = idx.get("Service", ns, name)
    if svc is None:
        return out + [f"exporter {cid}: resolver hostname {host} is no Service in the render"]
    if (svc.get("spec") or {}).get("clusterIP") != "None":
        out.append(f"exporter {cid}: Service {ns}/{name} must be headless (clusterIP: None) so DNS lists every gateway pod")
    sel = (svc.get("spec") or {}).get("selector") or {}
    gateways = [(gw, cfg) for gw, _, cfg in collectors
                if sel and all((pod_template_metadata(gw).get("labels") or {}).get(k) == v for k, v in sel.items())]
    if not gateways:
        out.append(f"exporter {cid}: Service {ns}/{name} selects no collector")
    for gw, cfg in gateways:
        if gw.get("kind") != "StatefulSet":
            out.append(f"gateway {obj_ref(gw)} should be a StatefulSet (stable pod identities behind the headless Service)")
        if not any(component_type(k) == "tail_sampling" for k in cfg.get("processors") or {}):
            out.append(f"gateway {obj_ref(gw)} behind {name} runs no tail_sampling processor")
    return out


def _gateway(w: dict, cfg: dict) -> list[str]:
    out = []
    pipelines = (cfg.get("service") or {}).get("pipelines") or {}
    sampled = {n: p for n, p in pipelines.items() if any(component_type(x) == "tail_sampling" for x in p.get("processors") or [])}
    for conn in ("span_metrics", "service_graph"):
        feeders = [n for n, p in pipelines.items() if n.startswith("traces") and
                   any(component_type(e) == conn for e in p.get("exporters") or [])]
        if not feeders:
            out.append(f"no traces pipeline exports to a {conn} connector (metrics must come from the collector here)")
        for n in feeders:
            if n in sampled:
                out.append(f"pipeline {n} feeds {conn} after tail_sampling: metrics would only count sampled traces")
            for s in sampled.values():
                if set(s.get("receivers") or []) - set(pipelines[n].get("receivers") or []):
                    out.append(f"pipeline {n} ({conn}) does not see everything the sampled pipeline receives")
    for pid, pc in (cfg.get("processors") or {}).items():
        if component_type(pid) != "tail_sampling":
            continue
        pols = (pc or {}).get("policies") or []
        types = {p.get("type") for p in pols}
        if not any(p.get("type") == "status_code" and "ERROR" in ((p.get("status_code") or {}).get("status_codes") or [])
                   for p in pols):
            out.append(f"{pid}: no policy keeps traces with an error")
        if "latency" not in types:
            out.append(f"{pid}: no latency policy (slow requests)")
        if "probabilistic" not in types:
            out.append(f"{pid}: no probabilistic policy for the rest")
        conds = [c for p in pols if p.get("type") == "ottl_condition"
                 for c in ((p.get("ottl_condition") or {}).get("span") or [])]
        if sum(COST_ATTRIBUTE in c for c in conds) < 2:
            out.append(f"{pid}: needs ottl_condition policies on {COST_ATTRIBUTE} for budget breaches and expensive LLM calls")
    return out
