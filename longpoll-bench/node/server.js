// Node's engine.io (polling only) as a server under test for longpoll-bench.
//
//   node server.js --scenario echo|fanout|latency|idle
//
// Prints `listening <address>` once it accepts connections and exits when its standard input
// closes (the harness holds it open). Same behaviour as bench-server's engineioxide mode.
'use strict';

const http = require('node:http');
const engine = require('engine.io');

const PAYLOAD = '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
// Matches engineioxide's default buffer (128 packets): how many messages fan-out queues each
// time the socket's buffer drains.
const FANOUT_BATCH = 128;
const IDLE_HOLD_MS = 300000;

function argument(name, fallback) {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : fallback;
}

// CLOCK_MONOTONIC nanoseconds, 20 digits, padded to 64 bytes like the Rust servers' stamp.
function stamped() {
  return process.hrtime.bigint().toString().padStart(20, '0') + PAYLOAD.slice(20);
}

const scenario = argument('scenario', 'echo');
const listen = argument('listen', '127.0.0.1:0');
const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];

const options = { transports: ['polling'] };
if (scenario === 'idle') {
  options.pingInterval = IDLE_HOLD_MS;
}

const httpServer = http.createServer();
// Keep the load generator's pooled connections: Node closes idle keep-alive connections after
// 5 s by default, and a request racing that close fails (the Rust servers keep them).
httpServer.keepAliveTimeout = 0;
httpServer.requestTimeout = 0;
const server = engine.attach(httpServer, options);

server.on('connection', (socket) => {
  switch (scenario) {
    case 'echo':
      socket.on('message', (data) => socket.send(data));
      break;
    case 'fanout': {
      const fill = () => {
        for (let i = 0; i < FANOUT_BATCH; i++) socket.send(PAYLOAD);
      };
      // The client's first message says go: every session is open before pushing starts.
      socket.once('message', () => {
        socket.on('drain', fill);
        fill();
      });
      break;
    }
    case 'latency': {
      let timer = setTimeout(function tick() {
        socket.send(stamped());
        timer = setTimeout(tick, 1000);
      }, Math.random() * 1000);
      socket.on('close', () => clearTimeout(timer));
      break;
    }
    default:
      break;
  }
});

httpServer.listen(port, host, () => {
  const address = httpServer.address();
  process.stdout.write(`listening ${address.address}:${address.port}\n`);
});

process.stdin.on('data', () => {});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
