import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { capBody, serializeBody } from '../../src/format/body';
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

describe('serializeBody', () => {
  it('serializes objects as JSON, strings as is, binary as base64 unless textual', () => {
    assert.deepEqual(serializeBody({ a: 1 }, 'application/json'), { text: '{"a":1}', size: 7 });
    assert.deepEqual(serializeBody('héllo', 'text/plain'), { text: 'héllo', size: 6 });
    assert.deepEqual(serializeBody(Buffer.from([0, 255]), 'image/png'), { text: 'AP8=', encoding: 'base64', size: 2 });
    assert.deepEqual(serializeBody(Buffer.from('hi'), 'text/plain'), { text: 'hi', size: 2 });
    assert.deepEqual(serializeBody(new Uint16Array([1]), 'application/octet-stream').encoding, 'base64');
    assert.deepEqual(serializeBody(undefined, 'application/json'), { text: '', size: 0 });
  });

  it('marks what JSON cannot represent instead of throwing', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.match(serializeBody(circular, 'application/json').comment ?? '', /could not be serialized/);
    assert.match(serializeBody({ n: 1n }, 'application/json').comment ?? '', /could not be serialized/);
  });
});

describe('capBody', () => {
  it('cuts on whole UTF-8 characters and keeps the real size', () => {
    const body = serializeBody('ééééé', 'text/plain'); // 10 bytes
    const cut = capBody(body, 5);
    assert.equal(cut.text, 'éé');
    assert.equal(cut.size, 10);
    assert.match(cut.comment ?? '', /truncated to 5 of 10 bytes/);
    assert.equal(capBody(body, 10), body);
  });
});
