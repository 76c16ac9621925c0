#!/usr/bin/env python3
"""End-to-end interoperability proof: the Rust Brain (examples/agent-pipeline, baker-otel)
and a Go worker (interop/go-nats-peer, nats.go + the OpenTelemetry Go SDK) share one trace
across NATS, in both directions.

usage: go_peer_real.py [--work DIR]        (needs NATS_URL with JetStream, target/release/brain)

Starts Jaeger v2 and our Collector (deploy/'s base config, loopback copy) with the traces
exporter pointed at Jaeger, the Go peer as the Worker and the Brain, on a stream, subject
prefix and consumer unique to this run (the stream is deleted at the end). Then:
  - a malformed job published straight onto the job subject is terminated by the Go peer
    (logged once, no redelivery, no crash);
  - 3 messages POSTed to the Brain are each answered 200 by the Go peer;
  - each response's trace (X-Trace-Id), read back from Jaeger, holds spans of `brain` and
    `go-nats-peer` with one root (the Brain's HTTP server span), the Go `process` span a
    child of the Brain's `send` (PRODUCER) span, the Go `send _INBOX` span a child of that
    `process` span, the Brain's `process _INBOX` span a child of the Go `send _INBOX` span,
    and every parent reference resolving inside the trace;
  - the Go peer exits 0 on SIGTERM.
Prints PASS/FAIL per check, ends with "go-peer: N passed, M failed"; exits 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import realstack  # noqa: E402
from realstack import (  # noqa: E402
    REPO, Collector, Jaeger, Proc, base_collector_spec, check, free_port, http_get, summary, wait_for,
)

MESSAGE = "hello from the test"
GO_SERVICE = "go-nats-peer"
BRAIN_SERVICE = "brain"


# ------------------------------------------------------------------ raw NATS ------------

def nats_addr(url: str) -> tuple[str, int]:
    hp = url.split("://", 1)[-1].split("@")[-1].split(",")[0]
    host, port = hp.rsplit(":", 1)
    return host, int(port)


def nats_request(url: str, subject: str, payload: bytes = b"", timeout: float = 3.0) -> bytes:
    """Publishes on a raw socket (core NATS) and returns the first reply's payload ("" when a
    reply is not expected or does not come)."""
    s = socket.create_connection(nats_addr(url), timeout=timeout)
    try:
        s.recv(4096)  # INFO
        inbox = f"_INBOX.gopeer_{secrets.token_hex(6)}"
        s.sendall(f'CONNECT {{"verbose":false,"pedantic":false}}\r\nSUB {inbox} 1\r\n'
                  f"PUB {subject} {inbox} {len(payload)}\r\n".encode() + payload + b"\r\nPING\r\n")
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            i = buf.find(b"MSG ")
            if i >= 0:
                end = buf.find(b"\r\n", i)
                if end < 0:
                    continue
                size = int(buf[i:end].split()[-1])
                if len(buf) >= end + 2 + size:
                    return buf[end + 2:end + 2 + size]
        return b""
    finally:
        s.close()


def consumer_info(url: str, stream: str, consumer: str) -> dict:
    try:
        return json.loads(nats_request(url, f"$JS.API.CONSUMER.INFO.{stream}.{consumer}") or b"{}")
    except ValueError:
        return {}


def delete_stream(url: str, stream: str) -> bool:
    reply = nats_request(url, f"$JS.API.STREAM.DELETE.{stream}")
    try:
        return bool(json.loads(reply or b"{}").get("success"))
    except ValueError:
        return False


# ------------------------------------------------------------------ Jaeger spans --------

def tags(span: dict) -> dict:
    return {t["key"]: t.get("value") for t in span.get("tags") or []}


def kind(span: dict) -> str:
    return str(tags(span).get("span.kind", "")).lower()


def parent_id(span: dict) -> str | None:
    for r in span.get("references") or []:
        if r.get("refType") == "CHILD_OF":
            return r.get("spanID")
    return None


def describe(spans: list[dict]) -> str:
    by_id = {s["spanID"]: s for s in spans}
    lines = []
    for s in sorted(spans, key=lambda s: s.get("startTime", 0)):
        p = by_id.get(parent_id(s) or "")
        lines.append(f"{s['serviceName']:>13} {kind(s):8} {s['operationName']!r} "
                     f"<- {p['operationName'] if p else parent_id(s)!r}")
    return "\n".join(lines)


def one(spans: list[dict], service: str, k: str, name: str) -> dict | None:
    found = [s for s in spans if s["serviceName"] == service and kind(s) == k and s["operationName"] == name]
    return found[0] if len(found) == 1 else None


def check_trace(n: int, trace_id: str, spans: list[dict], job_subject: str, consumer: str) -> None:
    label = f"request {n} trace {trace_id}"
    ids = {s["spanID"] for s in spans}
    roots = [s for s in spans if parent_id(s) is None]
    check(len(roots) == 1 and roots[0]["serviceName"] == BRAIN_SERVICE and kind(roots[0]) == "server",
          f"{label}: one root, the brain's HTTP server span",
          f"roots: {[(r['serviceName'], kind(r), r['operationName']) for r in roots]}\n{describe(spans)}")
    dangling = [(s["serviceName"], s["operationName"], parent_id(s)) for s in spans
                if parent_id(s) is not None and parent_id(s) not in ids]
    other_trace = [(s["serviceName"], s["operationName"]) for s in spans
                   for r in s.get("references") or []
                   if r.get("refType") == "CHILD_OF" and r.get("traceID") != trace_id]
    check(not dangling and not other_trace, f"{label}: every parent reference resolves inside the trace",
          f"dangling: {dangling}, other trace: {other_trace}")

    brain_send = one(spans, BRAIN_SERVICE, "producer", f"send {job_subject}")
    go_process = one(spans, GO_SERVICE, "consumer", f"process {job_subject}")
    go_send = one(spans, GO_SERVICE, "producer", "send _INBOX")
    brain_process = one(spans, BRAIN_SERVICE, "consumer", "process _INBOX")
    missing = [name for name, s in (("brain send", brain_send), ("go process", go_process),
                                    ("go send _INBOX", go_send), ("brain process _INBOX", brain_process))
               if s is None]
    if not check(not missing, f"{label}: the four messaging spans are there, once each",
                 f"missing or repeated: {missing}\n{describe(spans)}"):
        return
    check(parent_id(go_process) == brain_send["spanID"],
          f"{label}: Go 'process {job_subject}' is a child of the brain's 'send {job_subject}'",
          describe(spans))
    check(parent_id(go_send) == go_process["spanID"],
          f"{label}: Go 'send _INBOX' is a child of Go 'process {job_subject}'", describe(spans))
    check(parent_id(brain_process) == go_send["spanID"],
          f"{label}: the brain's 'process _INBOX' is a child of Go 'send _INBOX'", describe(spans))
    t = tags(go_process)
    want = {"messaging.system": "nats", "messaging.operation.name": "process",
            "messaging.operation.type": "process", "messaging.destination.name": job_subject,
            "messaging.consumer.group.name": consumer}
    bad = {k: t.get(k) for k, v in want.items() if t.get(k) != v}
    size = t.get("messaging.message.body.size")
    check(not bad and isinstance(size, int) and size > 0,
          f"{label}: Go process span carries the messaging attributes",
          f"differs: {bad}, body.size={size!r}")
    t = tags(go_send)
    check(t.get("messaging.destination.name") == "_INBOX" and "_INBOX." not in go_send["operationName"],
          f"{label}: Go send span names the templated destination, never the raw inbox", str(t))


# ------------------------------------------------------------------ the run -------------

def post(addr: str, conversation: str, body: dict) -> tuple[int, dict, dict]:
    req = urllib.request.Request(f"http://{addr}/v1/conversations/{conversation}/messages",
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=40) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, dict(e.headers), json.loads(raw or b"{}")
        except ValueError:
            return e.code, dict(e.headers), {"raw": raw.decode(errors="replace")}


def header(headers: dict, name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


def run(work: Path) -> None:
    nats_url = os.environ.get("NATS_URL")
    if not nats_url:
        raise SystemExit("NATS_URL is required (a JetStream-enabled nats-server; scripts/check-go-peer starts one)")
    brain_bin = REPO / "target/release/brain"
    if not brain_bin.exists():
        raise SystemExit(f"{brain_bin} is missing: cargo build --release -p agent-pipeline --bin brain")
    suffix = secrets.token_hex(4)
    stream, prefix, consumer = f"GOPEER_{suffix}", f"gopeer_{suffix}", f"go-peer-{suffix}"
    job_subject = f"{prefix}.agent"
    common = {"NATS_URL": nats_url, "BAKER_STREAM": stream, "BAKER_SUBJECT_PREFIX": prefix,
              "BAKER_CONSUMER": consumer}
    procs: list[tuple[str, object]] = []
    go_peer = brain = None
    try:
        jaeger = Jaeger(work / "jaeger")
        procs.append(("jaeger", jaeger))
        collector = Collector(base_collector_spec(), work / "collector", targets={"otlp_grpc": jaeger.otlp_grpc})
        procs.append(("collector", collector))

        brain_addr = f"127.0.0.1:{free_port()}"
        brain = Proc([str(brain_bin)], work / "brain.log", env={
            **common, "BRAIN_ADDR": brain_addr,
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_grpc, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_SERVICE_NAME": BRAIN_SERVICE, "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none", "OTEL_BSP_SCHEDULE_DELAY": "500"})
        procs.append(("brain", brain))
        wait_for(lambda: brain.alive() and http_get(f"http://{brain_addr}/healthz")[0] == 200, 60,
                 "the brain to serve /healthz")

        go_peer = Proc([realstack.go_binary("go-nats-peer")], work / "go-nats-peer.log", env={
            **common, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.otlp_grpc, "OTEL_SERVICE_NAME": GO_SERVICE})
        procs.append(("go-nats-peer", go_peer))
        wait_for(lambda: go_peer.alive() and "go-nats-peer ready" in go_peer.text(), 30,
                 "the Go peer to be ready")

        # Hostile input first: a job that is not JSON, straight onto the job subject.
        nats_request(nats_url, job_subject, b"{not json", timeout=1.0)
        wait_for(lambda: "invalid job payload" in go_peer.text(), 15, "the Go peer to reject the bad job")

        traces = []
        for n in range(1, 4):
            status, headers, body = post(brain_addr, f"conv-go-{suffix}-{n}", {"message": MESSAGE})
            trace_id = header(headers, "x-trace-id")
            ok = check(status == 200 and body.get("reply") == f"answered by go-nats-peer: {MESSAGE}",
                       f"request {n}: 200 with the Go peer's reply", f"status {status}, body {body}")
            check(bool(trace_id) and len(trace_id) == 32, f"request {n}: X-Trace-Id present ({trace_id})")
            if ok and trace_id:
                traces.append((n, trace_id))

        for n, trace_id in traces:
            def both() -> list[dict] | None:
                spans = jaeger.trace(trace_id)
                services = {s["serviceName"] for s in spans}
                # Wait for the last span to land too (the brain's root ends last).
                if {BRAIN_SERVICE, GO_SERVICE} <= services and any(parent_id(s) is None for s in spans) \
                        and any(s["operationName"] == "process _INBOX" for s in spans):
                    return spans
                return None
            try:
                spans = wait_for(both, 30, f"trace {trace_id} with spans of both services", interval=0.5)
            except TimeoutError as e:
                got = jaeger.trace(trace_id)
                check(False, f"request {n}: trace {trace_id} holds spans of brain and go-nats-peer",
                      f"{e}\n{describe(got) if got else '(no spans)'}")
                continue
            check(True, f"request {n}: trace {trace_id} holds spans of brain and go-nats-peer ({len(spans)} spans)")
            check_trace(n, trace_id, spans, job_subject, consumer)
            if n == 1:
                print("    " + describe(spans).replace("\n", "\n    "), flush=True)

        time.sleep(1.0)  # a Nak would have been redelivered by now
        text = go_peer.text()
        info = consumer_info(nats_url, stream, consumer)
        settled = info.get("num_ack_pending") == 0 and info.get("num_redelivered") == 0 \
            and (info.get("delivered") or {}).get("stream_seq") == 4
        check(go_peer.alive() and text.count("invalid job payload") == 1 and "panic" not in text and settled,
              "malformed job: logged once and terminated (all 4 jobs settled, no redelivery), "
              "the Go peer still running",
              f"alive={go_peer.alive()}, occurrences={text.count('invalid job payload')}, consumer: "
              + json.dumps({k: info.get(k) for k in ("delivered", "ack_floor", "num_ack_pending",
                                                      "num_redelivered", "num_pending", "error")}))
        rc = go_peer.stop(timeout=10)
        text = go_peer.text()
        check(rc == 0 and "go-nats-peer stopped" in text, "Go peer: SIGTERM -> flush and exit 0",
              f"exit code {rc}\n{text[-1500:]}")
    except Exception as e:  # a start-up failure is one FAIL with the logs, not a traceback
        check(False, f"the stack runs: {type(e).__name__}: {e}",
              "\n".join(f"--- {name} log:\n{p.text()[-2000:] if hasattr(p, 'text') else p.proc.text()[-2000:]}"
                        for name, p in procs))
    finally:
        for _name, p in reversed(procs):
            try:
                p.stop()
            except Exception:  # noqa: BLE001 - stopping everything matters more
                pass
        try:
            deleted = delete_stream(nats_url, stream)
        except OSError as e:
            deleted = False
            print(f"    stream delete: {e}")
        check(deleted, f"stream {stream} deleted")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, help="keep logs here (default: a temp dir, removed on success)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="go-peer-"))
    work.mkdir(parents=True, exist_ok=True)
    run(work)
    if summary("go-peer"):
        print(f"logs kept in {work}")
        return 1
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
