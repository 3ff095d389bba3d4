/*
 * Runs the benchmark: every variant of bench/app.ts under the same load, interleaved over rounds, each compared
 * with `bare` from the same round. Load comes from this process (autocannon); the app and the sink are separate
 * processes, all on 127.0.0.1.
 *
 *   npm run bench -- [--rounds 3] [--duration 8] [--warmup 3] [--connections 32] [--adapters express,fastify]
 *                    [--variants bare,nestjs-api-metrics,...] [--down 60]
 *
 * --down N: the memory figure instead: N seconds at saturation with the collector down, RSS sampled.
 * --latency R: added latency instead of throughput: R req/s evenly paced over 8 keep-alive connections (opened
 *   during the warm-up), each request timed to the microsecond from when it was due (autocannon counts whole ms,
 *   and its rate limit sends in bursts).
 * Prints a table and writes it as JSON to bench/results/.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { PAYLOAD, VARIANTS, type Variant } from './variants';

const ROOT = join(__dirname, '..', '..');
const requirePeer = createRequire(join(ROOT, 'bench', 'package.json'));
const autocannon = requirePeer('autocannon') as (options: object) => Promise<AutocannonResult>;

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  '2xx': number;
  non2xx: number;
  errors: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const ROUNDS = Number(arg('rounds', '3'));
const DURATION = Number(arg('duration', '8'));
const WARMUP = Number(arg('warmup', '3'));
const CONNECTIONS = Number(arg('connections', '32'));
const ADAPTERS = arg('adapters', 'express').split(',');
const SELECTED = arg('variants', VARIANTS.join(',')).split(',') as Variant[];
const DOWN = Number(arg('down', '0'));
const LATENCY_RATE = Number(arg('latency', '0'));
/** The peers are Express middlewares (apitally's NestJS integration too): on Fastify only bare and ours run. */
const ON_FASTIFY: Variant[] = ['bare', 'noop-interceptor', 'nestjs-api-metrics'];

const BODY = JSON.stringify(PAYLOAD);

async function startProcess(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'bench', script), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} ${args.join(' ')} did not start`)), 20_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /ready (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, port };
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

const HEADERS = { 'content-type': 'application/json', 'x-api-key': 'bench-user-key' };

function load(port: number, method: 'GET' | 'POST', seconds: number): Promise<AutocannonResult> {
  return autocannon({
    url: `http://127.0.0.1:${port}/items`,
    method,
    connections: CONNECTIONS,
    duration: seconds,
    headers: HEADERS,
    ...(method === 'POST' && { body: BODY }),
  });
}

/**
 * `rate` requests a second, evenly paced over the agent's keep-alive connections, each timed to the microsecond from
 * the moment it was due (a late answer delays the next request, and that delay counts: no coordinated omission).
 * The warm-up and the measured run share the agent, so connection set-up is not measured. p50/p99 in ms.
 */
async function paced(
  agent: Agent,
  port: number,
  method: 'GET' | 'POST',
  seconds: number,
  rate: number,
): Promise<{ p50: number; p99: number; rps: number }> {
  const connections = agent.maxSockets;
  const interval = (1000 * connections) / rate;
  const perConnection = Math.ceil((seconds * rate) / connections);
  const times: number[] = [];
  const begin = performance.now();
  const send = () =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/items', method, agent, headers: HEADERS }, (res) => {
        res.on('error', reject).on('end', resolve).resume();
      });
      req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
      req.on('error', reject).end(method === 'POST' ? BODY : undefined);
    });
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const offset = (c * interval) / connections; // the connections take turns
      for (let i = 0; i < perConnection; i++) {
        const due = begin + offset + i * interval;
        await sleep(Math.max(0, due - performance.now()));
        await send();
        times.push(performance.now() - due);
      }
    }),
  );
  const elapsed = (performance.now() - begin) / 1000;
  times.sort((a, b) => a - b);
  const at = (q: number) => Number((times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN).toFixed(2));
  return { p50: at(0.5), p99: at(0.99), rps: times.length / elapsed };
}

async function sinkStats(port: number): Promise<{ records: number; recordsWithBodies: number; calls: number }> {
  return (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as never;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (!sorted.length) return NaN;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

interface Sample {
  rps: number;
  p50: number;
  p99: number;
  rss: number;
  ratio: number;
  answered: number;
  records: number;
  recordsWithBodies: number;
}

interface Measured<S> {
  adapter: string;
  method: 'GET' | 'POST';
  variant: Variant;
  samples: S[];
}

/**
 * Measures every selected variant on every adapter, GET and POST, over ROUNDS rounds. Bare goes first in every
 * round, and `measure` gets bare's sample from that same round to compare with. The peers run on Express only.
 */
async function interleaved<S>(
  measure: (adapter: string, method: 'GET' | 'POST', variant: Variant, bare: S | undefined) => Promise<S>,
  describe: (sample: S) => string,
): Promise<Measured<S>[]> {
  const measured = new Map<string, Measured<S>>();
  for (const adapter of ADAPTERS) {
    const variants = SELECTED.filter((v) => v !== 'bare' && (adapter === 'express' || ON_FASTIFY.includes(v)));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const method of ['GET', 'POST'] as const) {
        let bare: S | undefined;
        for (const variant of ['bare' as Variant, ...variants]) {
          const sample = await measure(adapter, method, variant, bare);
          if (variant === 'bare') bare = sample;
          const key = `${adapter} ${method} ${variant}`;
          if (!measured.has(key)) measured.set(key, { adapter, method, variant, samples: [] });
          measured.get(key)!.samples.push(sample);
          process.stderr.write(`round ${round} ${key}: ${describe(sample)}\n`);
        }
      }
    }
  }
  return [...measured.values()];
}

