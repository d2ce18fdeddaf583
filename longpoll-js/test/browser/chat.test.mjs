// The chat page and the client in real Chromium (Debian's, driven by playwright-core), against
// the real chat server binary on 127.0.0.1.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startChat, launchBrowser, openChat, chatLines, waitInPage, repo } from './harness.mjs';

// Short holds keep the tests quick; the behaviour is the same at the default 25 s.
const SERVER_FLAGS = ['--poll-timeout-ms', '4000', '--idle-timeout-ms', '12000'];

/** mulberry32: a seeded generator, so a failing cut schedule can be replayed. */
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
 * Pixels of each bubble colour in a PNG screenshot, decoded by the browser (light scheme:
 * one's own bubbles #2f6fed, the others' #e9ecf2).
 */
function bubblePixels(page, png) {
  return page.evaluate(async (base64) => {
    const image = new Image();
    image.src = `data:image/png;base64,${base64}`;
    await image.decode();
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const { data } = context.getImageData(0, 0, image.width, image.height);
    const near = (i, [r, g, b]) => Math.abs(data[i] - r) + Math.abs(data[i + 1] - g)
      + Math.abs(data[i + 2] - b) < 12;
    let mine = 0;
    let theirs = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (near(i, [0x2f, 0x6f, 0xed])) mine += 1;
      if (near(i, [0xe9, 0xec, 0xf2])) theirs += 1;
    }
    return { mine, theirs };
  }, png.toString('base64'));
}

