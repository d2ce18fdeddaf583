// Sending: seq progression, batching, retransmission from the oldest unacknowledged frame,
// bufferedAmount, Blob ordering, size limits (PROTOCOL.md sections 5 and 9.6).

import test, { afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { LongPoll, encodeCloseFrame, encodeTextFrame } from '../../longpoll.js';
import {
  SESSION_ID,
  answerPoll,
  closeCleanly,
  framesOf,
  openClient,
  sleep,
  shutDownFakes,
  until,
} from '../support/fake-fetch.mjs';

afterEach(shutDownFakes);

const text = (data) => ({ type: 'text', data });

test('one send in flight; seq = first frame; later messages wait and go together', async () => {
  const { fake, socket, log } = await openClient();
  socket.send('a');
  const first = await fake.next('POST');
  assert.equal(first.path, `/longpoll/${SESSION_ID}`);
  assert.equal(first.query.get('seq'), '0');
  assert.equal(first.headers.get('content-type'), 'application/octet-stream');
  assert.deepEqual(framesOf(first), [text('a')]);
  socket.send('b');
  socket.send('c');
  assert.ok(!(await fake.arrivesWithin('POST', 100)), 'no second send while one is in flight');
  first.respond(204);
  const second = await fake.next('POST');
  assert.equal(second.query.get('seq'), '1');
  assert.deepEqual(framesOf(second), [text('b'), text('c')]);
  second.respond(204);
  socket.send('d');
  const third = await fake.next('POST');
  assert.equal(third.query.get('seq'), '3');
  assert.deepEqual(framesOf(third), [text('d')]);
  third.respond(204);
  await closeCleanly(fake, socket, log);
});

test('a failed send is re-sent from the oldest unacknowledged frame, each frame once', async (t) => {
  const failures = {
    'no HTTP answer': (send) => send.fail(new TypeError('connection reset')),
    '503 with Retry-After': (send) => send.respond(503, { headers: { 'Retry-After': '1' } }),
    '409 superseded (no Longpoll-Expected-Seq)': (send) => send.respond(409),
    'a proxy 502': (send) => send.respond(502),
  };
  for (const [name, fail] of Object.entries(failures)) {
    await t.test(name, async () => {
      const { fake, socket, log } = await openClient({
        params: { pollTimeoutMs: 2000, idleTimeoutMs: 4000 },
      });
      socket.send('one');
      const first = await fake.next('POST');
      socket.send('two');
      fail(first);
      const retry = await fake.next('POST');
      assert.equal(retry.query.get('seq'), '0');
      assert.deepEqual(
        framesOf(retry),
        [text('one'), text('two')],
        'same frames first, then the newer one',
      );
      retry.respond(204);
      socket.send('three');
      const next = await fake.next('POST');
      assert.equal(next.query.get('seq'), '2');
      assert.deepEqual(framesOf(next), [text('three')], 'acknowledged frames are not sent again');
      next.respond(204);
      await closeCleanly(fake, socket, log);
    });
  }
});

test('Retry-After is honoured up to a quarter of the idle timeout', async () => {
  const { fake, socket, log } = await openClient({
    params: { pollTimeoutMs: 1000, idleTimeoutMs: 2000 },
  });
  socket.send('x');
  const first = await fake.next('POST');
  const refusedAt = performance.now();
  first.respond(503, { headers: { 'Retry-After': '30' } });
  const retry = await fake.next('POST');
  const waited = performance.now() - refusedAt;
  // 30 s is capped at 2000 / 4 = 500 ms; only the lower bound is checked (the machine is noisy).
  assert.ok(waited >= 480, `retried after ${waited} ms`);
  retry.respond(204);
  await closeCleanly(fake, socket, log);
});

test('batches respect maxFramesPerRequest and maxBodyBytes, but always carry one frame', async () => {
  const { fake, socket, log } = await openClient({
    params: { maxFramesPerRequest: 3, maxBodyBytes: 20, maxMessageBytes: 64 },
  });
  socket.send('1');
  const first = await fake.next('POST');
  for (const m of ['2', '3', '4', '5']) socket.send(m);
  first.respond(204);
  const second = await fake.next('POST');
  assert.deepEqual(framesOf(second), [text('2'), text('3'), text('4')], 'three frames at most');
  second.respond(204);
  const third = await fake.next('POST');
  assert.deepEqual(framesOf(third), [text('5')]);
  socket.send('x'.repeat(30)); // one frame of 35 bytes is over maxBodyBytes but must still go
  socket.send('y');
  third.respond(204);
  const fourth = await fake.next('POST');
  assert.deepEqual(framesOf(fourth), [text('x'.repeat(30))]);
  fourth.respond(204);
  const fifth = await fake.next('POST');
  assert.equal(fifth.query.get('seq'), '6');
  assert.deepEqual(framesOf(fifth), [text('y')]);
  fifth.respond(204);
  await closeCleanly(fake, socket, log);
});

test('bufferedAmount counts payload until a 204 acknowledges it', async () => {
  const { fake, socket, log } = await openClient();
  socket.send('héllo'); // 6 bytes of UTF-8
  socket.send(new Uint8Array([1, 2, 3]));
  socket.send(new Uint16Array([1, 2]).subarray(1)); // a view: 2 bytes
  assert.equal(socket.bufferedAmount, 11);
  const first = await fake.next('POST');
  assert.equal(socket.bufferedAmount, 11, 'in flight is not acknowledged');
  first.fail();
  const retry = await fake.next('POST');
  assert.equal(socket.bufferedAmount, 11);
  retry.respond(204);
  await until(() => socket.bufferedAmount === 0, 'bufferedAmount back to 0');
  await closeCleanly(fake, socket, log);
  assert.equal(socket.bufferedAmount, 0);
});

test('sends copy their data at once; Blobs keep their place in the order', async () => {
  const { fake, socket, log } = await openClient();
  const buffer = new Uint8Array([1, 2, 3]);
  socket.send(new Blob(['blob-first']));
  socket.send(buffer.buffer);
  socket.send('text');
  socket.send(new Blob([new Uint8Array([9])]));
  buffer[0] = 99; // too late: the message was taken
  assert.equal(socket.bufferedAmount, 10 + 3 + 4 + 1);
  const frames = [];
  while (frames.length < 4) {
    const send = await fake.next('POST');
    assert.equal(Number(send.query.get('seq')), frames.length);
    frames.push(...framesOf(send));
    send.respond(204);
  }
  assert.deepEqual(
    frames.map((f) => (f.type === 'text' ? f.data : [...f.data])),
    [[...new TextEncoder().encode('blob-first')], [1, 2, 3], 'text', [9]],
  );
  await closeCleanly(fake, socket, log);
});

test('other values are sent as their string, as WebSocket does', async () => {
  const { fake, socket, log } = await openClient();
  socket.send(42);
  socket.send({ toString: () => 'object' });
  const send = await fake.next('POST');
  const frames = framesOf(send);
  send.respond(204);
  if (frames.length === 1) {
    const next = await fake.next('POST');
    frames.push(...framesOf(next));
    next.respond(204);
  }
  assert.deepEqual(frames, [text('42'), text('object')]);
  await closeCleanly(fake, socket, log);
});

test('a message over maxMessageBytes closes with 1009 after the earlier messages', async () => {
  const { fake, socket, log } = await openClient({ params: { maxMessageBytes: 8 } });
  socket.send('ok');
  socket.send('123456789');
  assert.equal(socket.readyState, LongPoll.CLOSING);
  socket.send('dropped');
  const frames = [];
  let last;
  while (!frames.some((f) => f.type === 'close')) {
    last = await fake.next('POST');
    frames.push(...framesOf(last));
    last.respond(204);
  }
  assert.deepEqual(frames, [text('ok'), { type: 'close', code: 1009, reason: 'message too big' }]);
  const close = await log.waitFor('close');
  assert.equal(close.code, 1009);
  assert.equal(close.wasClean, true);
  assert.ok(!log.types.includes('error'));
});

test('sends after close() are dropped but counted in bufferedAmount, as in WebSocket', async () => {
  const { fake, socket, log } = await openClient();
  socket.close(1000);
  socket.send('late');
  assert.equal(socket.bufferedAmount, 4);
  const send = await fake.next('POST');
  assert.deepEqual(framesOf(send), [{ type: 'close', code: 1000, reason: '' }]);
  send.respond(204);
  await log.waitFor('close');
  socket.send('later');
  assert.equal(socket.bufferedAmount, 9);
  assert.ok(!(await fake.arrivesWithin('POST', 100)));
});

test('a full outbound buffer fails the session, as a full WebSocket buffer closes it', async () => {
  const { fake, socket, log } = await openClient({ options: { outboundMaxBytes: 10 } });
  socket.send('x'.repeat(20)); // an empty buffer takes any message
  await fake.next('POST');
  socket.send('y');
  const error = await log.waitFor('error');
  assert.match(error.message, /outbound buffer is full/);
  const close = await log.waitFor('close');
  assert.equal(close.code, 1006);
  await fake.next('DELETE');
});

test('404/410 to a send while open: stop sending, keep polling, learn the end from the poll', async () => {
  const { fake, socket, log, firstPoll } = await openClient();
  socket.send('refused');
  const send = await fake.next('POST');
  send.respond(410);
  await sleep(20);
  socket.send('also dropped');
  assert.ok(!(await fake.arrivesWithin('POST', 100)), 'no more sends');
  assert.equal(socket.readyState, LongPoll.OPEN);
  answerPoll(firstPoll, 0, encodeTextFrame('bye'), encodeCloseFrame(1001, 'server shutdown'));
  const close = await log.waitFor('close');
  assert.equal(close.code, 1001);
  assert.equal(close.reason, 'server shutdown');
  assert.deepEqual(log.messages, ['bye']);
  await fake.next('DELETE');
});

test('a 409 with Longpoll-Expected-Seq, 400, 413 or 415 to a send is a protocol error', async (t) => {
  const answers = {
    '409 gap': [409, { 'Longpoll-Expected-Seq': '0' }],
    400: [400, {}],
    413: [413, {}],
    415: [415, {}],
  };
  for (const [name, [status, headers]] of Object.entries(answers)) {
    await t.test(name, async () => {
      const { fake, socket, log } = await openClient();
      socket.send('x');
      (await fake.next('POST')).respond(status, { headers, body: 'refused\n' });
      const error = await log.waitFor('error');
      assert.match(error.message, /protocol error/);
      assert.equal((await log.waitFor('close')).code, 1006);
      await fake.next('DELETE');
    });
  }
});

test('sends carry ack; a 200 to a send delivers its frames once and the poll stays put', async () => {
  const { fake, socket, log, firstPoll } = await openClient();
  answerPoll(firstPoll, 0, encodeTextFrame('hello'));
  const poll = await fake.next('GET');
  assert.equal(poll.query.get('ack'), '1');
  socket.send('ping');
  const send = await fake.next('POST');
  assert.equal(send.query.get('seq'), '0');
  assert.equal(send.query.get('ack'), '1', 'the received count');
  // The server answers with the reply (section 5.3), re-sending frame 0 as well.
  answerPoll(send, 0, encodeTextFrame('hello'), encodeTextFrame('pong'));
  await until(() => log.messages.length === 2, 'the reply is delivered');
  assert.deepEqual(log.messages, ['hello', 'pong'], 'the duplicate is dropped');
  assert.equal(socket.bufferedAmount, 0, 'the send was accepted');
  assert.ok(!(await fake.arrivesWithin('GET', 100)), 'the poll in flight carries on');
  socket.send('next');
  const next = await fake.next('POST');
  assert.equal(next.query.get('seq'), '1');
  assert.equal(next.query.get('ack'), '2');
  next.respond(204);
  // The same frame again on the poll is a duplicate too.
  answerPoll(poll, 1, encodeTextFrame('pong'), encodeTextFrame('later'));
  await until(() => log.messages.length === 3, 'the poll is delivered');
  assert.deepEqual(log.messages.slice(2), ['later']);
  await closeCleanly(fake, socket, log);
});

test('with ackOnSend false, sends carry no ack', async () => {
  const { fake, socket, log } = await openClient({ options: { ackOnSend: false } });
  socket.send('ping');
  const send = await fake.next('POST');
  assert.equal(send.query.get('ack'), null);
  send.respond(204);
  await closeCleanly(fake, socket, log);
  assert.throws(() => new LongPoll('http://x.test/lp', { ackOnSend: 'yes' }), TypeError);
});

test('a 200 to a send that skips frames is a protocol error', async () => {
  const { fake, socket, log } = await openClient();
  socket.send('ping');
  const send = await fake.next('POST');
  answerPoll(send, 4, encodeTextFrame('pong'));
  const error = await log.waitFor('error');
  assert.match(error.message, /skipped frames/);
  await log.waitFor('close');
});

test('with ackOnSend false, a 200 to a send is retried, not taken as accepted', async () => {
  const { fake, socket, log } = await openClient({ options: { ackOnSend: false } });
  socket.send('ping');
  const send = await fake.next('POST');
  send.respond(200, { body: 'a proxy page' });
  const retry = await fake.next('POST');
  assert.equal(retry.query.get('seq'), '0');
  assert.deepEqual(framesOf(retry), [text('ping')], 'the same frame again');
  retry.respond(204);
  assert.deepEqual(log.messages, []);
  await closeCleanly(fake, socket, log);
});
