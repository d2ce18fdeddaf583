// Every message arrives exactly once and in order through a network that loses, duplicates
// and delays requests and responses at random (seeded), against the real echo-axum server.
//
// Quick by default. Long mode: LONGPOLL_JS_LOSSY_MESSAGES=5000 (messages per seed) and
// LONGPOLL_JS_LOSSY_SEEDS=1,2,3,4,5,6,7,8 (which seeds to run).

import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { LongPoll } from '../../longpoll.js';
import { EventLog } from '../support/fake-fetch.mjs';
import { startEcho } from '../support/echo-server.mjs';

const MESSAGES = Number(process.env.LONGPOLL_JS_LOSSY_MESSAGES ?? 500);
const SEEDS = (process.env.LONGPOLL_JS_LOSSY_SEEDS ?? '1,2,3').split(',').map(Number);
/** Per seed; generous, since every lost answer costs a backoff. */
const WAIT_MS = 60000 + MESSAGES * 50;

let server;
before(async () => {
  server = await startEcho(['--poll-timeout-ms', '1000', '--idle-timeout-ms', '4000']);
});
after(() => server?.stop());

/** mulberry32: a small seeded generator, so a failing seed can be replayed. */
function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A fetch that, for session requests (not the open), at random: fails before sending, lets
 * the server act and then loses the answer, sends a duplicate copy in the background, or
 * delays the answer. Counts what it did.
 */
function lossyFetch(random) {
  const faults = { requestLost: 0, answerLost: 0, duplicated: 0, delayed: 0, passed: 0 };
  const fetch = async (input, init = {}) => {
    const isOpen = init.method === 'POST' && !/\/[0-9a-f]{32}(\?|$)/.test(String(input));
    if (isOpen || init.method === 'DELETE') return globalThis.fetch(input, init);
    const roll = random();
    if (roll < 0.1) {
      faults.requestLost++;
      throw new TypeError('injected: request lost');
    }
    if (roll < 0.15) {
      faults.duplicated++;
      // A copy the client never sees: a retrying proxy, say. Its own answer is dropped.
      const { signal: _ignored, ...copy } = init;
      globalThis.fetch(input, copy).then(
        (r) => r.body?.cancel(),
        () => {},
      );
    }
    const response = await globalThis.fetch(input, init);
    if (roll >= 0.15 && roll < 0.3) {
      faults.answerLost++;
      await response.body?.cancel().catch(() => {});
      throw new TypeError('injected: answer lost after the server acted');
    }
    if (roll >= 0.3 && roll < 0.4) {
      faults.delayed++;
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 40)));
    } else {
      faults.passed++;
    }
    return response;
  };
  return { fetch, faults };
}

for (const seed of SEEDS) {
  test(`seed ${seed}: ${MESSAGES} messages each arrive once, in order, through a lossy network`, async () => {
    const random = seeded(seed);
    const { fetch, faults } = lossyFetch(random);
    const socket = new LongPoll(server.url, { fetch, backoffInitial: 5, backoffMax: 100, random });
    const log = new EventLog(socket);
    await log.waitFor('open', 15000);
    const sent = [];
    for (let i = 0; i < MESSAGES; i++) {
      const message =
        i % 7 === 3 ? new Uint8Array([i & 0xff, (i >> 8) & 0xff]) : `seed ${seed} message ${i}`;
      sent.push(typeof message === 'string' ? message : [...message]);
      socket.send(message);
      if (random() < 0.05)
        await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 30)));
    }
    const started = performance.now();
    while (log.messages.length < MESSAGES && !log.types.includes('close')) {
      assert.ok(
        performance.now() - started < WAIT_MS,
        `only ${log.messages.length} of ${MESSAGES} within ${WAIT_MS} ms`,
      );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(
      !log.types.includes('close'),
      `closed early: ${log.types.filter((t) => t !== 'message').join(', ')}`,
    );
    const received = log.messages.map((m) => (typeof m === 'string' ? m : [...new Uint8Array(m)]));
    assert.deepEqual(received, sent);
    // Let late duplicates arrive, if any were going to, then check nothing extra came.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(log.messages.length, MESSAGES);
    assert.ok(
      faults.requestLost + faults.answerLost + faults.duplicated > 0,
      'faults were injected',
    );
    socket.close(1000);
    await log.waitFor('close', WAIT_MS);
    console.log(`seed ${seed}: ${JSON.stringify(faults)}`);
  });
}
