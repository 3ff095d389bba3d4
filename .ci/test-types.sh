#!/usr/bin/env bash
# The packed tarball's declarations compile in a consumer app with the oldest TypeScript we support (5.0) on
# NestJS 11 and 12 (CommonJS app, and ES-module app with node16 resolution), with the repo's TypeScript on NestJS 12
# (nodenext), and with the current TypeScript 7.x (the Go-native compiler; package `typescript@7` ships it as `tsc`)
# on NestJS 11 and 12 (nodenext, and bundler resolution: TypeScript 7 dropped `moduleResolution: node`). The consumer's
# tsconfig keeps the options a Nest app has (experimentalDecorators, emitDecoratorMetadata), which TypeScript 7 still
# accepts. The package loads by require and by import. Checks the tarball too: LICENSE, dist/src.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$repo"
tarball="$work/$(npm pack --silent --pack-destination "$work" | tail -1)"
tar -tzf "$tarball" > "$work/files.txt"
for file in LICENSE README.md dist/src/index.js dist/src/index.d.ts dist/src/deliver/offload/offload-worker.js; do grep -qx "package/$file" "$work/files.txt"; done
if grep -rlF '"resolution-mode"' "$repo/dist/src" --include='*.d.ts'; then echo 'declarations use resolution-mode'; exit 1; fi
current_ts="$(node -p "require('$repo/node_modules/typescript/package.json').version")"

check() { # name typescript nest module resolution package-type
  local dir="$work/$1"
  mkdir -p "$dir" && cd "$dir"
  printf '{ "name": "consumer", "private": true, "type": "%s" }\n' "$6" > package.json
  cp "$repo/.ci/types/consumer.ts" consumer.ts
  cat > tsconfig.json <<JSON
{ "compilerOptions": { "target": "es2021", "module": "$4", "moduleResolution": "$5", "strict": true,
  "experimentalDecorators": true, "emitDecoratorMetadata": true, "noEmit": true, "skipLibCheck": true,
  "types": ["node"] }, "files": ["consumer.ts"] }
JSON
  npm install --no-audit --no-fund --silent "$tarball" "typescript@$2" "@nestjs/common@$3" "@nestjs/core@$3" \
    rxjs reflect-metadata "@types/node@20"
  echo "== $1: TypeScript $(npx tsc -v | cut -d' ' -f2), NestJS $(node -p "require('@nestjs/common/package.json').version"), module $4"
  npx tsc -p tsconfig.json
  # And the package loads at run time through its exports map, by require and by import.
  node -e "require('reflect-metadata'); if (typeof require('nestjs-api-metrics').MetricsModule !== 'function') process.exit(1)"
  node --input-type=module -e "import 'reflect-metadata'; import { MetricsModule, MetricsSample } from 'nestjs-api-metrics';
    if (typeof MetricsModule !== 'function' || typeof MetricsSample !== 'function') process.exit(1);"
  cp "$repo/.ci/types/offload-check.cjs" . && node offload-check.cjs
}

check ts50-nest11-cjs 5.0 11 commonjs node commonjs
check ts50-nest12-cjs 5.0 12 commonjs node commonjs
check ts50-nest12-esm 5.0 12 node16 node16 module
check ts-current-nest12 "$current_ts" 12 nodenext nodenext commonjs
check ts7-nest11-cjs 7 11 nodenext nodenext commonjs
check ts7-nest12-esm 7 12 nodenext nodenext module
check ts7-nest12-bundler 7 12 preserve bundler commonjs
echo "declarations OK"
