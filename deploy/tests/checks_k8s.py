"""Generic Kubernetes checks over one rendered variant: namespaces and Pod Security,
container hygiene (images, resources, probes, securityContext), references between
objects, persistent storage, and a small NetworkPolicy (ingress) evaluator."""

from __future__ import annotations

import os
import re
from urllib.parse import urlparse

from manifests import (
    CLUSTER_SCOPED_KINDS, Finding, Index, all_containers, configmap_files, image_repo,
    image_tag, namespace_of, obj_ref, pod_spec, pod_template_metadata, secret_files,
)
from manifests import user_secrets as declared_user_secrets

PSA_ENFORCE = "pod-security.kubernetes.io/enforce"

# Image versions pinned by the design (DESIGN.md section 4). A different tag for one of
# these repositories is a deliberate upgrade: change it here and in the manifests together.
# The Collector, Prometheus and Alertmanager pins are read from the Go modules that
# scripts/go-build builds and scripts/test runs (collector/manifest.yaml, tools/*/go.mod), so
# an image tag can only name the release the real programs were tested at.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _tested_release(path: str, pattern: str, fmt) -> str | None:
    try:
        with open(os.path.join(REPO_ROOT, path), encoding="utf-8") as fh:
            m = re.search(pattern, fh.read(), re.M)
    except OSError:
        return None
    return fmt(m) if m else None


EXPECTED_IMAGES = {
    # collector/manifest.yaml dist.version (every component module at that release)
    "otel/opentelemetry-collector-contrib": _tested_release(
        "collector/manifest.yaml", r"^\s*version:\s*([0-9.]+)", lambda m: m.group(1)),
    "grafana/tempo": "3.0.3",
    "grafana/loki": "3.7.7",
    # Prometheus module v0.3MM.P is release v3.MM.P
    "prom/prometheus": _tested_release(
        "tools/prometheus/go.mod", r"github\.com/prometheus/prometheus v0\.3(\d\d)\.(\d+)",
        lambda m: f"v3.{int(m.group(1))}.{m.group(2)}"),
    "grafana/grafana": "13.2.3",
    "prom/alertmanager": _tested_release(
        "tools/alertmanager/go.mod", r"github\.com/prometheus/alertmanager (v[0-9.]+)", lambda m: m.group(1)),
}


# ------------------------------------------------------------------ namespaces ------

def check_namespaces(idx: Index) -> list[Finding]:
    out = []
    namespaces = {(n.get("metadata") or {}).get("name"): n for n in idx.of_kind("Namespace")}
    for name, ns in namespaces.items():
        labels = (ns.get("metadata") or {}).get("labels") or {}
        if labels.get(PSA_ENFORCE) != "restricted":
            out.append(Finding("namespaces", obj_ref(ns),
                               f"label {PSA_ENFORCE} must be 'restricted' (is {labels.get(PSA_ENFORCE)!r})"))
    for d in idx.docs:
        if d.get("kind") in CLUSTER_SCOPED_KINDS:
            continue
        ns = namespace_of(d)
        if not ns:
            out.append(Finding("namespaces", obj_ref(d), "has no namespace (would land in the kubectl context's namespace)"))
        elif ns not in namespaces:
            out.append(Finding("namespaces", obj_ref(d), f"namespace {ns!r} is not created by this kustomization"))
    return out


# ------------------------------------------------------------------ containers ------

def _effective(c_ctx: dict, p_ctx: dict, key: str):
    return c_ctx.get(key, p_ctx.get(key))


def _quantity_ok(resources: dict, section: str) -> list[str]:
    sec = resources.get(section) or {}
    return [f"resources.{section}.{r} is missing" for r in ("cpu", "memory") if r not in sec]


