#!/usr/bin/env node
// Checks docs/grafana/api-traffic-dashboard.json against a real Prometheus: starts the sample app (prometheus: true)
// on 127.0.0.1, a Prometheus with a temporary config scraping its /metrics every second, sends traffic, then runs every
// panel's PromQL through Prometheus' HTTP API and fails unless each returns series. Stops everything; bounded in time.
// Usage (after `npx tsc -p tsconfig.json`): node .ci/check-grafana-dashboard.js [path/to/prometheus]
'use strict';
const { spawn } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync, writeFileSync } = require('node:fs');
const { request } = require('node:http');
const { createServer } = require('node:net');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { setInterval, clearInterval, setTimeout } = require('node:timers');
const { URL } = require('node:url');

const ROOT = join(__dirname, '..');
const DASHBOARD = join(ROOT, 'docs', 'grafana', 'api-traffic-dashboard.json');
const SAMPLE = join(ROOT, 'dist', 'sample', 'main.js');
const PROMETHEUS = process.argv[2] || 'prometheus';
const DEADLINE = Date.now() + 120_000;
/** Grafana's variables, as a dashboard with every route selected over the last minutes would send them. */
const VARIABLES = { $__rate_interval: '20s', $__range: '5m', $route: '.*' };

const children = [];
const dir = mkdtempSync(join(tmpdir(), 'dashboard-check-'));

function cleanup() {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function remaining() {
  const left = DEADLINE - Date.now();
  if (left <= 0) throw new Error('the check took longer than 120 s');
  return left;
}

function http(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false, timeout: 10_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(body);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/** Starts a child and resolves with its output once `ready` matches it. */
function start(command, args, options, ready, name) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  const collect = (chunk) => (output += chunk.toString());
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    const poll = setInterval(() => {
      const match = ready.exec(output);
      if (match) {
        clearInterval(poll);
        resolve(match);
      } else if (child.exitCode !== null || Date.now() > DEADLINE) {
        clearInterval(poll);
        reject(new Error(`${name} did not start:\n${output.slice(-3000)}`));
      }
    }, 50);
  });
}

/** Every PromQL expression of the dashboard: panel targets and the template variables' queries. */
function expressions(dashboard) {
  const out = [];
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? [])
      out.push({ title: `${panel.title} [${target.refId}]`, expr: target.expr });
  }
  return out;
}

function substitute(expr) {
  return Object.entries(VARIABLES).reduce((e, [name, value]) => e.split(name).join(value), expr);
}

async function sendTraffic(url) {
  const acme = { 'x-api-key': 'acme-key-0001' };
  const globex = { 'x-api-key': 'globex-key-0002' };
  const json = { 'content-type': 'application/json' };
  const calls = [
    () => http(`${url}/`),
    () => http(`${url}/orders`, { headers: acme }),
    () => http(`${url}/orders/1`, { headers: globex }),
    () => http(`${url}/orders/999`, { headers: acme }),
    () => http(`${url}/orders`, { method: 'POST', headers: { ...acme, ...json }, body: '{"item":"book"}' }),
    () => http(`${url}/no/such/path/${Math.random()}`),
    () => http(`${url}/orders/1/refund`, { method: 'POST', headers: globex }),
  ];
  for (const call of calls) await call();
}

async function main() {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8'));
  const [, appUrl] = await start(
    process.execPath,
    [SAMPLE],
    { cwd: dir, env: { ...process.env, PORT: '0', HOST: '127.0.0.1', README_API_KEY: '' } },
    /Listening on (http:\/\/\S+)/,
    'the sample app',
  );
  const target = new URL(appUrl.replace('localhost', '127.0.0.1'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: sample',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: ['${target.host}']`,
      '',
    ].join('\n'),
  );
  await start(
    PROMETHEUS,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { cwd: dir },
    /Server is ready to receive web requests/,
    'prometheus',
  );
  const api = `http://127.0.0.1:${port}/api/v1/query?query=`;
  console.log(`sample at ${target.origin}, prometheus at 127.0.0.1:${port}`);

  // Traffic over ~12 s, so rates and increases have several scrapes to work with.
  const trafficUntil = Date.now() + 12_000;
  while (Date.now() < trafficUntil) {
    remaining();
    await sendTraffic(target.origin);
    await sleep(150);
  }
  await sleep(2500); // two more scrapes

  const failures = [];
  for (const { title, expr } of expressions(dashboard)) {
    remaining();
    const query = substitute(expr);
    const res = await http(api + encodeURIComponent(query));
    const answer = JSON.parse(res.body);
    const series = answer.status === 'success' ? answer.data.result.length : 0;
    const ok = series > 0;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${String(series).padStart(3)} series  ${title}`);
    if (!ok) failures.push(`${title}: ${answer.error ?? 'no series'}\n    ${query}`);
  }
  for (const variable of dashboard.templating.list) {
    const match = /^label_values\((\w+), (\w+)\)$/.exec(variable.definition ?? '');
    if (!match) continue;
    const res = await http(`http://127.0.0.1:${port}/api/v1/label/${match[2]}/values?match[]=${match[1]}`);
    const values = JSON.parse(res.body).data ?? [];
    console.log(
      `${values.length ? 'ok  ' : 'FAIL'} ${String(values.length).padStart(3)} values  variable $${variable.name}`,
    );
    if (!values.length) failures.push(`variable ${variable.name}: no values`);
  }
  if (failures.length)
    throw new Error(`${failures.length} dashboard queries returned no series:\n${failures.join('\n')}`);
  console.log('every panel of the dashboard returns series');
}

main()
  .then(
    () => (process.exitCode = 0),
    (error) => {
      console.error(error.stack ?? error);
      process.exitCode = 1;
    },
  )
  .finally(cleanup);
