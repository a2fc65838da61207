#!/usr/bin/env bash
# Proves the production install path, as the container image uses it: a copy of the package with
# production dependencies only (npm ci --omit=dev) and the built dist/, no TypeScript, no tsx
# loader. Starts the gateway (embedded Kinesis and DynamoDB stand-ins, free ports), waits for
# "gateway listening", checks /healthz, sends SIGTERM and expects exit status 0.
#
# Usage: scripts/check-production-start.sh    (runs `npm run build` first when dist/ is missing)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ -f dist/src/cli.js ] || npm run build

work="$(mktemp -d "${TMPDIR:-/tmp}/kkg-prod-XXXXXX")"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cp package.json package-lock.json "$work/"
cp -R dist "$work/dist"
(cd "$work" && npm ci --omit=dev --prefer-offline --no-audit --no-fund --loglevel=error)
for dev in typescript eslint kafkajs yaml aws-cdk-lib @aws-cdk/lambda-layer-kubectl-v33; do
  if [ -e "$work/node_modules/$dev" ]; then echo "production install has dev dependency $dev" >&2; exit 1; fi
done

cd "$work"
version="$(node dist/src/cli.js --version)"
echo "production build: kafka-kinesis-gateway $version"

node dist/src/cli.js --host 127.0.0.1 --port 0 --metrics-port 0 --data-dir "$work/data" >"$work/gateway.log" 2>&1 &
pid=$!
deadline=$((SECONDS + 90))
until grep -q 'gateway listening' "$work/gateway.log"; do
  if ! kill -0 "$pid" 2>/dev/null; then echo "gateway exited before listening:" >&2; cat "$work/gateway.log" >&2; exit 1; fi
  if [ "$SECONDS" -ge "$deadline" ]; then echo "gateway did not start in time:" >&2; cat "$work/gateway.log" >&2; exit 1; fi
  sleep 0.2
done
metrics_port="$(grep 'gateway listening' "$work/gateway.log" | node -e '
  let text = ""; process.stdin.on("data", (d) => (text += d)).on("end", () => console.log(JSON.parse(text.split("\n")[0]).metricsPort));')"
node -e "fetch('http://127.0.0.1:$metrics_port/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" \
  || { echo "/healthz did not answer 200" >&2; cat "$work/gateway.log" >&2; exit 1; }

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=""
if [ "$status" -ne 0 ]; then echo "gateway exited $status after SIGTERM:" >&2; cat "$work/gateway.log" >&2; exit 1; fi
grep -q 'gateway stopped' "$work/gateway.log" || { echo "no 'gateway stopped' line" >&2; cat "$work/gateway.log" >&2; exit 1; }
echo "production start: listening, /healthz 200, SIGTERM -> exit 0"
