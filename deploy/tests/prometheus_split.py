"""A Prometheus 3 configuration as mounted in the pod, materialised in a scratch directory
for the real promtool / Prometheus 3 (built by scripts/go-build): `split(..., keep=True)`
keeps every field and only rewrites file paths (rule files, scrape config files, credential
files) into the scratch directory. Structural checks of the Prometheus-3-only parts run in
both modes and report what is malformed.

Without `keep`, the Prometheus-3-only parts are split out (the mode for an older promtool):

promtool 2.42 from Debian rejects (unknown field) for example:
  - the top-level `otlp:` block (OTLP receiver translation settings, Prometheus 3),
  - `scrape_config_files` (2.43+),
  - `basic_auth.username_file` (2.48+),
  - newer per-scrape / global fields (scrape_protocols, fallback_scrape_protocol, ...),
  - kubernetes_sd_configs (Debian builds Prometheus without Kubernetes discovery).
`split()` removes exactly those, inlines the included scrape configs, rewrites file paths
into a scratch directory, and reports anything malformed in the removed parts.
"""

from __future__ import annotations

import copy
import os
import posixpath
from typing import Any, Callable

import yaml

from manifests import MountedFile, glob_files

# --- structural validators for Prometheus-3-only fields --------------------------------

def _is_bool(v: Any) -> bool:
    return isinstance(v, bool)


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) and x for x in v) and len(set(v)) == len(v)


def _one_of(*choices: str) -> Callable[[Any], bool]:
    return lambda v: v in choices


TRANSLATION_STRATEGIES = (
    "UnderscoreEscapingWithSuffixes", "UnderscoreEscapingWithoutSuffixes",
    "NoUTF8EscapingWithSuffixes", "NoTranslation",
)
SCRAPE_PROTOCOLS = (
    "PrometheusProto", "OpenMetricsText1.0.0", "OpenMetricsText0.0.1",
    "PrometheusText1.0.0", "PrometheusText0.0.4",
)

# top-level otlp: block (Prometheus 3)
OTLP_FIELDS: dict[str, Callable[[Any], bool]] = {
    "promote_resource_attributes": _is_str_list,
    "ignore_resource_attributes": _is_str_list,
    "promote_all_resource_attributes": _is_bool,
    "translation_strategy": _one_of(*TRANSLATION_STRATEGIES),
    "keep_identifying_resource_attributes": _is_bool,
    "convert_histograms_to_nhcb": _is_bool,
    "promote_scope_metadata": _is_bool,
}

# fields newer than 2.42 that may appear in `global:` or in a scrape config
NEWER_SCRAPE_FIELDS: dict[str, Callable[[Any], bool]] = {
    "scrape_protocols": lambda v: isinstance(v, list) and all(x in SCRAPE_PROTOCOLS for x in v),
    "fallback_scrape_protocol": _one_of(*SCRAPE_PROTOCOLS),
    "enable_compression": _is_bool,
    "track_timestamps_staleness": _is_bool,
    "always_scrape_classic_histograms": _is_bool,
    "convert_classic_histograms_to_nhcb": _is_bool,
    "scrape_native_histograms": _is_bool,
    "metric_name_validation_scheme": _one_of("utf8", "legacy"),
    "metric_name_escaping_scheme": _one_of("allow-utf-8", "underscores", "dots", "values"),
    "scrape_failure_log_file": lambda v: isinstance(v, str),
    "rule_query_offset": lambda v: isinstance(v, str),
}


class Split:
    """Result of splitting one Prometheus configuration."""

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep  # keep Prometheus-3-only fields (only rewrite paths)
        self.compat: dict = {}
        self.problems: list[str] = []
        # scratch-relative path -> content, to materialise next to the compat config
        self.files: dict[str, str] = {}
        self.removed: list[str] = []  # human-readable list of what was split out


def _check_fields(where: str, obj: dict, table: dict, split: Split) -> None:
    for key in list(obj):
        if key in table:
            val = obj[key] if split.keep else obj.pop(key)
            if not split.keep:
                split.removed.append(f"{where}.{key}")
            if not table[key](val):
                split.problems.append(f"{where}.{key} has an invalid value {val!r}")


