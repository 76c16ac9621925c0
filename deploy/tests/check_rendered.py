#!/usr/bin/env python3
"""Consistency checks over rendered manifests (`kubectl kustomize` output).

usage:
  check_rendered.py [--readme README.md] [--rules-dir DIR] [--dashboards-dir DIR]
                    [--base-prometheus prometheus.yml] [--base-alertmanager alertmanager.yml]
                    NAME=RENDERED.yaml [NAME=RENDERED.yaml ...]
  check_rendered.py --extract-prometheus OUTDIR RENDERED.yaml
      writes the rendered Prometheus config with its rule, scrape-config and credential files
      to OUTDIR (paths rewritten into OUTDIR, every field kept, for promtool 3 / Prometheus 3)
      and prints the config path; structural problems are reported on stderr.
  check_rendered.py --extract-alertmanager OUTDIR RENDERED.yaml
      writes every mounted Alertmanager config to OUTDIR (for amtool check-config) and
      prints the paths.

Every finding names the object (Kind/namespace/name) it is about. Exit status 1 on any
finding. Services of all given renders are pooled to resolve endpoints, so an app
render (deploy/examples/app-otel) can be checked against the stack's collector Service.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import checks_k8s  # noqa: E402
import checks_stack  # noqa: E402
import prometheus_split  # noqa: E402
from manifests import Finding, Index, load_documents  # noqa: E402

CHECKS = [
    ("namespaces", lambda idx, ctx: checks_k8s.check_namespaces(idx)),
    ("containers", lambda idx, ctx: checks_k8s.check_containers(idx)),
    ("references", lambda idx, ctx: checks_k8s.check_references(idx)),
    ("storage", lambda idx, ctx: checks_k8s.check_storage(idx)),
    ("collector", checks_stack.check_collector),
    ("prometheus", checks_stack.check_prometheus),
    ("loki", checks_stack.check_loki),
    ("tempo", checks_stack.check_tempo),
    ("grafana", checks_stack.check_grafana),
    ("alertmanager", checks_stack.check_alertmanager),
    ("network", checks_stack.check_network),
    ("tiers", checks_stack.check_tiers),
    ("app-otel", checks_stack.check_app_otel),
    ("runbooks", checks_stack.check_runbooks),
]


def run_checks(idx: Index, ctx: checks_stack.Context) -> dict[str, list[Finding] | None]:
    """All check groups over one variant; group name -> findings (empty = pass, None = the
    group does not apply to this variant, e.g. no Prometheus in an app-only render)."""
    results = {}
    for name, fn in CHECKS:
        try:
            results[name] = fn(idx, ctx)
        except Exception as e:  # a crash in a check is a failure of that check, not of all
            results[name] = [Finding(name, "checker", f"crashed: {type(e).__name__}: {e}")]
    return results


def _listdir(d: str | None, suffixes: tuple[str, ...]) -> list[str]:
    if not d or not os.path.isdir(d):
        return []
    return sorted(f for f in os.listdir(d) if f.endswith(suffixes))


def _read(path: str | None) -> str | None:
    if not path:
        return None
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--readme")
    ap.add_argument("--rules-dir")
    ap.add_argument("--dashboards-dir")
    ap.add_argument("--base-prometheus")
    ap.add_argument("--base-alertmanager")
    ap.add_argument("--extract-prometheus", metavar="OUTDIR")
    ap.add_argument("--extract-alertmanager", metavar="OUTDIR")
    ap.add_argument("renders", nargs="+", metavar="NAME=FILE")
    args = ap.parse_args(argv)

    if args.extract_alertmanager:
        import check_alertmanager
        os.makedirs(args.extract_alertmanager, exist_ok=True)
        idx = Index.build(load_documents(_read(args.renders[0].split("=", 1)[-1])))
        for p in check_alertmanager.extract(idx, args.extract_alertmanager):
            print(p)
        return 0
    if args.extract_prometheus:
        return extract(args.extract_prometheus, args.renders[0].split("=", 1)[-1])

    variants = []
    for spec in args.renders:
        name, _, path = spec.rpartition("=")
        variants.append((name or path, Index.build(load_documents(_read(path)))))
    ctx = checks_stack.Context(
        services=[s for _, idx in variants for s in idx.of_kind("Service")],
        readme=_read(args.readme),
        rules_sources=_listdir(args.rules_dir, (".yaml", ".yml")),
        dashboard_sources=_listdir(args.dashboards_dir, (".json",)),
        reference_prometheus=_read(args.base_prometheus),
        reference_alertmanager=_read(args.base_alertmanager),
    )
    failed = 0
    for name, idx in variants:
        for group, findings in run_checks(idx, ctx).items():
            if findings is None:
                print(f"SKIP consistency [{name}] {group} (not in this variant)")
            elif findings:
                failed += 1
                print(f"FAIL consistency [{name}] {group}")
                for f in findings:
                    print(f"    {f}")
            else:
                print(f"PASS consistency [{name}] {group}")
    return 1 if failed else 0


def extract(outdir: str, rendered: str) -> int:
    idx = Index.build(load_documents(_read(rendered)))
    found = checks_stack.find_workload(idx, "prom/prometheus")
    if not found:
        print(f"no Prometheus in {rendered}", file=sys.stderr)
        return 1
    w, c = found[0]
    path, text, files = checks_stack.prometheus_config(idx, w, c)
    if text is None:
        print(f"Prometheus config {path} not mounted", file=sys.stderr)
        return 1
    s = prometheus_split.split(text, path, files, keep=True)
    for r in s.removed:
        print(f"split out (checked structurally): {r}", file=sys.stderr)
    for p in s.problems:
        print(f"problem: {p}", file=sys.stderr)
    print(prometheus_split.materialise(s, outdir))
    return 1 if s.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
