#!/usr/bin/env python3
"""Check the Baker Street Grafana dashboards and Prometheus rules against the metric contract.

Run through scripts/check-dashboards. Python 3.11 standard library only; needs Prometheus 3
and promtool on PATH (built from the Go module proxy by scripts/go-build; scripts/check-dashboards
puts them there).

Modes
  (default)     static: no services needed. Every dashboard JSON loads and has uid/title/panels/
                schemaVersion, unique panel ids, datasource uids in {prometheus, tempo, loki,
                ${datasource}}, units, exemplars on latency panels, defined template variables,
                data links that decode. Every PromQL expression (panels, variables, annotations,
                rules) is parsed by a throw-away Prometheus started on a free 127.0.0.1 port (no
                scrape targets) and may only name series and labels of docs/metrics.md or of our
                recording rules. LogQL may only name the labels/fields our OTLP logs carry in Loki,
                TraceQL only our span attributes. promtool check rules + promtool test rules.
  --live        all of the above, then Prometheus scrapes BRAIN_METRICS_URL and WORKER_METRICS_URL
                (and OTELCOL_METRICS_URL if set) every 1s with our recording and alert rules loaded
                (group intervals forced to 1s), and EVERY PromQL expression of every panel, variable,
                annotation and rule is evaluated; each must return >= 1 series unless every series it
                reads is in ALLOW_EMPTY (reason printed). Alerts may be silent, but the signals they
                compare (each operand of their comparisons / and / or / unless) must exist.
  --self-test   --live against deploy/tests/fixtures (real scrapes of the brain, worker and
                Collector recorded by scripts/record-fixtures), plus negative tests proving the
                checker rejects broken dashboards.
  --prometheus URL   use an already running Prometheus (with our rules loaded) instead of
                starting one; implies --live semantics for queries.

Output: one line per check (query -> series count), then `dashboard-checks: N passed, M failed`.
Exit status 1 if anything failed.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DASH_DIR = REPO / "deploy/base/grafana/dashboards"
RULES_DIR = REPO / "deploy/base/prometheus/rules"
RULE_TESTS_DIR = REPO / "deploy/base/prometheus/rules-tests"
CONTRACT = REPO / "docs/metrics.md"
FIXTURES = REPO / "deploy/tests/fixtures"

# Stable identity of the provisioned dashboards (the deploy/ wiring and links rely on these).
EXPECTED_DASHBOARDS = {
    "agent-health.json": ("baker-agent-health", "Baker Street / Agent health"),
    "job-throughput.json": ("baker-job-throughput", "Baker Street / Job throughput"),
    "memory-utilization.json": ("baker-memory-utilization", "Baker Street / Memory utilization"),
    "llm-cost.json": ("baker-llm-cost", "Baker Street / LLM cost"),
}
# Provisioned datasource uids -> type. "${datasource}" is the dashboards' Prometheus variable.
DATASOURCES = {"prometheus": "prometheus", "tempo": "tempo", "loki": "loki", "${datasource}": "prometheus"}
MIN_SCHEMA_VERSION = 39  # Grafana 11.0

EXPECTED_ALERTS = {
    "BakerHighErrorRate", "BakerHighLatency", "BakerQueueBacklogGrowing", "BakerWorkerNotConsuming",
    "BakerLlmCostBurnAboveBudget", "BakerTelemetryDropped", "OtelCollectorDown", "Watchdog",
    # the stack watching itself (rules/stack-alerts.yaml)
    "OtelCollectorSendingQueueFull", "OtelCollectorRefusingData", "TargetDown",
    "KubePersistentVolumeFillingUp", "AlertmanagerNotificationsFailing",
}
# Series of the stack's own components (not the app contract in docs/metrics.md) that the
# stack alerts read, with their labels besides job/instance.
STACK_SERIES = {
    "otelcol_exporter_queue_size": {"exporter", "data_type", "namespace", "pod"},
    "otelcol_exporter_queue_capacity": {"exporter", "data_type", "namespace", "pod"},
    "otelcol_receiver_refused_spans_total": {"receiver", "transport", "namespace", "pod"},
    "otelcol_receiver_refused_log_records_total": {"receiver", "transport", "namespace", "pod"},
    "otelcol_receiver_refused_metric_points_total": {"receiver", "transport", "namespace", "pod"},
    "kubelet_volume_stats_used_bytes": {"namespace", "persistentvolumeclaim", "node"},
    "kubelet_volume_stats_capacity_bytes": {"namespace", "persistentvolumeclaim", "node"},
    "alertmanager_notifications_failed_total": {"integration", "reason", "namespace", "pod"},
}
RUNBOOK_BASE = "https://github.com/baker-street/baker-otel/blob/main/deploy/README.md#"

# Series a healthy run may legitimately not have. A query may return no series only if every
# series it reads (directly or through recording rules) is listed here.
ALLOW_EMPTY = {
    "baker_llm_budget_exceeded_total":
        "only incremented when a conversation or job exceeds its LLM budget (budget breaches)",
    "baker_llm_unpriced_calls_total":
        "only incremented for models missing from the genai-prices database",
    "baker_messaging_redeliveries_total":
        "only incremented when JetStream redelivers a message (nak or ack timeout)",
    "kubelet_volume_stats_used_bytes": "kubelets are scraped only in a cluster",
    "kubelet_volume_stats_capacity_bytes": "kubelets are scraped only in a cluster",
    "alertmanager_notifications_failed_total":
        "Alertmanager is scraped only in a cluster (the alert e2e test checks delivery itself)",
    "otelcol_exporter_send_failed_spans_total":
        "the Collector exports this counter only once an export has failed (absent, not 0, while "
        "healthy: seen on the real Collector 0.159 in scripts/check-pipeline-real)",
}
# Contract series that the example pipeline's real scrape (the self-test fixtures,
# scripts/record-fixtures) cannot contain.
_LATEST = "opt-in name (OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental); the fixtures use the defaults"
NOT_IN_EXAMPLE = {
    **{f"gen_ai_client_embeddings_duration_seconds_{s}": "the example makes no embeddings calls"
       for s in ("bucket", "sum", "count")},
    **{f"gen_ai_client_inference_duration_seconds_{s}": _LATEST for s in ("bucket", "sum", "count")},
    **{f"gen_ai_client_inference_time_to_first_chunk_seconds_{s}": _LATEST for s in ("bucket", "sum", "count")},
}
COLLECTOR_REASON = "no collector scraped in this run (set OTELCOL_METRICS_URL to check collector panels)"
ANNOTATION_REASON = "annotation of firing Baker alerts; none fire in a healthy run"
ALERT_REASON = "alert expression: empty = not firing (its signals are checked separately)"

# Grafana builtin variables and the values used when evaluating queries.
BUILTIN_VARS = {
    "__rate_interval": "1m", "__interval": "15s", "__interval_ms": "15000", "__range": "1h",
    "__range_s": "3600", "__range_ms": "3600000", "__auto": "1m",
}
# Labels every scraped series carries besides its contract labels.
SCRAPE_LABELS = {"job", "instance", "otel_scope_name", "otel_scope_version", "__name__"}
# Not in docs/metrics.md: resource attributes on target_info and the collector's own labels.
EXTRA_LABELS = {
    "target_info": {"service_name", "service_version", "service_namespace", "service_instance_id",
                    "telemetry_sdk_language", "telemetry_sdk_name", "telemetry_sdk_version"},
    "otelcol_exporter_send_failed_spans_total": {"exporter", "service_name", "service_instance_id",
                                                 "service_version"},
    "otelcol_receiver_accepted_spans_total": {"receiver", "transport", "service_name",
                                              "service_instance_id", "service_version"},
    "up": {"namespace", "pod", "node"},  # target labels set by the scrape jobs
}
PROMETHEUS_BUILTIN_SERIES = {"ALERTS": {"alertname", "alertstate", "severity"},
                             "ALERTS_FOR_STATE": {"alertname", "severity"}}

# Loki (native OTLP ingestion, Loki 3): resource attribute service.name -> index label
# service_name; the record body is the log line; trace_id/span_id, severity and the record's
# attributes are structured metadata (dots -> underscores).
LOKI_STREAM_LABELS = {"service_name"}
LOKI_FIELDS = {
    "service_name", "trace_id", "span_id", "conversation_id", "job_id",
    "input_tokens", "output_tokens", "cost", "currency",          # job-usage line fields
    "llm_calls", "unpriced_calls",                                # ... also on baker-otel-llm's line
    "severity_text", "severity_number", "detected_level",          # OTLP severity in Loki 3
    "__error__", "__error_details__", "__line__",
}
# stdout JSON log lines (level, message, ...) only exist after a `| json` stage.
LOKI_JSON_FIELDS = {"level", "message", "timestamp", "target"}

# TraceQL: our span attributes (DESIGN.md section 3) and TraceQL intrinsics.
TRACEQL_ATTRS = {
    "resource.service.name", "span.http.route", "span.http.request.method",
    "span.http.response.status_code", "span.url.path", "span.error.type",
    "span.gen_ai.operation.name", "span.gen_ai.provider.name", "span.gen_ai.request.model",
    "span.gen_ai.response.model", "span.gen_ai.conversation.id", "span.gen_ai.agent.name",
    "span.gen_ai.tool.name", "span.messaging.system", "span.messaging.operation.name",
    "span.messaging.destination.name", "span.messaging.message.id",
    "span.messaging.consumer.group.name", "span.baker.agent.iteration",
    "span.gen_ai.memory.store.id", "span.baker.job.id",  # baker-otel context: conversation/job ids from baggage on every span
}
TRACEQL_INTRINSICS = {"status", "duration", "name", "kind", "statusMessage", "rootName",
                      "rootServiceName", "traceDuration"}

PANEL_TYPES = {"row", "timeseries", "stat", "table", "logs", "state-timeline", "bargauge", "gauge",
               "piechart", "text", "barchart", "heatmap"}
UNIT_PANELS = {"timeseries", "stat", "bargauge", "gauge", "piechart", "state-timeline"}
PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                   "group_right", "bool", "offset", "inf", "nan"}
REMOVED_IN_PROMETHEUS_3 = {"holt_winters"}


# ----------------------------------------------------------------------------------- report
class Report:
    def __init__(self, quiet: bool = False):
        self.rows: list[tuple[str, str, str, str]] = []
        self.passed = 0
        self.failed = 0
        self.quiet = quiet

    def section(self, title: str):
        if not self.quiet:
            print(f"\n== {title} ==")

    def check(self, ok: bool, where: str, detail: str = "", count: str = ""):
        status = "PASS" if ok else "FAIL"
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        self.rows.append((status, count, where, detail))
        if not self.quiet:
            cnt = f"{count:>6}  " if count != "" else ""
            print(f"{status}  {cnt}{where}" + (f"  {detail}" if detail else ""))
        return ok

    def info(self, text: str):
        if not self.quiet:
            print(f"INFO  {text}")

    def failures(self):
        return [r for r in self.rows if r[0] == "FAIL"]


def one_line(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


# ----------------------------------------------------------------------------------- contract
def parse_contract(path: Path) -> dict[str, set[str]]:
    """docs/metrics.md table -> {prometheus series name: allowed labels (without scrape labels)}."""
    metrics: dict[str, set[str]] = {}
    text = path.read_text()
    for line in text.splitlines():
        if not line.startswith("|") or re.match(r"^\|\s*-", line):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or cells[0].lower().startswith("otel instrument"):
            continue
        kind, series, label_col = cells[1], cells[2], cells[3]
        label_col = re.sub(r"\([^)]*\)", "", label_col)
        label_col = re.sub(r"=\S+", "", label_col)
        labels = set(re.findall(r"\b[a-z_][a-z0-9_]*\b", label_col))
        names: list[str] = []
        for part in re.split(r",\s*", series):
            part = re.sub(r"\{.*\}", "", part).strip()
            if not part:
                continue
            pieces = part.split("/")
            base = pieces[0]
            names.append(base)
            stem = re.sub(r"_(bucket|sum|count)$", "", base)
            names += [stem + suffix for suffix in pieces[1:]]
            if "histogram" in kind:
                # a Prometheus histogram always exposes all three, whatever the table abbreviates
                names += [stem + "_bucket", stem + "_sum", stem + "_count"]
        for n in names:
            metrics[n] = set(labels) | ({"le"} if n.endswith("_bucket") and "histogram" in kind else set())
    if "target_info" in text:
        metrics.setdefault("target_info", set())
    for n, extra in EXTRA_LABELS.items():
        if n in metrics:
            metrics[n] |= extra
    for n, labels in STACK_SERIES.items():
        metrics.setdefault(n, set()).update(labels)
    return metrics


# ----------------------------------------------------------------------------------- PromQL analysis
STRING_RE = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')


def strip_strings(s: str) -> str:
    return STRING_RE.sub('""', s)


def split_args(s: str, start: int) -> list[str]:
    """Arguments of the call whose '(' ends at s[start-1]."""
    args, depth, cur, i = [], 0, [], start
    while i < len(s):
        c = s[i]
        m = STRING_RE.match(s, i)
        if m:
            cur.append(m.group(0))
            i = m.end()
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                args.append("".join(cur).strip())
                return args
            depth -= 1
        elif c == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    args.append("".join(cur).strip())
    return args


def unquote(s: str) -> str:
    s = s.strip()
    return s[1:-1] if len(s) >= 2 and s[0] in "\"'`" else s


@dataclass
class PromRefs:
    metrics: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)         # labels read (matchers, by, on, ...)
    created: set[str] = field(default_factory=set)        # labels created by label_replace/join
    functions: set[str] = field(default_factory=set)
    by_labels: set[str] = field(default_factory=set)      # labels kept by by(...) clauses
    selectors: list[str] = field(default_factory=list)    # raw selectors incl. matchers


def promql_refs(expr: str) -> PromRefs:
    r = PromRefs()
    for m in re.finditer(r"\blabel_(replace|join)\s*\(", expr):
        args = split_args(expr, m.end())
        if m.group(1) == "replace" and len(args) >= 5:
            r.created.add(unquote(args[1]))
            if unquote(args[3]):
                r.labels.add(unquote(args[3]))
        elif m.group(1) == "join" and len(args) >= 3:
            r.created.add(unquote(args[1]))
            r.labels |= {unquote(a) for a in args[3:]}
    s = strip_strings(expr)
    for m in re.finditer(r"([A-Za-z_:][\w:]*)?\s*\{([^}]*)\}", s):
        r.selectors.append(m.group(0))
        for lm in re.finditer(r"([A-Za-z_]\w*)\s*(=~|!~|!=|=)", m.group(2)):
            r.labels.add(lm.group(1))
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    for m in re.finditer(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", s):
        names = set(re.findall(r"[A-Za-z_]\w*", m.group(2)))
        r.labels |= names
        if m.group(1) == "by":
            r.by_labels |= names
    s = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\boffset\s+-?\w+", " ", s)
    for m in re.finditer(r"(?<![\w.:])([A-Za-z_:][\w:]*)(\s*\()?", s):
        name = m.group(1)
        if m.group(2):
            r.functions.add(name)
        elif name.lower() not in PROMQL_KEYWORDS:
            r.metrics.add(name)
    return r


def split_signals(expr: str) -> list[str]:
    """Operands of top-level comparison and set operators, recursively; numbers dropped,
    absent(x) -> x. These are the signals an alert compares."""
    s = expr.strip()
    # strip wrapping parens
    while s.startswith("(") and _matching_paren(s, 0) == len(s) - 1:
        s = s[1:-1].strip()
    parts, depth, i, last = [], 0, 0, 0
    ops = re.compile(r"\b(and|or|unless)\b|==|!=|>=|<=|>|<")
    while i < len(s):
        m = STRING_RE.match(s, i)
        if m:
            i = m.end()
            continue
        c = s[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0:
            om = ops.match(s, i)
            if om and (om.group(1) is None or (i == 0 or not (s[i - 1].isalnum() or s[i - 1] == "_"))):
                parts.append(s[last:i])
                i = om.end()
                last = i
                continue
        i += 1
    parts.append(s[last:])
    if len(parts) == 1:
        m = re.match(r"^(absent|absent_over_time)\s*\((.*)\)$", s, re.S)
        if m:
            inner = re.sub(r"\[[^\]]*\]\s*$", "", m.group(2).strip())
            return split_signals(inner)
        return [] if re.fullmatch(r"[-+]?[\d.eE+-]+", s) else [s]
    out: list[str] = []
    for p in parts:
        p = p.strip()
        while True:
            m = re.match(r"^(bool\b|(on|ignoring|group_left|group_right)\s*(\([^)]*\))?)\s*", p)
            if not m or not m.group(0):
                break
            p = p[m.end():]
        if p:
            for sig in split_signals(p):
                if one_line(sig) not in [one_line(o) for o in out]:
                    out.append(sig)
    return out


def _matching_paren(s: str, i: int) -> int:
    depth = 0
    j = i
    while j < len(s):
        m = STRING_RE.match(s, j)
        if m:
            j = m.end()
            continue
        if s[j] == "(":
            depth += 1
        elif s[j] == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    return -1


# ----------------------------------------------------------------------------------- LogQL / TraceQL
def check_logql(q: str) -> list[str]:
    problems = []
    s = strip_strings(q)
    selectors = re.findall(r"\{([^{}]*)\}", s)
    if not selectors:
        problems.append("no stream selector")
    for sel in selectors:
        names = re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", sel)
        if not names:
            problems.append("empty stream selector")
        for n in names:
            if n not in LOKI_STREAM_LABELS:
                problems.append(f"stream label {n!r} is not an index label of our OTLP logs "
                                f"(only {sorted(LOKI_STREAM_LABELS)})")
    for sel in re.findall(r"\{((?:[^{}\"]|\"(?:\\.|[^\"\\])*\")*)\}", q):  # selectors, strings kept
        matchers = re.findall(r'([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"', sel)
        if matchers and all(op in ("=~", "!~", "!=") and (op != "=~" or val in ("", ".*")) for _, op, val in matchers):
            problems.append(f"stream selector {{{sel}}} has no matcher that excludes empty values (Loki rejects it)")
    allowed = set(LOKI_FIELDS)
    if re.search(r"\|\s*json\b", s):
        allowed |= LOKI_JSON_FIELDS
    fields = set()
    pipeline = re.sub(r"\{[^{}]*\}", "{}", s)  # stream selectors were checked above
    for m in re.finditer(r"(?:\||\band\b|\bor\b|,)\s*([A-Za-z_]\w*)\s*(=~|!~|!=|==|>=|<=|=|>|<)", pipeline):
        fields.add(m.group(1))
    for m in re.finditer(r"\bunwrap\s+(?:(?:duration|duration_seconds|bytes)\s*\(\s*)?([A-Za-z_]\w*)", s):
        fields.add(m.group(1))
    for m in re.finditer(r"\b(by|without)\s*\(([^)]*)\)", s):
        fields |= set(re.findall(r"[A-Za-z_]\w*", m.group(2)))
    for m in re.finditer(r"\{\{\s*\.([A-Za-z_]\w*)", q):  # line_format / label_format templates
        fields.add(m.group(1))
    for f in sorted(fields - allowed):
        hint = " (OTLP logs: the body is the log line, use a line filter)" if f == "message" else ""
        hint = hint or (" (OTLP logs: use detected_level or severity_text)" if f == "level" else "")
        problems.append(f"field {f!r} is not carried by our logs in Loki{hint}")
    return problems


def check_traceql(q: str) -> list[str]:
    q = q.strip()
    if re.fullmatch(r"[0-9a-fA-F]{16,32}|\$\{[^}]+\}", q):
        return []  # trace-id lookup
    problems = []
    s = strip_strings(q)
    if "{" not in s:
        problems.append("not a TraceQL spanset query")
    for m in re.finditer(r"(?<![\w.])((?:resource|span|event|link|instrumentation)?\.[A-Za-z_][\w.]*)", s):
        a = m.group(1)
        if a not in TRACEQL_ATTRS:
            problems.append(f"attribute {a!r} is not one our spans carry")
    for m in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)\s*(=~|!~|!=|>=|<=|=|>|<)", s):
        if m.group(1) not in TRACEQL_INTRINSICS:
            problems.append(f"{m.group(1)!r} is not a TraceQL intrinsic")
    return problems


# ----------------------------------------------------------------------------------- dashboards
@dataclass
class Query:
    dashboard: str
    where: str            # human readable location
    lang: str             # promql | logql | traceql | promql-var
    raw: str
    expanded: str = ""
    kind: str = "panel"   # panel | variable | annotation | link | rule-record | rule-alert | signal
    panel: dict | None = None
    rule: dict | None = None


VAR_RE = re.compile(r"\$\{([A-Za-z_][\w.]*)(?::[\w]+)?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)\]\]")


def iter_panels(panels):
    for p in panels or []:
        yield p
        yield from iter_panels(p.get("panels"))


def variable_values(dash: dict) -> dict[str, str]:
    values = {}
    for v in dash.get("templating", {}).get("list", []):
        name = v.get("name")
        t = v.get("type")
        if t == "datasource":
            values[name] = "prometheus"
        elif v.get("includeAll") and v.get("allValue"):
            values[name] = v["allValue"]
        elif t in ("textbox", "constant"):
            values[name] = str(v.get("query", ""))
        else:
            cur = v.get("current", {}).get("value")
            values[name] = cur[0] if isinstance(cur, list) and cur else str(cur or ".+")
    return values


def expand(q: str, values: dict[str, str]) -> tuple[str, list[str]]:
    missing = []

    def sub(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in BUILTIN_VARS:
            return BUILTIN_VARS[name]
        if name in values:
            return values[name]
        if name.startswith("__"):  # data-link placeholders (__value.raw, __field.labels.x, __from)
            return m.group(0)
        missing.append(name)
        return m.group(0)

    return VAR_RE.sub(sub, q), missing


def decode_link(url: str) -> list[tuple[str, str, str]]:
    """Explore link -> [(datasource uid, datasource type, query)]."""
    out = []
    qs = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    for panes in qs.get("panes", []):
        data = json.loads(panes)
        for pane in data.values():
            for q in pane.get("queries", []):
                ds = q.get("datasource", {})
                out.append((ds.get("uid", pane.get("datasource")), ds.get("type", ""),
                            q.get("query") or q.get("expr") or ""))
    return out


def load_dashboards(dash_dir: Path, report: Report) -> dict[str, dict]:
    report.section(f"dashboards in {dash_dir.relative_to(REPO) if dash_dir.is_relative_to(REPO) else dash_dir}")
    dashboards = {}
    files = sorted(dash_dir.glob("*.json"))
    names = {f.name for f in files}
    for expected in EXPECTED_DASHBOARDS:
        report.check(expected in names, f"{expected}: present")
    for f in files:
        try:
            d = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError) as e:
            report.check(False, f"{f.name}: loads as JSON", str(e))
            continue
        report.check(isinstance(d, dict), f"{f.name}: loads as JSON object")
        if isinstance(d, dict):
            dashboards[f.name] = d
    uids = {}
    for name, d in dashboards.items():
        check_dashboard(name, d, report)
        uids.setdefault(d.get("uid"), []).append(name)
    for uid, files_ in uids.items():
        report.check(len(files_) == 1, f"uid {uid!r} unique across dashboards", ", ".join(files_))
    return dashboards


def walk(obj, path=""):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path + "/" + str(k), k, v
            yield from walk(v, path + "/" + str(k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from walk(v, f"{path}[{i}]")


def check_dashboard(name: str, d: dict, report: Report):
    missing = [k for k in ("uid", "title", "panels", "schemaVersion") if k not in d]
    report.check(not missing, f"{name}: required fields uid/title/panels/schemaVersion",
                 f"missing {missing}" if missing else "")
    uid, title = d.get("uid", ""), d.get("title", "")
    if name in EXPECTED_DASHBOARDS:
        exp_uid, exp_title = EXPECTED_DASHBOARDS[name]
        report.check(uid == exp_uid and title == exp_title, f"{name}: stable uid/title",
                     f"uid={uid!r} title={title!r}")
    report.check(isinstance(uid, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid or "") is not None,
                 f"{name}: uid is 1-40 chars [A-Za-z0-9_-]", repr(uid))
    sv = d.get("schemaVersion")
    report.check(isinstance(sv, int) and sv >= MIN_SCHEMA_VERSION,
                 f"{name}: schemaVersion >= {MIN_SCHEMA_VERSION} (Grafana 11+)", f"schemaVersion={sv}")
    report.check(d.get("id") is None, f"{name}: no numeric id (file provisioning assigns it)")

    # panels: ids, types, grid, units, refIds, exemplars
    ids: dict = {}
    problems = []
    for p in iter_panels(d.get("panels", [])):
        pid = p.get("id")
        ids.setdefault(pid, []).append(p.get("title", "?"))
        ptype = p.get("type")
        label = f"panel {pid} {p.get('title', '')!r}"
        if not isinstance(pid, int):
            problems.append(f"{label}: id is not an integer")
        if ptype not in PANEL_TYPES:
            problems.append(f"{label}: unknown panel type {ptype!r}")
        gp = p.get("gridPos", {})
        if not all(isinstance(gp.get(k), int) for k in ("h", "w", "x", "y")) or gp.get("x", 0) + gp.get("w", 0) > 24:
            problems.append(f"{label}: gridPos {gp} invalid")
        if ptype in UNIT_PANELS and not p.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            problems.append(f"{label}: no unit in fieldConfig.defaults")
        if ptype != "row" and not p.get("title"):
            problems.append(f"panel {pid}: no title")
        refs = [t.get("refId") for t in p.get("targets", [])]
        if len(refs) != len(set(refs)) or None in refs:
            problems.append(f"{label}: refIds not unique/set {refs}")
        for t in p.get("targets", []):
            ds = t.get("datasource") or p.get("datasource") or {}
            if ptype == "timeseries" and DATASOURCES.get(ds.get("uid")) == "prometheus" \
                    and "histogram_quantile" in t.get("expr", "") and not t.get("exemplar"):
                problems.append(f"{label} {t.get('refId')}: latency query without exemplar: true")
            pds = p.get("datasource") or {}
            if pds and ds and DATASOURCES.get(pds.get("uid")) != DATASOURCES.get(ds.get("uid")):
                problems.append(f"{label}: target datasource {ds} differs from panel datasource {pds}")
    dup = {k: v for k, v in ids.items() if len(v) > 1}
    report.check(not dup, f"{name}: unique panel ids ({len(ids)} panels)", f"duplicates {dup}" if dup else "")
    report.check(not problems, f"{name}: panel structure (types, gridPos, units, refIds, exemplars)",
                 "; ".join(problems))

    # datasource references anywhere in the JSON
    bad = []
    for path, key, val in walk(d):
        if key != "datasource":
            continue
        if isinstance(val, dict):
            uid_, type_ = val.get("uid"), val.get("type")
            if uid_ not in DATASOURCES or (type_ and type_ != DATASOURCES[uid_]):
                bad.append(f"{path}: {val}")
        elif isinstance(val, str):
            bad.append(f"{path}: datasource referenced by name {val!r}, not by uid")
        elif val is not None:
            bad.append(f"{path}: {val!r}")
    report.check(not bad, f"{name}: datasource uids in {sorted(DATASOURCES)} with matching types",
                 "; ".join(bad[:5]))

    # template variables
    tvars = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
    dsv = tvars.get("datasource", {})
    report.check(dsv.get("type") == "datasource" and dsv.get("query") == "prometheus",
                 f"{name}: variable $datasource (type datasource, query prometheus)")
    sv_ = tvars.get("service", {})
    svq = json.dumps(sv_.get("query", ""))
    report.check(sv_.get("type") == "query" and "job" in svq,
                 f"{name}: variable $service from the scrape job label", one_line(svq))
    if "model" in tvars or name == "llm-cost.json":
        mq = json.dumps(tvars.get("model", {}).get("query", ""))
        report.check("gen_ai_request_model" in mq, f"{name}: variable $model from gen_ai_request_model",
                     one_line(mq))
    # every referenced variable is defined
    values = variable_values(d)
    undefined = set()
    used = set()
    for path, key, val in walk(d):
        if isinstance(val, str) and key in ("expr", "query", "url", "definition"):
            for m in VAR_RE.finditer(val):
                n = m.group(1) or m.group(2) or m.group(3)
                used.add(n.split(".")[0])
                if n not in values and n not in BUILTIN_VARS and not n.startswith("__"):
                    undefined.add(n)
        if isinstance(val, dict) and key == "datasource" and val.get("uid", "").startswith("${"):
            used.add(val["uid"][2:-1])
    report.check(not undefined, f"{name}: every $variable used is defined", ", ".join(sorted(undefined)))
    unused = set(values) - used
    report.check(not unused, f"{name}: every defined variable is used", ", ".join(sorted(unused)))

    # links: dashboard links and panel/field links decode, point at tempo/loki
    link_targets = set()
    link_bad = []
    for path, key, val in walk(d):
        if key == "url" and isinstance(val, str) and val.startswith("/explore"):
            try:
                for uid_, type_, _q in decode_link(val):
                    link_targets.add(uid_)
                    if uid_ not in DATASOURCES or (type_ and DATASOURCES[uid_] != type_):
                        link_bad.append(f"{path}: datasource {uid_!r}/{type_!r}")
            except (ValueError, json.JSONDecodeError) as e:
                link_bad.append(f"{path}: cannot decode panes ({e})")
    report.check(not link_bad and {"tempo", "loki"} <= link_targets,
                 f"{name}: links to Tempo and Loki searches decode",
                 "; ".join(link_bad) or f"targets {sorted(link_targets)}")


def collect_queries(name: str, d: dict, report: Report) -> list[Query]:
    values = variable_values(d)
    out: list[Query] = []
    short = name.removesuffix(".json")

    def lang_of(ds):
        return {"prometheus": "promql", "loki": "logql", "tempo": "traceql"}.get(DATASOURCES.get((ds or {}).get("uid")), "?")

    for p in iter_panels(d.get("panels", [])):
        for t in p.get("targets", []):
            ds = t.get("datasource") or p.get("datasource")
            lang = lang_of(ds)
            raw = t.get("expr") if lang in ("promql", "logql") else t.get("query")
            if raw is None:
                continue
            out.append(Query(short, f"{short} / {p.get('title')} [{t.get('refId')}]", lang, raw, panel=p))
        for lk in _panel_links(p):
            for uid_, _type, q in decode_link(lk.get("url", "")):
                out.append(Query(short, f"{short} / {p.get('title')} / link {lk.get('title')!r}",
                                 lang_of({"uid": uid_}), q, kind="link", panel=p))
    for lk in d.get("links", []):
        if lk.get("url", "").startswith("/explore"):
            for uid_, _type, q in decode_link(lk["url"]):
                out.append(Query(short, f"{short} / dashboard link {lk.get('title')!r}", lang_of({"uid": uid_}),
                                 q, kind="link"))
    for a in d.get("annotations", {}).get("list", []):
        if a.get("expr"):
            out.append(Query(short, f"{short} / annotation {a.get('name')!r}", lang_of(a.get("datasource")),
                             a["expr"], kind="annotation"))
    for v in d.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            out.append(Query(short, f"{short} / variable ${v.get('name')}", "promql-var", q or "", kind="variable"))
    for q in out:
        q.expanded, missing = expand(q.raw, values)
        if missing:
            report.check(False, f"{q.where}: undefined variables", ", ".join(missing))
    return out


def _panel_links(p):
    links = list(p.get("links", []))
    links += p.get("fieldConfig", {}).get("defaults", {}).get("links", [])
    for o in p.get("fieldConfig", {}).get("overrides", []):
        for prop in o.get("properties", []):
            if prop.get("id") == "links":
                links += prop.get("value", [])
    return [lk for lk in links if lk.get("url", "").startswith("/explore")]


def label_values_to_promql(q: str) -> str | None:
    m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_]\w*)\s*\)\s*", q, re.S)
    if m:
        return f"count by ({m.group(2)}) ({m.group(1)})"
    m = re.fullmatch(r"\s*label_values\(\s*([A-Za-z_]\w*)\s*\)\s*", q)
    if m:
        return f'count by ({m.group(1)}) ({{{m.group(1)}!=""}})'
    m = re.fullmatch(r"\s*query_result\((.*)\)\s*", q, re.S)
    if m:
        return m.group(1)
    return None


def check_field_links(q: Query, report: Report):
    """${__field.labels.X} / byName overrides must name a label the panel's queries keep."""
    p = q.panel
    if not p or q.kind != "panel" or q.lang not in ("promql", "logql"):
        return
    kept = set()
    for t in p.get("targets", []):
        kept |= promql_refs(t.get("expr", "")).by_labels
    need = set()
    for lk in _panel_links(p):
        need |= set(re.findall(r"__field\.labels\.([A-Za-z_]\w*)", lk.get("url", "") + lk.get("title", "")))
    for o in p.get("fieldConfig", {}).get("overrides", []):
        if o.get("matcher", {}).get("id") == "byName" and any(pr.get("id") == "links" for pr in o.get("properties", [])):
            need.add(o["matcher"]["options"])
    # only check once per panel: on its first target
    if p.get("targets") and q.where.endswith(f"[{p['targets'][0].get('refId')}]") and need:
        missing = need - kept
        report.check(not missing, f"{q.where}: data-link fields are labels kept by the query",
                     f"missing {sorted(missing)}" if missing else f"{sorted(need)}")


