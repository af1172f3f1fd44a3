import type { Command, Device } from './api.ts';
import { api } from './api.ts';
import type { StreamMessage } from './live-stream.ts';
import { stream } from './live-stream.ts';

export interface DeviceRow {
  id: string;
  type: string;
  labels: Record<string, string>;
  online: boolean;
  lastSeen: number | undefined;
  latest: { ts: number; metrics: Record<string, unknown> } | undefined;
}

export interface FleetEvent {
  readonly deviceId: string;
  readonly ts: number;
  readonly name: string;
  readonly severity: string;
  readonly data?: unknown;
}

export interface StatusTransition {
  readonly deviceId: string;
  readonly online: boolean;
  readonly reason: string;
  readonly ts: number;
}

const MAX_EVENTS = 2000;
const MAX_TRANSITIONS = 2000;

/**
 * What the console knows of the fleet: every device (loaded page by page), kept current by the
 * stream; the events and transitions seen since sign-in; the latest command states. Views
 * subscribe and are told at most once per animation frame.
 */
export class FleetStore {
  readonly devices = new Map<string, DeviceRow>();
  readonly events: FleetEvent[] = [];
  readonly transitions: StatusTransition[] = [];
  readonly commands = new Map<string, Command>();
  loaded = false;
  version = 0;
  #listeners = new Set<() => void>();
  #scheduled = false;
  #unlisten: (() => void) | undefined;
  #loading: Promise<void> | undefined;

  start(): void {
    this.#unlisten = stream.on((m) => this.#onMessage(m));
    void this.reload();
  }

  stop(): void {
    this.#unlisten?.();
    this.devices.clear();
    this.events.length = 0;
    this.transitions.length = 0;
    this.commands.clear();
    this.loaded = false;
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  changed(): void {
    this.version++;
    if (this.#scheduled) return;
    this.#scheduled = true;
    requestAnimationFrame(() => {
      this.#scheduled = false;
      for (const l of this.#listeners) l();
    });
  }

  /** Reads every device, 1000 a page; the first page is shown while the rest load. */
  reload(): Promise<void> {
    this.#loading ??= (async () => {
      try {
        let after: string | undefined;
        const seen = new Set<string>();
        do {
          const page = await api<{ devices: Device[]; next?: string }>(
            'GET',
            `/v1/devices?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ''}`,
          );
          for (const d of page.devices) {
            seen.add(d.id);
            this.upsert(d);
          }
          after = page.next;
          this.loaded = after === undefined;
          this.changed();
        } while (after);
        for (const id of [...this.devices.keys()]) if (!seen.has(id)) this.devices.delete(id);
        this.loaded = true;
        this.changed();
      } finally {
        this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  upsert(d: Device): DeviceRow {
    const row = this.devices.get(d.id);
    const lastSeen = d.lastSeenAt ? Date.parse(d.lastSeenAt) : undefined;
    const latest = d.latest
      ? { ts: Date.parse(d.latest.ts), metrics: d.latest.metrics }
      : row?.latest;
    const next: DeviceRow = {
      id: d.id,
      type: d.type,
      labels: d.labels,
      online: d.online,
      lastSeen,
      latest,
    };
    this.devices.set(d.id, next);
    this.changed();
    return next;
  }

  remove(id: string): void {
    this.devices.delete(id);
    this.changed();
  }

  #onMessage(m: StreamMessage): void {
    switch (m.type) {
      case 'status': {
        const id = m.deviceId as string;
        const ts = m.ts as number;
        const row = this.devices.get(id);
        if (row) {
          row.online = m.online as boolean;
          row.lastSeen = ts;
        } else {
          this.devices.set(id, {
            id,
            type: m.deviceType as string,
            labels: (m.labels as Record<string, string>) ?? {},
            online: m.online as boolean,
            lastSeen: ts,
            latest: undefined,
          });
        }
        this.transitions.unshift({
          deviceId: id,
          online: m.online as boolean,
          reason: m.reason as string,
          ts,
        });
        if (this.transitions.length > MAX_TRANSITIONS) this.transitions.length = MAX_TRANSITIONS;
        this.changed();
        return;
      }
      case 'telemetry': {
        const row = this.devices.get(m.deviceId as string);
        const readings = m.readings as Array<{ ts: number; metrics: Record<string, unknown> }>;
        const last = readings.at(-1);
        if (row && last) {
          row.latest = { ts: last.ts, metrics: { ...row.latest?.metrics, ...last.metrics } };
          row.lastSeen = Math.max(row.lastSeen ?? 0, last.ts);
          this.changed();
        }
        return;
      }
      case 'event':
        this.events.unshift({
          deviceId: m.deviceId as string,
          ts: m.ts as number,
          name: m.name as string,
          severity: m.severity as string,
          data: m.data,
        });
        if (this.events.length > MAX_EVENTS) this.events.length = MAX_EVENTS;
        this.changed();
        return;
      case 'command': {
        const command = m.command as Command;
        this.commands.set(command.id, command);
        if (this.commands.size > 5000) {
          const oldest = this.commands.keys().next().value;
          if (oldest !== undefined) this.commands.delete(oldest);
        }
        this.changed();
        return;
      }
      case 'reconnecting':
        void this.reload();
        return;
    }
  }
}

export const fleet = new FleetStore();
