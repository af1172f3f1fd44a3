import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { waitUntil } from '@iot-gateway/testing';
import { type Pem, TestPki } from '../support/certificates.ts';
import { refusal, TestDevice } from '../support/test-device.ts';
import type { TestGateway } from '../support/test-gateway.ts';
import { ADMIN_TOKEN, startTestGateway } from '../support/test-gateway.ts';

function https(
  url: string,
  ca: Buffer,
  method = 'GET',
  body?: unknown,
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca,
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => {
          text += c;
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }),
        );
      },
    );
    req.on('error', reject);
    req.end(body ? JSON.stringify(body) : undefined);
  });
}

/** The subject of the certificate the server presents to a new connection. */
function serverSubject(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ port, host: '127.0.0.1', ca, servername: 'localhost' }, () => {
      const subject = socket.getPeerCertificate().subject;
      socket.destroy();
      resolve(`${subject.CN}/${subject.O ?? ''}`);
    });
    socket.on('error', reject);
  });
}

describe('TLS and X.509 devices on the one port', () => {
  /** Connects over WSS without a token, presenting `pem` as the client certificate. */
  const withCertificate = (pem: Pem) =>
    TestDevice.connect(gw.url, undefined, {
      tls: { ca: pki.ca.cert, cert: pem.cert, key: pem.key },
    });
  let pki: TestPki;
  let gw: TestGateway;
  let server: Pem;
  let serverFiles: { cert: string; key: string };
  const provision = async (body: Record<string, unknown>) => {
    const res = await https(`${gw.url}/v1/devices`, pki.ca.cert, 'POST', {
      type: 'thermostat',
      ...body,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body as { device: { auth: string }; token?: string };
  };

  before(async () => {
    pki = new TestPki();
    server = pki.signed('server', 'localhost', { server: true, org: 'first' });
    // The gateway watches these paths; the test later replaces their content.
    serverFiles = { cert: `${pki.dir}/live.crt`, key: `${pki.dir}/live.key` };
    copyFileSync(server.certFile, serverFiles.cert);
    copyFileSync(server.keyFile, serverFiles.key);
    gw = await startTestGateway({
      TLS_CERT_FILE: serverFiles.cert,
      TLS_KEY_FILE: serverFiles.key,
      TLS_CLIENT_CA_FILE: pki.ca.certFile,
    });
  });
  after(async () => {
    await gw.stop();
    pki.remove();
  });

  it('serves HTTPS, says so in /healthz and the start message', async () => {
    assert.match(gw.url, /^https:\/\//);
    const health = await https(`${gw.url}/healthz`, pki.ca.cert);
    assert.deepEqual(health.body, { status: 'ok', tls: true });
    assert.match(gw.summary.join('\n'), /TLS: on \(.*CN=localhost.*X\.509 devices/s);
  });

  it('refuses clear-text HTTP on the TLS port', async () => {
    const port = Number(new URL(gw.url).port);
    const outcome = await new Promise<string>((resolve) => {
      const req = httpRequest({ port, host: '127.0.0.1', path: '/healthz' }, (res) =>
        resolve(`answered ${res.statusCode}`),
      );
      req.on('error', (err) => resolve(`failed: ${err.message}`));
      req.end();
    });
    assert.match(outcome, /^failed/);
  });

  it('lets a token device connect over WSS', async () => {
    const { token } = await provision({ id: 'tls-token' });
    const device = await TestDevice.connect(gw.url, token, { tls: { ca: pki.ca.cert } });
    assert.equal(device.hello?.deviceId, 'tls-token');
    device.send({ type: 'telemetry', seq: 1, metrics: { temperature: 20 } });
    await device.ackFor(1);
    device.close();
  });

  it('identifies an X.509 device by its certificate, with no token', async () => {
    const created = await provision({ id: 'x509-dev', auth: 'x509' });
    assert.equal(created.device.auth, 'x509');
    assert.equal(created.token, undefined);
    const cert = pki.signed('x509-dev', 'x509-dev');
    const device = await withCertificate(cert);
    assert.equal(device.hello?.deviceId, 'x509-dev');
    device.send({ type: 'telemetry', seq: 1, metrics: { temperature: 21 } });
    await device.ackFor(1);
    device.close();
    await device.waitClosed();
  });

  it('refuses a self-signed certificate with the same subject', async () => {
    const rogue = pki.selfSigned('rogue', 'x509-dev');
    const refused = await refusal(withCertificate(rogue));
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, 'certificate_rejected');
  });

  it('does not let a CA-signed certificate stand in for a token device', async () => {
    await provision({ id: 'tok-dev' });
    const cert = pki.signed('tok-dev', 'tok-dev');
    const refused = await refusal(withCertificate(cert));
    assert.equal(refused.status, 401);
    assert.equal(refused.body.error, 'certificate_rejected');
  });

  it('gives one answer for unknown and deleted devices alike', async () => {
    const unknown = pki.signed('nobody', 'nobody');
    const first = await refusal(withCertificate(unknown));
    await provision({ id: 'x509-gone', auth: 'x509' });
    assert.equal(
      (await https(`${gw.url}/v1/devices/x509-gone`, pki.ca.cert, 'DELETE')).status,
      204,
    );
    const gone = pki.signed('x509-gone', 'x509-gone');
    const second = await refusal(withCertificate(gone));
    assert.deepEqual(
      [first.status, first.body.error, first.body.message],
      [second.status, second.body.error, second.body.message],
    );
    assert.equal(first.body.error, 'certificate_rejected');
  });

  it('accepts a pinned self-signed certificate, and only that one', async () => {
    const pinned = pki.selfSigned('pinned', 'pinned-dev');
    const created = await provision({ id: 'pinned-dev', certificateSha256: pinned.sha256 });
    assert.equal(created.device.auth, 'x509');
    const device = await withCertificate(pinned);
    assert.equal(device.hello?.deviceId, 'pinned-dev');
    device.close();
    const other = pki.selfSigned('pinned-other', 'pinned-dev');
    const refused = await refusal(withCertificate(other));
    assert.equal(refused.body.error, 'certificate_rejected');
  });

  it('picks up a renewed certificate without a restart', async () => {
    const port = Number(new URL(gw.url).port);
    assert.equal(await serverSubject(port, pki.ca.cert), 'localhost/first');
    const renewed = pki.signed('renewed', 'localhost', { server: true, org: 'renewed' });
    copyFileSync(renewed.keyFile, serverFiles.key);
    copyFileSync(renewed.certFile, serverFiles.cert);
    await waitUntil(async () => (await serverSubject(port, pki.ca.cert)) === 'localhost/renewed', {
      timeoutMs: 10_000,
      intervalMs: 100,
      message: 'the renewed certificate in use',
    });
    const health = await https(`${gw.url}/healthz`, pki.ca.cert);
    assert.equal(health.status, 200);
  });
});
