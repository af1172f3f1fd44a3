import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type HAProxyServer, startHAProxy, waitUntil } from '../src/index.ts';

/** A backend that names itself, and is healthy while `healthy` says so. */
function backend(name: string, state: { healthy: boolean }): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/readyz') res.writeHead(state.healthy ? 200 : 503).end();
    else res.writeHead(200, { 'content-type': 'text/plain' }).end(name);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('startHAProxy', () => {
  const green = { healthy: true };
  const red = { healthy: false };
  let servers: Server[];
  let haproxy: HAProxyServer;
  before(async () => {
    servers = await Promise.all([backend('green', green), backend('red', red)]);
    haproxy = await startHAProxy({
      backends: servers.map((s, i) => ({
        name: i === 0 ? 'green' : 'red',
        port: (s.address() as AddressInfo).port,
      })),
      checkIntervalMs: 100,
    });
  });
  after(async () => {
    await haproxy?.stop();
    for (const s of servers) s.close();
  });

  it('sends requests only to backends that pass the health check, and follows their state', async () => {
    await waitUntil(
      async () => {
        const states = await haproxy.serverStates();
        return states.green === 'UP' && states.red?.startsWith('DOWN');
      },
      { message: 'green up, red down' },
    );
    for (let i = 0; i < 4; i++) {
      assert.equal(await (await fetch(haproxy.url)).text(), 'green');
    }
    green.healthy = false;
    red.healthy = true;
    await waitUntil(
      async () => {
        const states = await haproxy.serverStates();
        return states.red === 'UP' && states.green?.startsWith('DOWN');
      },
      { message: 'red up, green down' },
    );
    assert.equal(await (await fetch(haproxy.url)).text(), 'red');
  });

  it('sends no new requests to a drained backend, and takes it back when ready', async () => {
    green.healthy = true;
    red.healthy = true;
    await waitUntil(
      async () => Object.values(await haproxy.serverStates()).every((s) => s === 'UP'),
      { message: 'both up' },
    );
    await haproxy.setServerState('red', 'drain');
    // In HTTP mode HAProxy balances every request, so each one could go to red.
    const answers = new Set<string>();
    for (let i = 0; i < 6; i++) {
      answers.add(await (await fetch(haproxy.url)).text());
    }
    assert.deepEqual([...answers], ['green']);
    await haproxy.setServerState('red', 'ready');
    await waitUntil(async () => (await (await fetch(haproxy.url)).text()) === 'red', {
      message: 'red taking requests again',
    });
    await assert.rejects(haproxy.setServerState('blue', 'drain'), /no backend named blue/);
  });
});
