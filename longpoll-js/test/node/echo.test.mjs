// The client against the real echo-axum server: round trips, order, closes from either side.

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { LongPoll } from '../../longpoll.js';
import { EventLog } from '../support/fake-fetch.mjs';
import { recordingFetch, startEcho } from '../support/echo-server.mjs';

const WAIT_MS = 15000;
let server;

before(async () => {
  // Short server timeouts so that quiet sessions see several 204s within a test.
  server = await startEcho(['--poll-timeout-ms', '500', '--idle-timeout-ms', '2000']);
});
after(() => server?.stop());

/** Opens a client on the echo server and waits for `open`. */
async function connect(options = {}) {
  const socket = new LongPoll(server.url, { backoffInitial: 10, ...options });
  const log = new EventLog(socket);
  await log.waitFor('open', WAIT_MS);
  return { socket, log };
}

/** Resolves once `count` messages have arrived (bounded). */
async function messages(log, count) {
  const started = performance.now();
  while (log.messages.length < count) {
    if (log.types.includes('close'))
      throw new Error(`closed after ${log.messages.length} messages`);
    if (performance.now() - started > WAIT_MS)
      throw new Error(`only ${log.messages.length} of ${count} messages`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return log.messages;
}

async function closeAndWait(socket, log, code, reason) {
  socket.close(code, reason);
  return log.waitFor('close', WAIT_MS);
}

test('text round trip', async () => {
  const { socket, log } = await connect();
  socket.send('hello');
  socket.send('');
  socket.send('héllo wörld 😀');
  assert.deepEqual(await messages(log, 3), ['hello', '', 'héllo wörld 😀']);
  await closeAndWait(socket, log, 1000);
});

test('binary round trip as ArrayBuffer and as Blob', async () => {
  const { socket, log } = await connect();
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  socket.send(bytes);
  await messages(log, 1);
  socket.binaryType = 'blob';
  socket.send(new Blob([bytes.subarray(0, 16)]));
  socket.send(bytes.buffer.slice(16, 20));
  const [buffer, blob, small] = await messages(log, 3);
  assert.ok(buffer instanceof ArrayBuffer);
  assert.deepEqual(new Uint8Array(buffer), bytes);
  assert.ok(blob instanceof Blob);
  assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), bytes.subarray(0, 16));
  assert.deepEqual(new Uint8Array(await small.arrayBuffer()), bytes.subarray(16, 20));
  await closeAndWait(socket, log, 1000);
});

test('1,000 messages come back once each, in order; bufferedAmount returns to 0', async () => {
  const { socket, log } = await connect();
  const sent = [];
  for (let i = 0; i < 1000; i++) {
    const message = `message ${i} ${'x'.repeat(i % 50)}`;
    sent.push(message);
    socket.send(message);
    if (i === 0) assert.equal(socket.bufferedAmount, message.length, 'counted until acknowledged');
    if (i % 100 === 99) await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.deepEqual(await messages(log, 1000), sent);
  const started = performance.now();
  while (socket.bufferedAmount !== 0 && performance.now() - started < WAIT_MS) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(socket.bufferedAmount, 0);
  await closeAndWait(socket, log, 1000);
  assert.equal(log.messages.length, 1000, 'nothing more arrived');
});

test('a quiet session survives several poll timeouts', async () => {
  const { fetch, log: requests } = recordingFetch();
  const { socket, log } = await connect({ fetch });
  await new Promise((resolve) => setTimeout(resolve, 1800)); // past 3 poll timeouts of 500 ms
  assert.ok(
    requests.filter((r) => r.method === 'GET' && r.status === 204).length >= 2,
    'polls answered 204',
  );
  socket.send('still here');
  assert.deepEqual(await messages(log, 1), ['still here']);
  assert.equal(socket.readyState, LongPoll.OPEN);
  await closeAndWait(socket, log, 1000);
  assert.ok(!log.types.includes('error'));
});

test('close-me: the server closes with 4000 "requested" after the earlier echoes', async () => {
  const { fetch, log: requests } = recordingFetch();
  const { socket, log } = await connect({ fetch });
  socket.send('before');
  socket.send('close-me');
  const close = await log.waitFor('close', WAIT_MS);
  assert.deepEqual(log.types, ['open', 'message', 'close']);
  assert.deepEqual(log.messages, ['before']);
  assert.equal(close.code, 4000);
  assert.equal(close.reason, 'requested');
  assert.equal(close.wasClean, true);
  assert.equal(socket.readyState, LongPoll.CLOSED);
  // The client completed the server's close with DELETE; the session is now gone.
  const sessionUrl = requests.find((r) => r.method === 'GET').url.replace(/\?.*$/, '');
  const started = performance.now();
  while (!requests.some((r) => r.method === 'DELETE' && r.status === 204)) {
    assert.ok(performance.now() - started < WAIT_MS, 'DELETE answered 204');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal((await globalThis.fetch(`${sessionUrl}?ack=0`)).status, 410);
});

test("the client's own close: the close frame after pending messages, close with its code", async () => {
  const { fetch, log: requests } = recordingFetch();
  const { socket, log } = await connect({ fetch });
  socket.send('last');
  const close = await closeAndWait(socket, log, 4001, 'bye now');
  assert.equal(close.code, 4001);
  assert.equal(close.reason, 'bye now');
  assert.equal(close.wasClean, true);
  assert.equal(socket.bufferedAmount, 0, 'the message went before the close frame');
  const sessionUrl = requests.find((r) => r.method === 'GET').url.replace(/\?.*$/, '');
  assert.equal(
    (await globalThis.fetch(`${sessionUrl}?ack=0`)).status,
    410,
    'the server ended the session',
  );
  assert.ok(
    !requests.some((r) => r.method === 'DELETE'),
    'an accepted close frame needs no DELETE',
  );
});

test('a message over the server maxMessageBytes closes with 1009', async () => {
  const small = await startEcho(['--max-body-bytes', '1024']); // messages up to 1019 bytes
  try {
    const socket = new LongPoll(small.url);
    const log = new EventLog(socket);
    await log.waitFor('open', WAIT_MS);
    socket.send('x'.repeat(1019));
    assert.equal((await messages(log, 1))[0].length, 1019);
    socket.send('y'.repeat(1020));
    const close = await log.waitFor('close', WAIT_MS);
    assert.equal(close.code, 1009);
    assert.equal(close.wasClean, true);
    assert.deepEqual(log.types, ['open', 'message', 'close']);
  } finally {
    await small.stop();
  }
});

test('a server that goes away: the client gives up (error, close 1006); a new open fails', async () => {
  // Short timeouts: the client gives up after poll + idle = 900 ms without a sign of life.
  const gone = await startEcho(['--poll-timeout-ms', '300', '--idle-timeout-ms', '600']);
  const socket = new LongPoll(gone.url, { backoffInitial: 10 });
  const log = new EventLog(socket);
  await log.waitFor('open', WAIT_MS);
  await gone.stop();
  const close = await log.waitFor('close', WAIT_MS);
  assert.deepEqual(log.types, ['open', 'error', 'close']);
  assert.equal(close.code, 1006);
  assert.equal(close.wasClean, false);
  assert.match(log.entries[1].event.message, /idle timeout/);

  const late = new LongPoll(gone.url);
  const lateLog = new EventLog(late);
  const lateClose = await lateLog.waitFor('close', WAIT_MS);
  assert.deepEqual(lateLog.types, ['error', 'close']);
  assert.equal(lateClose.code, 1006);
});
