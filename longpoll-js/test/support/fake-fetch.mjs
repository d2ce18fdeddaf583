// A scripted `fetch` for unit tests: every request waits until the test answers or fails it,
// so each test decides exactly what the client sees, in which order.

import { LongPoll, decodeFrames } from '../../longpoll.js';

export const SESSION_ID = '0123456789abcdef0123456789abcdef';
export const BASE = 'http://server.test/longpoll';

/** Bounds every wait in the unit tests: a test fails rather than hangs. */
export const WAIT_MS = 10000;

const everyFake = new Set();

/**
 * Ends every client a test left running (a failed assertion skips its own cleanup), so the
 * test process can exit: each fake answers all its requests `410` from now on, which ends
 * any session. Register with `afterEach(shutDownFakes)`.
 */
export function shutDownFakes() {
  for (const fake of everyFake) fake.shutDown();
  everyFake.clear();
}

export class FakeFetch {
  /** Every request issued, in order. */
  requests = [];
  #unclaimed = [];
  #waiters = [];
  #gone = false;

  constructor() {
    everyFake.add(this);
  }

  shutDown() {
    this.#gone = true;
    for (const request of this.requests) if (!request.settled) request.respond(410);
  }

  fetch = (input, init = {}) => {
    if (this.#gone) return Promise.resolve(new Response(null, { status: 410 }));
    const url = new URL(input);
    const request = {
      method: init.method ?? 'GET',
      url,
      path: url.pathname,
      query: url.searchParams,
      headers: new Headers(init.headers),
      body: init.body === undefined ? null : new Uint8Array(init.body),
      signal: init.signal,
      keepalive: init.keepalive === true,
      aborted: false,
      settled: false,
    };
    const promise = new Promise((resolve, reject) => {
      request.respond = (status, { headers = {}, body = null } = {}) => {
        request.settled = true;
        resolve(new Response(body, { status, headers }));
      };
      request.fail = (error = new TypeError('fetch failed')) => {
        request.settled = true;
        reject(error);
      };
      const onAbort = () => {
        request.aborted = true;
        request.settled = true;
        reject(init.signal.reason ?? new DOMException('aborted', 'AbortError'));
      };
      if (init.signal?.aborted) onAbort();
      else init.signal?.addEventListener('abort', onAbort, { once: true });
    });
    this.requests.push(request);
    const waiter = this.#waiters.findIndex((w) => w.matches(request));
    if (waiter >= 0) {
      const [{ resolve }] = this.#waiters.splice(waiter, 1);
      resolve(request);
    } else {
      this.#unclaimed.push(request);
    }
    return promise;
  };

  /**
   * The next request not yet taken that matches `method` (any if omitted), waiting for it
   * at most `ms`. Requests of other methods stay for their own `next` call.
   */
  next(method, ms = WAIT_MS) {
    const matches = (request) => method === undefined || request.method === method;
    const index = this.#unclaimed.findIndex(matches);
    if (index >= 0) return Promise.resolve(this.#unclaimed.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const waiter = {
        matches,
        resolve: (request) => {
          clearTimeout(timer);
          resolve(request);
        },
      };
      this.#waiters.push(waiter);
      const timer = setTimeout(() => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) {
          this.#waiters.splice(at, 1);
          reject(new Error(`no ${method ?? ''} request within ${ms} ms`));
        }
      }, ms);
    });
  }

  /** Whether a request of `method` arrives within `ms` (it is left untaken if so). */
  async arrivesWithin(method, ms) {
    try {
      const request = await this.next(method, ms);
      this.#unclaimed.unshift(request);
      return true;
    } catch {
      return false;
    }
  }
}

/** An open response body with short timeouts unless told otherwise. */
export function openBody(overrides = {}) {
  return JSON.stringify({
    protocol: 1,
    id: SESSION_ID,
    // Long enough that no deadline or give-up interferes with a test that does not want it,
    // however slow the machine; tests of those set their own.
    pollTimeoutMs: 10000,
    idleTimeoutMs: 20000,
    maxMessageBytes: 1024,
    maxBodyBytes: 4096,
    maxFramesPerRequest: 64,
    ...overrides,
  });
}

/** Records the events of a client, in order, and waits for them. */
export class EventLog {
  entries = [];
  #waiters = [];

  constructor(socket) {
    for (const type of ['open', 'message', 'error', 'close']) {
      socket.addEventListener(type, (event) => {
        this.entries.push({ type, event, readyState: socket.readyState });
        for (const waiter of [...this.#waiters]) waiter();
      });
    }
  }

  get types() {
    return this.entries.map((e) => e.type);
  }

  get messages() {
    return this.entries.filter((e) => e.type === 'message').map((e) => e.event.data);
  }

  /** Resolves with the first entry of `type` (waiting at most `ms`). */
  waitFor(type, ms = WAIT_MS) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.entries.find((e) => e.type === type);
        if (found) {
          this.#waiters.splice(this.#waiters.indexOf(check), 1);
          clearTimeout(timer);
          resolve(found.event);
          return true;
        }
        return false;
      };
      this.#waiters.push(check);
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(check), 1);
        reject(new Error(`no ${type} event within ${ms} ms; got ${this.types.join(', ')}`));
      }, ms);
      check();
    });
  }
}

/**
 * A client on a fake server, opened: returns `{fake, socket, log}` once `open` has fired
 * and the first poll is waiting (taken as `firstPoll`).
 */
export async function openClient({ params = {}, options = {}, url = BASE } = {}) {
  const fake = new FakeFetch();
  const socket = new LongPoll(url, {
    backoffInitial: 1,
    backoffMax: 20,
    ...options,
    fetch: fake.fetch,
  });
  const log = new EventLog(socket);
  const open = await fake.next('POST');
  open.respond(201, { headers: { 'Content-Type': 'application/json' }, body: openBody(params) });
  await log.waitFor('open');
  const firstPoll = await fake.next('GET');
  return { fake, socket, log, firstPoll };
}

/** Resolves once `condition()` holds, checking every few ms; fails after `ms`. */
export async function until(condition, what, ms = WAIT_MS) {
  const started = performance.now();
  while (!condition()) {
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await sleep(5);
  }
}

/** Concatenates frames into one body. */
export function body(...frames) {
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let offset = 0;
  for (const frame of frames) {
    out.set(frame, offset);
    offset += frame.length;
  }
  return out;
}

/** The frames of a request body, decoded. */
export function framesOf(request, maxMessageBytes = 1 << 20) {
  return decodeFrames(request.body ?? new Uint8Array(0), maxMessageBytes);
}

/** Answers a poll with frames numbered from `seq`. */
export function answerPoll(poll, seq, ...frames) {
  poll.respond(200, {
    headers: { 'Content-Type': 'application/octet-stream', 'Longpoll-Seq': String(seq) },
    body: body(...frames),
  });
}

export function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

export function fromHex(text) {
  return new Uint8Array(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Closes an open client and accepts its close frame: resolves with the close event. */
export async function closeCleanly(fake, socket, log, code, reason) {
  socket.close(code, reason);
  const send = await fake.next('POST');
  send.respond(204);
  return log.waitFor('close');
}