# ----------------------------------------------------------------------------------- Prometheus
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url: str, data: dict | None = None, timeout: float = 15):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        try:
            return json.load(e)
        except (json.JSONDecodeError, ValueError):
            return {"status": "error", "error": f"HTTP {e.code}"}
    except (urllib.error.URLError, OSError, json.JSONDecodeError) as e:
        return {"status": "error", "error": str(e)}


class Prometheus:
    """Prometheus 3 (scripts/go-build) on a free 127.0.0.1 port, in a temp dir; stopped by pid on close()."""

    def __init__(self, targets: dict[str, str], rule_files: list[Path], interval: str = "1s"):
        self.tmp = Path(tempfile.mkdtemp(prefix="check-dashboards-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        rules = []
        for f in rule_files:
            # force every rule group to evaluate every `interval` so recorded series exist quickly
            text = re.sub(r"(?m)^(\s*)interval:\s*\S+", rf"\g<1>interval: {interval}", f.read_text())
            dst = self.tmp / f.name
            dst.write_text(text)
            rules.append(str(dst))
        scrapes = []
        for job, url in targets.items():
            u = urllib.parse.urlsplit(url)
            scrapes.append({"job_name": job, "scheme": u.scheme or "http", "metrics_path": u.path or "/metrics",
                            "static_configs": [{"targets": [u.netloc]}]})
        config = {"global": {"scrape_interval": interval, "scrape_timeout": interval,
                             "evaluation_interval": interval},
                  "rule_files": rules, "scrape_configs": scrapes}
        (self.tmp / "prometheus.yml").write_text(json.dumps(config, indent=2))  # JSON is YAML
        self.log = open(self.tmp / "prometheus.log", "w")
        self.proc = subprocess.Popen(
            ["prometheus", f"--config.file={self.tmp / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.tmp / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
             "--storage.tsdb.retention.time=1h", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.tmp)

    def wait_ready(self, timeout=30.0) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.3)
        return False

    def log_tail(self, n=20) -> str:
        self.log.flush()
        return "\n".join((self.tmp / "prometheus.log").read_text().splitlines()[-n:])

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def query(base: str, expr: str) -> tuple[bool, int, str]:
    """-> (ok, series count, error/notes)."""
    r = http_json(base + "/api/v1/query", {"query": expr, "time": f"{time.time():.3f}"})
    if r.get("status") != "success":
        return False, 0, f"{r.get('errorType', '')} {r.get('error', '')}".strip()
    data = r["data"]
    if data["resultType"] in ("vector", "matrix"):
        res = data["result"]
        nan = sum(1 for s in res if "value" in s and s["value"][1] in ("NaN", "+Inf", "-Inf"))
        return True, len(res), (f"{nan} NaN/Inf" if nan else "")
    return True, 1, data["resultType"]


# ----------------------------------------------------------------------------------- rules
def load_rules(prom_url: str, report: Report) -> list[dict]:
    r = http_json(prom_url + "/api/v1/rules")
    if r.get("status") != "success":
        report.check(False, "rules loaded by Prometheus", r.get("error", ""))
        return []
    rules = []
    for g in r["data"]["groups"]:
        for rule in g["rules"]:
            rule["group"] = g["name"]
            rule["file"] = Path(g["file"]).name
            rules.append(rule)
    return rules


def check_rule_files(rules_dir: Path, tests_dir: Path, report: Report):
    report.section("rule files (promtool)")
    files = sorted(rules_dir.glob("*.yaml"))
    report.check(bool(files), f"rule files in {rules_dir.relative_to(REPO) if rules_dir.is_relative_to(REPO) else rules_dir}",
                 ", ".join(f.name for f in files))
    for f in files:
        p = subprocess.run(["promtool", "check", "rules", str(f)], capture_output=True, text=True)
        report.check(p.returncode == 0, f"promtool check rules {f.name}", one_line(p.stdout + p.stderr)[-300:])
    for t in sorted(tests_dir.glob("*.yaml")):
        p = subprocess.run(["promtool", "test", "rules", str(t)], capture_output=True, text=True, cwd=tests_dir)
        out = (p.stdout + p.stderr).strip()
        report.check(p.returncode == 0, f"promtool test rules {t.name}",
                     "SUCCESS" if p.returncode == 0 else out[-2000:])
    return files


def check_rule_definitions(rules: list[dict], report: Report):
    report.section("rule definitions")
    alerts = {r["name"]: r for r in rules if r["type"] == "alerting"}
    report.check(set(alerts) == EXPECTED_ALERTS, "alerts are exactly the required set",
                 f"missing {sorted(EXPECTED_ALERTS - set(alerts))} extra {sorted(set(alerts) - EXPECTED_ALERTS)}")
    for name, r in sorted(alerts.items()):
        ann, lab = r.get("annotations", {}), r.get("labels", {})
        problems = []
        if not re.fullmatch(r"[A-Z][A-Za-z0-9]+", name):
            problems.append("not CamelCase")
        if lab.get("severity") not in ("critical", "warning", "info", "none"):
            problems.append(f"severity {lab.get('severity')!r}")
        for k in ("summary", "description", "runbook_url"):
            if not ann.get(k):
                problems.append(f"no {k}")
        if ann.get("runbook_url") != RUNBOOK_BASE + name.lower():
            problems.append(f"runbook_url {ann.get('runbook_url')!r} != {RUNBOOK_BASE + name.lower()}")
        report.check(not problems, f"alert {name}: kube-prometheus style (severity, summary, description, runbook_url)",
                     "; ".join(problems) or f"severity={lab.get('severity')}")
    for r in rules:
        if r["type"] == "recording":
            ok = re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", r["name"]) is not None
            report.check(ok, f"recording rule {r['name']}: level:metric:operations name")


def check_rule_tests(rules: list[dict], report: Report):
    """Every alert has a promtool case where it fires and (Watchdog excepted) one where it is silent."""
    cases: dict[str, set[str]] = {}
    for t in sorted(RULE_TESTS_DIR.glob("*.yaml")):
        lines = [ln for ln in t.read_text().splitlines() if ln.strip() and not ln.strip().startswith("#")]
        for i, ln in enumerate(lines):
            m = re.match(r"\s*alertname:\s*(\S+)", ln)
            if m and i + 1 < len(lines):
                nxt = lines[i + 1]
                if re.match(r"\s*exp_alerts:\s*\[\s*\]", nxt):
                    cases.setdefault(m.group(1), set()).add("silent")
                elif re.match(r"\s*exp_alerts:\s*$", nxt):
                    cases.setdefault(m.group(1), set()).add("fires")
    for r in rules:
        if r["type"] != "alerting":
            continue
        need = {"fires"} if r["name"] == "Watchdog" else {"fires", "silent"}
        have = cases.get(r["name"], set())
        what = "fires" if need == {"fires"} else "fires and where it stays silent"
        report.check(need <= have, f"alert {r['name']}: promtool test case where it {what}", f"has {sorted(have)}")


# ----------------------------------------------------------------------------------- static analysis
def analyse_promql(q: Query, contract: dict[str, set[str]], recorded: dict[str, set[str]], report: Report):
    refs = promql_refs(q.expanded)
    known = {**contract, **recorded, **PROMETHEUS_BUILTIN_SERIES}
    unknown = sorted(m for m in refs.metrics if m not in known)
    allowed_labels = set(SCRAPE_LABELS) | refs.created | {"le"}
    for m in refs.metrics:
        allowed_labels |= known.get(m, set())
    bad_labels = sorted(refs.labels - allowed_labels)
    problems = []
    if unknown:
        problems.append(f"series not in docs/metrics.md or recording rules: {unknown}")
    if bad_labels and not unknown:
        problems.append(f"labels not carried by {sorted(refs.metrics)}: {bad_labels}")
    removed = refs.functions & REMOVED_IN_PROMETHEUS_3
    if removed:
        problems.append(f"functions removed in Prometheus 3: {sorted(removed)}")
    if re.search(r'\ble\s*(=|!=|=~|!~)\s*"', q.expanded):
        problems.append('matches on le values (Prometheus 3 normalises "1" to "1.0")')
    report.check(not problems, f"{q.where}: names only contract series/labels", "; ".join(problems))
    return refs


def recorded_label_sets(rules: list[dict], contract: dict[str, set[str]]) -> tuple[dict, dict]:
    """recorded series -> (labels it may carry, raw series it reads)."""
    labels: dict[str, set[str]] = {}
    sources: dict[str, set[str]] = {}
    for r in rules:
        if r["type"] != "recording":
            continue
        refs = promql_refs(r["query"])
        ls, src = set(refs.created) | set(r.get("labels", {})), set()
        for m in refs.metrics:
            ls |= contract.get(m, set()) | labels.get(m, set()) | ({"job"} if m in contract else set())
            src |= sources.get(m, {m})
        labels[r["name"]] = ls | refs.by_labels
        sources[r["name"]] = src
    return labels, sources


def base_series(refs: PromRefs, sources: dict[str, set[str]], expr: str) -> set[str]:
    out = set()
    for m in refs.metrics:
        out |= sources.get(m, {m})
    if "up" in out and re.search(r'\bup\s*\{[^}]*job\s*=\s*"otel-collector"', expr) \
            and not re.search(r'\bup\s*\{(?![^}]*otel-collector)', expr):
        out = (out - {"up"}) | {"up{otel-collector}"}
    return out


def empty_reason(series: set[str], have_collector: bool) -> str | None:
    reasons = []
    for s in series:
        if s in ALLOW_EMPTY:
            reasons.append(ALLOW_EMPTY[s])
        elif (s.startswith("otelcol_") or s == "up{otel-collector}") and not have_collector:
            reasons.append(COLLECTOR_REASON)
        else:
            return None
    return "; ".join(sorted(set(reasons))) if reasons else None


# ----------------------------------------------------------------------------------- main flow
def run(args, report: Report, dash_dir: Path = DASH_DIR, rules_dir: Path = RULES_DIR,
        targets: dict[str, str] | None = None, live: bool = False,
        canaries: list[tuple[str, str]] = ()) -> None:
    for tool in ("promtool", "prometheus"):
        if not shutil.which(tool) and not args.prometheus:
            report.check(False, f"{tool} on PATH", "apt-get update && apt-get install -y prometheus")
            return
    contract = parse_contract(CONTRACT)
    report.info(f"contract: {len(contract)} series from {CONTRACT.relative_to(REPO)}")
    dashboards = load_dashboards(dash_dir, report)
    rule_files = check_rule_files(rules_dir, RULE_TESTS_DIR, report)

    prom = None
    try:
        if args.prometheus:
            base = args.prometheus.rstrip("/")
        else:
            prom = Prometheus(targets or {}, rule_files)
            base = prom.url
            if not report.check(prom.wait_ready(), f"Prometheus started on {base}",
                                "" if prom.proc.poll() is None else prom.log_tail()):
                return
        have_collector = bool(targets and "otel-collector" in targets) or bool(args.prometheus)
        if live and not args.prometheus:
            wait_for_data(base, targets or {}, args.wait, report)
        ours = {f.name for f in rule_files}
        rules = [r for r in load_rules(base, report) if r["file"] in ours]
        report.check(bool(rules), f"Prometheus has loaded our rule files {sorted(ours)}")
        check_rule_tests(rules, report)
        check_rule_definitions(rules, report)
        for r in rules:
            healthy = r.get("health") == "ok" if live else r.get("health") in ("ok", "unknown")
            report.check(healthy and not r.get("lastError"),
                         f"rule {r['name']}: health {r.get('health')}", r.get("lastError", ""))
        recorded, sources = recorded_label_sets(rules, contract)

        queries: list[Query] = []
        for name, d in dashboards.items():
            queries += collect_queries(name, d, report)
        for r in rules:
            kind = "rule-alert" if r["type"] == "alerting" else "rule-record"
            queries.append(Query("rules", f"rule {r['file']} / {r['name']}", "promql", r["query"],
                                 expanded=r["query"], kind=kind, rule=r))
            if r["type"] == "alerting" and r["name"] != "Watchdog":
                for i, sig in enumerate(split_signals(r["query"]), 1):
                    queries.append(Query("rules", f"rule {r['file']} / {r['name']} signal {i}", "promql", sig,
                                         expanded=sig, kind="signal", rule=r))

        report.section("static analysis of every query (contract series/labels, LogQL fields, TraceQL attributes)")
        for q in queries:
            if q.lang == "promql":
                analyse_promql(q, contract, recorded, report)
                check_field_links(q, report)
            elif q.lang == "promql-var":
                pq = label_values_to_promql(q.expanded)
                report.check(pq is not None, f"{q.where}: label_values()/query_result() query", q.expanded)
                if pq:
                    q.expanded, q.lang = pq, "promql"
                    analyse_promql(q, contract, recorded, report)
            elif q.lang == "logql":
                probs = check_logql(q.expanded)
                report.check(not probs, f"{q.where}: LogQL names only our log labels/fields",
                             "; ".join(probs) or one_line(q.expanded))
                check_field_links(q, report)
            elif q.lang == "traceql":
                probs = check_traceql(q.expanded)
                report.check(not probs, f"{q.where}: TraceQL names only our span attributes",
                             "; ".join(probs) or one_line(q.expanded))
            else:
                report.check(False, f"{q.where}: unknown datasource/query language", q.raw[:80])

        title = "query -> series count (live)" if live else "PromQL parse check through Prometheus /api/v1/query"
        report.section(title)
        evaluated = 0
        for q in queries:
            if q.lang != "promql":
                continue
            if live and q.kind == "link":
                continue
            ok, n, note = query(base, q.expanded)
            evaluated += 1
            text = one_line(q.expanded)
            if not ok:
                report.check(False, q.where, f"→ {text}  ERROR {note}", count="-")
                continue
            if not live:
                report.check(True, q.where, f"parses → {text}", count="-")
                continue
            good, detail = judge(q, n, note, sources, have_collector)
            report.check(good, q.where, f"→ {text}  {detail}".rstrip(), count=str(n))
        report.info(f"{evaluated} PromQL expressions sent to Prometheus")
        if live:
            live_coverage(base, contract, report)
            for where, expr in canaries:
                # self-test: queries that must come back empty and be judged a failure
                cq = Query("self-test", where, "promql", expr, expanded=expr)
                ok, n, note = query(base, expr)
                good, detail = judge(cq, n, note, sources, have_collector)
                report.check(ok and n == 0 and not good, f"self-test: empty result is a failure: {where}",
                             f"{n} series, judged {'PASS' if good else 'FAIL'} ({detail})")
    finally:
        if prom:
            prom.close()


def judge(q: Query, n: int, note: str, sources: dict[str, set[str]], have_collector: bool) -> tuple[bool, str]:
    """Live verdict for one evaluated query: >= 1 series, or empty with an allowed reason."""
    if n > 0:
        return True, f"({note})" if note else ""
    if q.kind == "annotation":
        reason = ANNOTATION_REASON
    elif q.kind == "rule-alert" and q.rule["name"] != "Watchdog":
        reason = ALERT_REASON
    else:
        reason = empty_reason(base_series(promql_refs(q.expanded), sources, q.expanded), have_collector)
    return (True, f"EMPTY-ALLOWED: {reason}") if reason else (False, "returned no series")


def wait_for_data(base: str, targets: dict[str, str], min_wait: float, report: Report):
    report.section("waiting for scrapes and rule evaluations")
    start = time.time()
    deadline = start + max(60.0, min_wait * 4)
    healthy = False
    last = {}
    while time.time() < start + 30:
        r = http_json(base + "/api/v1/targets")
        act = r.get("data", {}).get("activeTargets", []) if r.get("status") == "success" else []
        last = {t["labels"]["job"]: (t["health"], t.get("lastError", "")) for t in act}
        if targets and len(last) >= len(targets) and all(h == "up" for h, _ in last.values()):
            healthy = True
            break
        time.sleep(0.5)
    for job, url in targets.items():
        h, err = last.get(job, ("missing", ""))
        report.check(h == "up", f"target {job} scraped ({url})", err or h)
    if not healthy:
        return
    # enough samples for rate() over 1m windows and for every rule to have run twice
    while time.time() < deadline:
        ok, n, _ = query(base, f"min(count_over_time(up[5m])) >= {max(5, int(min_wait))}")
        rules = http_json(base + "/api/v1/rules")
        evaluated = all(r.get("lastEvaluation", "").startswith("20") and not r["lastEvaluation"].startswith("0001")
                        for g in rules.get("data", {}).get("groups", []) for r in g["rules"])
        if ok and n > 0 and evaluated and time.time() - start >= min_wait:
            time.sleep(2.5)  # two more evaluations: recorded series get >= 2 samples (deriv, rate)
            report.info(f"data ready after {time.time() - start:.1f}s")
            return
        time.sleep(0.5)
    report.check(False, "enough scrapes and rule evaluations before the deadline")


def live_coverage(base: str, contract: dict[str, set[str]], report: Report):
    r = http_json(base + "/api/v1/label/__name__/values")
    names = set(r.get("data", [])) if r.get("status") == "success" else set()
    missing = sorted(m for m in contract if m not in names and m != "up")
    report.info(f"contract series present in the scrape: {len(contract) - len(missing) - ('up' in contract)}"
                f"/{len(contract) - ('up' in contract)}" + (f"; missing: {', '.join(missing)}" if missing else ""))


# ----------------------------------------------------------------------------------- self-test
def start_fixture_server() -> tuple[subprocess.Popen, int]:
    p = subprocess.Popen([sys.executable, str(FIXTURES / "serve_metrics.py"), "--port", "0"],
                         stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().strip()
    m = re.fullmatch(r"port (\d+)", line)
    if not m:
        p.terminate()
        raise RuntimeError(f"fixture server did not start: {line!r}")
    return p, int(m.group(1))


def fixture_coverage(contract: dict[str, set[str]], report: Report):
    report.section("self-test fixture covers the contract")
    present: dict[str, set[str]] = {}
    for f in ("brain.prom", "worker.prom", "otelcol.prom"):
        for line in (FIXTURES / f).read_text().splitlines():
            m = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s", line)
            if m and not line.startswith("#"):
                present.setdefault(m.group(1), set()).update(re.findall(r'([A-Za-z_]\w*)="', m.group(3) or ""))
    for name, labels in sorted(contract.items()):
        if name == "up":
            continue  # synthesised by Prometheus
        if name not in present and (name in ALLOW_EMPTY or name in NOT_IN_EXAMPLE):
            # the fixtures are real scrapes: these series exist only after an event, in a
            # cluster, or for calls the example never makes
            report.info(f"fixture lacks {name}: {ALLOW_EMPTY.get(name) or NOT_IN_EXAMPLE[name]}")
            continue
        have = present.get(name)
        if name == "target_info":
            have = have and (have & labels)  # resource attributes vary by host and process
        extra = (have or set()) - labels - SCRAPE_LABELS - {"le"}
        report.check(have is not None and not extra, f"fixture has {name}",
                     "missing" if have is None else (f"labels outside the contract: {sorted(extra)}" if extra else ""))


NEGATIVE_CASES = [
    # (file, mutation description, function(dashboard dict), expected failure text)
    ("agent-health.json", "metric name typo",
     lambda d: _first_target(d, "prometheus").__setitem__(
         "expr", _first_target(d, "prometheus")["expr"].replace("http_server_request_duration_seconds_count",
                                                                "http_server_request_duration_second_count")),
     "series not in docs/metrics.md"),
    ("agent-health.json", "label typo in by()",
     lambda d: _first_target(d, "prometheus").__setitem__("expr", "sum by (route) (rate(http_server_request_duration_seconds_count[5m]))"),
     "labels not carried"),
    ("job-throughput.json", "duplicate panel id",
     lambda d: d["panels"][2].__setitem__("id", d["panels"][1]["id"]), "duplicates"),
    ("memory-utilization.json", "unknown datasource uid",
     lambda d: d["panels"][1].__setitem__("datasource", {"type": "prometheus", "uid": "PBFA97CFB590B2093"}),
     "datasource uids"),
    ("llm-cost.json", "LogQL filters on a JSON field of OTLP logs",
     lambda d: _first_target(d, "loki").__setitem__("expr", '{service_name="worker"} | message="job usage"'),
     "field 'message'"),
    ("llm-cost.json", "PromQL syntax error",
     lambda d: _first_target(d, "prometheus").__setitem__("expr", "sum(rate(baker_llm_cost_total[5m])"),
     "ERROR"),
    ("job-throughput.json", "latency panel without exemplars",
     lambda d: [t.__setitem__("exemplar", False) for p in iter_panels(d["panels"]) for t in p.get("targets", [])
                if "histogram_quantile" in t.get("expr", "")], "exemplar"),
    ("agent-health.json", "missing schemaVersion", lambda d: d.pop("schemaVersion"), "required fields"),
]


def _first_target(d, ds_type):
    for p in iter_panels(d["panels"]):
        for t in p.get("targets", []):
            ds = t.get("datasource") or p.get("datasource") or {}
            if DATASOURCES.get(ds.get("uid")) == ds_type:
                return t
    raise KeyError(ds_type)


def negative_tests(args, report: Report):
    report.section("self-test: the checker rejects broken dashboards")
    for fname, desc, mutate, expect in NEGATIVE_CASES:
        tmp = Path(tempfile.mkdtemp(prefix="check-dashboards-neg-"))
        try:
            for f in DASH_DIR.glob("*.json"):
                shutil.copy(f, tmp / f.name)
            d = json.loads((tmp / fname).read_text())
            mutate(d)
            (tmp / fname).write_text(json.dumps(d))
            sub = Report(quiet=True)
            a = copy.copy(args)
            run(a, sub, dash_dir=tmp, live=False)
            hits = [r for r in sub.failures() if expect in (r[2] + " " + r[3])]
            report.check(bool(hits), f"rejects {fname}: {desc}",
                         f"{len(sub.failures())} failure(s), e.g. {one_line(hits[0][2] + ' ' + hits[0][3])[:160]}"
                         if hits else f"expected a failure containing {expect!r}; got {[r[2] for r in sub.failures()][:3]}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    sig = split_signals('a > 0.05 or (b > on (c) group_left d) unless absent(e{x="y"})')
    report.check([one_line(s) for s in sig] == ["a", "b", "d", 'e{x="y"}'],
                 "signal extraction splits comparisons and set operators", str(sig))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--live", action="store_true", help="scrape BRAIN/WORKER_METRICS_URL and evaluate every query")
    mode.add_argument("--self-test", action="store_true", help="--live against the fixtures + negative tests")
    ap.add_argument("--prometheus", metavar="URL", help="use this running Prometheus instead of starting one")
    ap.add_argument("--wait", type=float, default=8.0, metavar="S", help="minimum seconds of scraping before querying (live)")
    args = ap.parse_args(argv)

    report = Report()
    fixture = None
    try:
        if args.self_test:
            print("SELF-TEST: the scrape targets are deploy/tests/fixtures, recorded from the real brain, "
                  "worker and Collector (scripts/record-fixtures), replayed. This proves the checker.")
            fixture, port = start_fixture_server()
            base = f"http://127.0.0.1:{port}"
            targets = {"brain": f"{base}/brain/metrics", "worker": f"{base}/worker/metrics",
                       "otel-collector": f"{base}/otelcol/metrics"}
            fixture_coverage(parse_contract(CONTRACT), report)
            canaries = [
                ("existing series, label value that does not exist",
                 'sum by (http_route) (rate(http_server_request_duration_seconds_count{http_route="/no-such-route"}[1m]))'),
                ("contract series the fixture does not serve for this job",
                 'baker_tool_duration_seconds_count{job="brain"}'),  # tools run in the worker only
            ]
            run(args, report, targets=targets, live=True, canaries=canaries)
            negative_tests(args, report)
        elif args.live or args.prometheus:
            targets = {"brain": os.environ.get("BRAIN_METRICS_URL", "http://127.0.0.1:9465/metrics"),
                       "worker": os.environ.get("WORKER_METRICS_URL", "http://127.0.0.1:9464/metrics")}
            if os.environ.get("OTELCOL_METRICS_URL"):
                targets["otel-collector"] = os.environ["OTELCOL_METRICS_URL"]
            run(args, report, targets=targets, live=True)
        else:
            run(args, report, live=False)
    finally:
        if fixture:
            fixture.terminate()
            fixture.wait(5)
    if report.failed:
        print("\nFailures:")
        for status, count, where, detail in report.failures():
            print(f"  {where}  {detail[:400]}")
    print(f"\ndashboard-checks: {report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
