import { createPublicKey } from 'node:crypto';
import type { DeviceTypeRegistry } from '@iot-gateway/schemas';
import { deviceIdSchema } from '@iot-gateway/schemas';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEVICE_TOKEN_PREFIX, hashSecret, newSecret } from '../auth/secrets.ts';
import type { DevicePresence, PresenceLookup } from '../cluster/presence.ts';
import { GatewayError } from '../errors.ts';
import type { LatestReadings } from '../events/latest-readings.ts';
import type { DeviceLifecycle } from '../registry/device-lifecycle.ts';
import type { Device, DeviceCredential, DeviceRegistry } from '../registry/device-registry.ts';
import type { ApiKeyStore } from './api-key-store.ts';
import { requireRole } from './authorize.ts';
import { apiErrorSchema } from './http-errors.ts';

export interface DeviceRouteDeps {
  readonly registry: DeviceRegistry;
  /** Deletion and credential rotation, which reach the device's session wherever it is. */
  readonly lifecycle: DeviceLifecycle;
  /** Who is online: this instance's sessions, or the cluster's (the same from every instance). */
  readonly presence: PresenceLookup;
  readonly keys: ApiKeyStore;
  readonly deviceTypes: DeviceTypeRegistry;
  readonly latest: LatestReadings;
}

/** The protocol's device id, one definition everywhere: a provisioned device can always connect. */
const deviceId = deviceIdSchema;
const LABEL_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const labels = z
  .record(
    z.string().regex(LABEL_NAME, 'label names: letters, digits, _ and -'),
    z.string().min(1).max(256),
  )
  .refine((l) => Object.keys(l).length <= 32, 'at most 32 labels');
const publicKey = z.strictObject({
  alg: z.enum(['ES256', 'RS256']),
  pem: z
    .string()
    .max(16 * 1024)
    .regex(/-----BEGIN PUBLIC KEY-----/, 'a PEM-encoded SPKI public key'),
});

/** A certificate fingerprint as openssl prints it (`AB:CD:…`) or as plain hex; stored lowercase. */
const certificateSha256 = z
  .string()
  .transform((v) => v.replace(/:/g, '').toLowerCase())
  .pipe(
    z.string().regex(/^[0-9a-f]{64}$/, 'the SHA-256 fingerprint: 64 hex digits, colons allowed'),
  );

/** How a device proves who it is; the token is made by the gateway, the rest given here. */
const credentialFields = {
  auth: z
    .enum(['token', 'jwt', 'x509'])
    .optional()
    .describe(
      'Default: `jwt` when publicKey is given, `x509` when certificateSha256 is, else `token`',
    ),
  publicKey: publicKey.optional(),
  certificateSha256: certificateSha256.optional(),
};

const deviceSchema = z
  .object({
    id: z.string(),
    type: z.string(),
    labels: z.record(z.string(), z.string()),
    auth: z.enum(['token', 'jwt', 'x509']),
    keyAlg: z.enum(['ES256', 'RS256']).optional(),
    certificateSha256: z.string().optional().describe('The pinned certificate of an X.509 device'),
    createdAt: z.string().describe('RFC 3339'),
    lastSeenAt: z.string().optional(),
    online: z.boolean(),
    session: z
      .object({
        id: z.string(),
        connectedAt: z.string(),
        instance: z.string().describe('INSTANCE_ID of the gateway instance holding the session'),
        inFlight: z
          .number()
          .optional()
          .describe('Frames awaiting durability; given by the instance holding the session'),
      })
      .optional(),
  })
  .meta({ id: 'Device' });

const deviceDetailSchema = deviceSchema
  .extend({
    latest: z
      .object({ ts: z.string(), metrics: z.record(z.string(), z.unknown()) })
      .optional()
      .describe('The newest durable value of each metric'),
  })
  .meta({ id: 'DeviceDetail' });

const iso = (ms: number) => new Date(ms).toISOString();