def check_containers(idx: Index) -> list[Finding]:
    out = []
    for w in idx.workloads():
        spec = pod_spec(w)
        p_ctx = spec.get("securityContext") or {}
        ref = obj_ref(w)
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(flag):
                out.append(Finding("containers", ref, f"{flag} is not allowed (Pod Security restricted)"))
        for v in spec.get("volumes") or []:
            if "hostPath" in v:
                out.append(Finding("containers", ref, f"volume {v.get('name')} uses hostPath"))
        for role, c in all_containers(spec):
            cref = f"{ref} {role} {c.get('name')}"
            problems = []
            image = c.get("image", "")
            tag = image_tag(image)
            if not tag or tag == "latest":
                problems.append(f"image {image!r} is not pinned to a tag or digest")
            expected = EXPECTED_IMAGES.get(image_repo(image))
            if expected and tag != expected:
                problems.append(f"image {image!r} should be tag {expected} (design pin)")
            res = c.get("resources") or {}
            problems += _quantity_ok(res, "requests") + _quantity_ok(res, "limits")
            if role == "container":
                for probe in ("livenessProbe", "readinessProbe"):
                    if probe not in c:
                        problems.append(f"{probe} is missing")
                    else:
                        problems += _probe_port_problems(c, probe)
            c_ctx = c.get("securityContext") or {}
            if _effective(c_ctx, p_ctx, "runAsNonRoot") is not True:
                problems.append("runAsNonRoot must be true")
            if _effective(c_ctx, p_ctx, "runAsUser") == 0:
                problems.append("runAsUser must not be 0")
            if c_ctx.get("allowPrivilegeEscalation") is not False:
                problems.append("securityContext.allowPrivilegeEscalation must be false")
            if c_ctx.get("privileged"):
                problems.append("privileged containers are not allowed")
            if c_ctx.get("readOnlyRootFilesystem") is not True:
                problems.append("securityContext.readOnlyRootFilesystem must be true")
            caps = c_ctx.get("capabilities") or {}
            if "ALL" not in (caps.get("drop") or []):
                problems.append("securityContext.capabilities.drop must contain ALL")
            extra = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
            if extra:
                problems.append(f"capabilities.add {sorted(extra)} not allowed")
            seccomp = (_effective(c_ctx, p_ctx, "seccompProfile") or {}).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                problems.append("seccompProfile.type must be RuntimeDefault (pod or container)")
            out += [Finding("containers", cref, p) for p in problems]
    return out


def _probe_port_problems(c: dict, probe: str) -> list[str]:
    p = c.get(probe) or {}
    handler = p.get("httpGet") or p.get("tcpSocket") or p.get("grpc")
    if not handler:
        return [] if "exec" in p else [f"{probe} has no handler"]
    port = handler.get("port")
    names = {pt.get("name") for pt in c.get("ports") or []}
    if isinstance(port, str) and port not in names:
        return [f"{probe} uses port name {port!r} which the container does not declare"]
    return []


# ------------------------------------------------------------------ references ------

