// Starts the project's echo-axum server binary on 127.0.0.1 for integration tests.
//
// The binary comes from $LONGPOLL_ECHO_BIN, else ../target/debug/echo-axum relative to
// longpoll-js/ (build it with `cargo build -p longpoll-examples --bin echo-axum`).

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const PACKAGE_DIR = fileURLToPath(new URL('../../', import.meta.url));
const START_TIMEOUT_MS = 15000;

export function echoBinary(name = 'echo-axum') {
  const configured = name === 'echo-axum' ? process.env.LONGPOLL_ECHO_BIN : undefined;
  return configured
    ? path.resolve(PACKAGE_DIR, configured)
    : path.resolve(PACKAGE_DIR, `../target/debug/${name}`);
}

/**
 * Starts echo-axum (or the example server `name`, such as echo-hyper, whose echo is a
 * callback) with `args` (e.g. `['--poll-timeout-ms', '1000']`) on a free port and resolves
 * with `{ url, stop }` once it listens; `url` is the protocol base URL.
 */
export function startEcho(args = [], name = 'echo-axum') {
  const binary = echoBinary(name);
  if (!existsSync(binary)) {
    throw new Error(
      `${name} not found at ${binary}: build it with ` +
        `\`cargo build -p longpoll-examples --bin ${name}\`` +
        (name === 'echo-axum' ? ' or set LONGPOLL_ECHO_BIN' : ''),
    );
  }
  const child = spawn(binary, ['--listen', '127.0.0.1:0', ...args], {
    env: { ...process.env, NO_COLOR: '1', RUST_LOG: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    let timer;
    await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, 5000)))]);
    clearTimeout(timer);
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(
        new Error(`${name} did not report its address within ${START_TIMEOUT_MS} ms:\n${output}`),
      );
    }, START_TIMEOUT_MS);
    const onOutput = (chunk) => {
      output += chunk;
      // The log line: `... echo-axum listening address=127.0.0.1:PORT path=/longpoll`.
      const plain = output.replace(/\x1b\[[0-9;]*m/g, '');
      const found = /listening.*?address=(127\.0\.0\.1:\d+)/.exec(plain);
      if (found) {
        clearTimeout(timer);
        child.stdout.off('data', onOutput);
        child.stderr.off('data', onOutput);
        child.stdout.resume();
        child.stderr.resume();
        resolve({ url: `http://${found[1]}/longpoll`, stop });
      }
    };
    child.stdout.setEncoding('utf8').on('data', onOutput);
    child.stderr.setEncoding('utf8').on('data', onOutput);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
}

/** A fetch that records every request's method, URL and answer status. */
export function recordingFetch(inner = globalThis.fetch) {
  const log = [];
  const fetch = async (input, init = {}) => {
    const entry = { method: init.method ?? 'GET', url: String(input), status: undefined };
    log.push(entry);
    const response = await inner(input, init);
    entry.status = response.status;
    return response;
  };
  return { fetch, log };
}