describe('chat in Chromium', () => {
  let server;
  let browser;
  const open = [];

  before(async () => {
    server = await startChat(SERVER_FLAGS);
    browser = await launchBrowser();
  });

  after(async () => {
    for (const { context } of open.splice(0)) await context.close().catch(() => {});
    await browser?.close();
    await server?.stop();
  });

  async function join(name, transport) {
    const chat = await openChat(browser, server.url, name, transport);
    open.push(chat);
    return chat;
  }

  async function leave(chat) {
    await chat.context.close();
    open.splice(open.indexOf(chat), 1);
  }

  it('two pages exchange messages, and a screenshot shows them', async () => {
    const alice = await join('alice');
    const bob = await join('bob');
    const before = await bubblePixels(alice.page, await alice.page.screenshot());
    await alice.page.fill('#text', 'hello bob');
    await alice.page.click('#send');
    await waitInPage(bob.page, () => window.chat.received.some((m) => m.text === 'hello bob'),
      undefined, 'bob hears alice');
    await bob.page.fill('#text', 'hi alice!');
    await bob.page.press('#text', 'Enter');
    await waitInPage(alice.page, () => window.chat.received.some((m) => m.text === 'hi alice!'),
      undefined, 'alice hears bob');
    // Everyone hears every message, the sender included, in one order.
    await waitInPage(bob.page, () => window.chat.received.some((m) => m.text === 'hi alice!'),
      undefined, 'bob hears himself');
    assert.deepEqual(await chatLines(alice.page), ['alice: hello bob', 'bob: hi alice!']);
    assert.deepEqual(await chatLines(bob.page), ['alice: hello bob', 'bob: hi alice!']);
    assert.deepEqual(alice.errors, []);

    // The screenshot shows both bubbles: count pixels of each bubble colour in the PNG itself,
    // decoded by the browser, against a screenshot taken before anyone spoke.
    const dir = process.env.SCREENSHOT_DIR ?? path.join(repo, 'target', 'browser-tests');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, 'chat.png');
    const png = await alice.page.screenshot({ path: file });
    const after = await bubblePixels(alice.page, png);
    const delta = { mine: after.mine - before.mine, theirs: after.theirs - before.theirs };
    // A one-line bubble is over 1,500 pixels of its colour.
    assert.ok(delta.mine > 1_500, `alice's own bubble is in the screenshot: ${JSON.stringify({ before, after })}`);
    assert.ok(delta.theirs > 1_500, `bob's bubble is in the screenshot: ${JSON.stringify({ before, after })}`);
    console.log(`browser: screenshot ${file} shows the two bubbles (${JSON.stringify(delta)} more pixels of their colours)`);
    await leave(alice);
    await leave(bob);
  });

  it('a page that reloads is seen leaving at once, and rejoins', async () => {
    const carol = await join('carol');
    const dave = await join('dave');
    const reloaded = Date.now();
    await dave.page.reload();
    // The close reaches the server on `pagehide` (a keepalive DELETE), long before the
    // 12 s idle timeout would end the session.
    await waitInPage(carol.page,
      () => window.chat.received.some((m) => m.kind === 'leave' && m.name === 'dave'),
      undefined, 'carol sees dave leave', 8_000);
    const seenAfter = Date.now() - reloaded;
    await waitInPage(dave.page, () => document.getElementById('status').dataset.state === 'open',
      undefined, 'dave is back');
    await dave.page.fill('#text', 'back again');
    await dave.page.click('#send');
    await waitInPage(carol.page, () => window.chat.received.some((m) => m.text === 'back again'),
      undefined, 'carol hears the reloaded dave');
    console.log(`browser: carol saw dave leave ${seenAfter} ms after his reload`);
    await leave(carol);
    await leave(dave);
  });

  it('binary messages round-trip through the echo service, over LongPoll and WebSocket alike', async () => {
    const erin = await join('erin');
    // The same function runs with either constructor: that is the point of the interface.
    const results = await erin.page.evaluate(async () => {
      const { LongPoll } = await import('/longpoll.js');
      async function roundTrip(socket) {
        const opened = new Promise((resolve, reject) => {
          socket.onopen = resolve;
          socket.onerror = () => reject(new Error('socket error'));
        });
        const inbox = [];
        let wake = () => {};
        socket.onmessage = (event) => { inbox.push(event.data); wake(); };
        const next = async () => {
          while (inbox.length === 0) await new Promise((resolve) => { wake = resolve; });
          return inbox.shift();
        };
        await opened;
        const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
        socket.binaryType = 'arraybuffer';
        socket.send(bytes.buffer);
        const asBuffer = await next();
        socket.send(new Blob([bytes.subarray(0, 16)]));
        const fromBlob = await next();
        socket.binaryType = 'blob';
        socket.send(bytes.subarray(250));
        const asBlob = await next();
        socket.send('text stays text');
        const text = await next();
        socket.close(1000, 'done');
        return {
          buffer: asBuffer instanceof ArrayBuffer ? [...new Uint8Array(asBuffer)] : String(asBuffer),
          fromBlob: fromBlob instanceof ArrayBuffer ? [...new Uint8Array(fromBlob)] : String(fromBlob),
          blob: asBlob instanceof Blob ? [...new Uint8Array(await asBlob.arrayBuffer())] : String(asBlob),
          text,
        };
      }
      const ws = new URL('/echo-ws', location.href);
      ws.protocol = 'ws:';
      return {
        longpoll: await roundTrip(new LongPoll('/echo')),
        websocket: await roundTrip(new WebSocket(ws)),
      };
    });
    const all = Array.from({ length: 256 }, (_, i) => i);
    for (const [transport, result] of Object.entries(results)) {
      assert.deepEqual(result.buffer, all, `${transport}: ArrayBuffer`);
      assert.deepEqual(result.fromBlob, all.slice(0, 16), `${transport}: Blob sent`);
      assert.deepEqual(result.blob, all.slice(250), `${transport}: Blob received`);
      assert.equal(result.text, 'text stays text', `${transport}: text`);
    }
    await leave(erin);
  });

  it('1,000 messages arrive in order', async () => {
    const frank = await join('frank');
    const grace = await join('grace');
    await frank.page.evaluate(() => {
      for (let i = 0; i < 1000; i += 1) window.chat.send(`n${i}`);
    });
    const expected = Array.from({ length: 1000 }, (_, i) => `frank: n${i}`);
    for (const page of [grace.page, frank.page]) {
      await waitInPage(page, () => window.chat.received.filter((m) => m.kind === 'chat').length >= 1000,
        undefined, '1,000 messages', 60_000);
      assert.deepEqual(await chatLines(page), expected);
    }
    await leave(frank);
    await leave(grace);
  });

  it('with poll and send answers cut in flight, every message arrives exactly once', async () => {
    const seed = Number(process.env.BROWSER_CUT_SEED ?? Date.now() % 1_000_000);
    const random = seeded(seed);
    const heidi = await join('heidi');
    const ivan = await join('ivan');
    const cuts = { polls: 0, sends: 0, passed: 0 };
    // The server answers; the browser never sees the answer (as when a proxy resets the
    // connection): polls must be re-served, re-sent frames must be dropped as duplicates.
    for (const { page } of [heidi, ivan]) {
      await page.route(/\/longpoll\/[0-9a-f]{32}\?/, async (route) => {
        let response;
        try {
          response = await route.fetch({ timeout: 60_000 });
        } catch {
          await route.abort('failed').catch(() => {});
          return;
        }
        const poll = route.request().method() === 'GET';
        // The first answer of each kind is always cut: batching can carry every message in
        // a dozen requests, too few for a 30% draw to be sure to hit both kinds.
        const firstOfItsKind = poll ? cuts.polls === 0 : cuts.sends === 0;
        if (firstOfItsKind || random() < 0.3) {
          if (poll) cuts.polls += 1; else cuts.sends += 1;
          await route.abort('connectionreset').catch(() => {});
        } else {
          cuts.passed += 1;
          await route.fulfill({ response }).catch(() => {});
        }
      });
    }
    const count = 150;
    const sending = [heidi, ivan].map(({ page }, who) => page.evaluate(async ({ count, who }) => {
      for (let i = 0; i < count; i += 1) {
        window.chat.send(`${who}-${i}`);
        if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }, { count, who }));
    await Promise.all(sending);
    for (const { page } of [heidi, ivan]) {
      await waitInPage(page, (count) => window.chat.received.filter((m) => m.kind === 'chat').length >= count,
        2 * count, 'every message despite the cuts', 90_000);
    }
    // Give duplicates a chance to show up before counting.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const { page } of [heidi, ivan]) {
      const lines = (await chatLines(page)).map((line) => line.split(': ')[1]);
      assert.equal(lines.length, 2 * count, `exactly once (seed ${seed})`);
      for (const who of [0, 1]) {
        const mine = lines.filter((line) => line.startsWith(`${who}-`));
        assert.deepEqual(mine, Array.from({ length: count }, (_, i) => `${who}-${i}`),
          `in order, none lost or doubled (seed ${seed})`);
      }
    }
    assert.ok(cuts.polls > 0 && cuts.sends > 0, `both kinds of answer were cut: ${JSON.stringify(cuts)}`);
    console.log(`browser: cut ${cuts.polls} poll and ${cuts.sends} send answers (passed ${cuts.passed}); `
      + `${2 * count} messages arrived exactly once on both pages (seed ${seed})`);
    await leave(heidi);
    await leave(ivan);
  });

  it('the same page code chats over WebSocket and LongPoll in one room', async () => {
    const judy = await join('judy', 'longpoll');
    const kim = await join('kim', 'websocket');
    assert.equal(await kim.page.evaluate(() => window.chat.socket instanceof WebSocket), true);
    assert.equal(await judy.page.evaluate(() => window.chat.socket.constructor.name), 'LongPoll');
    await judy.page.fill('#text', 'from longpoll');
    await judy.page.click('#send');
    await kim.page.fill('#text', 'from websocket');
    await kim.page.click('#send');
    for (const { page } of [judy, kim]) {
      await waitInPage(page, () => window.chat.received.filter((m) => m.kind === 'chat').length >= 2,
        undefined, 'both messages on both transports');
      const lines = await chatLines(page);
      assert.deepEqual([...lines].sort(), ['judy: from longpoll', 'kim: from websocket']);
    }
    // Closing works the same way too: the other side sees the leave notice.
    await kim.page.evaluate(() => window.chat.socket.close(1000, 'bye'));
    await waitInPage(judy.page,
      () => window.chat.received.some((m) => m.kind === 'leave' && m.name === 'kim'),
      undefined, 'judy sees kim leave');
    await leave(judy);
    await leave(kim);
  });
});
