"""Checks specific to the Baker Street observability stack, one module per concern:

  check_collector   collector pipelines, component names, queues, endpoints, credentials
  check_prometheus  Prometheus flags, split-out Prometheus-3 parts, scrape jobs, rules
  check_backends    Loki (OTLP, structured metadata) and Tempo 3
  check_grafana     Grafana auth, datasources and correlations, dashboards
  check_alertmanager  Alertmanager config, routing, Prometheus -> Alertmanager
  check_network     NetworkPolicy flows
  check_tiers       scale-out collector tiers (loadbalancing -> tail-sampling gateway)
  check_app         the app-otel snippet and alert runbooks
"""

from check_alertmanager import check_alertmanager  # noqa: F401
from check_app import check_app_otel, check_runbooks  # noqa: F401
from check_backends import check_loki, check_tempo  # noqa: F401
from check_collector import check_collector, collector_config  # noqa: F401
from check_grafana import check_grafana  # noqa: F401
from check_network import check_network  # noqa: F401
from check_tiers import check_tiers  # noqa: F401
from check_prometheus import check_prometheus, prometheus_config, rule_groups  # noqa: F401
from manifests import find_workload  # noqa: F401
from stack_common import Context  # noqa: F401
