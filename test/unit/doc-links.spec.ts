import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, it } from 'node:test';
import { anchorsOf, codeBlocks, documentationFiles, proseOf, readDoc, ROOT } from '../support/markdown';

describe('documentation', () => {
  it('every relative link of README, ARCHITECTURE, CONTRIBUTING and docs/ resolves, anchors included', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of documentationFiles()) {
      const prose = proseOf(readDoc(file));
      for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto:
        checked++;
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const resolved = path === '' ? file : normalize(join(dirname(file), path));
        const line = prose.slice(0, m.index).split('\n').length;
        if (!existsSync(join(ROOT, resolved))) {
          broken.push(`${file}:${line} → ${target} (no ${resolved})`);
        } else if (anchor !== undefined && !anchorsOf(readDoc(resolved)).has(anchor)) {
          broken.push(`${file}:${line} → ${target} (no heading #${anchor} in ${relative('.', resolved)})`);
        }
      }
    }
    assert.ok(checked > 50, `checked ${checked} links`);
    assert.deepEqual(broken, []);
  });

  it('every page of docs/ opens with an example', () => {
    for (const file of documentationFiles().filter((f) => f.startsWith('docs/'))) {
      const text = readDoc(file);
      const afterTitle = text.slice(text.indexOf('\n') + 1).trimStart();
      assert.ok(afterTitle.startsWith('```'), `${file} starts with a code block after its title`);
      assert.ok(codeBlocks(text).length > 0, file);
    }
  });

  it('the README stays short: at most 300 lines', () => {
    assert.ok(readDoc('README.md').split('\n').length <= 300);
  });
});
