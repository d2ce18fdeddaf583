// Opening, closing, the end of a session, 409s, deadlines and giving up
// (PROTOCOL.md sections 3, 9.1, 9.2, 9.4, 9.7, 9.8).

import test, { afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { LongPoll, encodeTextFrame } from '../../longpoll.js';
import {
  BASE,
  EventLog,
  FakeFetch,
  SESSION_ID,
  answerPoll,
  framesOf,
  openBody,
  openClient,
  sleep,
  shutDownFakes,
} from '../support/fake-fetch.mjs';

afterEach(shutDownFakes);

const text = (data) => ({ type: 'text', data });

test('event order: open, messages, close; readyState along the way', async () => {
  const { fake, socket, log, firstPoll } = await openClient();
  answerPoll(firstPoll, 0, encodeTextFrame('1'), encodeTextFrame('2'));
  const poll = await fake.next('GET');
  answerPoll(poll, 2, encodeTextFrame('3'));
  await fake.next('GET');
  socket.send('queued before close');
  socket.close(4321, 'done');
  assert.equal(socket.readyState, LongPoll.CLOSING);
  const send = await fake.next('POST');
  assert.deepEqual(framesOf(send), [
    text('queued before close'),
    { type: 'close', code: 4321, reason: 'done' },
  ]);
  send.respond(204);
  const close = await log.waitFor('close');
  assert.deepEqual(log.types, ['open', 'message', 'message', 'message', 'close']);
  assert.deepEqual(log.messages, ['1', '2', '3']);
  assert.deepEqual(
    log.entries.map((e) => e.readyState),
    [1, 1, 1, 1, 3],
  );
  assert.equal(close.code, 4321);
  assert.equal(close.reason, 'done');
  assert.equal(close.wasClean, true);
  assert.ok(!(await fake.arrivesWithin('DELETE', 100)), 'an accepted close frame needs no DELETE');
});

test('close() waits for the send in flight, then sends the close frame after it', async () => {
  const { fake, socket, log } = await openClient();
  socket.send('a');
  const first = await fake.next('POST');
  socket.send('b');
  socket.close();
  first.respond(204);
  const second = await fake.next('POST');
  assert.equal(second.query.get('seq'), '1');
  assert.deepEqual(framesOf(second), [text('b'), { type: 'close', code: undefined, reason: '' }]);
  second.respond(204);
  const close = await log.waitFor('close');
  assert.equal(close.code, 1005, 'no code given: no status, as in WebSocket');
});

test('close(undefined, reason) sends code 1000', async () => {
  const { fake, socket, log } = await openClient();
  socket.close(undefined, 'why');
  const send = await fake.next('POST');
  assert.deepEqual(framesOf(send), [{ type: 'close', code: 1000, reason: 'why' }]);
  send.respond(204);
  assert.equal((await log.waitFor('close')).code, 1000);
});

test('404/410 to the close frame completes the close and sends DELETE', async () => {
  const { fake, socket, log } = await openClient();
  socket.close(4000, 'bye');
  (await fake.next('POST')).respond(410);
  const close = await log.waitFor('close');
  assert.equal(close.code, 4000);
  assert.equal(close.wasClean, true);
  const del = await fake.next('DELETE');
  assert.equal(del.path, `/longpoll/${SESSION_ID}`);
});

test('close() after the server refused sends ends at once with DELETE', async () => {
  const { fake, socket, log } = await openClient();
  socket.send('x');
  (await fake.next('POST')).respond(404);
  await sleep(20);
  socket.close(4002);
  const close = await log.waitFor('close');
  assert.equal(close.code, 4002);
  await fake.next('DELETE');
  assert.ok(!(await fake.arrivesWithin('POST', 100)), 'no close frame is sent');
});

test('close() while connecting: error, close 1006, the open request aborted', async () => {
  const fake = new FakeFetch();
  const socket = new LongPoll(BASE, { fetch: fake.fetch });
  const log = new EventLog(socket);
  const open = await fake.next('POST');
  socket.close(1000);
  assert.equal(socket.readyState, LongPoll.CLOSING);
  const close = await log.waitFor('close');
  assert.deepEqual(log.types, ['error', 'close']);
  assert.equal(close.code, 1006);
  assert.equal(close.wasClean, false);
  assert.ok(open.aborted);
  assert.equal(socket.readyState, LongPoll.CLOSED);
});

test('a failed open: error, then close 1006', async (t) => {
  const cases = {
    'a 503': (open) => open.respond(503, { headers: { 'Retry-After': '1' } }),
    'a 404': (open) => open.respond(404),
    'no HTTP answer': (open) => open.fail(new TypeError('connection refused')),
    'not JSON': (open) => open.respond(201, { body: '<html>' }),
    'protocol 2': (open) => open.respond(201, { body: openBody({ protocol: 2 }) }),
    'a bad id': (open) => open.respond(201, { body: openBody({ id: 'short' }) }),
  };
  for (const [name, answer] of Object.entries(cases)) {
    await t.test(name, async () => {
      const fake = new FakeFetch();
      const socket = new LongPoll(BASE, { fetch: fake.fetch });
      const log = new EventLog(socket);
      answer(await fake.next('POST'));
      const close = await log.waitFor('close');
      assert.deepEqual(log.types, ['error', 'close']);
      assert.equal(close.code, 1006);
      assert.equal(socket.readyState, LongPoll.CLOSED);
      assert.equal(fake.requests.length, 1, 'no session requests');
    });
  }
});

test('an open that never answers is abandoned after openTimeout', async () => {
  const fake = new FakeFetch();
  const socket = new LongPoll(BASE, { fetch: fake.fetch, openTimeout: 50 });
  const log = new EventLog(socket);
  const open = await fake.next('POST');
  const error = await log.waitFor('error');
  assert.match(error.message, /timed out/);
  assert.ok(open.aborted);
  assert.equal((await log.waitFor('close')).code, 1006);
});

test('404 or 410 to a poll: the session is gone, error and close 1006, no DELETE', async (t) => {
  for (const status of [404, 410]) {
    await t.test(String(status), async () => {
      const { fake, log, firstPoll } = await openClient();
      firstPoll.respond(status);
      const close = await log.waitFor('close');
      assert.deepEqual(log.types, ['open', 'error', 'close']);
      assert.equal(close.code, 1006);
      assert.equal(close.wasClean, false);
      assert.ok(!(await fake.arrivesWithin('DELETE', 100)));
    });
  }
});

test('poll 409: the first in a row re-polls at once, a second backs off; 200/204 resets', async () => {
  // A long idle timeout makes the backoff cap 25 s, so a backed-off poll cannot come soon.
  const { fake, socket, log, firstPoll } = await openClient({
    params: { pollTimeoutMs: 50000, idleTimeoutMs: 100000 },
    options: { backoffInitial: 60000, backoffMax: 60000 },
  });
  firstPoll.respond(409);
  const second = await fake.next('GET', 1000);
  assert.equal(second.query.get('ack'), '0');
  second.respond(204); // resets the run of 409s
  const third = await fake.next('GET', 1000);
  third.respond(409);
  const fourth = await fake.next('GET', 1000);
  fourth.respond(409); // the second 409 in a row
  assert.ok(!(await fake.arrivesWithin('GET', 300)), 'the second 409 in a row waits');
  socket.close();
  (await fake.next('POST')).respond(204);
  await log.waitFor('close');
});

test('other poll failures are retried with the same ack', async () => {
  const { fake, socket, log, firstPoll } = await openClient();
  answerPoll(firstPoll, 0, encodeTextFrame('a'));
  const failing = await fake.next('GET');
  failing.fail(new TypeError('network down'));
  const retry = await fake.next('GET');
  assert.equal(retry.query.get('ack'), '1');
  retry.respond(502);
  const again = await fake.next('GET');
  assert.equal(again.query.get('ack'), '1');
  answerPoll(again, 1, encodeTextFrame('b'));
  await fake.next('GET');
  assert.deepEqual(log.messages, ['a', 'b']);
  socket.close();
  (await fake.next('POST')).respond(204);
  await log.waitFor('close');
});

test('a request past its deadline is aborted and issued again', async () => {
  // Deadline = pollTimeoutMs + min(grace, (idle - poll) / 2) = 300 + 150 ms; giving up would
  // take 900 ms without an answer.
  const { fake, socket, log, firstPoll } = await openClient({
    params: { pollTimeoutMs: 300, idleTimeoutMs: 600 },
  });
  socket.send('m');
  const send = await fake.next('POST');
  // Neither is answered: both are abandoned at their deadline and issued again at once.
  const nextPoll = await fake.next('GET');
  assert.ok(firstPoll.aborted, 'the silent poll was aborted');
  assert.equal(nextPoll.query.get('ack'), '0');
  nextPoll.respond(204);
  const resend = await fake.next('POST');
  assert.ok(send.aborted, 'the silent send was aborted');
  assert.equal(resend.query.get('seq'), '0');
  assert.deepEqual(framesOf(resend), [text('m')]);
  resend.respond(204);
  socket.close();
  (await fake.next('POST')).respond(204);
  await log.waitFor('close');
});

test('gives up when the server shows no sign of life for poll + idle timeout', async () => {
  const { fake, log, firstPoll } = await openClient({
    params: { pollTimeoutMs: 50, idleTimeoutMs: 100 },
  });
  firstPoll.fail(new TypeError('connection refused'));
  // Every later poll fails at once, and a 502 is no sign of life either.
  let polls = 1;
  const failing = (async () => {
    for (;;) {
      const poll = await fake.next('GET', 500).catch(() => null);
      if (poll === null) return;
      polls++;
      if (polls % 2) poll.fail(new TypeError('connection refused'));
      else poll.respond(502);
    }
  })();
  const error = await log.waitFor('error', 5000);
  assert.match(error.message, /idle timeout/);
  const close = await log.waitFor('close');
  assert.equal(close.code, 1006);
  assert.equal(close.wasClean, false);
  await fake.next('DELETE');
  await failing;
  assert.ok(polls > 2, `retried (${polls} polls) before giving up`);
});

test('a 503 with Retry-After is a sign of life: no give-up while the server answers', async () => {
  // Giving up would take 600 ms without a sign of life; Retry-After is capped at 100 ms.
  const { fake, socket, log, firstPoll } = await openClient({
    params: { pollTimeoutMs: 200, idleTimeoutMs: 400 },
  });
  firstPoll.respond(503, { headers: { 'Retry-After': '1' } });
  const started = performance.now();
  // Keep answering 503 + Retry-After for well over poll + idle.
  while (performance.now() - started < 1500) {
    const poll = await fake.next('GET');
    poll.respond(503, { headers: { 'Retry-After': '1' } });
  }
  assert.ok(!log.types.includes('close'));
  socket.close();
  (await fake.next('POST')).respond(204);
  await log.waitFor('close');
});

test("a proxy's 504 after half the poll hold is a sign of life; a quick one is not", async () => {
  // Giving up would take 300 ms without a sign of life.
  const { fake, socket, log, firstPoll } = await openClient({
    params: { pollTimeoutMs: 100, idleTimeoutMs: 200 },
  });
  firstPoll.respond(504);
  const started = performance.now();
  // Each poll is held 60 ms (over half the 100 ms hold) and then answered 504, as nginx does
  // when its read timeout is shorter than the server's hold.
  while (performance.now() - started < 1000) {
    const poll = await fake.next('GET');
    await sleep(60);
    poll.respond(504);
  }
  assert.ok(!log.types.includes('close'), 'held 504s keep the session');
  // Quick 504s do not: the client gives up.
  const quick = (async () => {
    for (;;) {
      const poll = await fake.next('GET', 500).catch(() => null);
      if (poll === null) return;
      poll.respond(504);
    }
  })();
  const close = await log.waitFor('close', 5000);
  assert.equal(close.code, 1006);
  await fake.next('DELETE');
  await quick;
  assert.equal(socket.readyState, LongPoll.CLOSED);
});

test('pagehide ends the session with a keepalive DELETE', async () => {
  const page = new EventTarget();
  globalThis.document = {};
  globalThis.addEventListener = page.addEventListener.bind(page);
  globalThis.removeEventListener = page.removeEventListener.bind(page);
  try {
    const { fake, socket, log } = await openClient();
    page.dispatchEvent(new Event('pagehide'));
    const del = await fake.next('DELETE');
    assert.equal(del.keepalive, true);
    assert.equal(del.path, `/longpoll/${SESSION_ID}`);
    const close = await log.waitFor('close');
    assert.equal(close.code, 1001);
    assert.equal(socket.readyState, LongPoll.CLOSED);
    page.dispatchEvent(new Event('pagehide'));
    assert.ok(!(await fake.arrivesWithin('DELETE', 100)), 'the listener was removed');
  } finally {
    delete globalThis.document;
    delete globalThis.addEventListener;
    delete globalThis.removeEventListener;
  }
});
