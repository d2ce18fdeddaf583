// Polling: ack progression, Longpoll-Seq, dedupe of re-sent frames, message events,
// binaryType, and the server's close (PROTOCOL.md sections 4 and 9.3).

import test, { afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { LongPoll, encodeBinaryFrame, encodeCloseFrame, encodeTextFrame } from '../../longpoll.js';
import {
  SESSION_ID,
  answerPoll,
  closeCleanly,
  fromHex,
  openClient,
  shutDownFakes,
} from '../support/fake-fetch.mjs';

afterEach(shutDownFakes);

const SESSION_PATH = `/longpoll/${SESSION_ID}`;

test('polls with ack = frames received, and delivers each frame once in order', async () => {
  const { fake, socket, log, firstPoll } = await openClient();
  assert.equal(firstPoll.path, SESSION_PATH);
  assert.equal(firstPoll.query.get('ack'), '0');
  answerPoll(firstPoll, 0, encodeTextFrame('a'), encodeTextFrame('b'));

  const second = await fake.next('GET');
  assert.equal(second.query.get('ack'), '2');
  // A re-sent batch overlapping what was received (the server had not seen ack=2 yet):
  // frames 1 and 2 arrive, only 2 is new.
  answerPoll(second, 1, encodeTextFrame('b'), encodeTextFrame('c'));

  const third = await fake.next('GET');
  assert.equal(third.query.get('ack'), '3');
  // An entirely old batch changes nothing.
  answerPoll(third, 0, encodeTextFrame('a'));
  const fourth = await fake.next('GET');
  assert.equal(fourth.query.get('ack'), '3');
  fourth.respond(204);
  const fifth = await fake.next('GET');
  assert.equal(fifth.query.get('ack'), '3', 'a 204 does not move ack');

  assert.deepEqual(log.messages, ['a', 'b', 'c']);
  await closeCleanly(fake, socket, log);
  assert.ok(fifth.aborted, 'closing aborts the poll');
  assert.deepEqual(log.types, ['open', 'message', 'message', 'message', 'close']);
});

test('message events: text as string, binary as ArrayBuffer or Blob per binaryType', async () => {
  const { fake, socket, log, firstPoll } = await openClient();
  answerPoll(firstPoll, 0, encodeTextFrame('héllo'), encodeBinaryFrame(fromHex('0001ff')));
  const poll = await fake.next('GET');
  socket.binaryType = 'blob';
  answerPoll(poll, 2, encodeBinaryFrame(fromHex('deadbeef')), encodeBinaryFrame(new Uint8Array(0)));
  await fake.next('GET');
  const [text, buffer, blob, empty] = log.messages;
  assert.equal(text, 'héllo');
  assert.ok(buffer instanceof ArrayBuffer);
  assert.deepEqual([...new Uint8Array(buffer)], [0, 1, 255]);
  assert.equal(buffer.byteLength, 3, 'a standalone buffer, not a view into the body');
  assert.ok(blob instanceof Blob);
  assert.deepEqual([...new Uint8Array(await blob.arrayBuffer())], [0xde, 0xad, 0xbe, 0xef]);
  assert.equal(empty.size, 0);
  const event = log.entries.find((e) => e.type === 'message').event;
  assert.ok(event instanceof MessageEvent);
  assert.equal(event.origin, 'http://server.test');
  await closeCleanly(fake, socket, log);
});

test('a server close frame: messages first, then close with its code and reason, then DELETE', async () => {
  const { fake, log, socket, firstPoll } = await openClient();
  answerPoll(firstPoll, 0, encodeTextFrame('last words'), encodeCloseFrame(4000, 'requested'));
  const close = await log.waitFor('close');
  assert.deepEqual(log.types, ['open', 'message', 'close']);
  assert.equal(close.code, 4000);
  assert.equal(close.reason, 'requested');
  assert.equal(close.wasClean, true);
  assert.equal(socket.readyState, LongPoll.CLOSED);
  const del = await fake.next('DELETE');
  assert.equal(del.path, SESSION_PATH);
  assert.ok(!(await fake.arrivesWithin('GET', 100)), 'no poll after the close frame');
});

test('a server close frame without a code closes with 1005', async () => {
  const { log, firstPoll } = await openClient();
  answerPoll(firstPoll, 0, encodeCloseFrame());
  const close = await log.waitFor('close');
  assert.equal(close.code, 1005);
  assert.equal(close.reason, '');
  assert.equal(close.wasClean, true);
});

test('a send from a message handler waits for the whole batch: one poll, with the full ack', async () => {
  const { fake, socket, log, firstPoll } = await openClient();
  socket.addEventListener('message', (event) => {
    if (event.data === 'one') socket.send('reply');
  });
  answerPoll(
    firstPoll,
    0,
    encodeTextFrame('one'),
    encodeTextFrame('two'),
    encodeTextFrame('three'),
  );
  const send = await fake.next('POST');
  const poll = await fake.next('GET');
  assert.equal(poll.query.get('ack'), '3');
  assert.equal(fake.requests.filter((r) => r.method === 'GET').length, 2, 'no poll mid-batch');
  send.respond(204);
  await closeCleanly(fake, socket, log);
  assert.deepEqual(log.messages, ['one', 'two', 'three']);
});

test('messages arriving after the application closed are not delivered', async () => {
  const { fake, socket, log, firstPoll } = await openClient();
  socket.addEventListener('message', () => socket.close(4001));
  answerPoll(firstPoll, 0, encodeTextFrame('one'), encodeTextFrame('two'));
  const send = await fake.next('POST');
  send.respond(204);
  const close = await log.waitFor('close');
  assert.deepEqual(log.messages, ['one']);
  assert.equal(close.code, 4001);
});

async function expectProtocolError(answer) {
  const { fake, log, firstPoll } = await openClient();
  answer(firstPoll);
  const error = await log.waitFor('error');
  const close = await log.waitFor('close');
  assert.deepEqual(log.types, ['open', 'error', 'close']);
  assert.equal(close.code, 1006);
  assert.equal(close.wasClean, false);
  assert.match(error.message, /protocol error/);
  const del = await fake.next('DELETE');
  assert.equal(del.path, SESSION_PATH, 'a protocol error ends the session with DELETE');
  return error;
}

test('protocol errors in poll answers: error, close 1006, DELETE', async (t) => {
  await t.test('frames starting beyond what was received', () =>
    expectProtocolError((poll) => answerPoll(poll, 1, encodeTextFrame('skipped one'))),
  );
  await t.test('no Longpoll-Seq', () =>
    expectProtocolError((poll) => poll.respond(200, { body: encodeTextFrame('x') })),
  );
  await t.test('a malformed Longpoll-Seq', () =>
    expectProtocolError((poll) =>
      poll.respond(200, { headers: { 'Longpoll-Seq': '-1' }, body: encodeTextFrame('x') }),
    ),
  );
  await t.test('invalid UTF-8 in a text frame', () =>
    expectProtocolError((poll) => answerPoll(poll, 0, fromHex('01 00000001 ff'))),
  );
  await t.test('a frame over maxMessageBytes', () =>
    expectProtocolError((poll) => answerPoll(poll, 0, encodeTextFrame('x'.repeat(1025)))),
  );
  await t.test('a 400 answer', () =>
    expectProtocolError((poll) => poll.respond(400, { body: 'bad ack\n' })),
  );
});

test('an invalid frame after valid ones delivers nothing from that body', async () => {
  const { log, firstPoll } = await openClient();
  answerPoll(firstPoll, 0, encodeTextFrame('fine'), fromHex('04 00000000'));
  await log.waitFor('close');
  assert.deepEqual(log.messages, []);
});