export function registerDeviceRoutes(app: FastifyInstance, deps: DeviceRouteDeps): void {
  const { registry, lifecycle, keys, deviceTypes } = deps;
  const api = app.withTypeProvider<ZodTypeProvider>();

  const presenceOf = async (ids: readonly string[]) => deps.presence.presence(ids);
  const view = async (device: Device) =>
    viewWith(device, (await presenceOf([device.id])).get(device.id));
  const viewWith = (device: Device, session: DevicePresence | undefined) => {
    const lastSeen = session ? session.lastSeenAt : device.lastSeenAt;
    return {
      id: device.id,
      type: device.type,
      labels: { ...device.labels },
      auth: device.auth,
      ...(device.keyAlg ? { keyAlg: device.keyAlg } : {}),
      ...(device.certificateSha256 ? { certificateSha256: device.certificateSha256 } : {}),
      createdAt: iso(device.createdAt),
      ...(lastSeen !== undefined ? { lastSeenAt: iso(lastSeen) } : {}),
      online: session !== undefined,
      ...(session
        ? {
            session: {
              id: session.sessionId,
              connectedAt: iso(session.connectedAt),
              instance: session.instanceId,
              ...(session.inFlight !== undefined ? { inFlight: session.inFlight } : {}),
            },
          }
        : {}),
    };
  };

  const credentialFor = (body: {
    auth?: 'token' | 'jwt' | 'x509' | undefined;
    publicKey?: z.infer<typeof publicKey> | undefined;
    certificateSha256?: string | undefined;
  }) => {
    const { publicKey: key, certificateSha256: pin } = body;
    const auth = body.auth ?? (key ? 'jwt' : pin ? 'x509' : 'token');
    const misplaced = (path: string, message: string) =>
      new GatewayError('validation_failed', message, [{ path, message }]);
    if (auth !== 'jwt' && key)
      throw misplaced('body.publicKey', `a ${auth} device takes no public key`);
    if (auth !== 'x509' && pin) {
      throw misplaced('body.certificateSha256', `a ${auth} device takes no certificate`);
    }
    if (auth === 'jwt') {
      if (!key) throw misplaced('body.publicKey', 'a jwt device needs its public key');
      validatePublicKey(key);
      const credential: DeviceCredential = { kind: 'jwt', publicKeyPem: key.pem, alg: key.alg };
      return { credential, token: undefined };
    }
    if (auth === 'x509') {
      const credential: DeviceCredential = { kind: 'x509', certificateSha256: pin };
      return { credential, token: undefined };
    }
    const token = newSecret(DEVICE_TOKEN_PREFIX);
    const credential: DeviceCredential = { kind: 'token', tokenHash: hashSecret(token) };
    return { credential, token };
  };

  api.post(
    '/v1/devices',
    {
      onRequest: requireRole(keys, 'admin'),
      schema: {
        tags: ['devices'],
        summary: 'Provision a device',
        description:
          'Returns the device token once; the gateway keeps only its hash. Give `publicKey` instead for a device that signs its own JWTs, or `auth: "x509"` for a device that presents a client certificate whose CN is its id (optionally pinned with `certificateSha256`).',
        security: [{ apiKey: [] }],
        body: z
          .strictObject({
            id: deviceId,
            type: z.string().min(1).max(64),
            labels: labels.optional(),
            ...credentialFields,
          })
          .meta({ example: { id: 'thermostat-1', type: 'thermostat', labels: { site: 'lab' } } }),
        response: {
          201: z.object({ device: deviceSchema, token: z.string().optional() }),
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
          409: apiErrorSchema,
        },
      },
    },
    async (req, reply) => {
      const { id, type } = req.body;
      if (!deviceTypes.get(type)) {
        throw new GatewayError('unknown_device_type', `unknown device type ${type}`, [
          {
            path: 'body.type',
            message: `one of ${deviceTypes
              .list()
              .map((t) => t.name)
              .join(', ')}`,
          },
        ]);
      }
      const { credential, token } = credentialFor(req.body);
      const device = await registry.create({ id, type, labels: req.body.labels ?? {}, credential });
      return reply.code(201).send({ device: await view(device), ...(token ? { token } : {}) });
    },
  );

  api.get(
    '/v1/devices',
    {
      onRequest: requireRole(keys, 'viewer'),
      schema: {
        tags: ['devices'],
        summary: 'List devices',
        security: [{ apiKey: [] }],
        querystring: z.strictObject({
          type: z.string().max(64).optional(),
          label: z
            .union([z.string(), z.array(z.string())])
            .optional()
            .describe('`name=value`; repeat to require several labels'),
          online: z.enum(['true', 'false']).optional(),
          after: z.string().max(128).optional().describe('The last id of the previous page'),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
        }),
        response: {
          200: z.object({ devices: z.array(deviceSchema), next: z.string().optional() }),
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
        },
      },
    },
    async (req) => {
      const labelFilter: Record<string, string> = {};
      const given = req.query.label === undefined ? [] : [req.query.label].flat();
      for (const [i, pair] of given.entries()) {
        const eq = pair.indexOf('=');
        // The same names as labels themselves: `__proto__=x` is refused, not silently ignored.
        if (eq < 1 || !LABEL_NAME.test(pair.slice(0, eq))) {
          throw new GatewayError('validation_failed', 'label filters look like name=value', [
            {
              path: `querystring.label.${i}`,
              message: 'expected name=value, the name a label name (letters, digits, _ and -)',
            },
          ]);
        }
        labelFilter[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      const online = req.query.online === undefined ? undefined : req.query.online === 'true';
      const { limit } = req.query;
      // The online filter applies after the page is read, so read until the page is full.
      const devices: Device[] = [];
      const presences = new Map<string, DevicePresence>();
      let after = req.query.after;
      let exhausted = false;
      while (devices.length < limit && !exhausted) {
        const page = await registry.list({
          ...(req.query.type ? { type: req.query.type } : {}),
          labels: labelFilter,
          ...(after ? { after } : {}),
          limit: limit + 1,
        });
        exhausted = page.length <= limit;
        const live = await presenceOf(page.slice(0, limit).map((d) => d.id));
        for (const [id, p] of live) presences.set(id, p);
        for (const device of page.slice(0, limit)) {
          after = device.id;
          if (online === undefined || live.has(device.id) === online) {
            devices.push(device);
            if (devices.length === limit) break;
          }
        }
      }
      const last = devices.at(-1);
      return {
        devices: devices.map((d) => viewWith(d, presences.get(d.id))),
        ...(!exhausted && last ? { next: last.id } : {}),
      };
    },
  );

  api.get(
    '/v1/devices/:id',
    {
      onRequest: requireRole(keys, 'viewer'),
      schema: {
        tags: ['devices'],
        summary: 'Get a device: online state, last seen, session, latest readings',
        security: [{ apiKey: [] }],
        params: z.object({ id: deviceId }),
        response: {
          200: z.object({ device: deviceDetailSchema }),
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
        },
      },
    },
    async (req) => {
      const device = await registry.get(req.params.id);
      if (!device || device.revokedAt !== undefined) {
        throw new GatewayError('device_not_found', `no device ${req.params.id}`);
      }
      const latest = deps.latest.get(device.id);
      return {
        device: {
          ...(await view(device)),
          ...(latest ? { latest: { ts: iso(latest.ts), metrics: latest.metrics } } : {}),
        },
      };
    },
  );

  api.delete(
    '/v1/devices/:id',
    {
      onRequest: requireRole(keys, 'admin'),
      schema: {
        tags: ['devices'],
        summary: 'Delete a device: revokes its credentials and closes its live session at once',
        security: [{ apiKey: [] }],
        params: z.object({ id: deviceId }),
        response: { 204: z.null(), 401: apiErrorSchema, 403: apiErrorSchema, 404: apiErrorSchema },
      },
    },
    async (req, reply) => {
      if (!(await lifecycle.delete(req.params.id))) {
        throw new GatewayError('device_not_found', `no device ${req.params.id}`);
      }
      return reply.code(204).send(null);
    },
  );

  api.post(
    '/v1/devices/:id/credentials',
    {
      onRequest: requireRole(keys, 'admin'),
      schema: {
        tags: ['devices'],
        summary: 'Rotate a device credential',
        description:
          'Issues a new token (or stores a new public key, or a new pinned certificate); the old credential stops working and a live session is closed.',
        security: [{ apiKey: [] }],
        params: z.object({ id: deviceId }),
        // Fastify hands a request without a body over as null.
        body: z
          .strictObject(credentialFields)
          .meta({ example: { auth: 'token' } })
          .nullish(),
        response: {
          200: z.object({ device: deviceSchema, token: z.string().optional() }),
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
        },
      },
    },
    async (req) => {
      const body = req.body ?? {};
      const current = await registry.get(req.params.id);
      // An X.509 device stays one unless told otherwise: rotating it re-pins (or unpins) its
      // certificate rather than handing it a token it has no use for.
      const auth = body.auth ?? (current?.auth === 'x509' && !body.publicKey ? 'x509' : undefined);
      const { credential, token } = credentialFor({ ...body, ...(auth ? { auth } : {}) });
      const device = await lifecycle.replaceCredential(req.params.id, credential);
      if (!device) throw new GatewayError('device_not_found', `no device ${req.params.id}`);
      return { device: await view(device), ...(token ? { token } : {}) };
    },
  );

  api.patch(
    '/v1/devices/:id',
    {
      onRequest: requireRole(keys, 'admin'),
      schema: {
        tags: ['devices'],
        summary: "Replace a device's labels",
        security: [{ apiKey: [] }],
        params: z.object({ id: deviceId }),
        body: z.strictObject({ labels }).meta({ example: { labels: { site: 'lab', floor: '2' } } }),
        response: {
          200: z.object({ device: deviceSchema }),
          400: apiErrorSchema,
          401: apiErrorSchema,
          403: apiErrorSchema,
          404: apiErrorSchema,
        },
      },
    },
    async (req) => {
      const device = await registry.updateLabels(req.params.id, req.body.labels);
      if (!device) throw new GatewayError('device_not_found', `no device ${req.params.id}`);
      return { device: await view(device) };
    },
  );
}

function validatePublicKey(key: { alg: 'ES256' | 'RS256'; pem: string }): void {
  let type: string | undefined;
  let curve: string | undefined;
  try {
    const parsed = createPublicKey(key.pem);
    type = parsed.asymmetricKeyType;
    curve = parsed.asymmetricKeyDetails?.namedCurve;
  } catch {
    throw new GatewayError('validation_failed', 'the public key cannot be read', [
      { path: 'body.publicKey.pem', message: 'not a readable PEM public key' },
    ]);
  }
  const fits = key.alg === 'ES256' ? type === 'ec' && curve === 'prime256v1' : type === 'rsa';
  if (!fits) {
    throw new GatewayError('validation_failed', `the key does not fit ${key.alg}`, [
      {
        path: 'body.publicKey',
        message: key.alg === 'ES256' ? 'ES256 needs a P-256 EC key' : 'RS256 needs an RSA key',
      },
    ]);
  }
}
