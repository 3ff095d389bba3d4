import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The repository root (tests run from dist/test/...). */
export const ROOT = join(__dirname, '..', '..', '..');

/** The markdown a reader follows: README, ARCHITECTURE, CONTRIBUTING and every page of docs/, relative to ROOT. */
export function documentationFiles(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`);
  return ['README.md', 'ARCHITECTURE.md', 'CONTRIBUTING.md', ...docs];
}

export function readDoc(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8');
}

/** A fenced code block: its language, its text and the line of the markdown file where its code starts. */
export interface CodeBlock {
  lang: string;
  code: string;
  line: number;
}

export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  for (const m of markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    blocks.push({ lang: m[1]!, code: m[2]!, line: markdown.slice(0, m.index).split('\n').length + 1 });
  }
  return blocks;
}

/** The markdown with fenced blocks and inline code blanked (same line count), so neither is read as a link. */
export function proseOf(markdown: string): string {
  return markdown
    .replace(/^```[\s\S]*?^```$/gm, (block) => block.replace(/[^\n]/g, ' '))
    .replace(/`[^`\n]*`/g, (code) => ' '.repeat(code.length));
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as dashes; repeats get -1, -2… */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const outside = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  for (const m of outside.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = m[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    let anchor = base;
    for (let n = 1; anchors.has(anchor); n++) anchor = `${base}-${n}`;
    anchors.add(anchor);
  }
  return anchors;
}
