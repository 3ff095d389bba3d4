import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';

/** The compiled package (this file runs from dist/test/unit). */
const DIST_SRC = join(__dirname, '..', '..', 'src');
/** The sources (the repo root is three levels up from dist/test/unit). */
const SRC = join(__dirname, '..', '..', '..', 'src');

function filesUnder(dir: string, ext: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path, ext);
    return entry.name.endsWith(ext) ? [path] : [];
  });
}

/** What a compiled file requires of the package itself, as absolute .js paths (tsc writes `require("./x")`). */
function localRequires(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/\brequire\("(\.{1,2}\/[^"]+)"\)/g)].map((m) => {
    const target = resolve(dirname(file), m[1]!);
    return existsSync(`${target}.js`) ? `${target}.js` : join(target, 'index.js');
  });
}

/** Every import cycle of the graph, each once, as the files along it (depth-first, colouring). */
export function cyclesOf(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

describe('structure of src/', () => {
  it('finds a cycle when there is one (the check can fail)', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
    ]);
    assert.deepEqual(cyclesOf(graph), [['a', 'b', 'c', 'a']]);
    assert.deepEqual(
      cyclesOf(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
      [],
    );
  });

  it('has no import cycle (the compiled requires, so type-only imports do not count)', () => {
    const files = filesUnder(DIST_SRC, '.js');
    assert.ok(files.length > 50, `${files.length} compiled files`);
    const graph = new Map(files.map((file) => [file, localRequires(file)]));
    const cycles = cyclesOf(graph).map((cycle) => cycle.map((f) => relative(DIST_SRC, f)).join(' → '));
    assert.deepEqual(cycles, []);
  });

  it('feature folders are plain TypeScript: no Nest import, not even of a type (the Nest shell sits beside the module)', () => {
    const plain = ['graphql', 'traffic', 'deliver', 'format', 'redact', 'write', 'interfaces'];
    const offenders: string[] = [];
    for (const folder of plain) {
      for (const file of filesUnder(join(SRC, folder), '.ts')) {
        const text = readFileSync(file, 'utf8');
        for (const m of text.matchAll(/^import\s[^;]*?from\s+'([^']+)'/gms)) {
          const spec = m[1]!;
          if (spec.startsWith('@nestjs/') || /\/metrics\.(logger|module|service)$/.test(spec)) {
            offenders.push(`${relative(SRC, file)} imports ${spec}`);
          }
        }
      }
    }
    assert.deepEqual(offenders, []);
  });
});
