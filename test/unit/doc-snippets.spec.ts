import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import ts from 'typescript';
import { codeBlocks, documentationFiles, readDoc, ROOT } from '../support/markdown';

/*
 * The TypeScript examples of the docs compile against the public API. Each ```ts block that imports from
 * 'nestjs-api-metrics' is one file, compiled with the repo's tsconfig (strict); the package name resolves to this
 * package itself (its `exports`, i.e. the built declarations of dist/src), as it would in a user's app. Blocks without
 * that import are fragments and are not compiled.
 */

const DIR = join(ROOT, 'dist', 'doc-snippets');

/** @nestjs/config is not a dependency of this repo: the little of it the docs use, declared as it is. */
const NESTJS_CONFIG = `declare module '@nestjs/config' {
  import type { DynamicModule } from '@nestjs/common';
  export declare class ConfigModule { static forRoot(options?: object): DynamicModule; }
  export declare class ConfigService {
    get<T = string>(key: string): T | undefined;
    getOrThrow<T = string>(key: string): T;
  }
}
`;

it("the docs' TypeScript examples compile against the public API", () => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  const origin = new Map<string, string>();
  for (const file of documentationFiles()) {
    for (const block of codeBlocks(readDoc(file))) {
      if (block.lang !== 'ts' || !block.code.includes(`from 'nestjs-api-metrics'`)) continue;
      const name = join(DIR, `${file.replace(/[/.]/g, '_')}_${block.line}.ts`);
      writeFileSync(name, `import 'reflect-metadata';\n${block.code}\nexport {};\n`);
      origin.set(name, `${file}:${block.line}`);
    }
  }
  assert.ok(origin.size >= 12, `${origin.size} examples found`);
  writeFileSync(join(DIR, 'nestjs-config.d.ts'), NESTJS_CONFIG);

  const config = ts.getParsedCommandLineOfConfigFile(
    join(ROOT, 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    },
  );
  assert.ok(config);
  const program = ts.createProgram([...origin.keys(), join(DIR, 'nestjs-config.d.ts')], {
    ...config.options,
    noEmit: true,
    declaration: false,
  });
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file === undefined || origin.has(d.file.fileName))
    .map((d) => {
      const where = d.file ? origin.get(d.file.fileName) : 'program';
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : 0;
      // Line 1 of the file is the added reflect-metadata import.
      return `${where} (+${line - 1}): ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
  assert.deepEqual(problems, []);
});
