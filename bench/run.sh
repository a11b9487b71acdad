#!/usr/bin/env bash
# Raises the open-file limit for 10,000 concurrent clients, then runs the bench.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec node "$(dirname "$0")/run.ts" "$@"
