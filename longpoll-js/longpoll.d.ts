// Types for longpoll.js: a longpoll protocol v1 client with the browser WebSocket interface.

/** Longpoll-specific options: the second constructor argument, as a plain object. */
export interface LongPollOptions {
  /** The `fetch` to use (default: the global one). Wrap it to add headers or credentials. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;
  /** First retry delay after a failed request, in ms, before jitter. Default 100. */
  backoffInitial?: number;
  /** Longest retry delay in ms, before jitter; also capped at `idleTimeoutMs / 4`. Default 5000. */
  backoffMax?: number;
  /**
   * Extra time in ms a request may take past the server's poll hold before it is abandoned
   * and retried; capped at `(idleTimeoutMs - pollTimeoutMs) / 2`. Default 5000.
   */
  requestGrace?: number;
  /** Time in ms the open request (`POST {base}`) may take. Default 10000. */
  openTimeout?: number;
  /** Time in ms a `DELETE` may take before it is abandoned. Default 5000. */
  deleteTimeout?: number;
  /**
   * Most payload bytes sent and not yet acknowledged (`bufferedAmount`). A `send` beyond it
   * fails the session (`error`, then `close` with 1006), as a WebSocket whose buffer is full
   * closes. An empty buffer takes any one message. Default 16 MiB.
   */
  outboundMaxBytes?: number;
  /** Most messages sent and not yet acknowledged; same rule. Default 65,536. */
  outboundMaxMessages?: number;
  /** Largest poll response body read; at least one maximal frame. Default 64 MiB. */
  maxResponseBytes?: number;
  /** In a browser, end the session with a keepalive `DELETE` on `pagehide`. Default true. */
  closeOnPageHide?: boolean;
  /**
   * Sends carry `ack`, so the server may answer one with the replies its application queued
   * while taking it: one HTTP exchange per round trip instead of two (PROTOCOL.md 5.3). A
   * server without that section ignores it. Default true.
   */
  ackOnSend?: boolean;
  /** Source of retry jitter, uniform in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** The `error` event. `message` is not in WebSocket's: it says what went wrong. */
export interface LongPollErrorEvent extends Event {
  readonly message: string;
}

export interface LongPollEventMap {
  open: Event;
  message: MessageEvent<string | ArrayBuffer | Blob>;
  error: LongPollErrorEvent;
  close: CloseEvent;
}

/** The platform's `CloseEvent`, or an equivalent where there is none (Node 20). */
export declare const CloseEvent: {
  prototype: CloseEvent;
  new (type: string, init?: CloseEventInit): CloseEvent;
};

/**
 * A longpoll protocol v1 session with the WebSocket interface: `new LongPoll('/longpoll')`
 * where the application had `new WebSocket(url)`.
 */
export declare class LongPoll extends EventTarget {
  /**
   * Opens a session at the protocol's mount path.
   *
   * @param url absolute, or relative to the page (`location.href`); outside a page it must be
   *   absolute. `http:`/`https:` only; a bad URL throws a `SyntaxError` `DOMException`.
   * @param options longpoll options. A non-empty WebSocket subprotocol list (a string or an
   *   array) throws a `NotSupportedError` `DOMException`; an empty array is accepted.
   */
  constructor(url: string | URL, options?: LongPollOptions | string | string[]);

  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSING: 2;
  static readonly CLOSED: 3;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSING: 2;
  readonly CLOSED: 3;

  /** The resolved absolute URL. */
  readonly url: string;
  readonly readyState: 0 | 1 | 2 | 3;
  /** Always `""`. */
  readonly protocol: string;
  /** Always `""`. */
  readonly extensions: string;
  /** How binary messages are delivered. Default `"arraybuffer"`. */
  binaryType: 'arraybuffer' | 'blob';
  /** Payload bytes passed to `send` and not yet acknowledged by the server. */
  readonly bufferedAmount: number;

  onopen: ((this: LongPoll, event: Event) => any) | null;
  onmessage: ((this: LongPoll, event: MessageEvent<string | ArrayBuffer | Blob>) => any) | null;
  onerror: ((this: LongPoll, event: LongPollErrorEvent) => any) | null;
  onclose: ((this: LongPoll, event: CloseEvent) => any) | null;

  /**
   * Queues a message. Throws `InvalidStateError` while connecting; dropped once closing or
   * closed. A message over the server's `maxMessageBytes` closes the session with 1009.
   */
  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void;
  /**
   * Closes gracefully: earlier messages first, then the close frame. `code` must be 1000 or
   * 3000-4999 (`InvalidAccessError`), `reason` at most 123 UTF-8 bytes (`SyntaxError`).
   */
  close(code?: number, reason?: string): void;

  addEventListener<K extends keyof LongPollEventMap>(
    type: K,
    listener: (this: LongPoll, event: LongPollEventMap[K]) => any,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof LongPollEventMap>(
    type: K,
    listener: (this: LongPoll, event: LongPollEventMap[K]) => any,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

export default LongPoll;

// ----- lower-level helpers (frames and the open response, PROTOCOL.md sections 3.1 and 7) -----

/** Bytes of a frame header. */
export declare const FRAME_HEADER_BYTES: 5;
/** Largest close frame payload. */
export declare const MAX_CLOSE_PAYLOAD_BYTES: 125;
/** Largest close reason, in UTF-8 bytes. */
export declare const MAX_CLOSE_REASON_BYTES: 123;

/** A frame decoded from a body. */
export type Frame =
  | { type: 'text'; data: string }
  | { type: 'binary'; data: Uint8Array }
  | { type: 'close'; code: number | undefined; reason: string };

/** A body that is not a valid frame sequence; `tooLarge` when a declared length is over the limit. */
export declare class FrameError extends Error {
  readonly tooLarge: boolean;
  constructor(message: string, tooLarge?: boolean);
}

/** The open response's values the client uses. */
export interface SessionParams {
  id: string;
  pollTimeoutMs: number;
  idleTimeoutMs: number;
  maxMessageBytes: number;
  maxBodyBytes: number;
  maxFramesPerRequest: number;
}

export declare function encodeTextFrame(text: string): Uint8Array;
export declare function encodeBinaryFrame(bytes: Uint8Array): Uint8Array;
/** Empty payload without a code; otherwise the reason is cut to 123 bytes at a character boundary. */
export declare function encodeCloseFrame(code?: number, reason?: string): Uint8Array;
/** Throws `FrameError`. Binary payloads are views into `body`. */
export declare function decodeFrames(body: Uint8Array, maxMessageBytes: number): Frame[];
/** Throws when the response must be refused (section 3.1). */
export declare function parseOpenResponse(text: string): SessionParams;
