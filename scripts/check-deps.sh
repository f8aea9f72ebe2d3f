#!/usr/bin/env bash
# Enforce the dependency rules of ARCHITECTURE.md with cargo's own view of
# the graph: the CLI, its client and the shim carry no tokio or hyper;
# pier-api, pier-log and pier-image depend on no other pier crate except the
# leaf pier-time, which depends on none; the test kit is only ever a
# dev-dependency.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
deps() { cargo tree -q -p "$1" -e normal --prefix none | awk '{print $1}' | sort -u; }
for c in pier pier-client pier-shim; do
  bad=$(deps "$c" | grep -xE 'tokio|hyper|axum' || true)
  if [ -n "$bad" ]; then echo "dependency rule: $c must not depend on: $bad"; fail=1; fi
done
for c in pier-api pier-log pier-image pier-time; do
  bad=$(deps "$c" | grep -E '^pier' | grep -vx "$c" | grep -vx pier-time || true)
  if [ -n "$bad" ]; then echo "dependency rule: $c must not depend on: $bad"; fail=1; fi
done
# The test kit is dev-only: no crate may depend on it normally.
users=$(cargo tree -q --workspace -i pier-testkit -e normal --prefix none 2>/dev/null | awk '{print $1}' | grep -vx pier-testkit | sort -u || true)
if [ -n "$users" ]; then echo "dependency rule: pier-testkit is dev-only, but normal dependency of: $users"; fail=1; fi
[ $fail = 0 ] && echo "dependency rules hold"
exit $fail
