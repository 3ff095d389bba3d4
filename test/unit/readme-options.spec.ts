import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';

const ROOT = join(__dirname, '..', '..', '..');

/** The options declared by `MetricsModuleOptions`, read from its source. */
function declaredOptions(): string[] {
  const source = readFileSync(join(ROOT, 'src', 'interfaces', 'metrics-options.interface.ts'), 'utf8');
  const body = source.slice(source.indexOf('export interface MetricsModuleOptions'));
  const declared = [...body.slice(0, body.indexOf('\n}')).matchAll(/^ {2}(\w+)\?:/gm)].map((m) => m[1]!);
  assert.ok(declared.length > 20, `found ${declared.length} options in the interface`);
  return declared.sort();
}

/** The text of a `## heading` section of a markdown file, up to the next `## `. */
function section(file: string, heading: string): string {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const start = text.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `${file} has a "## ${heading}" section`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end === -1 ? undefined : end);
}

it("docs/options.md's table lists exactly the options of MetricsModuleOptions", () => {
  const documented = [...section('docs/options.md', 'The options').matchAll(/^\| `(\w+)`/gm)].map((m) => m[1]);
  assert.deepEqual(documented.sort(), declaredOptions());
});

it("the README's short list names every option, and nothing that is not one", () => {
  const named = new Set(
    [...section('README.md', 'Options').matchAll(/^\|[^|]*\|(.*)\|$/gm)].flatMap((m) =>
      [...m[1]!.matchAll(/`(\w+)`/g)].map((n) => n[1]),
    ),
  );
  assert.deepEqual([...named].sort(), declaredOptions());
});