def check_references(idx: Index) -> list[Finding]:
    out = []

    user_secrets: set[str] = set()  # Secrets the user creates (credentials), per workload

    def need(kind: str, ns: str | None, name: str, who: str, what: str, keys=(), optional=False):
        obj = idx.get(kind, ns, name)
        if obj is None:
            if kind == "Secret" and name in user_secrets:
                return
            if not optional:
                out.append(Finding("references", who, f"{what} references missing {kind} {ns}/{name}"))
            return
        data = configmap_files(obj) if kind == "ConfigMap" else secret_files(obj) if kind == "Secret" else {}
        for k in keys:
            if k not in data:
                out.append(Finding("references", who, f"{what} needs key {k!r} which {kind} {name} lacks"))

    for w in idx.workloads():
        ns, spec, ref = namespace_of(w), pod_spec(w), obj_ref(w)
        # A Secret the README tells the user to create (never rendered, so no credential
        # lives in git) is declared on the pod template; any other missing Secret is a bug.
        user_secrets.clear()
        user_secrets.update(declared_user_secrets(w))
        sa = spec.get("serviceAccountName")
        if sa and sa != "default":
            need("ServiceAccount", ns, sa, ref, "serviceAccountName")
        volumes = {t.get("metadata", {}).get("name"): {"volumeClaimTemplate": True}
                   for t in (w.get("spec") or {}).get("volumeClaimTemplates") or []}
        for v in spec.get("volumes") or []:
            volumes[v.get("name")] = v
            what = f"volume {v.get('name')}"
            if "configMap" in v:
                src = v["configMap"]
                need("ConfigMap", ns, src.get("name"), ref, what,
                     [i["key"] for i in src.get("items") or []], src.get("optional", False))
            if "secret" in v:
                src = v["secret"]
                need("Secret", ns, src.get("secretName"), ref, what,
                     [i["key"] for i in src.get("items") or []], src.get("optional", False))
            if "persistentVolumeClaim" in v:
                need("PersistentVolumeClaim", ns, v["persistentVolumeClaim"].get("claimName"), ref, what)
            for src in ((v.get("projected") or {}).get("sources")) or []:
                for kind, key in (("ConfigMap", "configMap"), ("Secret", "secret")):
                    if key in src:
                        s = src[key]
                        need(kind, ns, s.get("name"), ref, what,
                             [i["key"] for i in s.get("items") or []], s.get("optional", False))
        for role, c in all_containers(spec):
            who = f"{ref} {role} {c.get('name')}"
            for e in c.get("env") or []:
                vf = e.get("valueFrom") or {}
                for kind, key in (("ConfigMap", "configMapKeyRef"), ("Secret", "secretKeyRef")):
                    if key in vf:
                        r = vf[key]
                        need(kind, ns, r.get("name"), who, f"env {e.get('name')}", [r.get("key")],
                             r.get("optional", False))
            for ef in c.get("envFrom") or []:
                for kind, key in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
                    if key in ef:
                        need(kind, ns, ef[key].get("name"), who, "envFrom", (), ef[key].get("optional", False))
            for m in c.get("volumeMounts") or []:
                v = volumes.get(m.get("name"))
                if v is None:
                    out.append(Finding("references", who, f"volumeMount {m.get('name')} has no volume"))
                elif m.get("subPath") and "configMap" in v:
                    need("ConfigMap", ns, v["configMap"].get("name"), who,
                         f"subPath mount {m.get('mountPath')}", [m["subPath"]])

    for b in idx.of_kind("RoleBinding") + idx.of_kind("ClusterRoleBinding"):
        rr = b.get("roleRef") or {}
        role_ns = None if rr.get("kind") == "ClusterRole" else namespace_of(b)
        need(rr.get("kind"), role_ns, rr.get("name"), obj_ref(b), "roleRef")
        for s in b.get("subjects") or []:
            if s.get("kind") == "ServiceAccount":
                need("ServiceAccount", s.get("namespace") or namespace_of(b), s.get("name"), obj_ref(b), "subject")

    for svc in idx.of_kind("Service"):
        sel = (svc.get("spec") or {}).get("selector") or {}
        if not sel:
            continue
        pods = [w for w in idx.workloads() if namespace_of(w) == namespace_of(svc)
                and _labels_match(sel, (pod_template_metadata(w).get("labels") or {}))]
        if not pods:
            out.append(Finding("references", obj_ref(svc), f"selector {sel} matches no pod template"))
            continue
        names = {p.get("name") for w in pods for c in pod_spec(w).get("containers") or [] for p in c.get("ports") or []}
        for port in (svc.get("spec") or {}).get("ports") or []:
            tp = port.get("targetPort")
            if isinstance(tp, str) and tp not in names:
                out.append(Finding("references", obj_ref(svc), f"targetPort {tp!r} is not a container port name"))
    return out


