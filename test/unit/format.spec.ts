import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { captureBytes, captureString, snapshotParsed } from '../../src/capture/body-capture';
import { PACKAGE_NAME, PACKAGE_VERSION } from '../../src/metrics.constants';
import { maskApiKey } from '../../src/redact/mask';

describe('maskApiKey', () => {
  it("matches ReadMe's masking of owlbert-api-key", () => {
    const masked = maskApiKey('owlbert-api-key');
    assert.ok(masked.startsWith('sha512-u2GbQ83j'), masked);
    assert.ok(masked.endsWith('==?-key'), masked);
  });
});

describe('package identity', () => {
  it('PACKAGE_NAME and PACKAGE_VERSION match package.json', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8'));
    assert.equal(PACKAGE_NAME, pkg.name);
    assert.equal(PACKAGE_VERSION, pkg.version);
  });
});

describe('body capture', () => {
  it('keeps strings as they are, binary as base64 unless textual, JSON of parsed values', () => {
    assert.deepEqual(captureString('héllo', 100), { text: 'héllo', size: 6, truncated: false, source: 'wire' });
    assert.deepEqual(captureBytes(Buffer.from([0, 255]), 'image/png', 100), {
      text: 'AP8=',
      encoding: 'base64',
      size: 2,
      truncated: false,
      source: 'wire',
    });
    assert.equal(captureBytes(Buffer.from('hi'), 'text/plain', 100).text, 'hi');
    assert.equal(
      captureBytes(new Uint16Array([1]) as unknown as Uint8Array, 'application/octet-stream', 100).encoding,
      'base64',
    );
    assert.equal(snapshotParsed({ a: 1 }, 100, 7)?.text, '{"a":1}');
    assert.equal(snapshotParsed(undefined, 100, 0), undefined);
  });

  it('marks what JSON cannot represent instead of throwing', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.match(snapshotParsed(circular, 100, -1)?.comment ?? '', /could not be serialized/);
    assert.match(snapshotParsed({ n: 1n }, 100, -1)?.comment ?? '', /could not be serialized/);
  });

  it('cuts on whole UTF-8 characters, keeps the real size, and copies what it keeps', () => {
    const cut = captureString('ééééé', 5); // 10 bytes
    assert.equal(cut.text, 'éé');
    assert.equal(cut.size, 10);
    assert.equal(cut.truncated, true);
    assert.equal(captureString('ééééé', 10).truncated, false);
    const bytes = captureBytes(Buffer.alloc(100, 0x61), 'text/plain', 10);
    assert.deepEqual([bytes.text, bytes.size, bytes.truncated], ['a'.repeat(10), 100, true]);
  });
});
