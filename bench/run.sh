#!/usr/bin/env bash
# Raises the open-file limit for 10,000 concurrent clients, then runs the bench (after the Node
# version check and with the compile cache, as every npm script).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
here="$(cd "$(dirname "$0")" && pwd)"
exec node --import "$here/../scripts/require-node.mjs" "$here/run.ts" "$@"
