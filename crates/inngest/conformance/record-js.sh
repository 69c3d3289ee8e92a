#!/usr/bin/env bash
# Starts the official-JS-SDK conformance app in dev and in cloud mode on
# 127.0.0.1, runs record.mjs against them with the given arguments (record by
# default, `--compare` to check the fixtures), then stops both apps.
#
#   crates/inngest/conformance/record-js.sh            # re-record every fixture
#   crates/inngest/conformance/record-js.sh --compare  # replay and diff
#   crates/inngest/conformance/record-js.sh --only sleep,invoke
#
# Ports: CONFORMANCE_DEV_PORT (default 39391), CONFORMANCE_CLOUD_PORT (39392).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dev_port="${CONFORMANCE_DEV_PORT:-39391}"
cloud_port="${CONFORMANCE_CLOUD_PORT:-39392}"
logs="$(mktemp -d)"
pids=()

cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$logs"
}
trap cleanup EXIT

if [ ! -d "$here/js/node_modules/inngest" ]; then
  (cd "$here/js" && npm ci --no-audit --no-fund)
fi

start() {
  local mode="$1" port="$2"
  (cd "$here/js" && CONFORMANCE_MODE="$mode" CONFORMANCE_PORT="$port" exec node app.mjs) \
    >"$logs/$mode.log" 2>&1 &
  pids+=("$!")
}

wait_ready() {
  local mode="$1" port="$2"
  for _ in $(seq 1 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$port/api/inngest"; then return 0; fi
    sleep 0.1
  done
  echo "the $mode app did not start on port $port; its log:" >&2
  cat "$logs/$mode.log" >&2
  return 1
}

start dev "$dev_port"
start cloud "$cloud_port"
wait_ready dev "$dev_port"
wait_ready cloud "$cloud_port"

node "$here/record.mjs" \
  --dev-url "http://127.0.0.1:$dev_port/api/inngest" \
  --cloud-url "http://127.0.0.1:$cloud_port/api/inngest" \
  "$@"
