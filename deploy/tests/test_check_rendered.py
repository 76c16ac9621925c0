"""Self-tests for check_rendered.py: the real rendered stack must be clean, and each
deliberately broken copy (mutated in memory) must produce a finding that names the
broken object.

    BAKER_RENDERED_DEFAULT=default.yaml BAKER_RENDERED_APP=app.yaml \
        python -m unittest deploy/tests/test_check_rendered.py

(scripts/check-deploy renders both and sets the variables.)
"""

from __future__ import annotations

import os
import sys
import unittest

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import checks_stack  # noqa: E402
from check_rendered import run_checks  # noqa: E402
from manifests import Index, load_documents, pod_spec  # noqa: E402

NS = "baker-street-observability"


def _load(var: str) -> Index:
    path = os.environ.get(var)
    if not path:
        raise unittest.SkipTest(f"{var} is not set (run through scripts/check-deploy)")
    with open(path, encoding="utf-8") as fh:
        return Index.build(load_documents(fh.read()))


class CheckRenderedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stack = _load("BAKER_RENDERED_DEFAULT")
        cls.app = _load("BAKER_RENDERED_APP")
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "..", "base", "prometheus", "prometheus.yml"), encoding="utf-8") as fh:
            cls.reference_prometheus = fh.read()
        with open(os.path.join(here, "..", "base", "alertmanager", "alertmanager.yml"), encoding="utf-8") as fh:
            cls.reference_alertmanager = fh.read()

    # ---------------------------------------------------------------- helpers
    def ctx(self, idx: Index, app: Index | None = None, **kw) -> checks_stack.Context:
        alerts = [r["alert"] for _, r in checks_stack.rule_groups(idx) if "alert" in r]
        readme = "## Runbooks\n" + "".join(f"### {a}\n" for a in alerts)
        services = idx.of_kind("Service") + (app or self.app).of_kind("Service")
        args = dict(services=services, readme=readme, reference_prometheus=self.reference_prometheus,
                    reference_alertmanager=self.reference_alertmanager)
        args.update(kw)
        return checks_stack.Context(**args)

    def findings(self, idx: Index, group: str, app: Index | None = None, **kw) -> list[str]:
        res = run_checks(idx, self.ctx(idx, app, **kw))[group] or []
        return [str(f) for f in res]

    def assertFinds(self, idx: Index, group: str, *needles: str, app: Index | None = None, **kw):
        found = self.findings(idx, group, app, **kw)
        for f in found:
            if all(n in f for n in needles):
                return
        self.fail(f"no {group} finding containing {needles}; got {found}")

    def cm(self, idx: Index, prefix: str) -> dict:
        for d in idx.of_kind("ConfigMap"):
            if d["metadata"]["name"].startswith(prefix + "-"):
                return d
        raise AssertionError(f"no ConfigMap {prefix}-*")

    def edit_yaml(self, idx: Index, prefix: str, key: str, fn) -> None:
        cm = self.cm(idx, prefix)
        doc = yaml.safe_load(cm["data"][key])
        fn(doc)
        cm["data"][key] = yaml.safe_dump(doc)

    def workload(self, idx: Index, name: str) -> dict:
        return idx.get("Deployment", NS, name)

    def container(self, idx: Index, name: str) -> dict:
        return pod_spec(self.workload(idx, name))["containers"][0]

    # ---------------------------------------------------------------- baseline
    def test_real_render_is_clean(self):
        for name, idx in (("stack", self.stack), ("app", self.app)):
            res = run_checks(idx, self.ctx(self.stack))
            bad = {g: [str(f) for f in fs] for g, fs in res.items() if fs}
            self.assertEqual(bad, {}, f"{name} render should pass")

    # ---------------------------------------------------------------- collector
    def test_undefined_exporter_in_pipeline(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "otel-collector-config", "config.yaml",
                       lambda c: c["service"]["pipelines"]["traces"]["exporters"].append("otlp_grpc/nowhere"))
        self.assertFinds(idx, "collector", "Deployment/baker-street-observability/otel-collector", "otlp_grpc/nowhere", "not defined")

    def test_removed_loki_exporter(self):
        idx = self.stack.copy()

        def f(c):
            c["exporters"]["loki"] = {"endpoint": "http://loki:3100/loki/api/v1/push"}
            c["service"]["pipelines"]["logs"]["exporters"] = ["loki"]
            del c["exporters"]["otlp_http/loki"]
        self.edit_yaml(idx, "otel-collector-config", "config.yaml", f)
        self.assertFinds(idx, "collector", "otel-collector", "'loki'", "removed")

    def test_deprecated_names_and_batch_processor(self):
        idx = self.stack.copy()

        def f(c):
            c["processors"]["k8sattributes"] = c["processors"].pop("k8s_attributes")
            c["processors"]["batch"] = {}
            for p in c["service"]["pipelines"].values():
                p["processors"] = ["memory_limiter", "k8sattributes", "resource_detection", "batch"]
            c["exporters"]["otlphttp/loki"] = c["exporters"].pop("otlp_http/loki")
            c["service"]["pipelines"]["logs"]["exporters"] = ["otlphttp/loki"]
        self.edit_yaml(idx, "otel-collector-config", "config.yaml", f)
        self.assertFinds(idx, "collector", "'k8sattributes'", "k8s_attributes")
        self.assertFinds(idx, "collector", "'batch'", "sending_queue")
        self.assertFinds(idx, "collector", "'otlphttp/loki'", "otlp_http")

    def test_memory_limiter_not_first(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "otel-collector-config", "config.yaml",
                       lambda c: c["service"]["pipelines"]["metrics"].update(
                           processors=["k8s_attributes", "memory_limiter", "resource_detection"]))
        self.assertFinds(idx, "collector", "pipeline metrics", "memory_limiter")

    def test_exporter_endpoint_wrong_port_and_host(self):
        idx = self.stack.copy()

        def f(c):
            c["exporters"]["otlp_grpc/tempo"]["endpoint"] = "tempo:4318"
            c["exporters"]["otlp_http/prometheus"]["endpoint"] = "http://prometheus-server:9090/api/v1/otlp"
        self.edit_yaml(idx, "otel-collector-config", "config.yaml", f)
        self.assertFinds(idx, "collector", "otlp_grpc/tempo", "has no port 4318")
        self.assertFinds(idx, "collector", "otlp_http/prometheus", "no Service baker-street-observability/prometheus-server")

    def test_queue_without_file_storage(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "otel-collector-config", "config.yaml",
                       lambda c: c["exporters"]["otlp_http/loki"]["sending_queue"].pop("storage"))
        self.assertFinds(idx, "collector", "otlp_http/loki", "file_storage")

    def test_literal_authorization_header(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "otel-collector-config", "config.yaml",
                       lambda c: c["exporters"]["otlp_http/loki"].update(headers={"Authorization": "Basic c2VjcmV0"}))
        self.assertFinds(idx, "collector", "otlp_http/loki", "Authorization", "Secret")

    def test_env_reference_without_env(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "otel-collector-config", "config.yaml",
                       lambda c: c["exporters"]["otlp_http/loki"].update(endpoint="${env:LOKI_URL}"))
        self.assertFinds(idx, "collector", "LOKI_URL")

    # ---------------------------------------------------------------- k8s objects
    def test_missing_configmap_reference(self):
        idx = self.stack.copy()
        for v in pod_spec(self.workload(idx, "tempo"))["volumes"]:
            if "configMap" in v:
                v["configMap"]["name"] = "tempo-config-gone"
        self.assertFinds(idx, "references", "Deployment/baker-street-observability/tempo", "missing ConfigMap", "tempo-config-gone")

    def test_missing_pvc(self):
        idx = self.stack.copy()
        idx = Index.build([d for d in idx.docs if not (d["kind"] == "PersistentVolumeClaim" and d["metadata"]["name"] == "loki-data")])
        self.assertFinds(idx, "references", "Deployment/baker-street-observability/loki", "PersistentVolumeClaim", "loki-data")

    def test_missing_secret_key(self):
        idx = self.stack.copy()
        v = next(v for v in pod_spec(self.workload(idx, "alertmanager"))["volumes"] if v["name"] == "config")
        v["secret"]["items"] = [{"key": "no-such-key", "path": "alertmanager.yml"}]
        self.assertFinds(idx, "references", "Deployment/baker-street-observability/alertmanager", "no-such-key")

    def test_grafana_password_neither_secret_nor_generated(self):
        idx = self.stack.copy()
        pod_spec(self.workload(idx, "grafana"))["initContainers"] = []
        self.assertFinds(idx, "grafana", "Deployment/baker-street-observability/grafana", "GF_SECURITY_ADMIN_PASSWORD")

    def test_user_secret_must_be_declared(self):
        idx = self.stack.copy()
        v = next(v for v in pod_spec(self.workload(idx, "grafana"))["volumes"] if v["name"] == "admin")
        v["secret"]["optional"] = False
        self.assertFinds(idx, "references", "grafana", "missing Secret", "grafana-admin")
        self.workload(idx, "grafana")["spec"]["template"]["metadata"].setdefault("annotations", {})[
            "observability.baker-street.io/user-secrets"] = "grafana-admin"
        self.assertEqual([f for f in self.findings(idx, "references") if "grafana-admin" in f], [])

    def test_unpinned_image(self):
        idx = self.stack.copy()
        self.container(idx, "loki")["image"] = "grafana/loki:latest"
        self.assertFinds(idx, "containers", "Deployment/baker-street-observability/loki", "not pinned")

    def test_resources_and_probes(self):
        idx = self.stack.copy()
        c = self.container(idx, "prometheus")
        del c["resources"]["limits"]
        del c["readinessProbe"]
        self.assertFinds(idx, "containers", "prometheus", "resources.limits.cpu")
        self.assertFinds(idx, "containers", "prometheus", "readinessProbe is missing")

    def test_security_context(self):
        idx = self.stack.copy()
        c = self.container(idx, "grafana")
        c["securityContext"]["allowPrivilegeEscalation"] = True
        c["securityContext"]["readOnlyRootFilesystem"] = False
        self.assertFinds(idx, "containers", "Deployment/baker-street-observability/grafana", "allowPrivilegeEscalation")
        self.assertFinds(idx, "containers", "grafana", "readOnlyRootFilesystem")

    def test_namespace_not_restricted(self):
        idx = self.stack.copy()
        ns = idx.get("Namespace", None, NS)
        ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = "baseline"
        self.assertFinds(idx, "namespaces", f"Namespace/{NS}", "restricted")

    def test_object_without_namespace(self):
        idx = self.stack.copy()
        for s in idx.of_kind("Secret"):
            del s["metadata"]["namespace"]
        idx = Index.build(idx.docs)
        self.assertFinds(idx, "namespaces", "Secret/alertmanager-config", "no namespace")
        self.assertFinds(idx, "references", "alertmanager", "missing Secret")

    def test_pvc_without_fsgroup(self):
        idx = self.stack.copy()
        del pod_spec(self.workload(idx, "tempo"))["securityContext"]["fsGroup"]
        self.assertFinds(idx, "storage", "Deployment/baker-street-observability/tempo", "fsGroup")

    # ---------------------------------------------------------------- prometheus
    def test_rule_files_not_mounted(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "prometheus-config", "prometheus.yml", lambda c: c.update(rule_files=["/etc/prometheus/alerts/*.yaml"]))
        self.assertFinds(idx, "prometheus", "Deployment/baker-street-observability/prometheus", "matches no mounted file",
                         reference_prometheus=None, rules_sources=["baker-alerts.yaml"])
        self.assertFinds(idx, "prometheus", "prometheus", "baker-alerts.yaml is not mounted",
                         reference_prometheus=None, rules_sources=["baker-alerts.yaml"])

    def test_literal_remote_write_password(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "prometheus-config", "prometheus.yml", lambda c: c.update(remote_write=[
            {"url": "https://example.invalid/api/prom/push", "basic_auth": {"username": "1", "password": "hunter2"}}]))
        self.assertFinds(idx, "prometheus", "prometheus", "literal credential")

    def test_prometheus3_block_checked_structurally(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "prometheus-config", "prometheus.yml",
                       lambda c: c["otlp"].update(translation_strategy="Dots", colour="blue"))
        self.assertFinds(idx, "prometheus", "otlp.translation_strategy", reference_prometheus=None)
        self.assertFinds(idx, "prometheus", "unknown fields", "colour", reference_prometheus=None)

    def test_kubernetes_sd_checked_structurally(self):
        # Debian's promtool has no Kubernetes discovery, so this part is checked in Python.
        idx = self.stack.copy()
        cm = self.cm(idx, "prometheus-config")
        cm["data"]["scrape-configs.yml"] = cm["data"]["scrape-configs.yml"].replace("- role: pod", "- role: pods", 1)
        self.assertFinds(idx, "prometheus", "kubernetes_sd_configs[0]", "role 'pods'")

    def test_scrape_port_blocked(self):
        idx = self.stack.copy()
        np = idx.get("NetworkPolicy", NS, "tempo")
        np["spec"]["ingress"][1]["from"] = [p for p in np["spec"]["ingress"][1]["from"]
                                            if p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] != "prometheus"]
        self.assertFinds(idx, "network", "tempo", "3200", "Prometheus scrapes it")

    def test_variant_drift_from_base_config(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "prometheus-config", "prometheus.yml", lambda c: c["global"].update(scrape_interval="5s"))
        self.assertFinds(idx, "prometheus", "drifted", "global")

    def test_retention_larger_than_volume(self):
        idx = self.stack.copy()
        args = self.container(idx, "prometheus")["args"]
        args[:] = [a if not a.startswith("--storage.tsdb.retention.size") else "--storage.tsdb.retention.size=64GB" for a in args]
        self.assertFinds(idx, "prometheus", "retention.size=64GB", "does not fit")

    def test_missing_otlp_receiver_flag(self):
        idx = self.stack.copy()
        self.container(idx, "prometheus")["args"].remove("--web.enable-otlp-receiver")
        self.assertFinds(idx, "prometheus", "--web.enable-otlp-receiver")

    # ---------------------------------------------------------------- loki / tempo
    def test_loki_structured_metadata(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "loki-config", "loki.yaml", lambda c: c["limits_config"].pop("otlp_config"))
        self.assertFinds(idx, "loki", "Deployment/baker-street-observability/loki", "conversation_id")

    def test_tempo2_blocks_and_localhost_receiver(self):
        idx = self.stack.copy()

        def f(c):
            c["ingester"] = {"max_block_duration": "5m"}
            c["distributor"]["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = "localhost:4317"
        self.edit_yaml(idx, "tempo-config", "tempo.yaml", f)
        self.assertFinds(idx, "tempo", "Deployment/baker-street-observability/tempo", "'ingester'")
        self.assertFinds(idx, "tempo", "tempo", "0.0.0.0")

    # ---------------------------------------------------------------- grafana
    def test_grafana_anonymous_and_correlations(self):
        idx = self.stack.copy()
        cm = self.cm(idx, "grafana-config")
        cm["data"]["grafana.ini"] = cm["data"]["grafana.ini"].replace(
            "[auth.anonymous]\nenabled = false", "[auth.anonymous]\nenabled = true")
        self.container(idx, "grafana")["env"] = [e for e in self.container(idx, "grafana")["env"]
                                                  if e["name"] != "GF_AUTH_ANONYMOUS_ENABLED"]

        def f(d):
            for ds in d["datasources"]:
                if ds["uid"] == "tempo":
                    ds["jsonData"]["tracesToLogsV2"]["datasourceUid"] = "logs"
        self.edit_yaml(idx, "grafana-datasources", "datasources.yaml", f)
        self.assertFinds(idx, "grafana", "Deployment/baker-street-observability/grafana", "anonymous")
        self.assertFinds(idx, "grafana", "grafana", "unknown datasource uid 'logs'")
        self.assertFinds(idx, "grafana", "grafana", "tracesToLogsV2")

    def test_unescaped_provisioning_variable(self):
        idx = self.stack.copy()
        cm = self.cm(idx, "grafana-datasources")
        cm["data"]["datasources.yaml"] = cm["data"]["datasources.yaml"].replace("$${__value.raw}", "${__value.raw}")
        self.assertFinds(idx, "grafana", "grafana", "${__value.raw}", "environment variable")

    def test_dashboard_not_mounted(self):
        idx = self.stack.copy()
        self.assertFinds(idx, "grafana", "grafana", "new-dashboard.json",
                         dashboard_sources=["agent-health.json", "new-dashboard.json"])

    # ---------------------------------------------------------------- network
    def test_backend_open_to_everyone(self):
        idx = self.stack.copy()
        np = idx.get("NetworkPolicy", NS, "loki")
        np["spec"]["ingress"] = [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 3100, "protocol": "TCP"}]}]
        self.assertFinds(idx, "network", "Deployment/baker-street-observability/loki", "reachable from intruder")

    def test_needed_flow_blocked(self):
        idx = self.stack.copy()
        np = idx.get("NetworkPolicy", NS, "tempo")
        np["spec"]["ingress"] = np["spec"]["ingress"][1:]  # drop the collector -> 4317 rule
        self.assertFinds(idx, "network", "Deployment/baker-street-observability/tempo", "4317", "collector exports traces")

    def test_no_default_deny(self):
        idx = Index.build([d for d in self.stack.copy().docs if d["metadata"]["name"] != "default-deny"])
        self.assertFinds(idx, "network", f"Namespace/{NS}", "default-deny ingress")
        self.assertFinds(idx, "network", f"Namespace/{NS}", "default-deny egress")

    def test_egress_open_or_blocked(self):
        idx = self.stack.copy()
        np = idx.get("NetworkPolicy", NS, "loki")
        np["spec"]["egress"] = [{}]  # allow everything out
        self.assertFinds(idx, "network", "Deployment/baker-street-observability/loki", "outside the cluster")
        idx = self.stack.copy()
        idx.get("NetworkPolicy", NS, "otel-collector")["spec"]["egress"] = []
        self.assertFinds(idx, "network", "Deployment/baker-street-observability/tempo", "4317", "collector exports traces")
        idx = self.stack.copy()
        idx = Index.build([d for d in idx.docs if d["metadata"]["name"] != "allow-dns"])
        self.assertFinds(idx, "network", "alertmanager", "DNS")

    def test_grafana_open_to_every_namespace(self):
        idx = self.stack.copy()
        idx.get("NetworkPolicy", NS, "grafana")["spec"]["ingress"][0]["from"] = [{"namespaceSelector": {}}]
        self.assertFinds(idx, "network", "Deployment/baker-street-observability/grafana", "any namespace")

    def test_otlp_receiver_size_cap(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "otel-collector-config", "config.yaml",
                       lambda d: d["receivers"]["otlp"]["protocols"]["grpc"].pop("max_recv_msg_size_mib"))
        self.assertFinds(idx, "collector", "otel-collector", "max_recv_msg_size_mib")

    # ---------------------------------------------------------------- sizes, service graph
    def _set_env(self, idx: Index, name: str, var: str, value: str) -> None:
        for e in self.container(idx, name)["env"]:
            if e["name"] == var:
                e["value"] = value

    def test_loki_tempo_rate_times_retention_must_fit_pvc(self):
        idx = self.stack.copy()
        self._set_env(idx, "loki", "LOKI_RETENTION_PERIOD", "720h")
        self._set_env(idx, "tempo", "TEMPO_RATE_LIMIT_BYTES", "10000000")
        self.assertFinds(idx, "loki", "Deployment/baker-street-observability/loki", "exceeds 80% of PVC")
        self.assertFinds(idx, "tempo", "Deployment/baker-street-observability/tempo", "exceeds 80% of PVC")
        idx = self.stack.copy()
        self.container(idx, "loki")["env"] = []
        self.assertFinds(idx, "loki", "loki", "LOKI_RETENTION_PERIOD", "does not set it")

    def test_no_service_graph_source(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "tempo-config", "tempo.yaml",
                       lambda d: d["overrides"]["defaults"]["metrics_generator"].update(processors=["span-metrics"]))
        self.assertFinds(idx, "tempo", "stack", "service-graph")

    # ---------------------------------------------------------------- scale-out tiers
    def scale_out(self) -> Index:
        path = os.environ.get("BAKER_RENDERED_SCALE_OUT")
        if not path or not os.path.exists(path):
            self.skipTest("BAKER_RENDERED_SCALE_OUT is not set")
        with open(path, encoding="utf-8") as fh:
            return Index.build(load_documents(fh.read()))

    def test_scale_out_is_clean(self):
        idx = self.scale_out()
        for group in ("tiers", "collector", "network", "tempo", "loki", "references"):
            self.assertEqual(self.findings(idx, group), [], group)

    def test_tiers_routing_and_sampling_order(self):
        idx = self.scale_out()
        self.edit_yaml(idx, "otel-collector-config", "config.yaml",
                       lambda d: d["exporters"]["load_balancing"].update(routing_key="service"))
        self.assertFinds(idx, "tiers", "StatefulSet/baker-street-observability/otel-collector", "routing_key must be traceID")
        idx = self.scale_out()

        def after_sampling(d):
            d["service"]["pipelines"]["traces/sampled"]["exporters"] += ["span_metrics"]
        self.edit_yaml(idx, "otel-gateway-config", "gateway.yaml", after_sampling)
        self.assertFinds(idx, "tiers", "otel-gateway", "after tail_sampling")
        idx = self.scale_out()
        self.edit_yaml(idx, "otel-gateway-config", "gateway.yaml",
                       lambda d: d["processors"]["tail_sampling"].update(policies=[]))
        self.assertFinds(idx, "tiers", "otel-gateway", "error")
        self.assertFinds(idx, "tiers", "otel-gateway", "gen_ai.usage.cost.amount")

    def test_tiers_headless_service_and_hpa(self):
        idx = self.scale_out()
        del idx.get("Service", NS, "otel-gateway")["spec"]["clusterIP"]
        idx = Index.build([d for d in idx.docs if not (d["kind"] == "HorizontalPodAutoscaler"
                                                       and d["metadata"]["name"] == "otel-gateway")])
        self.assertFinds(idx, "tiers", "otel-collector", "headless")
        self.assertFinds(idx, "tiers", "StatefulSet/baker-street-observability/otel-gateway", "HorizontalPodAutoscaler")

    def test_gateway_cannot_reach_tempo(self):
        idx = self.scale_out()
        idx = Index.build([d for d in idx.docs if not (d["kind"] == "NetworkPolicy"
                                                       and d["metadata"]["name"] == "tempo-cluster")])
        self.assertFinds(idx, "network", "otel-gateway", "otlp_grpc/tempo", "cannot reach")

    # ---------------------------------------------------------------- alertmanager
    def _edit_am(self, idx: Index, fn) -> None:
        sec = next(d for d in idx.of_kind("Secret") if d["metadata"]["name"].startswith("alertmanager-config"))
        import base64
        doc = yaml.safe_load(base64.b64decode(sec["data"]["alertmanager.yml"]))
        fn(doc)
        sec["data"]["alertmanager.yml"] = base64.b64encode(yaml.safe_dump(doc).encode()).decode()

    def test_alertmanager_routing(self):
        idx = self.stack.copy()
        self._edit_am(idx, lambda d: d["route"]["routes"].append({"receiver": "nobody"}))
        self.assertFinds(idx, "alertmanager", "alertmanager", "undefined receiver 'nobody'")
        self.assertFinds(idx, "alertmanager", "alertmanager", "drifted")
        idx = self.stack.copy()
        self._edit_am(idx, lambda d: d.pop("inhibit_rules"))
        self.assertFinds(idx, "alertmanager", "alertmanager", "inhibit")
        idx = self.stack.copy()
        self._edit_am(idx, lambda d: d["receivers"][2].update(
            pagerduty_configs=[{"routing_key": "abc"}, {"routing_key_file": "/nowhere/key"}]))
        self.assertFinds(idx, "alertmanager", "alertmanager", "literal routing_key")
        self.assertFinds(idx, "alertmanager", "alertmanager", "/nowhere/key", "not mounted")

    def test_prometheus_not_sending_to_alertmanager(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "prometheus-config", "prometheus.yml", lambda d: d.pop("alerting"))
        self.assertFinds(idx, "alertmanager", "prometheus", "no alerting")

    def test_scrape_job_without_limits(self):
        idx = self.stack.copy()
        self.edit_yaml(idx, "prometheus-config", "scrape-configs.yml",
                       lambda d: d["scrape_configs"][0].pop("sample_limit"))
        self.assertFinds(idx, "prometheus", "prometheus", "no sample_limit")

    # ---------------------------------------------------------------- app snippet / runbooks
    def test_app_snippet_missing_downward_env(self):
        app = self.app.copy()
        c = pod_spec(app.get("Deployment", "baker-street", "worker"))["containers"][0]
        c["env"] = [e for e in c["env"] if e["name"] != "K8S_POD_UID"]
        res = run_checks(app, self.ctx(self.stack, app))["app-otel"]
        self.assertTrue(any("Deployment/baker-street/worker" in str(f) and "K8S_POD_UID" in str(f) for f in res), res)

    def test_app_snippet_double_metrics(self):
        app = self.app.copy()
        c = pod_spec(app.get("Deployment", "baker-street", "brain"))["containers"][0]
        for e in c["env"]:
            if e["name"] == "OTEL_METRICS_EXPORTER":
                e["value"] = "otlp,prometheus"
        res = run_checks(app, self.ctx(self.stack, app))["app-otel"]
        self.assertTrue(any("brain" in str(f) and "twice" in str(f) for f in res), res)

    def test_runbook_anchor_missing(self):
        idx = self.stack.copy()
        self.assertFinds(idx, "runbooks", "alert ", "has no '### ' section", readme="# nothing\n")


if __name__ == "__main__":
    unittest.main()
