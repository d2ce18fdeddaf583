// Validation of the open response, PROTOCOL.md section 3.1.

import test from 'node:test';
import assert from 'node:assert/strict';
import { parseOpenResponse } from '../../longpoll.js';

const EXAMPLE =
  '{"protocol":1,"id":"5c0e2f9a7b1d4e8f9a2b3c4d5e6f7a8b","pollTimeoutMs":25000,"idleTimeoutMs":35000,' +
  '"maxMessageBytes":524288,"maxBodyBytes":1048576,"maxFramesPerRequest":1024}';

test('parses the example of section 3.1', () => {
  assert.deepEqual(parseOpenResponse(EXAMPLE), {
    id: '5c0e2f9a7b1d4e8f9a2b3c4d5e6f7a8b',
    pollTimeoutMs: 25000,
    idleTimeoutMs: 35000,
    maxMessageBytes: 524288,
    maxBodyBytes: 1048576,
    maxFramesPerRequest: 1024,
  });
});

test('ignores unknown keys of any JSON type, in any order, with whitespace', () => {
  const text = `
    { "extra" : {"nested": [1, "}", {"a": "\\"]"}]},
      "maxFramesPerRequest" : 7 , "note": "with \\"escapes\\" and , commas",
      "protocol":1, "id" : "00000000000000000000000000000000", "list": [1.5, -2e3, true, null],
      "pollTimeoutMs":1,"idleTimeoutMs":2,"maxMessageBytes":3,"maxBodyBytes":4, "f": 1.0e2 }`;
  assert.deepEqual(parseOpenResponse(text), {
    id: '00000000000000000000000000000000',
    pollTimeoutMs: 1,
    idleTimeoutMs: 2,
    maxMessageBytes: 3,
    maxBodyBytes: 4,
    maxFramesPerRequest: 7,
  });
});

test('accepts the largest unsigned 64-bit value and clamps it to a safe integer', () => {
  const text = EXAMPLE.replace('"maxBodyBytes":1048576', '"maxBodyBytes":18446744073709551615');
  assert.equal(parseOpenResponse(text).maxBodyBytes, Number.MAX_SAFE_INTEGER);
});

function refuses(text, why) {
  assert.throws(() => parseOpenResponse(text), Error, why);
}

test('refuses what section 3.1 says a client must refuse', () => {
  refuses('not json', 'not JSON');
  refuses('[1]', 'an array');
  refuses('"5c0e2f9a7b1d4e8f9a2b3c4d5e6f7a8b"', 'a bare string');
  refuses('null', 'null');
  refuses(EXAMPLE.replace('"protocol":1', '"protocol":2'), 'protocol 2');
  refuses(EXAMPLE.replace('"protocol":1,', ''), 'no protocol');
  for (const key of [
    'pollTimeoutMs',
    'idleTimeoutMs',
    'maxMessageBytes',
    'maxBodyBytes',
    'maxFramesPerRequest',
  ]) {
    refuses(EXAMPLE.replace(new RegExp(`"${key}":\\d+,?`), '').replace(',}', '}'), `no ${key}`);
  }
  refuses(EXAMPLE.replace('"pollTimeoutMs":25000', '"pollTimeoutMs":25000.0'), 'a fraction');
  refuses(EXAMPLE.replace('"pollTimeoutMs":25000', '"pollTimeoutMs":25e3'), 'an exponent');
  refuses(EXAMPLE.replace('"pollTimeoutMs":25000', '"pollTimeoutMs":-1'), 'a sign');
  refuses(EXAMPLE.replace('"pollTimeoutMs":25000', '"pollTimeoutMs":"25000"'), 'a string');
  refuses(
    EXAMPLE.replace('"maxBodyBytes":1048576', '"maxBodyBytes":18446744073709551616'),
    'over 2^64-1',
  );
  refuses(EXAMPLE.replace('"protocol":1', '"protocol":1.0'), 'protocol 1.0');
  refuses(
    EXAMPLE.replace('5c0e2f9a7b1d4e8f9a2b3c4d5e6f7a8b', '5C0E2F9A7B1D4E8F9A2B3C4D5E6F7A8B'),
    'uppercase id',
  );
  refuses(
    EXAMPLE.replace('5c0e2f9a7b1d4e8f9a2b3c4d5e6f7a8b', '5c0e2f9a7b1d4e8f9a2b3c4d5e6f7a8'),
    'short id',
  );
  refuses(
    EXAMPLE.replace(
      '"5c0e2f9a7b1d4e8f9a2b3c4d5e6f7a8b"',
      '"\\u0035c0e2f9a7b1d4e8f9a2b3c4d5e6f7a8b"',
    ),
    'escaped id',
  );
  refuses(EXAMPLE.replace('"5c0e2f9a7b1d4e8f9a2b3c4d5e6f7a8b"', '5'), 'numeric id');
  refuses(EXAMPLE.replace('"id":"5c0e2f9a7b1d4e8f9a2b3c4d5e6f7a8b",', ''), 'no id');
});

test('the last of repeated keys counts, as in JSON.parse', () => {
  const text = EXAMPLE.replace('{', '{"protocol":2,');
  assert.equal(parseOpenResponse(text).id, '5c0e2f9a7b1d4e8f9a2b3c4d5e6f7a8b');
  refuses(EXAMPLE.replace('}', ',"protocol":2}'), 'a later protocol 2');
});
