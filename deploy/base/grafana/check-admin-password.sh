#!/bin/sh
# Start-up guard for Grafana (runs as an init container, and offline in
# scripts/check-deploy). Refuses missing, short or example admin credentials, so the
# example file can never become a working default password.
#
# usage: check-admin-password.sh DIR   (DIR holds the files admin-user and admin-password)
set -eu
dir="${1:-/etc/grafana/admin}"
fail() {
  echo "grafana-admin: $*" >&2
  echo "grafana-admin: set your own credentials in deploy/base/grafana/admin.env (see deploy/README.md)" >&2
  exit 1
}
[ -s "$dir/admin-user" ] || fail "admin-user is missing or empty"
[ -s "$dir/admin-password" ] || fail "admin-password is missing or empty"
pass=$(cat "$dir/admin-password")
[ "${#pass}" -ge 16 ] || fail "admin-password is shorter than 16 characters"
case "$pass" in
  *CHANGE-ME* | *change-me* | *example* | *EXAMPLE*)
    fail "admin-password is still the example placeholder"
    ;;
esac
echo "grafana-admin: credentials accepted"
