#!/usr/bin/env bash
# Shared helpers for scripts/*: system packages and a reachable NATS server.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"
# Go 1.26 lives in /usr/local/go on these machines; a non-login shell (CI) may not have it on PATH.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="/usr/local/go/bin:$PATH"; fi

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=0
apt_install() {
  # apt_install <command-that-must-exist> <debian-package>...
  local cmd="$1"; shift
  if command -v "$cmd" >/dev/null 2>&1; then return 0; fi
  log "installing $* from Debian (for $cmd)"
  if [ "$APT_UPDATED" = 0 ]; then as_root apt-get update -qq >/dev/null; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Exports NATS_URL pointing at a JetStream-enabled server: the one at $NATS_URL or
# 127.0.0.1:4222 if reachable, else a private nats-server started on a free port.
ensure_nats() {
  local url="${NATS_URL:-nats://127.0.0.1:4222}"
  local hostport="${url#nats://}"; hostport="${hostport##*@}"
  if tcp_open "${hostport%:*}" "${hostport##*:}"; then export NATS_URL="$url"; return 0; fi
  apt_install nats-server nats-server
  local port; port="$(free_port)"
  local dir; dir="$(mktemp -d)"
  log "no NATS at $url; starting nats-server -js on 127.0.0.1:$port"
  nats-server -a 127.0.0.1 -p "$port" -js -sd "$dir" >"$dir/nats.log" 2>&1 &
  NATS_PID=$!
  trap 'kill $NATS_PID 2>/dev/null || true' EXIT
  for _ in $(seq 50); do tcp_open 127.0.0.1 "$port" && break; sleep 0.1; done
  export NATS_URL="nats://127.0.0.1:$port"
}

# Puts the Go programs that the tests run on PATH (target/go-tools/bin): our Collector
# distribution (otelcol-baker), Prometheus 3 + promtool, Alertmanager + amtool, Jaeger and the
# Go NATS peer, built from the Go module proxy by scripts/go-build (cached per module, so a
# second call builds nothing). Arguments: the names to provide (default: all).
ensure_go_tools() {
  local dir="$ROOT/target/go-tools/bin" out name path
  mkdir -p "$dir"
  out="$("$ROOT/scripts/go-build" "$@")" || return 1
  while read -r name path; do ln -sfn "$path" "$dir/$name"; done <<<"$out"
  case ":$PATH:" in *":$dir:"*) ;; *) export PATH="$dir:$PATH" ;; esac
}

# A Python venv (target/py-stack) for the tests that talk OTLP to the real programs:
# opentelemetry-proto (+ protobuf) and PyYAML from PyPI, pinned. Prints the python path.
STACK_PY_REQS=(opentelemetry-proto==1.45.2 PyYAML==6.0.3)
ensure_stack_venv() {
  local venv="$ROOT/target/py-stack"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv" >&2 || return 1
  if ! "$venv/bin/python" -c 'import opentelemetry.proto, yaml' 2>/dev/null; then
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "${STACK_PY_REQS[@]}" >&2 || return 1
  fi
  echo "$venv/bin/python"
}
