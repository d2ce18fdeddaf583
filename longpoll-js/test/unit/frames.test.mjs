// Frame encoding and decoding against PROTOCOL.md section 7 (examples in 7.2, validity in 7.3).

import test from 'node:test';
import assert from 'node:assert/strict';
import {
  FrameError,
  decodeFrames,
  encodeBinaryFrame,
  encodeCloseFrame,
  encodeTextFrame,
} from '../../longpoll.js';
import { fromHex, hex } from '../support/fake-fetch.mjs';

test('encodes the examples of section 7.2', () => {
  assert.equal(hex(encodeTextFrame('hi')), '01000000026869');
  assert.equal(hex(encodeTextFrame('héllo')), '010000000668c3a96c6c6f');
  assert.equal(hex(encodeTextFrame('')), '0100000000');
  assert.equal(hex(encodeBinaryFrame(fromHex('deadbeef'))), '0200000004deadbeef');
  assert.equal(hex(encodeCloseFrame(4000, 'requested')), '030000000b0fa0726571756573746564');
  assert.equal(hex(encodeCloseFrame(1000)), '030000000203e8');
  assert.equal(hex(encodeCloseFrame()), '0300000000');
});

test('decodes the two-frame body of section 7.2', () => {
  const frames = decodeFrames(fromHex('01 00000002 6869 02 00000003 0001ff'), 1024);
  assert.equal(frames.length, 2);
  assert.deepEqual(frames[0], { type: 'text', data: 'hi' });
  assert.equal(frames[1].type, 'binary');
  assert.equal(hex(frames[1].data), '0001ff');
});

test('decodes close frames with and without a code', () => {
  assert.deepEqual(decodeFrames(fromHex('03 0000000b 0fa0 726571756573746564'), 1024), [
    { type: 'close', code: 4000, reason: 'requested' },
  ]);
  assert.deepEqual(decodeFrames(fromHex('03 00000000'), 1024), [
    { type: 'close', code: undefined, reason: '' },
  ]);
  assert.deepEqual(decodeFrames(new Uint8Array(0), 1024), []);
});

test('round-trips text including a leading byte order mark and astral characters', () => {
  for (const text of ['\uFEFFbom', 'a😀b', '', 'x'.repeat(1024)]) {
    assert.deepEqual(decodeFrames(encodeTextFrame(text), 1024), [{ type: 'text', data: text }]);
  }
});

test('encodes lone surrogates as U+FFFD, as WebSocket does', () => {
  assert.deepEqual(decodeFrames(encodeTextFrame('a\uD800b'), 1024), [
    { type: 'text', data: 'a\uFFFDb' },
  ]);
});

function refused(bodyHex, maxMessageBytes = 1024) {
  try {
    decodeFrames(fromHex(bodyHex), maxMessageBytes);
  } catch (error) {
    assert.ok(error instanceof FrameError, `not a FrameError: ${error}`);
    return error;
  }
  assert.fail(`accepted ${bodyHex}`);
}

test('refuses the invalid bodies of section 7.3', () => {
  assert.equal(refused('04 00000000').tooLarge, false, 'unknown kind');
  assert.equal(refused('03 00000001 03').tooLarge, false, '1-byte close payload');
  assert.equal(refused('01 00000001 ff').tooLarge, false, 'invalid UTF-8');
  assert.equal(refused('03 00000000 01 00000001 61').tooLarge, false, 'frame after close');
  assert.equal(refused('02 ffffffff').tooLarge, true, 'declared length over the limit, truncated');
  const reason124 = '61'.repeat(124);
  assert.equal(refused(`03 0000007e 03e8 ${reason124}`, 1 << 20).tooLarge, true, '126-byte close');
});

test('refuses truncated headers and payloads, and invalid UTF-8 in a close reason', () => {
  assert.equal(refused('01 0000').tooLarge, false);
  assert.equal(refused('01 00000005 6869').tooLarge, false);
  assert.equal(refused('03 00000003 03e8 ff').tooLarge, false);
  // A valid frame followed by garbage is refused whole.
  assert.equal(refused('01 00000002 6869 07').tooLarge, false);
});

test('the same bytes are a valid binary frame', () => {
  const [frame] = decodeFrames(fromHex('02 00000001 ff'), 1024);
  assert.equal(frame.type, 'binary');
  assert.equal(hex(frame.data), 'ff');
});

test('limits messages to maxMessageBytes but close frames to 125 bytes whatever it is', () => {
  assert.equal(refused('01 0000000b 68656c6c6f20776f726c64', 10).tooLarge, true);
  assert.equal(decodeFrames(fromHex('01 0000000a 68656c6c6f20776f726c'), 10).length, 1);
  const reason123 = '61'.repeat(123);
  const [close] = decodeFrames(fromHex(`03 0000007d 0fa0 ${reason123}`), 10);
  assert.equal(close.code, 4000);
  assert.equal(close.reason, 'a'.repeat(123));
});

test('cuts a long close reason to 123 bytes at a character boundary', () => {
  // 61 two-byte characters are 122 bytes; one more would make 124.
  const reason = 'é'.repeat(70);
  const frame = encodeCloseFrame(4001, reason);
  const [close] = decodeFrames(frame, 1024);
  assert.equal(close.reason, 'é'.repeat(61));
  assert.ok(frame.length - 5 <= 125);
});
