// The chat page in Chromium through real nginx with the recommended site
// (examples/nginx/longpoll.conf): longpoll and WebSocket visitors in one room.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChat, startNginx, launchBrowser, openChat, chatLines, waitInPage } from './harness.mjs';

describe('chat through nginx', () => {
  let server;
  let nginx;
  let browser;

  before(async () => {
    server = await startChat(['--poll-timeout-ms', '4000', '--idle-timeout-ms', '12000']);
    nginx = await startNginx(new URL(server.url).host);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await nginx?.stop();
    await server?.stop();
  });

  it('longpoll and WebSocket pages talk through the recommended config', async () => {
    const lena = await openChat(browser, nginx.url, 'lena', 'longpoll');
    const mo = await openChat(browser, nginx.url, 'mo', 'websocket');
    await lena.page.evaluate(() => {
      for (let i = 0; i < 50; i += 1) window.chat.send(`l${i}`);
    });
    await mo.page.evaluate(() => {
      for (let i = 0; i < 50; i += 1) window.chat.send(`m${i}`);
    });
    for (const { page } of [lena, mo]) {
      await waitInPage(page, () => window.chat.received.filter((m) => m.kind === 'chat').length >= 100,
        undefined, '100 messages through nginx');
      const lines = await chatLines(page);
      assert.deepEqual(lines.filter((l) => l.startsWith('lena: ')),
        Array.from({ length: 50 }, (_, i) => `lena: l${i}`));
      assert.deepEqual(lines.filter((l) => l.startsWith('mo: ')),
        Array.from({ length: 50 }, (_, i) => `mo: m${i}`));
    }
    // A quiet page keeps its session across several held polls (4 s each) through nginx.
    await new Promise((resolve) => setTimeout(resolve, 9_000));
    await mo.page.evaluate(() => window.chat.send('still here'));
    await waitInPage(lena.page, () => window.chat.received.some((m) => m.text === 'still here'),
      undefined, 'a message after quiet polls');
    assert.equal(await lena.page.evaluate(() => window.chat.socket.readyState), 1);
    await lena.context.close();
    await mo.context.close();
  });
});
