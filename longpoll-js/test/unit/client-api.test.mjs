// The WebSocket surface: constructor, attributes, constants, handlers, close() validation.

import test, { afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { LongPoll, CloseEvent } from '../../longpoll.js';
import {
  BASE,
  EventLog,
  FakeFetch,
  closeCleanly,
  framesOf,
  openBody,
  openClient,
  shutDownFakes,
} from '../support/fake-fetch.mjs';

afterEach(shutDownFakes);

function domException(name) {
  return (error) => error instanceof DOMException && error.name === name;
}

test('has the WebSocket constants, statically and on instances', async () => {
  assert.deepEqual(
    [LongPoll.CONNECTING, LongPoll.OPEN, LongPoll.CLOSING, LongPoll.CLOSED],
    [0, 1, 2, 3],
  );
  const { fake, socket, log } = await openClient();
  assert.deepEqual([socket.CONNECTING, socket.OPEN, socket.CLOSING, socket.CLOSED], [0, 1, 2, 3]);
  assert.ok(socket instanceof EventTarget);
  await closeCleanly(fake, socket, log);
});

test('a relative URL outside a page is a SyntaxError, as are other schemes and fragments', () => {
  const fake = new FakeFetch();
  assert.throws(
    () => new LongPoll('/longpoll', { fetch: fake.fetch }),
    domException('SyntaxError'),
  );
  assert.throws(
    () => new LongPoll('ftp://server.test/longpoll', { fetch: fake.fetch }),
    domException('SyntaxError'),
  );
  assert.throws(
    () => new LongPoll('ws://server.test/longpoll', { fetch: fake.fetch }),
    domException('SyntaxError'),
  );
  assert.throws(
    () => new LongPoll(`${BASE}#x`, { fetch: fake.fetch }),
    domException('SyntaxError'),
  );
  assert.throws(() => new LongPoll(`${BASE}#`, { fetch: fake.fetch }), domException('SyntaxError'));
  assert.equal(fake.requests.length, 0, 'nothing was sent for a refused URL');
});

test('a relative URL resolves against location.href in a page', async () => {
  const fake = new FakeFetch();
  globalThis.location = { href: 'http://page.test/app/index.html' };
  try {
    const socket = new LongPoll('../longpoll/', { fetch: fake.fetch });
    assert.equal(socket.url, 'http://page.test/longpoll/');
    const open = await fake.next('POST');
    assert.equal(open.url.href, 'http://page.test/longpoll', '{base}/ is the same as {base}');
    socket.close();
  } finally {
    delete globalThis.location;
  }
});

test('WebSocket subprotocols are refused, an empty list is accepted, unknown options are errors', () => {
  const fake = new FakeFetch();
  assert.throws(() => new LongPoll(BASE, 'chat'), domException('NotSupportedError'));
  assert.throws(() => new LongPoll(BASE, ['chat', 'v2']), domException('NotSupportedError'));
  assert.throws(() => new LongPoll(BASE, { fetch: fake.fetch, backofInitial: 5 }), TypeError);
  assert.throws(() => new LongPoll(BASE, { fetch: fake.fetch, requestGrace: -1 }), TypeError);
  assert.throws(() => new LongPoll(BASE, { fetch: 'nope' }), TypeError);
  assert.equal(fake.requests.length, 0);
  const realFetch = globalThis.fetch;
  globalThis.fetch = fake.fetch;
  try {
    const accepted = new LongPoll(BASE, []);
    assert.equal(fake.requests.length, 1, 'opening with the global fetch');
    accepted.close();
  } finally {
    globalThis.fetch = realFetch;
  }
});

test('attributes before and after opening', async () => {
  const fake = new FakeFetch();
  const socket = new LongPoll(`${BASE}?token=abc`, { fetch: fake.fetch });
  const log = new EventLog(socket);
  assert.equal(socket.readyState, LongPoll.CONNECTING);
  assert.equal(socket.url, `${BASE}?token=abc`);
  assert.equal(socket.protocol, '');
  assert.equal(socket.extensions, '');
  assert.equal(socket.bufferedAmount, 0);
  assert.equal(socket.binaryType, 'arraybuffer');
  socket.binaryType = 'blob';
  assert.equal(socket.binaryType, 'blob');
  socket.binaryType = 'nonsense';
  assert.equal(socket.binaryType, 'blob', 'an unknown binaryType is ignored');
  assert.throws(() => socket.send('too early'), domException('InvalidStateError'));
  assert.equal(socket.bufferedAmount, 0);

  const open = await fake.next('POST');
  assert.equal(open.url.href, `${BASE}?token=abc`);
  assert.equal(open.body, null);
  open.respond(201, { body: openBody() });
  await log.waitFor('open');
  assert.equal(socket.readyState, LongPoll.OPEN);
  const poll = await fake.next('GET');
  assert.equal(
    poll.url.href,
    `${BASE}/0123456789abcdef0123456789abcdef?token=abc&ack=0`,
    'own query kept',
  );
  await closeCleanly(fake, socket, log);
});

test('close() validates code and reason like WebSocket', async () => {
  const { fake, socket, log } = await openClient();
  for (const code of [0, 999, 1001, 1005, 1006, 2999, 5000, 65535, 'x']) {
    assert.throws(() => socket.close(code), domException('InvalidAccessError'), `code ${code}`);
  }
  assert.throws(() => socket.close(1000, 'a'.repeat(124)), domException('SyntaxError'));
  assert.throws(() => socket.close(4000, 'é'.repeat(62)), domException('SyntaxError'), '124 bytes');
  assert.equal(socket.readyState, LongPoll.OPEN, 'a refused close changes nothing');
  socket.close(4999, 'é'.repeat(61) + 'a');
  assert.equal(socket.readyState, LongPoll.CLOSING);
  socket.close(1000); // a second close does nothing
  assert.equal(socket.readyState, LongPoll.CLOSING);
  assert.throws(() => socket.close(1), domException('InvalidAccessError'), 'still validated');
  const send = await fake.next('POST');
  assert.deepEqual(framesOf(send), [{ type: 'close', code: 4999, reason: 'é'.repeat(61) + 'a' }]);
  send.respond(204);
  const close = await log.waitFor('close');
  assert.equal(close.code, 4999);
  assert.equal(close.reason, 'é'.repeat(61) + 'a');
});

test('on* handlers and listeners both fire; a null handler is removed', async () => {
  const fake = new FakeFetch();
  const socket = new LongPoll(BASE, { fetch: fake.fetch });
  const seen = [];
  socket.onopen = function (event) {
    seen.push(['onopen', this === socket, event.type]);
  };
  socket.addEventListener('open', () => seen.push(['listener']));
  const removed = () => seen.push(['removed']);
  socket.onerror = removed;
  assert.equal(socket.onerror, removed);
  socket.onerror = null;
  assert.equal(socket.onerror, null);
  socket.onclose = 'not a function';
  assert.equal(socket.onclose, null);
  const log = new EventLog(socket);
  (await fake.next('POST')).respond(201, { body: openBody() });
  await log.waitFor('open');
  assert.deepEqual(seen.slice(0, 2), [['onopen', true, 'open'], ['listener']]);
  await closeCleanly(fake, socket, log);
  assert.ok(!seen.some(([what]) => what === 'removed'));
});

test('CloseEvent carries code, reason and wasClean', () => {
  const event = new CloseEvent('close', { code: 4000, reason: 'requested', wasClean: true });
  assert.equal(event.type, 'close');
  assert.equal(event.code, 4000);
  assert.equal(event.reason, 'requested');
  assert.equal(event.wasClean, true);
  const bare = new CloseEvent('close');
  assert.equal(bare.code, 0);
  assert.equal(bare.reason, '');
  assert.equal(bare.wasClean, false);
});
