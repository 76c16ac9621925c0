#!/bin/sh
# Grafana admin credentials, prepared by an init container before Grafana starts (and run
# offline by scripts/check-deploy). Grafana reads them from OUT_DIR on its own PVC.
#
#   - Bring your own: if the optional Secret `grafana-admin` (keys admin-user,
#     admin-password) is mounted at SECRET_DIR, it is checked (password 16+ characters,
#     not a placeholder) and copied to OUT_DIR. A bad Secret stops the pod (Init:Error).
#   - Otherwise, on the first start, a random 32-character password is generated into
#     OUT_DIR and kept on the PVC from then on. Nothing is shared between installs.
#
# Read the password (deploy/README.md):
#   kubectl -n baker-street-observability exec deploy/grafana -c grafana -- \
#     cat /var/lib/grafana/admin-credentials/admin-password
#
# usage: admin-credentials.sh SECRET_DIR OUT_DIR
set -eu
secret="${1:-/etc/grafana/admin}"
out="${2:-/var/lib/grafana/admin-credentials}"
umask 077
mkdir -p "$out"
fail() {
  echo "grafana-admin: $*" >&2
  echo "grafana-admin: fix or delete the grafana-admin Secret (see deploy/README.md)" >&2
  exit 1
}
if [ -e "$secret/admin-user" ] || [ -e "$secret/admin-password" ]; then
  [ -s "$secret/admin-user" ] || fail "admin-user is missing or empty"
  [ -s "$secret/admin-password" ] || fail "admin-password is missing or empty"
  pass=$(cat "$secret/admin-password")
  [ "${#pass}" -ge 16 ] || fail "admin-password is shorter than 16 characters"
  case "$pass" in
    *CHANGE-ME* | *change-me* | *example* | *EXAMPLE*)
      fail "admin-password is still a placeholder"
      ;;
  esac
  cp "$secret/admin-user" "$out/admin-user.new"
  cp "$secret/admin-password" "$out/admin-password.new"
  echo "grafana-admin: using the credentials from the grafana-admin Secret"
elif [ -s "$out/admin-password" ] && [ -s "$out/admin-user" ]; then
  echo "grafana-admin: keeping the generated password in $out"
  exit 0
else
  printf 'admin' >"$out/admin-user.new"
  # 32 characters from [A-Za-z0-9]: about 190 bits.
  pass=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)
  [ "${#pass}" -eq 32 ] || fail "could not read /dev/urandom"
  printf '%s' "$pass" >"$out/admin-password.new"
  echo "grafana-admin: generated a random admin password in $out/admin-password"
fi
mv "$out/admin-user.new" "$out/admin-user"
mv "$out/admin-password.new" "$out/admin-password"
