#!/usr/bin/env bash
# Runs the whole test suite against NestJS 11 (CommonJS) in a scratch copy of the repo: the lockfile pins NestJS 12.
set -euo pipefail
source "$(dirname "$0")/scratch-copy.sh"
npm install --no-audit --no-fund --no-save \
  @nestjs/common@^11 @nestjs/core@^11 @nestjs/platform-express@^11 @nestjs/platform-fastify@^11 @nestjs/testing@^11 \
  @nestjs/microservices@^11 @nestjs/axios@^4 \
  @nestjs/graphql@^13 @nestjs/apollo@^13 @nestjs/mercurius@^13
node -e "console.log('NestJS', require('@nestjs/core/package.json').version)"
node -e "for (const p of ['@nestjs/graphql', '@nestjs/apollo', '@nestjs/mercurius']) console.log(p, require(p + '/package.json').version)"
npm test
