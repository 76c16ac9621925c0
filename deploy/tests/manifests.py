"""Helpers for reading rendered Kubernetes manifests (output of `kubectl kustomize`).

Everything here is pure Python over parsed YAML documents, so the checks run offline and
can be fed deliberately broken manifests in memory (see test_check_rendered.py).
"""

from __future__ import annotations

import base64
import copy
import fnmatch
import posixpath
from dataclasses import dataclass, field
from typing import Any, Iterable

import yaml

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
CLUSTER_SCOPED_KINDS = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
    "CustomResourceDefinition", "PriorityClass", "IngressClass",
    "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
}


def load_documents(text: str) -> list[dict]:
    """All non-empty YAML documents of a multi-document stream."""
    return [d for d in yaml.safe_load_all(text) if d]


def obj_ref(obj: dict) -> str:
    """Human-readable object name used in every finding: Kind/namespace/name."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    name = meta.get("name", "<unnamed>")
    return f"{obj.get('kind', '?')}/{ns}/{name}" if ns else f"{obj.get('kind', '?')}/{name}"


@dataclass
class Finding:
    check: str
    obj: str
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.obj}: {self.message}"


@dataclass
class MountedFile:
    """A file a container sees through a ConfigMap/Secret volume."""
    content: str
    source_kind: str  # "ConfigMap" or "Secret"
    source_name: str
    key: str


@dataclass
class Index:
    """Rendered objects of one variant, looked up by (kind, namespace, name)."""
    docs: list[dict]
    by_key: dict[tuple[str, str | None, str], dict] = field(default_factory=dict)

    @classmethod
    def build(cls, docs: Iterable[dict]) -> "Index":
        docs = list(docs)
        idx = cls(docs=docs)
        for d in docs:
            meta = d.get("metadata") or {}
            idx.by_key[(d.get("kind"), meta.get("namespace"), meta.get("name"))] = d
        return idx

    def get(self, kind: str, namespace: str | None, name: str) -> dict | None:
        return self.by_key.get((kind, namespace, name))

    def of_kind(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d.get("kind") == kind]

    def workloads(self) -> list[dict]:
        return [d for d in self.docs if d.get("kind") in WORKLOAD_KINDS]

    def copy(self) -> "Index":
        return Index.build(copy.deepcopy(self.docs))


def namespace_of(obj: dict) -> str | None:
    return (obj.get("metadata") or {}).get("namespace")


def pod_spec(workload: dict) -> dict:
    """The PodSpec of any workload kind."""
    kind = workload.get("kind")
    spec = workload.get("spec") or {}
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        return (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def pod_template_metadata(workload: dict) -> dict:
    if workload.get("kind") == "Pod":
        return workload.get("metadata") or {}
    spec = workload.get("spec") or {}
    if workload.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return ((spec.get("template") or {}).get("metadata")) or {}


def all_containers(spec: dict) -> list[tuple[str, dict]]:
    """(role, container) for init and regular containers."""
    out = [("initContainer", c) for c in spec.get("initContainers") or []]
    out += [("container", c) for c in spec.get("containers") or []]
    return out


def configmap_files(cm: dict) -> dict[str, str]:
    return dict(cm.get("data") or {})


def secret_files(secret: dict) -> dict[str, str]:
    out = {}
    for k, v in (secret.get("data") or {}).items():
        out[k] = base64.b64decode(v or "").decode("utf-8", "replace")
    for k, v in (secret.get("stringData") or {}).items():
        out[k] = v
    return out


USER_SECRETS_ANNOTATION = "observability.baker-street.io/user-secrets"
SA_TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


def user_secrets(workload: dict) -> set[str]:
    """Secrets the README tells the user to create (credentials never rendered), declared
    on the pod template with the annotation above."""
    ann = (pod_template_metadata(workload).get("annotations") or {}).get(USER_SECRETS_ANNOTATION, "")
    return {n.strip() for n in ann.split(",") if n.strip()}


def _source_files(idx: Index, ns: str | None, kind: str, src: dict,
                  user: set[str] = frozenset()) -> dict[str, MountedFile]:
    """Files (relative path -> MountedFile) a configMap/secret volume source produces. A
    user-created Secret (not in the render) yields empty files for its listed items."""
    name = src.get("name") if kind == "ConfigMap" else src.get("secretName", src.get("name"))
    obj = idx.get(kind, ns, name)
    if obj is None:
        if kind == "Secret" and name in user:
            return {it["path"]: MountedFile("", kind, name, it["key"]) for it in src.get("items") or []}
        return {}
    data = configmap_files(obj) if kind == "ConfigMap" else secret_files(obj)
    items = src.get("items")
    if items:
        return {
            it["path"]: MountedFile(data[it["key"]], kind, name, it["key"])
            for it in items if it.get("key") in data
        }
    return {k: MountedFile(v, kind, name, k) for k, v in data.items()}


def volume_files(idx: Index, ns: str | None, volume: dict,
                 user: set[str] = frozenset()) -> dict[str, MountedFile] | None:
    """Files of a ConfigMap/Secret/projected volume; None for other volume types."""
    if "configMap" in volume:
        return _source_files(idx, ns, "ConfigMap", volume["configMap"])
    if "secret" in volume:
        return _source_files(idx, ns, "Secret", volume["secret"], user)
    if "projected" in volume:
        out: dict[str, MountedFile] = {}
        for src in (volume["projected"] or {}).get("sources") or []:
            if "configMap" in src:
                out.update(_source_files(idx, ns, "ConfigMap", src["configMap"]))
            elif "secret" in src:
                out.update(_source_files(idx, ns, "Secret", src["secret"]))
        return out
    return None


def container_files(idx: Index, workload: dict, container: dict) -> dict[str, MountedFile]:
    """Virtual filesystem of one container: absolute path -> file, from its volume mounts."""
    spec = pod_spec(workload)
    ns = namespace_of(workload)
    volumes = {v.get("name"): v for v in spec.get("volumes") or []}
    out: dict[str, MountedFile] = {}
    if spec.get("automountServiceAccountToken") is not False:
        out[SA_TOKEN_DIR + "/token"] = MountedFile("", "Secret", "serviceaccount-token", "token")
    user = user_secrets(workload)
    for m in container.get("volumeMounts") or []:
        vol = volumes.get(m.get("name"))
        if vol is None:
            continue
        files = volume_files(idx, ns, vol, user)
        if files is None:
            continue
        mount = m.get("mountPath", "")
        sub = m.get("subPath")
        if sub:
            if sub in files:
                out[mount] = files[sub]
            continue
        for rel, f in files.items():
            out[posixpath.join(mount, rel)] = f
    return out


def glob_files(files: dict[str, Any], pattern: str) -> list[str]:
    """Paths in a virtual filesystem matching a glob (no path separators crossed by *)."""
    pat_parts = pattern.split("/")
    hits = []
    for path in files:
        parts = path.split("/")
        if len(parts) == len(pat_parts) and all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pat_parts)):
            hits.append(path)
    return sorted(hits)


def arg_value(args: list[str], *flags: str) -> str | None:
    """Value of `--flag=value` / `-flag=value` / `--flag value` in a container's args."""
    for i, a in enumerate(args):
        for f in flags:
            if a.startswith(f + "="):
                return a[len(f) + 1:]
            if a == f and i + 1 < len(args):
                return args[i + 1]
    return None


def arg_values(args: list[str], flag: str) -> list[str]:
    out = []
    for i, a in enumerate(args):
        if a.startswith(flag + "="):
            out.append(a[len(flag) + 1:])
        elif a == flag and i + 1 < len(args):
            out.append(args[i + 1])
    return out


def image_repo(image: str) -> str:
    """Image reference without tag/digest: 'prom/prometheus:v3' -> 'prom/prometheus'."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref = ref[: len(ref) - len(last)] + last.split(":", 1)[0]
    return ref


def image_tag(image: str) -> str | None:
    if "@" in image:
        return image.split("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def find_workload(idx: Index, image_fragment: str) -> list[tuple[dict, dict]]:
    """(workload, container) pairs whose container image repo contains the fragment."""
    out = []
    for w in idx.workloads():
        for _, c in all_containers(pod_spec(w)):
            if image_fragment in image_repo(c.get("image", "")) and c in (pod_spec(w).get("containers") or []):
                out.append((w, c))
    return out


def deep_merge(base: Any, over: Any) -> Any:
    """Collector config merge semantics: maps merge recursively, anything else replaces."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = deep_merge(base[k], v) if k in base else v
        return out
    return over
