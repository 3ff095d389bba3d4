#!/usr/bin/env bash
# Runs the OpenTelemetry suites against the OpenTelemetry JS 3.x line (@opentelemetry/otlp-transformer 0.30x,
# @opentelemetry/api 1.10, sdk-node 3.x; Node >= 22.15) in a scratch copy of the repo: the lockfile pins the 2.x line.
# Run it on Node 24: `bash .ci/with-node.sh 24 bash .ci/test-otel3.sh`.
set -euo pipefail
source "$(dirname "$0")/scratch-copy.sh"
npm install --no-audit --no-fund --no-save \
  @opentelemetry/otlp-transformer@^0.301.0 @opentelemetry/api@~1.10.0 @opentelemetry/sdk-node@^0.301.0 \
  @opentelemetry/exporter-trace-otlp-proto@^0.301.0 @opentelemetry/instrumentation-http@^0.301.0 \
  @opentelemetry/sdk-trace@^3.0.0
npm ls --depth=0 @opentelemetry/otlp-transformer @opentelemetry/sdk-node @opentelemetry/api || true # "invalid": not the lockfile’s versions, on purpose
npx tsc -p tsconfig.json
# The suites that load OpenTelemetry: spans and metrics over OTLP (http/protobuf, http/json, gRPC), next to the
# app's own NodeSDK, offload (the worker rebuilds the OTLP transport), the sample over OTLP.
node --expose-gc --test --test-concurrency=1 --test-timeout=60000 \
  $(find dist/test -name 'otlp*.spec.js' -o -name 'traffic*.spec.js' -o -name 'offload.e2e.spec.js' | sort)
