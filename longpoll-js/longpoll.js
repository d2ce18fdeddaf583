// longpoll-js: a browser (and Node 20+) client for longpoll protocol v1 with the WebSocket
// interface. Dependency-free ES module. PROTOCOL.md (section 9) is the contract it follows;
// section numbers in comments refer to it.

// ----- frames (section 7) ------------------------------------------------------------------

const KIND_TEXT = 0x01;
const KIND_BINARY = 0x02;
const KIND_CLOSE = 0x03;

/** Bytes of a frame header: kind (1) + big-endian payload length (4). */
export const FRAME_HEADER_BYTES = 5;
/** Largest close frame payload, whatever `maxMessageBytes` is. */
export const MAX_CLOSE_PAYLOAD_BYTES = 125;
/** Largest close reason in UTF-8 bytes (125 minus the 2-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123;

const textEncoder = new TextEncoder();
// `fatal`: invalid UTF-8 from the server is a protocol error, never silently replaced.
// `ignoreBOM`: a text message that starts with U+FEFF keeps it.
const textDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A body that is not a valid frame sequence (`tooLarge`: a declared length over the limit). */
export class FrameError extends Error {
  /**
   * @param {string} message
   * @param {boolean} tooLarge
   */
  constructor(message, tooLarge = false) {
    super(message);
    this.name = 'FrameError';
    this.tooLarge = tooLarge;
  }
}