def _labels_match(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# ------------------------------------------------------------------ storage ---------

def check_storage(idx: Index) -> list[Finding]:
    out = []
    users: dict[tuple, list[str]] = {}
    for w in idx.workloads():
        spec, ref = pod_spec(w), obj_ref(w)
        claims = [v["persistentVolumeClaim"].get("claimName")
                  for v in spec.get("volumes") or [] if "persistentVolumeClaim" in v]
        for c in claims:
            users.setdefault((namespace_of(w), c), []).append(ref)
        if not claims and not (w.get("spec") or {}).get("volumeClaimTemplates"):
            continue
        if (spec.get("securityContext") or {}).get("fsGroup") is None:
            out.append(Finding("storage", ref, "mounts a PVC but sets no pod securityContext.fsGroup"))
        if w.get("kind") == "Deployment":
            wspec = w.get("spec") or {}
            if (wspec.get("replicas", 1) or 0) > 1:
                out.append(Finding("storage", ref, "more than one replica on a ReadWriteOnce PVC"))
            if ((wspec.get("strategy") or {}).get("type")) != "Recreate":
                out.append(Finding("storage", ref, "uses a PVC but not strategy Recreate (rolling update would deadlock on RWO)"))
    for pvc in idx.of_kind("PersistentVolumeClaim"):
        key = (namespace_of(pvc), (pvc.get("metadata") or {}).get("name"))
        n = len(users.get(key, []))
        if n != 1:
            out.append(Finding("storage", obj_ref(pvc), f"is mounted by {n} workloads (expected exactly 1)"))
    return out


def pvc_mount_prefixes(idx: Index, workload: dict, container: dict) -> list[str]:
    """Mount paths in this container that are backed by a PersistentVolumeClaim."""
    vols = {v.get("name"): v for v in pod_spec(workload).get("volumes") or []}
    for t in (workload.get("spec") or {}).get("volumeClaimTemplates") or []:  # StatefulSet
        vols[(t.get("metadata") or {}).get("name")] = {"persistentVolumeClaim": {}}
    return [m.get("mountPath") for m in container.get("volumeMounts") or []
            if "persistentVolumeClaim" in (vols.get(m.get("name")) or {})]


def on_pvc(path: str, prefixes: list[str]) -> bool:
    path = path.rstrip("/")
    return any(path == p.rstrip("/") or path.startswith(p.rstrip("/") + "/") for p in prefixes)


_QUANTITY = re.compile(r"^(\d+(?:\.\d+)?)([KMGTPE]i?|[kKMGTPE]B|B)?$")
_MULT = {None: 1, "B": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
         "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15, "EB": 1e18,
         "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def parse_bytes(q: str) -> float | None:
    """Kubernetes quantities (20Gi) and Prometheus sizes (16GB; Prometheus units are 1024-based)."""
    m = _QUANTITY.match(str(q).strip())
    if not m:
        return None
    unit = m.group(2)
    if unit and unit.endswith("B") and len(unit) == 2:  # Prometheus: KB/MB/GB are powers of 1024
        unit = unit[0].upper() + "i"
    return float(m.group(1)) * _MULT[unit]


# ------------------------------------------------------------------ network policy --

def parse_endpoint(endpoint: str) -> tuple[str | None, str | None, int | None, str]:
    """(scheme, host, port, path) of 'http://h:p/x' or 'h:p'."""
    if "://" in endpoint:
        u = urlparse(endpoint)
        port = u.port or {"http": 80, "https": 443}.get(u.scheme)
        return u.scheme, u.hostname, port, u.path or ""
    host, _, port = endpoint.rpartition(":")
    return None, host or None, int(port) if port.isdigit() else None, ""


def service_for_host(host: str, default_ns: str | None) -> tuple[str, str | None] | None:
    """In-cluster service name and namespace for a host name, None if external."""
    parts = host.split(".")
    if len(parts) == 1:
        return parts[0], default_ns
    if len(parts) == 2 or parts[2:] in (["svc"], ["svc", "cluster", "local"]):
        return parts[0], parts[1]
    return None


class NetworkPolicies:
    """NetworkPolicy semantics (ingress at the destination AND egress at the source),
    enough to ask "may A reach B on port P" and "may A reach the outside on port P"."""

    def __init__(self, idx: Index, namespaces: dict[str, dict]):
        self.idx = idx
        self.namespaces = namespaces  # name -> labels

    def _selects(self, policy: dict, labels: dict) -> bool:
        sel = (policy.get("spec") or {}).get("podSelector") or {}
        return _selector_match(sel, labels)

    def _egress_policies(self, src_ns: str, src_labels: dict) -> list[dict]:
        return [p for p in self.idx.of_kind("NetworkPolicy")
                if namespace_of(p) == src_ns and self._selects(p, src_labels)
                and "Egress" in ((p.get("spec") or {}).get("policyTypes") or [])]

    def egress_allowed(self, src_ns: str, src_labels: dict, dst_ns: str | None, dst_labels: dict | None,
                       port: int, dst_ports: dict | None = None) -> bool:
        """Egress from (src_ns, src_labels) to a pod (dst_ns, dst_labels), or to an address
        outside the cluster when dst_ns is None."""
        policies = self._egress_policies(src_ns, src_labels)
        if not policies:
            return True
        for p in policies:
            for rule in (p.get("spec") or {}).get("egress") or []:
                if not self._port_ok(rule, port, dst_ports or {}):
                    continue
                peers = rule.get("to")
                if not peers:
                    return True
                for peer in peers:
                    if "ipBlock" in peer:
                        if peer["ipBlock"].get("cidr") in ("0.0.0.0/0", "::/0"):
                            return True
                        continue
                    if dst_ns is None:
                        continue
                    ns_sel = peer.get("namespaceSelector")
                    ns_ok = (dst_ns == src_ns) if ns_sel is None else _selector_match(
                        ns_sel, self.namespaces.get(dst_ns, {"kubernetes.io/metadata.name": dst_ns}))
                    pod_sel = peer.get("podSelector")
                    if ns_ok and (pod_sel is None or _selector_match(pod_sel, dst_labels or {})):
                        return True
        return False

    def allowed(self, src_ns: str, src_labels: dict, dst: dict, port: int) -> bool:
        dst_ns = namespace_of(dst)
        dst_labels = pod_template_metadata(dst).get("labels") or {}
        dst_ports = {p.get("name"): p.get("containerPort") for c in pod_spec(dst).get("containers") or []
                     for p in c.get("ports") or []}
        if not self.egress_allowed(src_ns, src_labels, dst_ns, dst_labels, port, dst_ports):
            return False
        return self.ingress_allowed(src_ns, src_labels, dst, port, dst_ns, dst_labels, dst_ports)

    def ingress_allowed(self, src_ns, src_labels, dst, port, dst_ns, dst_labels, dst_ports) -> bool:
        policies = [p for p in self.idx.of_kind("NetworkPolicy")
                    if namespace_of(p) == dst_ns and self._selects(p, dst_labels)
                    and "Ingress" in ((p.get("spec") or {}).get("policyTypes") or ["Ingress"])]
        if not policies:
            return True
        for p in policies:
            for rule in (p.get("spec") or {}).get("ingress") or []:
                if not self._port_ok(rule, port, dst_ports):
                    continue
                peers = rule.get("from")
                if not peers:
                    return True
                if any(self._peer_ok(peer, src_ns, src_labels, dst_ns) for peer in peers):
                    return True
        return False

    @staticmethod
    def _port_ok(rule: dict, port: int, dst_ports: dict) -> bool:
        ports = rule.get("ports")
        if not ports:
            return True
        for p in ports:
            want = p.get("port")
            if want is None or want == port or dst_ports.get(want) == port:
                return True
        return False

    def _peer_ok(self, peer: dict, src_ns: str, src_labels: dict, dst_ns: str) -> bool:
        if "ipBlock" in peer:
            return peer["ipBlock"].get("cidr") in ("0.0.0.0/0", "::/0")
        ns_sel = peer.get("namespaceSelector")
        pod_sel = peer.get("podSelector")
        if ns_sel is None:
            ns_ok = src_ns == dst_ns
        else:
            ns_ok = _selector_match(ns_sel, self.namespaces.get(src_ns, {"kubernetes.io/metadata.name": src_ns}))
        pod_ok = True if pod_sel is None else _selector_match(pod_sel, src_labels)
        return ns_ok and pod_ok


def _selector_match(sel: dict, labels: dict) -> bool:
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in sel.get("matchExpressions") or []:
        key, op, vals = e.get("key"), e.get("operator"), e.get("values") or []
        if op == "In" and labels.get(key) not in vals:
            return False
        if op == "NotIn" and labels.get(key) in vals:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True
