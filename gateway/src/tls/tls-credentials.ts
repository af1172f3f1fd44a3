import { createPrivateKey, X509Certificate } from 'node:crypto';
import { unwatchFile, watchFile } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import { readSettingFile } from '../config.ts';
import { GatewayError } from '../errors.ts';
import type { Logger } from '../logger.ts';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM bundle of the CAs that device certificates must chain to (mTLS). */
  readonly clientCaFile?: string | undefined;
}

/** What the start message and /healthz say about TLS. */
export interface TlsState {
  readonly subject: string;
  readonly validTo: string;
  readonly clientCertificates: boolean;
  readonly reloadedAt: number;
}

/**
 * The gateway's certificate, key and client CA bundle, read from PEM files and read again when
 * they change (a file watch) or on SIGHUP, so short-lived certificates (ACME) renew without a
 * restart. A renewal that cannot be read or does not parse keeps the old credentials and says so.
 */
export class TlsCredentials {
  readonly files: TlsFiles;
  readonly #log: Logger;
  #options: SecureContextOptions;
  #state: TlsState;
  readonly #listeners = new Set<(options: SecureContextOptions) => void>();
  #watching = false;

  constructor(files: TlsFiles, log: Logger) {
    this.files = files;
    this.#log = log;
    const loaded = TlsCredentials.#load(files);
    this.#options = loaded.options;
    this.#state = loaded.state;
  }

  static #load(files: TlsFiles): { options: SecureContextOptions; state: TlsState } {
    const cert = readSettingFile(files.certFile, 'TLS_CERT_FILE');
    const key = readSettingFile(files.keyFile, 'TLS_KEY_FILE');
    const ca = files.clientCaFile
      ? readSettingFile(files.clientCaFile, 'TLS_CLIENT_CA_FILE')
      : undefined;
    let parsed: X509Certificate;
    try {
      parsed = new X509Certificate(cert);
    } catch {
      throw new GatewayError(
        'invalid_config',
        `TLS_CERT_FILE: ${files.certFile} is not a PEM certificate`,
      );
    }
    try {
      // Fails when the key does not belong to the certificate.
      if (!parsed.checkPrivateKey(createPrivateKey(key))) {
        throw new Error('mismatch');
      }
    } catch {
      throw new GatewayError(
        'invalid_config',
        `TLS_KEY_FILE: ${files.keyFile} is not the private key of ${files.certFile}`,
      );
    }
    return {
      options: { cert, key, ...(ca ? { ca } : {}) },
      state: {
        subject: parsed.subject.replace(/\n/g, ', '),
        validTo: new Date(parsed.validTo).toISOString(),
        clientCertificates: ca !== undefined,
        reloadedAt: Date.now(),
      },
    };
  }

  get options(): SecureContextOptions {
    return this.#options;
  }

  get state(): TlsState {
    return this.#state;
  }

  /** Called with the new options after every successful reload. */
  onReload(listener: (options: SecureContextOptions) => void): void {
    this.#listeners.add(listener);
  }

  /** Reads the files again; keeps the current credentials when they are not usable. */
  reload(): boolean {
    try {
      const loaded = TlsCredentials.#load(this.files);
      this.#options = loaded.options;
      this.#state = loaded.state;
    } catch (err) {
      this.#log.error(
        { err: (err as Error).message },
        'TLS files not reloaded; keeping the old ones',
      );
      return false;
    }
    for (const listener of this.#listeners) listener(this.#options);
    this.#log.info(
      { subject: this.#state.subject, validTo: this.#state.validTo },
      'TLS certificate reloaded',
    );
    return true;
  }

  /** Polls the files (renewals replace them by rename, which an inotify watch can miss). */
  watch(intervalMs = 1_000): void {
    if (this.#watching) return;
    this.#watching = true;
    const onChange = (current: { mtimeMs: number }, previous: { mtimeMs: number }) => {
      if (current.mtimeMs !== previous.mtimeMs) this.reload();
    };
    for (const file of this.#paths())
      watchFile(file, { interval: intervalMs, persistent: false }, onChange);
  }

  stop(): void {
    if (!this.#watching) return;
    this.#watching = false;
    for (const file of this.#paths()) unwatchFile(file);
  }

  #paths(): string[] {
    const { certFile, keyFile, clientCaFile } = this.files;
    return [certFile, keyFile, ...(clientCaFile ? [clientCaFile] : [])];
  }
}