function encodeFrame(kind, payload) {
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  frame[0] = kind;
  new DataView(frame.buffer).setUint32(1, payload.length);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** The frame of a text message (lone surrogates become U+FFFD, as WebSocket does). */
export function encodeTextFrame(text) {
  return encodeFrame(KIND_TEXT, textEncoder.encode(String(text)));
}

/** The frame of a binary message. */
export function encodeBinaryFrame(bytes) {
  return encodeFrame(KIND_BINARY, bytes);
}

/** Cuts UTF-8 `bytes` to at most `max` bytes at a character boundary. */
function truncateUtf8(bytes, max) {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/**
 * A close frame: empty without a code, else the code and the reason cut to 123 bytes at a
 * character boundary (section 7.1).
 */
export function encodeCloseFrame(code, reason = '') {
  if (code === undefined || code === null) return encodeFrame(KIND_CLOSE, new Uint8Array(0));
  const reasonBytes = truncateUtf8(textEncoder.encode(String(reason)), MAX_CLOSE_REASON_BYTES);
  const payload = new Uint8Array(2 + reasonBytes.length);
  payload[0] = (code >> 8) & 0xff;
  payload[1] = code & 0xff;
  payload.set(reasonBytes, 2);
  return encodeFrame(KIND_CLOSE, payload);
}

function decodeUtf8(bytes, what) {
  try {
    return textDecoder.decode(bytes);
  } catch {
    throw new FrameError(`${what} is not valid UTF-8`);
  }
}

/**
 * Decodes a body (section 7.3). Returns `{type: 'text', data: string}`,
 * `{type: 'binary', data: Uint8Array}` (a view into `body`) and
 * `{type: 'close', code: number | undefined, reason: string}` items; throws `FrameError`.
 *
 * @param {Uint8Array} body
 * @param {number} maxMessageBytes largest text or binary payload
 */
export function decodeFrames(body, maxMessageBytes) {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const frames = [];
  let offset = 0;
  while (offset < body.length) {
    if (body.length - offset < FRAME_HEADER_BYTES) {
      throw new FrameError(`truncated frame header at byte ${offset}`);
    }
    const kind = body[offset];
    const len = view.getUint32(offset + 1);
    if (kind !== KIND_TEXT && kind !== KIND_BINARY && kind !== KIND_CLOSE) {
      throw new FrameError(`unknown frame kind 0x${kind.toString(16).padStart(2, '0')}`);
    }
    const limit = kind === KIND_CLOSE ? MAX_CLOSE_PAYLOAD_BYTES : maxMessageBytes;
    if (len > limit) {
      throw new FrameError(`frame payload of ${len} bytes is over the limit of ${limit}`, true);
    }
    const start = offset + FRAME_HEADER_BYTES;
    if (body.length - start < len) throw new FrameError(`truncated frame payload at byte ${start}`);
    const payload = body.subarray(start, start + len);
    offset = start + len;
    let frame;
    if (kind === KIND_TEXT) {
      frame = { type: 'text', data: decodeUtf8(payload, 'a text frame') };
    } else if (kind === KIND_BINARY) {
      frame = { type: 'binary', data: payload };
    } else if (len === 0) {
      frame = { type: 'close', code: undefined, reason: '' };
    } else if (len === 1) {
      throw new FrameError('a close frame payload of 1 byte');
    } else {
      const code = (payload[0] << 8) | payload[1];
      frame = { type: 'close', code, reason: decodeUtf8(payload.subarray(2), 'a close reason') };
    }
    if (frames.length > 0 && frames[frames.length - 1].type === 'close') {
      throw new FrameError('a frame after the close frame');
    }
    frames.push(frame);
  }
  return frames;
}

// ----- the open response (section 3.1) ------------------------------------------------------

const U64_MAX = 18446744073709551615n;
const NUMBER_KEYS = [
  'protocol',
  'pollTimeoutMs',
  'idleTimeoutMs',
  'maxMessageBytes',
  'maxBodyBytes',
  'maxFramesPerRequest',
];

/** The server refused to speak protocol v1 properly; the session cannot go on. */
class ProtocolError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

function skipWhitespace(text, i) {
  while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  return i;
}

function skipString(text, i) {
  for (let j = i + 1; ; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j + 1;
  }
}

function skipValue(text, i) {
  const first = text[i];
  if (first === '"') return skipString(text, i);
  if (first === '{' || first === '[') {
    let depth = 0;
    for (let j = i; ; j++) {
      const c = text[j];
      if (c === '"') j = skipString(text, j) - 1;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
  }
  let j = i;
  while (j < text.length && !',}] \t\n\r'.includes(text[j])) j++;
  return j;
}

/**
 * The raw source text of each member of a JSON object, by key (the last one wins, as with
 * `JSON.parse`). `text` must already be known to be a valid JSON object. The raw text is
 * needed because section 3.1 constrains how numbers are written (no fraction, no exponent).
 */
function rawMembers(text) {
  const members = new Map();
  let i = skipWhitespace(text, skipWhitespace(text, 0) + 1);
  if (text[i] === '}') return members;
  for (;;) {
    const keyEnd = skipString(text, i);
    const key = JSON.parse(text.slice(i, keyEnd));
    i = skipWhitespace(text, skipWhitespace(text, keyEnd) + 1);
    const valueEnd = skipValue(text, i);
    members.set(key, text.slice(i, valueEnd));
    i = skipWhitespace(text, valueEnd);
    if (text[i] !== ',') return members;
    i = skipWhitespace(text, i + 1);
  }
}

/**
 * Parses and validates an open response body (section 3.1). Throws when the session must be
 * refused. Numbers above `Number.MAX_SAFE_INTEGER` are clamped to it (they are limits).
 *
 * @param {string} text
 * @returns {{id: string, pollTimeoutMs: number, idleTimeoutMs: number, maxMessageBytes: number,
 *   maxBodyBytes: number, maxFramesPerRequest: number}}
 */
export function parseOpenResponse(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ProtocolError('the open response is not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ProtocolError('the open response is not a JSON object');
  }
  const members = rawMembers(text);
  const numbers = {};
  for (const key of NUMBER_KEYS) {
    const raw = members.get(key);
    if (raw === undefined) throw new ProtocolError(`the open response has no "${key}"`);
    if (!/^[0-9]+$/.test(raw) || BigInt(raw) > U64_MAX) {
      throw new ProtocolError(`the open response's "${key}" is not an unsigned integer: ${raw}`);
    }
    numbers[key] = Math.min(Number(raw), Number.MAX_SAFE_INTEGER);
  }
  if (numbers.protocol !== 1) {
    throw new ProtocolError(`the server speaks protocol ${numbers.protocol}, not 1`);
  }
  const rawId = members.get('id');
  if (rawId === undefined) throw new ProtocolError('the open response has no "id"');
  if (!/^"[0-9a-f]{32}"$/.test(rawId)) {
    throw new ProtocolError(`the open response's "id" is not 32 lowercase hex digits: ${rawId}`);
  }
  return {
    id: rawId.slice(1, -1),
    pollTimeoutMs: numbers.pollTimeoutMs,
    idleTimeoutMs: numbers.idleTimeoutMs,
    maxMessageBytes: numbers.maxMessageBytes,
    maxBodyBytes: numbers.maxBodyBytes,
    maxFramesPerRequest: numbers.maxFramesPerRequest,
  };
}

// ----- events --------------------------------------------------------------------------------

/** `CloseEvent` where the platform has none (Node 20). */
class CloseEventFallback extends Event {
  #wasClean;
  #code;
  #reason;

  constructor(type, init = {}) {
    super(type, init);
    this.#wasClean = Boolean(init.wasClean);
    this.#code = Number(init.code ?? 0) & 0xffff;
    this.#reason = String(init.reason ?? '');
  }

  get wasClean() {
    return this.#wasClean;
  }

  get code() {
    return this.#code;
  }

  get reason() {
    return this.#reason;
  }
}

/** The platform's `CloseEvent`, or an equivalent where there is none (Node 20). */
const CloseEventClass = globalThis.CloseEvent ?? CloseEventFallback;
export { CloseEventClass as CloseEvent };

// ----- options -------------------------------------------------------------------------------

const DEFAULT_OPTIONS = Object.freeze({
  backoffInitial: 100,
  backoffMax: 5000,
  requestGrace: 5000,
  openTimeout: 10000,
  deleteTimeout: 5000,
  outboundMaxBytes: 16 * 1024 * 1024,
  outboundMaxMessages: 65536,
  maxResponseBytes: 64 * 1024 * 1024,
  closeOnPageHide: true,
  ackOnSend: true,
});

const DURATION_OPTIONS = [
  'backoffInitial',
  'backoffMax',
  'requestGrace',
  'openTimeout',
  'deleteTimeout',
];
const COUNT_OPTIONS = ['outboundMaxBytes', 'outboundMaxMessages', 'maxResponseBytes'];

/** Largest open response body read (the JSON is a few hundred bytes). */
const MAX_OPEN_RESPONSE_BYTES = 64 * 1024;
/** Largest error body read for an error message. */
const MAX_ERROR_TEXT_BYTES = 1024;
/** setTimeout's largest delay. */
const MAX_TIMER_DELAY = 0x7fffffff;

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function readOptions(second) {
  const options = { ...DEFAULT_OPTIONS, fetch: undefined, random: Math.random };
  if (second === undefined || second === null) {
    // nothing given
  } else if (isPlainObject(second)) {
    for (const [key, value] of Object.entries(second)) {
      if (value === undefined) continue;
      if (key === 'fetch' || key === 'random') {
        if (typeof value !== 'function')
          throw new TypeError(`LongPoll: option "${key}" must be a function`);
      } else if (key === 'closeOnPageHide' || key === 'ackOnSend') {
        if (typeof value !== 'boolean')
          throw new TypeError(`LongPoll: option "${key}" must be a boolean`);
      } else if (DURATION_OPTIONS.includes(key) || COUNT_OPTIONS.includes(key)) {
        const min = COUNT_OPTIONS.includes(key) ? 1 : 0;
        if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
          throw new TypeError(
            `LongPoll: option "${key}" must be a finite number >= ${min}, got ${String(value)}`,
          );
        }
      } else {
        throw new TypeError(`LongPoll: unknown option "${key}"`);
      }
      options[key] = value;
    }
  } else {
    // WebSocket subprotocols: a string or a list of strings. There is nothing to negotiate
    // them with, and silently dropping one the application relies on would hide a bug.
    const list = typeof second === 'string' ? [second] : Array.from(second);
    if (list.length > 0) {
      throw new DOMException(
        'LongPoll does not support WebSocket subprotocols',
        'NotSupportedError',
      );
    }
  }
  if (options.fetch === undefined) {
    if (typeof globalThis.fetch !== 'function') {
      throw new TypeError('LongPoll: no global fetch; pass the "fetch" option');
    }
    // Called through a wrapper: browsers refuse `fetch` invoked with another `this`.
    options.fetch = (input, init) => globalThis.fetch(input, init);
  }
  return options;
}

// ----- URLs ----------------------------------------------------------------------------------

function resolveUrl(url) {
  const text = String(url);
  const pageHref = globalThis.location?.href;
  let parsed;
  try {
    parsed = pageHref === undefined ? new URL(text) : new URL(text, pageHref);
  } catch {
    const hint = pageHref === undefined ? ' (outside a page, the URL must be absolute)' : '';
    throw new DOMException(`LongPoll: invalid URL ${JSON.stringify(text)}${hint}`, 'SyntaxError');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new DOMException(
      `LongPoll: the URL's scheme must be http or https, not ${JSON.stringify(parsed.protocol)}`,
      'SyntaxError',
    );
  }
  if (parsed.href.includes('#')) {
    throw new DOMException('LongPoll: the URL must not have a fragment', 'SyntaxError');
  }
  return parsed;
}

// ----- HTTP helpers --------------------------------------------------------------------------

/** A response body over the client's limit. */
class ResponseTooLarge extends Error {
  constructor(limit) {
    super(`a response body is over the limit of ${limit} bytes`);
    this.name = 'ResponseTooLarge';
  }
}

async function readBody(response, limit) {
  const declared = Number(response.headers.get('content-length'));
  if (declared > limit) {
    discardBody(response);
    throw new ResponseTooLarge(limit);
  }
  if (!response.body) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > limit) throw new ResponseTooLarge(limit);
    return bytes;
  }
  const reader = response.body.getReader();
  const chunks = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      reader.cancel().catch(() => {});
      throw new ResponseTooLarge(limit);
    }
    chunks.push(value);
  }
  return concat(chunks, total);
}