async function throughput(sinkPort: number): Promise<void> {
  const measured = await interleaved<Sample & { variant: Variant; errors: number }>(
    async (adapter, method, variant, bare) => {
      await fetch(`http://127.0.0.1:${sinkPort}/reset`, { method: 'POST' });
      const { child, port } = await startProcess('app.js', [variant, adapter], {
        SINK_URL: `http://127.0.0.1:${sinkPort}`,
      });
      const warm = await load(port, method, WARMUP);
      const result = await load(port, method, DURATION);
      const rss = rssMiB(child.pid!);
      await stopProcess(child); // flushes what is queued (enableShutdownHooks)
      const sink = await sinkStats(sinkPort);
      const rps = result.requests.average;
      return {
        variant,
        rps,
        p50: result.latency.p50,
        p99: result.latency.p99,
        rss,
        ratio: rps / (bare?.rps ?? rps),
        answered: warm['2xx'] + result['2xx'],
        records: sink.records,
        recordsWithBodies: sink.recordsWithBodies,
        errors: result.errors + result.non2xx,
      };
    },
    (s) =>
      `${s.rps.toFixed(0)} req/s (x${s.ratio.toFixed(2)}), p99 ${s.p99} ms, RSS ${s.rss.toFixed(0)} MiB, ` +
      `errors ${s.errors}` +
      (s.variant === 'nestjs-api-metrics' ? `, records ${s.records}/${s.answered}` : ''),
  );
  const rows = measured.map(({ adapter, method, variant, samples: list }) => ({
    adapter,
    method,
    variant,
    rps: Math.round(median(list.map((s) => s.rps))),
    ratio: Number(median(list.map((s) => s.ratio)).toFixed(2)),
    p50: median(list.map((s) => s.p50)),
    p99: median(list.map((s) => s.p99)),
    rssMiB: Math.round(median(list.map((s) => s.rss))),
    ...(variant === 'nestjs-api-metrics' && {
      recordsPerRequest: Number(median(list.map((s) => s.records / s.answered)).toFixed(3)),
      recordsWithBodiesPerRecord: Number(
        median(list.map((s) => s.recordsWithBodies / Math.max(1, s.records))).toFixed(3),
      ),
    }),
  }));
  report('throughput', rows);
}

async function latency(sinkPort: number): Promise<void> {
  const measured = await interleaved<{ p50: number; p99: number; added: number; rps: number }>(
    async (adapter, method, variant, bare) => {
      const { child, port } = await startProcess('app.js', [variant, adapter], {
        SINK_URL: `http://127.0.0.1:${sinkPort}`,
      });
      const agent = new Agent({ keepAlive: true, maxSockets: 8 });
      try {
        await paced(agent, port, method, WARMUP, LATENCY_RATE);
        const timed = await paced(agent, port, method, DURATION, LATENCY_RATE);
        return { ...timed, added: timed.p99 - (bare?.p99 ?? timed.p99) };
      } finally {
        agent.destroy();
        await stopProcess(child);
      }
    },
    (s) => `p50 ${s.p50} ms, p99 ${s.p99} ms (+${s.added.toFixed(2)}), load ${s.rps.toFixed(0)} req/s`,
  );
  const rows = measured.map(({ adapter, method, variant, samples: list }) => ({
    adapter,
    method,
    variant,
    rate: LATENCY_RATE,
    rps: Math.round(median(list.map((s) => s.rps))),
    p50: median(list.map((s) => s.p50)),
    p99: median(list.map((s) => s.p99)),
    addedP99: Number(median(list.map((s) => s.added)).toFixed(2)),
  }));
  report('latency', rows);
}

async function memory(): Promise<void> {
  const rows = [];
  for (const variant of SELECTED.filter((v) => v === 'bare' || v === 'nestjs-api-metrics')) {
    // Port 9 (discard) on loopback: nothing listens, connections are refused, like a collector that is down.
    const { child, port } = await startProcess('app.js', [variant, ADAPTERS[0]!], { SINK_URL: 'http://127.0.0.1:9' });
    await load(port, 'POST', WARMUP);
    const before = rssMiB(child.pid!);
    const result = await load(port, 'POST', DOWN);
    const after = rssMiB(child.pid!);
    await stopProcess(child);
    rows.push({
      variant,
      seconds: DOWN,
      rps: Math.round(result.requests.average),
      rssBeforeMiB: Math.round(before),
      rssAfterMiB: Math.round(after),
      growthMiB: Math.round(after - before),
    });
  }
  report('collector-down', rows);
}

function report(kind: string, rows: object[]): void {
  const machine = {
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
  console.table(rows);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const file = join(ROOT, 'bench', 'results', `${kind}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify({ kind, machine, rounds: ROUNDS, duration: DURATION, connections: CONNECTIONS, rows }, null, 2),
  );
  console.log(`machine: ${machine.cpus}, ${machine.memoryGiB} GiB, node ${machine.node}; written to ${file}`);
}

async function main(): Promise<void> {
  if (DOWN > 0) return memory();
  const sink = await startProcess('sink.js', [], {});
  try {
    await (LATENCY_RATE > 0 ? latency(sink.port) : throughput(sink.port));
  } finally {
    await stopProcess(sink.child);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