def split(config_text: str, config_path: str, files: dict[str, MountedFile], keep: bool = False) -> Split:
    """Split the config at `config_path` (absolute, in the container's virtual filesystem)."""
    out = Split(keep)
    cfg = yaml.safe_load(config_text) or {}
    if not isinstance(cfg, dict):
        out.problems.append("configuration is not a mapping")
        return out
    cfg = copy.deepcopy(cfg)
    base_dir = posixpath.dirname(config_path)

    def resolve(p: str) -> str:
        return p if p.startswith("/") else posixpath.normpath(posixpath.join(base_dir, p))

    # otlp: (Prometheus 3 OTLP receiver)
    if "otlp" in cfg:
        otlp = cfg["otlp"] if keep else cfg.pop("otlp")
        if not keep:
            out.removed.append("otlp")
        if not isinstance(otlp, dict):
            out.problems.append("otlp must be a mapping")
        else:
            unknown = sorted(set(otlp) - set(OTLP_FIELDS))
            if unknown:
                out.problems.append(f"otlp has unknown fields {unknown}")
            _check_fields("otlp", dict(otlp), OTLP_FIELDS, out)
            if otlp.get("promote_all_resource_attributes") and otlp.get("promote_resource_attributes"):
                out.problems.append("otlp: promote_all_resource_attributes excludes promote_resource_attributes")

    # runtime: (2.53+)
    if "runtime" in cfg:
        rt = cfg["runtime"] if keep else cfg.pop("runtime")
        if not keep:
            out.removed.append("runtime")
        if not isinstance(rt, dict) or set(rt) - {"gogc"}:
            out.problems.append(f"runtime has unknown fields {rt!r}")

    _check_fields("global", cfg.setdefault("global", {}) or {}, NEWER_SCRAPE_FIELDS, out)

    # scrape_config_files (2.43+): inline them for promtool
    scrape_configs = list(cfg.get("scrape_configs") or [])
    included: list[tuple[int, str, dict]] = []  # (pattern index, pod path, parsed file)
    patterns = (cfg.get("scrape_config_files") if keep else cfg.pop("scrape_config_files", None)) or []
    for i, pattern in enumerate(patterns):
        if not keep:
            out.removed.append(f"scrape_config_files[{pattern}]")
        hits = glob_files(files, resolve(pattern))
        if not hits:
            out.problems.append(f"scrape_config_files entry {pattern!r} matches no mounted file")
        for path in hits:
            inc = yaml.safe_load(files[path].content) or {}
            if not isinstance(inc, dict) or set(inc) - {"scrape_configs"}:
                out.problems.append(f"{path}: a scrape config file may only contain scrape_configs")
                continue
            scrape_configs += inc.get("scrape_configs") or []
            included.append((i, path, inc))
    names = [sc.get("job_name") for sc in scrape_configs]
    dups = sorted({n for n in names if names.count(n) > 1})
    if dups:
        out.problems.append(f"duplicate scrape job names {dups}")
    for sc in scrape_configs:
        where = f"scrape_configs[{sc.get('job_name')}]"
        _check_fields(where, sc, NEWER_SCRAPE_FIELDS, out)
        _check_credentials(where, sc, files, out, resolve)
        if "kubernetes_sd_configs" in sc:
            if not keep:
                out.removed.append(f"{where}.kubernetes_sd_configs")
            sds = sc["kubernetes_sd_configs"] if keep else sc.pop("kubernetes_sd_configs")
            for i, sd in enumerate(sds or []):
                out.problems += [f"{where}.kubernetes_sd_configs[{i}]: {p}" for p in _kubernetes_sd_problems(sd)]
    if keep:
        # the included files stay files (their scrape configs were edited in place above)
        for i, path, inc in included:
            # paths inside an included file are relative to that file (scrape/<i>/)
            for sc in inc.get("scrape_configs") or []:
                _rebase_files(sc, "../../")
            out.files[f"scrape/{i}/{posixpath.basename(path)}"] = yaml.safe_dump(inc, sort_keys=False)
        if included:
            cfg["scrape_config_files"] = sorted({f"scrape/{i}/*" for i, _, _ in included})
        own = len(cfg.get("scrape_configs") or [])
        scrape_configs = scrape_configs[:own]
    if scrape_configs:
        cfg["scrape_configs"] = scrape_configs

    # rule_files: copy matching mounted files into the scratch dir
    new_rules = []
    for i, pattern in enumerate(cfg.get("rule_files") or []):
        hits = glob_files(files, resolve(pattern))
        if not hits:
            out.problems.append(f"rule_files entry {pattern!r} matches no mounted file")
        for path in hits:
            rel = f"rules/{i}/{posixpath.basename(path)}"
            out.files[rel] = files[path].content
        new_rules.append(f"rules/{i}/*")
    if "rule_files" in cfg:
        cfg["rule_files"] = new_rules

    # remote_write / remote_read credentials: files from Secrets only
    for section in ("remote_write", "remote_read"):
        for j, rw in enumerate(cfg.get(section) or []):
            where = f"{section}[{rw.get('name', j)}]"
            _check_credentials(where, rw, files, out, resolve)
    return _finish(cfg, out)


