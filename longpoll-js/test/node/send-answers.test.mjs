// Sends that carry `ack` (PROTOCOL.md section 5.3) against echo-hyper, whose echo is a
// callback, and echo-axum, whose echo is a task per session: each echo comes back in its
// send's own answer, so a round trip is one exchange and the poll stays held. Without
// `ackOnSend` the echo comes on the poll, re-issued each time.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LongPoll } from '../../longpoll.js';
import { EventLog } from '../support/fake-fetch.mjs';
import { recordingFetch, startEcho } from '../support/echo-server.mjs';

const WAIT_MS = 15000;
const ROUND_TRIPS = 20;

/** Sends ROUND_TRIPS messages one at a time, each after the previous echo; returns the requests. */
async function roundTrips(server, options) {
  const { fetch, log: requests } = recordingFetch();
  const socket = new LongPoll(server.url, { ...options, fetch });
  const log = new EventLog(socket);
  await log.waitFor('open', WAIT_MS);
  for (let i = 0; i < ROUND_TRIPS; i++) {
    socket.send(`message ${i}`);
    const started = performance.now();
    while (log.messages.length <= i) {
      if (performance.now() - started > WAIT_MS) throw new Error(`no echo of message ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }
  assert.deepEqual(
    log.messages,
    Array.from({ length: ROUND_TRIPS }, (_, i) => `message ${i}`),
    'every echo once, in order',
  );
  socket.close(1000);
  await log.waitFor('close', WAIT_MS);
  const sends = requests.filter((r) => r.method === 'POST' && r.url.includes('seq='));
  return { polls: requests.filter((r) => r.method === 'GET'), sends };
}

for (const [name, shape] of [
  ['echo-hyper', 'a callback'],
  ['echo-axum', 'a task per session'],
]) {
  describe(`${name} (${shape})`, () => {
    let server;
    before(async () => {
      server = await startEcho([], name);
    });
    after(() => server?.stop());

    test('with ackOnSend (the default) each echo comes in its send answer; the poll stays held', async () => {
      const { polls, sends } = await roundTrips(server, {});
      assert.ok(sends.every((r) => new URL(r.url).searchParams.has('ack')), 'sends carry ack');
      const answeredWithFrames = sends.filter((r) => r.status === 200).length;
      assert.equal(answeredWithFrames, ROUND_TRIPS, 'every message send was answered 200 with its echo');
      assert.equal(polls.length, 1, 'one poll, held throughout');
    });

    test('without ackOnSend each echo comes on the poll, which is re-issued', async () => {
      const { polls, sends } = await roundTrips(server, { ackOnSend: false });
      assert.ok(sends.every((r) => !new URL(r.url).searchParams.has('ack')));
      assert.ok(sends.every((r) => r.status === 204), 'sends are answered 204');
      assert.ok(polls.length > ROUND_TRIPS, `${polls.length} polls for ${ROUND_TRIPS} echoes`);
    });
  });
}
