// Starts the chat server binary and Debian's Chromium for the browser tests. Everything runs on
// 127.0.0.1 and is stopped by the tests; nothing is downloaded.
import { spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The repository's root. */
export const repo = path.resolve(here, '../../..');

/** The chat binary: `$LONGPOLL_CHAT_BIN`, else the workspace's debug build. */
export function chatBinary() {
  const target = process.env.CARGO_TARGET_DIR ?? path.join(repo, 'target');
  const binary = process.env.LONGPOLL_CHAT_BIN ?? path.join(target, 'debug', 'chat');
  if (!existsSync(binary)) {
    throw new Error(`no chat binary at ${binary}: run \`cargo build -p longpoll-examples --bin chat\` first (scripts/test does)`);
  }
  return binary;
}

/** Chromium: `$CHROMIUM`, else Debian's. */
export function chromiumBinary() {
  const binary = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(binary)) {
    throw new Error(`no Chromium at ${binary}: run scripts/install-test-deps (Debian: apt-get install chromium)`);
  }
  return binary;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** Starts the chat server with extra flags; resolves once it accepts connections. */
export async function startChat(flags = []) {
  const port = await freePort();
  const child = spawn(chatBinary(), ['--listen', `127.0.0.1:${port}`, ...flags], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
  });
  let log = '';
  child.stderr.on('data', (chunk) => { log += chunk; });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 20_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the chat server did not start:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    log: () => log,
    async stop() {
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Launches headless Chromium with flags that keep it off the network. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: chromiumBinary(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
}

/** Waits until `predicate` (run in the page) is true, with a clear error after `timeout`. */
export async function waitInPage(page, predicate, arg, what, timeout = 30_000) {
  try {
    await page.waitForFunction(predicate, arg, { timeout, polling: 50 });
  } catch (error) {
    const state = await page.evaluate(() => ({
      status: document.getElementById('status')?.textContent,
      received: window.chat?.received?.length,
    })).catch(() => ({}));
    throw new Error(`${what}: not within ${timeout} ms (${JSON.stringify(state)}): ${error.message}`);
  }
}

/** Opens the chat page as `name` in a context of its own (its own storage). */
export async function openChat(browser, baseUrl, name, transport = 'longpoll') {
  const context = await browser.newContext({ viewport: { width: 720, height: 560 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error));
  await page.goto(`${baseUrl}/?name=${encodeURIComponent(name)}&transport=${transport}`);
  await waitInPage(page, () => document.getElementById('status').dataset.state === 'open'
    && window.chat.received.some((m) => m.kind === 'hello'), undefined, `${name} joins`);
  return { page, context, errors };
}

/** The chat messages (kind "chat") a page has received, as "name: text". */
export function chatLines(page) {
  return page.evaluate(() => window.chat.received
    .filter((m) => m.kind === 'chat')
    .map((m) => `${m.name}: ${m.text}`));
}

/** nginx: `$NGINX`, else Debian's. */
export function nginxBinary() {
  const candidates = [process.env.NGINX, '/usr/sbin/nginx', '/usr/bin/nginx'].filter(Boolean);
  const binary = candidates.find((candidate) => existsSync(candidate));
  if (!binary) {
    throw new Error('no nginx: run scripts/install-test-deps (Debian: apt-get install nginx-light)');
  }
  return binary;
}

/**
 * Starts nginx in the foreground in front of `upstream` (host:port) with the recommended
 * site, `examples/nginx/longpoll.conf`, its addresses replaced. Resolves once it listens.
 */
export async function startNginx(upstream) {
  const { mkdtempSync, readFileSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(path.join(tmpdir(), 'longpoll-nginx-'));
  const port = await freePort();
  const site = readFileSync(path.join(repo, 'examples', 'nginx', 'longpoll.conf'), 'utf8')
    .replaceAll('127.0.0.1:3000', upstream)
    .replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`);
  writeFileSync(path.join(dir, 'site.conf'), site);
  writeFileSync(path.join(dir, 'nginx.conf'), [
    'daemon off;',
    'master_process off;',
    `error_log ${dir}/error.log warn;`,
    `pid ${dir}/nginx.pid;`,
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${dir}/${kind};`),
    `  include ${dir}/site.conf;`,
    '}',
  ].join('\n'));
  const child = spawn(nginxBinary(), ['-p', dir, '-e', `${dir}/error.log`, '-c', `${dir}/nginx.conf`], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (chunk) => { log += chunk; });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 20_000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      const errors = (() => { try { return readFileSync(`${dir}/error.log`, 'utf8'); } catch { return ''; } })();
      throw new Error(`nginx did not start:\n${log}\n${errors}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
