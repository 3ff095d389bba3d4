import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';

const ROOT = join(__dirname, '..', '..', '..');

it("the README's options table lists exactly the options of MetricsModuleOptions", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Options'), readme.indexOf('\n## ', readme.indexOf('## Options') + 1));
  const documented = [...section.matchAll(/^\| `(\w+)`/gm)].map((m) => m[1]);
  const source = readFileSync(join(ROOT, 'src', 'interfaces', 'metrics-options.interface.ts'), 'utf8');
  const body = source.slice(source.indexOf('export interface MetricsModuleOptions'));
  const declared = [...body.slice(0, body.indexOf('\n}')).matchAll(/^ {2}(\w+)\?:/gm)].map((m) => m[1]);
  assert.ok(declared.length > 20, `found ${declared.length} options in the interface`);
  assert.deepEqual([...documented].sort(), [...declared].sort());
});