K8S_SD_ROLES = ("pod", "service", "endpoints", "endpointslice", "node", "ingress")
K8S_SD_FIELDS = {"role", "namespaces", "selectors", "api_server", "kubeconfig_file", "attach_metadata",
                 "follow_redirects", "enable_http2", "tls_config", "authorization", "basic_auth", "oauth2",
                 "proxy_url", "no_proxy", "proxy_from_environment", "proxy_connect_header",
                 "bearer_token", "bearer_token_file"}


def _kubernetes_sd_problems(sd: dict) -> list[str]:
    """Structural check of one kubernetes_sd_configs entry (Debian's promtool cannot)."""
    if not isinstance(sd, dict):
        return ["must be a mapping"]
    out = []
    unknown = sorted(set(sd) - K8S_SD_FIELDS)
    if unknown:
        out.append(f"unknown fields {unknown}")
    if sd.get("role") not in K8S_SD_ROLES:
        out.append(f"role {sd.get('role')!r} is not one of {K8S_SD_ROLES}")
    ns = sd.get("namespaces")
    if ns is not None:
        if not isinstance(ns, dict) or set(ns) - {"names", "own_namespace"}:
            out.append("namespaces may only have names / own_namespace")
        elif "names" in ns and not _is_str_list(ns["names"]):
            out.append("namespaces.names must be a list of names")
    for j, sel in enumerate(sd.get("selectors") or []):
        if not isinstance(sel, dict) or set(sel) - {"role", "label", "field"}:
            out.append(f"selectors[{j}] may only have role, label, field")
        elif sel.get("role") not in K8S_SD_ROLES:
            out.append(f"selectors[{j}].role {sel.get('role')!r} is invalid")
        elif sd.get("role") == "pod" and sel.get("role") not in ("pod", "node"):
            out.append(f"selectors[{j}].role {sel.get('role')} cannot be used with role pod")
    if "bearer_token" in sd:
        out.append("bearer_token is a literal credential")
    return out


def _check_credentials(where: str, client: dict, files: dict[str, MountedFile], out: Split,
                       resolve: Callable[[str], str]) -> None:
    """Credentials must be files that a Secret provides; username_file is split out (2.48+)."""
    for block, secret_keys, file_keys in (
        ("basic_auth", ("username", "password"), ("username_file", "password_file")),
        ("authorization", ("credentials",), ("credentials_file",)),
        ("oauth2", ("client_secret",), ("client_secret_file",)),
    ):
        auth = client.get(block)
        if not isinstance(auth, dict):
            continue
        for k in secret_keys:
            if auth.get(k):
                out.problems.append(f"{where}.{block}.{k} is a literal credential; use {k}_file from a Secret")
        for k in file_keys:
            if k not in auth:
                continue
            path = resolve(auth[k])
            f = files.get(path)
            if f is None:
                out.problems.append(f"{where}.{block}.{k} {path} is not a mounted file")
            elif f.source_kind != "Secret":
                out.problems.append(f"{where}.{block}.{k} {path} comes from a {f.source_kind}, not a Secret")
            rel = f"secrets/{posixpath.basename(path)}"
            out.files[rel] = "placeholder\n"
            if k == "username_file" and not out.keep:
                auth.pop(k)
                out.removed.append(f"{where}.{block}.username_file")
                auth["username"] = "from-username-file"
            else:
                auth[k] = rel
    if "bearer_token" in client:
        out.problems.append(f"{where}.bearer_token is a literal credential")


def _rebase_files(obj, prefix: str) -> None:
    """Prefixes every scratch-relative `*_file` path (secrets/...) in a nested config."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k.endswith("_file") and isinstance(v, str) and v.startswith("secrets/"):
                obj[k] = prefix + v
            else:
                _rebase_files(v, prefix)
    elif isinstance(obj, list):
        for v in obj:
            _rebase_files(v, prefix)


def _finish(cfg: dict, out: Split) -> Split:
    out.compat = cfg
    return out


def materialise(s: Split, outdir: str) -> str:
    """Write the config and its files into outdir; returns the config path."""
    os.makedirs(outdir, exist_ok=True)
    for rel, content in s.files.items():
        path = os.path.join(outdir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(content)
    cfg_path = os.path.join(outdir, "prometheus.yml")
    with open(cfg_path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(s.compat, fh, sort_keys=False)
    return cfg_path
