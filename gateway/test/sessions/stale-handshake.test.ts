// A device that gave up waiting for a slow handshake connects again; when the gateway gets to the
// first attempt only after the second holds the session, the older attempt must not replace it
// (the device would see 4000 session_replaced on its live socket and stop for good).
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { DeviceAuthenticator } from '../../src/auth/device-authenticator.ts';
import { TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { startTestGateway } from '../support/test-gateway.ts';

describe('an older handshake that finishes last', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(async () => {
    await gw.stop();
  });

  it('is closed with 4000 and leaves the newer session alone', async () => {
    const token = await gw.provision('slow-1');
    // Hold the first authentication until the test lets it go: the gateway "gets to it late".
    const original = DeviceAuthenticator.prototype.authenticate;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let entered!: () => void;
    const firstEntered = new Promise<void>((resolve) => {
      entered = resolve;
    });
    let calls = 0;
    DeviceAuthenticator.prototype.authenticate = async function (
      this: DeviceAuthenticator,
      ...args
    ) {
      if (++calls === 1) {
        entered();
        await held;
      }
      return original.apply(this, args);
    };
    try {
      const older = new WebSocket(`${gw.url.replace('http', 'ws')}/v1/connect`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const olderClosed = new Promise<number>((resolve) =>
        older.on('close', (code) => resolve(code)),
      );
      older.on('error', () => {});
      await firstEntered;
      const newer = await TestDevice.connect(gw.url, token);
      const liveId = gw.sessions.get('slow-1')?.id;
      assert.ok(liveId);
      release();
      assert.equal(await olderClosed, 4000, 'the older attempt is the one replaced');
      // The newer session is untouched: still the device's, still acking.
      assert.equal(gw.sessions.get('slow-1')?.id, liveId);
      newer.send({ type: 'telemetry', seq: 1, metrics: { temperature: 20 } });
      await newer.ackFor(1);
      assert.equal(newer.closed, undefined);
      newer.close();
    } finally {
      DeviceAuthenticator.prototype.authenticate = original;
    }
  });

  it('is the one on the earlier connection, even when its request is read last', async () => {
    const token = await gw.provision('storm-1');
    const { hostname, port } = new URL(gw.url);
    // A device opens a connection, and the gateway is too busy to read its request yet...
    const first = connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => {
      first.once('connect', resolve);
      first.once('error', reject);
    });
    let answer = Buffer.alloc(0);
    first.on('data', (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk]);
    });
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()));
    // ...the device gives up and connects again, and that session is up first.
    const newer = await TestDevice.connect(gw.url, token);
    const liveId = gw.sessions.get('storm-1')?.id;
    assert.ok(liveId);
    first.write(
      [
        'GET /v1/connect HTTP/1.1',
        `Host: ${hostname}:${port}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        `Authorization: Bearer ${token}`,
        '',
        '',
      ].join('\r\n'),
    );
    await firstClosed;
    const text = answer.toString('latin1');
    assert.match(text, /^HTTP\/1\.1 101 /, 'the older attempt completes its upgrade...');
    const body = answer.subarray(text.indexOf('\r\n\r\n') + 4);
    assert.equal(body[0], 0x88, '...and gets a close frame');
    assert.equal(body.readUInt16BE(2), 4000, 'with 4000: it is the one replaced');
    assert.equal(gw.sessions.get('storm-1')?.id, liveId);
    newer.send({ type: 'telemetry', seq: 1, metrics: { temperature: 20 } });
    await newer.ackFor(1);
    assert.equal(newer.closed, undefined);
    newer.close();
  });
});
