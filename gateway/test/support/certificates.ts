import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
  /** SHA-256 fingerprint as openssl prints it (`AB:CD:…`). */
  readonly sha256: string;
}

/** `openssl req` arguments for a new P-256 key, unencrypted, written to `<name>.key`. */
function newKey(name: string): string[] {
  return [
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}.key`,
  ];
}

function openssl(args: string[], cwd: string): string {
  try {
    return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args.join(' ')} failed: ${stderr || String(err)}`);
  }
}

/**
 * A throwaway PKI made with `openssl` for one test run: a CA, certificates it signs and
 * self-signed ones. Nothing is committed; `remove()` deletes the directory.
 */
export class TestPki {
  readonly dir = mkdtempSync(join(tmpdir(), 'iot-gateway-pki-'));
  readonly ca: Pem;
  #serial = 1;

  constructor() {
    this.ca = this.selfSigned('ca', 'IoT test CA', true);
  }

  #pem(name: string): Pem {
    const certFile = join(this.dir, `${name}.crt`);
    const keyFile = join(this.dir, `${name}.key`);
    const fingerprint = openssl(
      ['x509', '-in', certFile, '-noout', '-fingerprint', '-sha256'],
      this.dir,
    );
    return {
      certFile,
      keyFile,
      cert: readFileSync(certFile),
      key: readFileSync(keyFile),
      sha256: fingerprint.trim().split('=')[1] ?? '',
    };
  }

  /** A self-signed certificate (a CA when `ca`). */
  selfSigned(name: string, cn: string, ca = false): Pem {
    openssl(
      [
        'req',
        '-x509',
        ...newKey(name),
        '-out',
        `${name}.crt`,
        '-days',
        '2',
        '-subj',
        `/CN=${cn}`,
        ...(ca
          ? [
              '-addext',
              'basicConstraints=critical,CA:TRUE',
              '-addext',
              'keyUsage=keyCertSign,cRLSign',
            ]
          : []),
      ],
      this.dir,
    );
    return this.#pem(name);
  }

  /** A certificate signed by the CA: a server one (with SAN 127.0.0.1) or a client one. */
  signed(name: string, cn: string, options: { server?: boolean; org?: string } = {}): Pem {
    const subject = `/CN=${cn}${options.org ? `/O=${options.org}` : ''}`;
    openssl(['req', ...newKey(name), '-out', `${name}.csr`, '-subj', subject], this.dir);
    const ext = join(this.dir, `${name}.ext`);
    writeFileSync(
      ext,
      options.server
        ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
        : 'extendedKeyUsage=clientAuth\n',
    );
    openssl(
      [
        'x509',
        '-req',
        '-in',
        `${name}.csr`,
        '-CA',
        'ca.crt',
        '-CAkey',
        'ca.key',
        '-set_serial',
        String(++this.#serial),
        '-days',
        '2',
        '-out',
        `${name}.crt`,
        '-extfile',
        ext,
      ],
      this.dir,
    );
    return this.#pem(name);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