function concat(chunks, total) {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/** Frees the connection of an answer whose body does not matter. */
function discardBody(response) {
  try {
    response.body?.cancel().catch(() => {});
  } catch {
    // a body already used or locked: nothing to free
  }
}

/** The body of an error answer, for the error message only (section 2.3: never parsed). */
async function errorText(response) {
  try {
    const bytes = await readBody(response, MAX_ERROR_TEXT_BYTES);
    return new TextDecoder().decode(bytes).trim();
  } catch {
    return '';
  }
}

/** An unsigned decimal header value (`Longpoll-Seq`, `Retry-After`), or undefined. */
function decimalHeader(headers, name) {
  const value = headers.get(name);
  if (value === null) return undefined;
  const trimmed = value.trim();
  return /^[0-9]{1,20}$/.test(trimmed) ? Number(trimmed) : undefined;
}

function describeFailure(error) {
  if (error instanceof Error)
    return error.cause?.message ? `${error.message}: ${error.cause.message}` : error.message;
  return String(error);
}

// ----- the client ----------------------------------------------------------------------------

const CONNECTING = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

const CLOSE_ABNORMAL = 1006;
const CLOSE_NO_STATUS = 1005;
const CLOSE_GOING_AWAY = 1001;
const CLOSE_TOO_BIG = 1009;

/** One request kind's state (section 9.5): what is in flight, when to retry, failures. */
class Slot {
  /**
   * The request in flight: its AbortController, when it was issued, its deadline and, for a
   * send, how many frames and payload bytes it carries and whether the close frame is among
   * them.
   */
  inFlight = null;
  /** @type {null | number} */
  retryAt = null;
  failures = 0;
  /** Consecutive poll `409`s (section 9.4). */
  conflicts = 0;

  idle(now) {
    return this.inFlight === null && (this.retryAt === null || this.retryAt <= now);
  }

  succeeded() {
    this.retryAt = null;
    this.failures = 0;
    this.conflicts = 0;
  }
}

/**
 * A longpoll protocol v1 session with the browser `WebSocket` interface.
 *
 * ```js
 * const socket = new LongPoll('/longpoll'); // was: new WebSocket('wss://example.com/ws')
 * socket.onmessage = (event) => console.log(event.data);
 * socket.onopen = () => socket.send('hello');
 * ```
 */
export class LongPoll extends EventTarget {
  static CONNECTING = CONNECTING;
  static OPEN = OPEN;
  static CLOSING = CLOSING;
  static CLOSED = CLOSED;

  #options;
  #fetch;
  #url;
  /** The protocol base URL ({base}): the given URL without a trailing slash. */
  #baseUrl;
  #readyState = CONNECTING;
  #binaryType = 'arraybuffer';
  /** 'connecting' | 'open' | 'closing' | 'closed': where the protocol is, ahead of readyState. */
  #state = 'connecting';
  #openController = null;
  #params = null;

  // Receiving (section 9.3).
  #received = 0;
  #poll = new Slot();

  // Sending (section 9.6). `#pending`: the application's sends not yet numbered (a Blob being
  // read holds back the ones after it); `#outbound`: numbered frames not yet acknowledged.
  #pending = [];
  #outbound = [];
  #nextSeq = 0;
  #send = new Slot();
  /** A send was answered 404/410: the server is closing or has ended the session. */
  #sendsRefused = false;
  #bytesQueued = 0;
  #bytesAcknowledged = 0;
  #ownClose = null;

  /** When the server last showed it is alive (section 9.8). */
  #lastSign = 0;
  #timer = null;
  #pumpQueued = false;
  #handlers = new Map();
  #pageHideListener = null;

  /**
   * @param {string | URL} url the protocol's mount path (`/longpoll`), absolute or relative to
   *   the page
   * @param {object | string | string[]} [options] longpoll options (see the README); WebSocket
   *   subprotocols are not supported: a non-empty list throws `NotSupportedError`
   */
  constructor(url, options) {
    super();
    this.#options = readOptions(options);
    this.#fetch = this.#options.fetch;
    this.#url = resolveUrl(url);
    const base = new URL(this.#url.href);
    if (base.pathname.endsWith('/')) base.pathname = base.pathname.slice(0, -1);
    this.#baseUrl = base;
    this.#openSession();
  }

  // ----- the WebSocket interface --------------------------------------------------------

  get url() {
    return this.#url.href;
  }

  get readyState() {
    return this.#readyState;
  }

  /** Always `""`: there is no subprotocol negotiation. */
  get protocol() {
    return '';
  }

  /** Always `""`: there are no extensions. */
  get extensions() {
    return '';
  }

  get binaryType() {
    return this.#binaryType;
  }

  set binaryType(value) {
    // As with WebSocket, values other than the two known ones are ignored.
    if (value === 'blob' || value === 'arraybuffer') this.#binaryType = value;
  }

  /** Payload bytes passed to `send` and not yet acknowledged by the server (a `204`). */
  get bufferedAmount() {
    return this.#bytesQueued - this.#bytesAcknowledged;
  }

  get onopen() {
    return this.#handlers.get('open')?.handler ?? null;
  }

  set onopen(value) {
    this.#setHandler('open', value);
  }

  get onmessage() {
    return this.#handlers.get('message')?.handler ?? null;
  }

  set onmessage(value) {
    this.#setHandler('message', value);
  }

  get onerror() {
    return this.#handlers.get('error')?.handler ?? null;
  }

  set onerror(value) {
    this.#setHandler('error', value);
  }

  get onclose() {
    return this.#handlers.get('close')?.handler ?? null;
  }

  set onclose(value) {
    this.#setHandler('close', value);
  }

  /**
   * Queues a message. Throws `InvalidStateError` while connecting; dropped (but counted in
   * `bufferedAmount`) once closing or closed, as with WebSocket. A message over the server's
   * `maxMessageBytes` closes the session with code 1009.
   *
   * @param {string | ArrayBuffer | ArrayBufferView | Blob} data
   */
  send(data) {
    if (this.#readyState === CONNECTING) {
      throw new DOMException('LongPoll: send() before the session is open', 'InvalidStateError');
    }
    const item = toOutgoing(data);
    this.#bytesQueued += item.size;
    if (this.#state !== 'open' || this.#sendsRefused) return;
    if (item.size > this.#params.maxMessageBytes) {
      this.#startClose(CLOSE_TOO_BIG, 'message too big');
      return;
    }
    const buffered = this.bufferedAmount - item.size;
    const messages = this.#pending.length + this.#outbound.length;
    if (
      buffered > 0 &&
      (buffered + item.size > this.#options.outboundMaxBytes ||
        messages + 1 > this.#options.outboundMaxMessages)
    ) {
      this.#fail('the outbound buffer is full (see bufferedAmount)', true);
      return;
    }
    this.#pending.push(item);
    if (item.blob) {
      item.blob.arrayBuffer().then(
        (buffer) => {
          item.frame = encodeBinaryFrame(new Uint8Array(buffer));
          this.#numberPending();
          this.#requestPump();
        },
        (error) => this.#fail(`could not read a Blob: ${describeFailure(error)}`, true),
      );
    }
    this.#numberPending();
    this.#requestPump();
  }

  /**
   * Closes the session: messages sent before are delivered first, then a close frame with
   * `code` and `reason`. Same validation as WebSocket.
   *
   * @param {number} [code] 1000 or 3000-4999
   * @param {string} [reason] at most 123 bytes of UTF-8
   */
  close(code, reason) {
    let closeCode;
    if (code !== undefined) {
      closeCode = clampToUnsignedShort(code);
      if (closeCode !== 1000 && (closeCode < 3000 || closeCode > 4999)) {
        throw new DOMException(
          `LongPoll: close code must be 1000 or 3000-4999, got ${closeCode}`,
          'InvalidAccessError',
        );
      }
    }
    let closeReason = '';
    if (reason !== undefined) {
      closeReason = String(reason);
      const bytes = textEncoder.encode(closeReason).length;
      if (bytes > MAX_CLOSE_REASON_BYTES) {
        throw new DOMException(
          `LongPoll: close reason is ${bytes} bytes of UTF-8, more than ${MAX_CLOSE_REASON_BYTES}`,
          'SyntaxError',
        );
      }
      closeCode ??= 1000; // a reason needs a code to travel with, as in WebSocket
    }
    if (this.#readyState === CLOSING || this.#readyState === CLOSED) return;
    if (this.#state === 'connecting') {
      this.#finish({
        code: CLOSE_ABNORMAL,
        wasClean: false,
        error: 'closed before the session was open',
      });
      return;
    }
    this.#startClose(closeCode, closeReason);
  }

  // ----- opening (section 9.1) --------------------------------------------------------------

  async #openSession() {
    const controller = new AbortController();
    this.#openController = controller;
    const timer = setTimeout(
      () => controller.abort(new DOMException('the open request timed out', 'TimeoutError')),
      this.#options.openTimeout,
    );
    let params;
    let failure;
    try {
      const response = await this.#fetch(this.#baseUrl.href, {
        method: 'POST',
        signal: controller.signal,
      });
      if (response.status < 200 || response.status > 299) {
        const text = await errorText(response);
        failure = `the server refused to open a session: ${response.status} ${text}`.trim();
      } else {
        const body = await readBody(response, MAX_OPEN_RESPONSE_BYTES);
        params = parseOpenResponse(new TextDecoder().decode(body));
      }
    } catch (error) {
      failure = `could not open a session: ${describeFailure(error)}`;
    } finally {
      clearTimeout(timer);
      this.#openController = null;
    }
    if (this.#state !== 'connecting') {
      // Closed while opening; a session the server opened anyway is ended at once.
      if (params) this.#deleteSession(params.id);
      return;
    }
    if (failure !== undefined) {
      this.#finish({ code: CLOSE_ABNORMAL, wasClean: false, error: failure });
      return;
    }
    this.#params = params;
    this.#state = 'open';
    this.#readyState = OPEN;
    this.#lastSign = now();
    this.#watchPageHide();
    this.dispatchEvent(new Event('open'));
    this.#pump();
  }

  // ----- the request loop -------------------------------------------------------------------

  #requestPump() {
    if (this.#pumpQueued) return;
    this.#pumpQueued = true;
    // Later, not now: send() may be called from a message handler in the middle of a batch.
    queueMicrotask(() => {
      this.#pumpQueued = false;
      this.#pump();
    });
  }

  /** Abandons overdue requests, gives up if due, issues what is due, sets the timer. */
  #pump() {
    if (this.#state !== 'open' && this.#state !== 'closing') return;
    const at = now();
    for (const slot of [this.#poll, this.#send]) {
      const flight = slot.inFlight;
      if (flight !== null && flight.deadline <= at) {
        // Abandoned at its deadline: a failure, retried at once (section 9.2).
        slot.inFlight = null;
        slot.failures++;
        slot.retryAt = null;
        flight.controller.abort(new DOMException('request deadline passed', 'TimeoutError'));
      }
      if (slot.retryAt !== null && slot.retryAt <= at) slot.retryAt = null;
    }
    const giveUpAt = this.#giveUpAt();
    if (giveUpAt !== null && giveUpAt <= at) {
      this.#fail('the server has not answered for too long (idle timeout)', true);
      return;
    }
    if (this.#state === 'open' && this.#poll.idle(at)) this.#issuePoll(at);
    if (!this.#sendsRefused && this.#outbound.length > 0 && this.#send.idle(at)) {
      this.#issueSend(at);
    }
    this.#setTimer(at);
  }

  #giveUpAt() {
    if (this.#poll.inFlight !== null || this.#send.inFlight !== null) return null;
    return this.#lastSign + this.#params.pollTimeoutMs + this.#params.idleTimeoutMs;
  }

  #setTimer(at) {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const times = [this.#giveUpAt()];
    for (const slot of [this.#poll, this.#send])
      times.push(slot.inFlight?.deadline ?? null, slot.retryAt);
    const next = Math.min(...times.filter((t) => t !== null));
    if (!Number.isFinite(next)) return;
    const delay = Math.min(Math.max(0, Math.ceil(next - at)), MAX_TIMER_DELAY);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#pump();
    }, delay);
  }

  /** Every request's deadline: the poll hold plus the capped grace (section 9.2). */
  #requestDeadline(at) {
    const { pollTimeoutMs, idleTimeoutMs } = this.#params;
    const grace = Math.min(
      this.#options.requestGrace,
      Math.max(0, idleTimeoutMs - pollTimeoutMs) / 2,
    );
    return at + pollTimeoutMs + grace;
  }

  #sessionUrl(query) {
    const url = new URL(this.#baseUrl.href);
    url.pathname = `${url.pathname}/${this.#params.id}`;
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    return url.href;
  }

  #issue(slot, at, url, init, extra) {
    const controller = new AbortController();
    const flight = {
      controller,
      issuedAt: at,
      deadline: this.#requestDeadline(at),
      frames: 0,
      payload: 0,
      carriesClose: false,
      ...extra,
    };
    slot.inFlight = flight;
    // A poll's `200` carries frames, and so does a send's when it carried `ack` (5.3).
    const wantsBody = slot === this.#poll || this.#options.ackOnSend;
    // `no-store`: a poll URL repeats (same ack), and a cached answer would be stale.
    // Through a promise: an injected fetch that throws counts as a failed request.
    new Promise((resolve) =>
      resolve(this.#fetch(url, { ...init, cache: 'no-store', signal: controller.signal })),
    )
      .then(async (response) => {
        const answer = { status: response.status, headers: response.headers, body: null, text: '' };
        if (wantsBody && response.status === 200) {
          const limit = Math.max(
            this.#options.maxResponseBytes,
            this.#params.maxMessageBytes + FRAME_HEADER_BYTES,
          );
          answer.body = await readBody(response, limit);
        } else if ([400, 413, 415].includes(response.status)) {
          answer.text = await errorText(response);
        } else {
          discardBody(response);
        }
        return answer;
      })
      .then(
        (answer) => this.#answered(slot, flight, answer),
        (error) => this.#failed(slot, flight, error),
      );
  }

  #issuePoll(at) {
    const url = this.#sessionUrl({ ack: String(this.#received) });
    this.#issue(this.#poll, at, url, { method: 'GET' }, {});
  }

  #issueSend(at) {
    // From the oldest unacknowledged frame, within the server's limits, at least one (9.6).
    const { maxFramesPerRequest, maxBodyBytes } = this.#params;
    const frames = [];
    let bytes = 0;
    let payload = 0;
    for (const entry of this.#outbound) {
      if (
        frames.length > 0 &&
        (frames.length >= maxFramesPerRequest || bytes + entry.frame.length > maxBodyBytes)
      ) {
        break;
      }
      frames.push(entry.frame);
      bytes += entry.frame.length;
      payload += entry.size;
    }
    const first = this.#outbound[0];
    const last = this.#outbound[frames.length - 1];
    // With `ack`, the server may answer with the replies to these frames (section 5.3).
    const query = { seq: String(first.seq) };
    if (this.#options.ackOnSend) query.ack = String(this.#received);
    const url = this.#sessionUrl(query);
    const init = {
      method: 'POST',
      headers: { 'Content-Type': 'application/octet-stream' },
      body: concat(frames, bytes),
    };
    this.#issue(this.#send, at, url, init, {
      frames: frames.length,
      payload,
      carriesClose: last.close,
    });
  }

  #answered(slot, flight, answer) {
    if (this.#state === 'closed') return;
    const at = now();
    // A protocol answer shows the server is alive; so does any answer (a proxy's 504, say)
    // to a request something held for half the poll hold (9.8).
    if (isProtocolAnswer(answer) || at - flight.issuedAt >= this.#params.pollTimeoutMs / 2) {
      this.#lastSign = at;
    }
    if (slot.inFlight !== flight) return;
    slot.inFlight = null;
    if (slot === this.#poll) this.#pollAnswered(at, answer);
    else this.#sendAnswered(at, flight, answer);
    this.#pump();
  }

  #failed(slot, flight, error) {
    if (this.#state === 'closed' || slot.inFlight !== flight) return;
    slot.inFlight = null;
    if (error instanceof ResponseTooLarge) {
      this.#fail(`protocol error: ${error.message}`, true);
      return;
    }
    const at = now();
    // Held that long, then cut: something between us and a live server did it (9.8).
    if (at - flight.issuedAt >= this.#params.pollTimeoutMs / 2) this.#lastSign = at;
    this.#retryAfterBackoff(slot, at, undefined);
    this.#pump();
  }

  #retryAfterBackoff(slot, at, retryAfterMs) {
    slot.retryAt = at + this.#backoff(slot.failures, retryAfterMs);
    slot.failures++;
  }

  /** Section 9.5: exponential, jittered in [0.5, 1), capped; never below Retry-After. */
  #backoff(failures, retryAfterMs) {
    const quarterIdle = this.#params.idleTimeoutMs / 4;
    const cap = Math.min(this.#options.backoffMax, quarterIdle);
    const exponential = Math.min(this.#options.backoffInitial * 2 ** Math.min(failures, 30), cap);
    const random = Math.min(Math.max(Number(this.#options.random()) || 0, 0), 0.999999);
    const jitter = 0.5 + random / 2;
    return Math.max(exponential * jitter, Math.min(retryAfterMs ?? 0, quarterIdle));
  }

  // ----- answers (section 9.4) -------------------------------------------------------------

  #pollAnswered(at, answer) {
    const slot = this.#poll;
    switch (answer.status) {
      case 200:
        slot.succeeded();
        this.#takeFrames(answer);
        return;
      case 204:
        slot.succeeded();
        return;
      case 409: {
        // Superseded by a late copy of our own poll: again at once the first time, then
        // with backoff, so two clients sharing a session cannot spin.
        const conflicts = slot.conflicts + 1;
        slot.succeeded();
        slot.conflicts = conflicts;
        if (conflicts > 1) slot.retryAt = at + this.#backoff(conflicts - 2, undefined);
        return;
      }
      case 404:
      case 410:
        this.#fail(`the session is gone (the server answered a poll ${answer.status})`, false);
        return;
      case 400:
        this.#fail(`protocol error: the server refused a poll: 400 ${answer.text}`.trim(), true);
        return;
      default:
        this.#retryAfterBackoff(slot, at, retryAfterMs(answer));
    }
  }

  #takeFrames(answer) {
    const first = decimalHeader(answer.headers, 'Longpoll-Seq');
    if (first === undefined) {
      this.#fail('protocol error: a 200 answer without a valid Longpoll-Seq', true);
      return;
    }
    if (first > this.#received) {
      this.#fail(
        `protocol error: the server skipped frames: got seq ${first}, expected ${this.#received}`,
        true,
      );
      return;
    }
    let frames;
    try {
      frames = decodeFrames(answer.body, this.#params.maxMessageBytes);
    } catch (error) {
      this.#fail(`protocol error: bad frames from the server: ${error.message}`, true);
      return;
    }
    let seq = first;
    for (const frame of frames) {
      const mine = seq++;
      if (mine < this.#received) continue; // re-sent: delivered before
      // A handler may have closed the session: WebSocket drops what arrives after close().
      if (this.#state !== 'open') return;
      this.#received++;
      if (frame.type === 'close') {
        this.#finish({
          code: frame.code ?? CLOSE_NO_STATUS,
          reason: frame.reason,
          wasClean: true,
          deleteSession: true,
        });
        return;
      }
      this.dispatchEvent(
        new MessageEvent('message', { data: this.#messageData(frame), origin: this.#url.origin }),
      );
    }
  }

  #messageData(frame) {
    if (frame.type === 'text') return frame.data;
    if (this.#binaryType === 'blob') return new Blob([frame.data]);
    return frame.data.slice().buffer;
  }

  #sendAnswered(at, flight, answer) {
    const slot = this.#send;
    switch (answer.status) {
      case 200: // accepted, with server frames: the send carried `ack` (section 5.3)
      case 204:
        if (answer.status === 200 && !this.#options.ackOnSend) {
          // No protocol v1 answer to a send without `ack`: retried, like any other status.
          this.#retryAfterBackoff(slot, at, retryAfterMs(answer));
          return;
        }
        slot.succeeded();
        this.#outbound.splice(0, flight.frames);
        this.#bytesAcknowledged += flight.payload;
        if (flight.carriesClose) this.#finishOwnClose(false);
        if (answer.status === 200 && this.#state === 'open') this.#takeFrames(answer);
        return;
      case 404:
      case 410:
        slot.succeeded();
        if (this.#ownClose !== null) {
          // Both sides closed at once; DELETE completes the server's close too (9.7).
          this.#finishOwnClose(true);
          return;
        }
        // The server is closing or has ended the session; the poll will tell which.
        this.#sendsRefused = true;
        this.#outbound = [];
        this.#pending = [];
        return;
      case 400:
      case 413:
      case 415:
        this.#fail(
          `protocol error: the server refused a send: ${answer.status} ${answer.text}`.trim(),
          true,
        );
        return;
      case 409:
        if (answer.headers.get('Longpoll-Expected-Seq') !== null) {
          const expected = answer.headers.get('Longpoll-Expected-Seq');
          const oldest = this.#outbound[0]?.seq;
          this.#fail(
            `protocol error: the server expects seq ${expected} but ${oldest} is the oldest ` +
              'unacknowledged: it lost frames it had accepted',
            true,
          );
          return;
        }
        this.#retryAfterBackoff(slot, at, retryAfterMs(answer));
        return;
      default:
        this.#retryAfterBackoff(slot, at, retryAfterMs(answer));
    }
  }

  // ----- sending and closing ----------------------------------------------------------------

  /** Numbers the application's sends in order; a Blob still being read holds back the rest. */
  #numberPending() {
    if (this.#state !== 'open' && this.#state !== 'closing') return;
    while (this.#pending.length > 0 && this.#pending[0].frame !== null) {
      const item = this.#pending.shift();
      this.#outbound.push({
        seq: this.#nextSeq++,
        frame: item.frame,
        size: item.size,
        close: item.close,
      });
    }
  }

  #startClose(code, reason) {
    this.#ownClose = { code, reason };
    this.#state = 'closing';
    this.#readyState = CLOSING;
    // Stop polling at once (9.7): what the server sends from now on is discarded anyway.
    const poll = this.#poll.inFlight;
    this.#poll.inFlight = null;
    this.#poll.retryAt = null;
    poll?.controller.abort(new DOMException('the session is closing', 'AbortError'));
    if (this.#sendsRefused) {
      this.#finishOwnClose(true);
      return;
    }
    this.#pending.push({ frame: encodeCloseFrame(code, reason), size: 0, close: true, blob: null });
    this.#numberPending();
    this.#requestPump();
  }

  #finishOwnClose(deleteSession) {
    const { code, reason } = this.#ownClose;
    this.#finish({ code: code ?? CLOSE_NO_STATUS, reason, wasClean: true, deleteSession });
  }

  /** Ends the session abnormally: `error`, then `close` with 1006. */
  #fail(message, deleteSession) {
    this.#finish({ code: CLOSE_ABNORMAL, wasClean: false, error: message, deleteSession });
  }

  /** Ends the session: requests aborted, timers cleared, events fired after this returns. */
  #finish({ code, reason = '', wasClean, error, deleteSession = false }) {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#readyState !== CLOSED) this.#readyState = CLOSING;
    this.#openController?.abort(new DOMException('the session was closed', 'AbortError'));
    for (const slot of [this.#poll, this.#send]) {
      const flight = slot.inFlight;
      slot.inFlight = null;
      flight?.controller.abort(new DOMException('the session was closed', 'AbortError'));
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#pending = [];
    this.#outbound = [];
    this.#unwatchPageHide();
    if (deleteSession && this.#params !== null) this.#deleteSession(this.#params.id);
    queueMicrotask(() => {
      this.#readyState = CLOSED;
      if (error !== undefined) {
        const event = new Event('error');
        // Not in WebSocket's error event: a reason, for people and logs.
        Object.defineProperty(event, 'message', { value: error, enumerable: true });
        this.dispatchEvent(event);
      }
      this.dispatchEvent(new CloseEventClass('close', { code, reason, wasClean }));
    });
  }

  #deleteSession(id, keepalive = false) {
    const url = new URL(this.#baseUrl.href);
    url.pathname = `${url.pathname}/${id}`;
    const init = { method: 'DELETE' };
    // AbortSignal.timeout is missing from older browsers (Safari before 16): no deadline there.
    if (typeof AbortSignal.timeout === 'function')
      init.signal = AbortSignal.timeout(this.#options.deleteTimeout);
    if (keepalive) init.keepalive = true;
    // The answer does not matter and is not retried (9.4).
    Promise.resolve()
      .then(() => this.#fetch(url.href, init))
      .then(discardBody, () => {});
  }

  // ----- pagehide -----------------------------------------------------------------------------

  #watchPageHide() {
    const page = globalThis;
    if (
      !this.#options.closeOnPageHide ||
      typeof page.addEventListener !== 'function' ||
      typeof page.document !== 'object'
    ) {
      return;
    }
    this.#pageHideListener = () => {
      // A keepalive request outlives the page, so the server ends the session now rather
      // than after its idle timeout (a reloaded chat tab leaves at once).
      this.#deleteSession(this.#params.id, true);
      this.#finish({ code: CLOSE_GOING_AWAY, reason: 'page hidden', wasClean: true });
    };
    page.addEventListener('pagehide', this.#pageHideListener);
  }

  #unwatchPageHide() {
    if (this.#pageHideListener === null) return;
    globalThis.removeEventListener('pagehide', this.#pageHideListener);
    this.#pageHideListener = null;
  }

  // ----- event handler attributes -----------------------------------------------------------

  #setHandler(type, value) {
    const handler = typeof value === 'function' ? value : null;
    const entry = this.#handlers.get(type);
    if (handler === null) {
      if (entry) {
        this.removeEventListener(type, entry.listener);
        this.#handlers.delete(type);
      }
      return;
    }
    if (entry) {
      entry.handler = handler;
      return;
    }
    const created = {
      handler,
      listener: (event) => created.handler.call(this, event),
    };
    this.#handlers.set(type, created);
    this.addEventListener(type, created.listener);
  }
}

for (const [name, value] of Object.entries({ CONNECTING, OPEN, CLOSING, CLOSED })) {
  Object.defineProperty(LongPoll.prototype, name, { value, enumerable: true });
}

function now() {
  return performance.now();
}

/** Status answers that prove the server itself is alive (9.8). */
function isProtocolAnswer(answer) {
  switch (answer.status) {
    case 200:
    case 204:
    case 404:
    case 409:
    case 410:
      return true;
    case 503:
      return answer.headers.get('Retry-After') !== null;
    default:
      return false;
  }
}

function retryAfterMs(answer) {
  const seconds = decimalHeader(answer.headers, 'Retry-After');
  return seconds === undefined ? undefined : seconds * 1000;
}

/** WebIDL `[Clamp] unsigned short`, as WebSocket's `close(code)` converts it. */
function clampToUnsignedShort(value) {
  const number = Number(value);
  if (Number.isNaN(number)) return 0;
  const clamped = Math.min(Math.max(number, 0), 65535);
  const floor = Math.floor(clamped);
  const fraction = clamped - floor;
  if (fraction > 0.5 || (fraction === 0.5 && floor % 2 === 1)) return floor + 1;
  return floor;
}

/** What `send` was given, as a frame (or a Blob still to read) and its payload size. */
function toOutgoing(data) {
  if (typeof Blob !== 'undefined' && data instanceof Blob) {
    return { frame: null, size: data.size, close: false, blob: data };
  }
  let bytes;
  if (data instanceof ArrayBuffer) {
    bytes = new Uint8Array(data.slice(0));
  } else if (ArrayBuffer.isView(data)) {
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  }
  if (bytes !== undefined) {
    return { frame: encodeBinaryFrame(bytes), size: bytes.length, close: false, blob: null };
  }
  const frame = encodeTextFrame(String(data));
  return { frame, size: frame.length - FRAME_HEADER_BYTES, close: false, blob: null };
}

export default LongPoll;
