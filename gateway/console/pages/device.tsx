import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Command, Device, KeyInfo, ObjectSchema, TypeSchema } from '../api.ts';
import { ApiError, api, may, typeSchema, unwrapDevice } from '../api.ts';
import type { Series } from '../components/chart.tsx';
import { MetricChart } from '../components/chart.tsx';
import { Confirm, CopySecret } from '../components/copy-secret.tsx';
import type { ParamValues } from '../components/params-form.tsx';
import { generalIssues, ParamsFields, paramsOf } from '../components/params-form.tsx';
import type { FleetEvent } from '../fleet-store.ts';
import { fleet } from '../fleet-store.ts';
import { ago, dateTime, time, value } from '../format.ts';
import { useSubscription, useTicker } from '../hooks.ts';
import { stream } from '../live-stream.ts';

/** How much history the charts show. */
const WINDOW_MS = 10 * 60_000;
const TERMINAL = new Set(['succeeded', 'failed', 'timed_out', 'expired', 'cancelled']);

/** One device: latest readings, live charts, transitions, events, commands and actions. */
export function DevicePage(props: { id: string; me: KeyInfo }) {
  const { id, me } = props;
  useSubscription(fleet);
  useTicker(5000);
  const [device, setDevice] = useState<Device | undefined>();
  const [schema, setSchema] = useState<TypeSchema | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [history, setHistory] = useState<string>('loading history…');
  const series = useRef(new Map<string, Series>());
  const [chartVersion, setChartVersion] = useState(0);
  const [commands, setCommands] = useState<Command[]>([]);
  const [secret, setSecret] = useState<string | undefined>();
  const [confirming, setConfirming] = useState(false);
  const [pastEvents, setPastEvents] = useState<FleetEvent[]>([]);

  useEffect(() => {
    series.current = new Map();
    setDevice(undefined);
    setError(undefined);
    let live = true;
    api<{ device: Device }>('GET', `/v1/devices/${encodeURIComponent(id)}`).then(
      (body) => {
        if (!live) return;
        const d = unwrapDevice(body);
        setDevice(d);
        fleet.upsert(d);
        typeSchema(d.type).then(
          (s) => live && setSchema(s),
          () => {},
        );
      },
      (err) => live && setError(err instanceof ApiError ? err.message : String(err)),
    );
    setPastEvents([]);
    api<{ events: Array<Omit<FleetEvent, 'ts' | 'deviceId'> & { ts: string }> }>(
      'GET',
      `/v1/devices/${encodeURIComponent(id)}/events?limit=50`,
    ).then(
      (r) =>
        live && setPastEvents(r.events.map((e) => ({ ...e, deviceId: id, ts: Date.parse(e.ts) }))),
      // Without InfluxDB there is no history: the events seen since sign-in remain.
      () => {},
    );
    api<{ commands: Command[] }>(
      'GET',
      `/v1/devices/${encodeURIComponent(id)}/commands?limit=20`,
    ).then(
      (r) => live && setCommands(r.commands),
      () => {},
    );
    const from = Date.now() - WINDOW_MS;
    api<{ points: Array<{ ts: string; metrics: Record<string, unknown> }> }>(
      'GET',
      `/v1/devices/${encodeURIComponent(id)}/telemetry?from=${from}&limit=2000`,
    ).then(
      (r) => {
        if (!live) return;
        for (const p of r.points) add(series.current, Date.parse(p.ts), p.metrics, true);
        setHistory(`${r.points.length} readings from the history`);
        setChartVersion((v) => v + 1);
      },
      (err) =>
        live &&
        setHistory(
          err instanceof ApiError && err.code === 'history_not_configured'
            ? 'no history: the gateway runs without InfluxDB; live readings only'
            : 'history unavailable; live readings only',
        ),
    );
    const unfollow = stream.follow([id]);
    const unlisten = stream.on((m) => {
      if (m.type === 'telemetry' && m.deviceId === id) {
        for (const r of m.readings as Array<{ ts: number; metrics: Record<string, unknown> }>) {
          add(series.current, r.ts, r.metrics, false);
        }
        setChartVersion((v) => v + 1);
      } else if (m.type === 'command' && (m.command as Command).deviceId === id) {
        const c = m.command as Command;
        setCommands((list) => [c, ...list.filter((x) => x.id !== c.id)].slice(0, 50));
      }
    });
    return () => {
      live = false;
      unfollow();
      unlisten();
    };
  }, [id]);

  const row = fleet.devices.get(id);
  const metricsSchema = schema?.$defs.metrics?.properties ?? {};
  const numeric = Object.entries(metricsSchema).filter(
    ([, p]) => p.type === 'number' || p.type === 'integer',
  );
  const events = mergeEvents(
    fleet.events.filter((e) => e.deviceId === id),
    pastEvents,
  );
  const transitions = fleet.transitions.filter((t) => t.deviceId === id).slice(0, 20);

  if (error) return <p class="field-error">{error}</p>;
  if (!device) return <p class="muted">Loading {id}…</p>;
  const latest =
    row?.latest ??
    (device.latest
      ? { ts: Date.parse(device.latest.ts), metrics: device.latest.metrics }
      : undefined);
  const online = row?.online ?? device.online;

  const rotate = async () => {
    const body = await api<{ token?: string }>(
      'POST',
      `/v1/devices/${encodeURIComponent(id)}/credentials`,
      {},
    );
    if (body.token) setSecret(body.token);
  };
  const remove = async () => {
    await api('DELETE', `/v1/devices/${encodeURIComponent(id)}`);
    fleet.remove(id);
    location.hash = '#/fleet';
  };

  return (
    <section class="device">
      <div class="toolbar">
        <h2>
          <span class={online ? 'dot on' : 'dot off'} /> {id}
        </h2>
        <span class="badge" data-testid="device-online">
          {online ? 'online' : 'offline'}
        </span>
        <span class="muted">
          {device.type} ·{' '}
          {Object.entries(device.labels)
            .map(([k, v]) => `${k}=${v}`)
            .join(', ') || 'no labels'}{' '}
          · last seen {online ? 'now' : ago(row?.lastSeen)}
        </span>
        {may(me.role, 'admin') ? (
          <span class="actions">
            <button type="button" class="secondary" onClick={rotate}>
              Rotate token
            </button>
            <button type="button" class="danger" onClick={() => setConfirming(true)}>
              Delete
            </button>
          </span>
        ) : null}
      </div>
      {secret ? (
        <CopySecret
          label={`New token of ${id}`}
          secret={secret}
          onClose={() => setSecret(undefined)}
        />
      ) : null}
      {confirming ? (
        <Confirm
          text={`Delete ${id}? Its credentials are revoked, its session closed at once and its pending commands cancelled.`}
          action={`Delete ${id}`}
          onConfirm={remove}
          onCancel={() => setConfirming(false)}
        />
      ) : null}

      <div class="cards">
        {Object.entries(latest?.metrics ?? {}).map(([k, v]) => (
          <div class="card" key={k}>
            <div class="card-label">{k}</div>
            <div class="card-value" data-testid={`latest-${k}`}>
              {value(v)}
            </div>
          </div>
        ))}
        {latest ? (
          <div class="muted small">as of {time(latest.ts)}</div>
        ) : (
          <p class="muted">No readings yet.</p>
        )}
      </div>

      <h3>
        Last 10 minutes <span class="muted small">{history}</span>
      </h3>
      <div class="charts">
        {numeric.map(([name, p]) => (
          <MetricChart
            key={name}
            name={name}
            unit={/\(([^)]+)\)$/.exec(p.description ?? '')?.[1]}
            series={series.current.get(name) ?? EMPTY}
            version={chartVersion}
          />
        ))}
      </div>

      <div class="columns">
        <div>
          <h3>Commands</h3>
          {may(me.role, 'operator') && schema ? (
            <SendCommand deviceId={id} schema={schema} />
          ) : null}
          <table class="list" data-testid="commands">
            <thead>
              <tr>
                <th>Sent</th>
                <th>Command</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {commands.map((c) => (
                <tr key={c.id} data-command={c.id}>
                  <td>{time(c.createdAt)}</td>
                  <td>
                    <code>{c.name}</code>{' '}
                    {Object.keys(c.params).length > 0 ? JSON.stringify(c.params) : ''}
                  </td>
                  <td>
                    <span class={`state state-${c.state}`} data-testid="command-state">
                      {c.state}
                    </span>
                    {TERMINAL.has(c.state) && c.error ? (
                      <span class="muted small"> {JSON.stringify(c.error)}</span>
                    ) : null}
                  </td>
                </tr>
              ))}
              {commands.length === 0 ? (
                <tr>
                  <td colSpan={3} class="muted">
                    No commands yet.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
        </div>
        <div>
          <h3>Events</h3>
          <ul class="events" data-testid="events">
            {events.map((e) => (
              <li key={`${e.ts}-${e.name}`} class={`sev-${e.severity}`}>
                <span class="muted small">{time(e.ts)}</span> <span class="sev">{e.severity}</span>{' '}
                <code>{e.name}</code>{' '}
                {e.data !== undefined ? <span class="small">{JSON.stringify(e.data)}</span> : null}
              </li>
            ))}
            {events.length === 0 ? <li class="muted">No events.</li> : null}
          </ul>
          <h3>Status</h3>
          <ul class="events" data-testid="transitions">
            {transitions.map((t) => (
              <li key={`${t.ts}-${t.online}`}>
                <span class="muted small">{dateTime(t.ts)}</span>{' '}
                <span class={t.online ? 'on' : 'off'}>{t.online ? 'online' : 'offline'}</span>{' '}
                <span class="muted">({t.reason})</span>
              </li>
            ))}
            <li class="muted small">
              {device.session
                ? `session since ${dateTime(device.session.connectedAt)}`
                : device.lastSeenAt
                  ? `offline since ${dateTime(device.lastSeenAt)}`
                  : 'never connected'}
            </li>
          </ul>
        </div>
      </div>
    </section>
  );
}

const EMPTY: Series = { ts: [], values: [] };

/** The events seen live and those read from the history, once each, newest first. */
function mergeEvents(live: readonly FleetEvent[], past: readonly FleetEvent[]): FleetEvent[] {
  const seen = new Set<string>();
  const all: FleetEvent[] = [];
  for (const e of [...live, ...past]) {
    const key = `${e.ts}|${e.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    all.push(e);
  }
  return all.sort((a, b) => b.ts - a.ts).slice(0, 50);
}

/** Appends readings to the per-metric series, dropping what left the window. */
function add(
  all: Map<string, Series>,
  ts: number,
  metrics: Record<string, unknown>,
  history: boolean,
): void {
  for (const [name, v] of Object.entries(metrics)) {
    if (typeof v !== 'number') continue;
    let s = all.get(name);
    if (!s) {
      s = { ts: [], values: [] };
      all.set(name, s);
    }
    const last = s.ts.at(-1);
    if (last !== undefined && ts < last) {
      if (!history) continue;
    }
    if (last === ts) continue;
    s.ts.push(ts);
    s.values.push(v);
  }
  const cutoff = Date.now() - WINDOW_MS;
  for (const s of all.values()) {
    let drop = 0;
    while (drop < s.ts.length && (s.ts[drop] as number) < cutoff) drop++;
    if (drop > 0) {
      s.ts.splice(0, drop);
      s.values.splice(0, drop);
    }
  }
}

/** The send-command form, made from the device type's JSON Schema. */
export function SendCommand(props: { deviceId: string; schema: TypeSchema }) {
  const names = useMemo(
    () =>
      Object.keys(props.schema.$defs)
        .filter((k) => k.startsWith('command.'))
        .map((k) => k.slice('command.'.length)),
    [props.schema],
  );
  const [name, setName] = useState(names[0] ?? '');
  const [values, setValues] = useState<ParamValues>({});
  const [error, setError] = useState<ApiError | undefined>();
  const [sent, setSent] = useState<string | undefined>();
  const params: ObjectSchema | undefined = props.schema.$defs[`command.${name}`];
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setSent(undefined);
    try {
      const c = await api<Command>(
        'POST',
        `/v1/devices/${encodeURIComponent(props.deviceId)}/commands`,
        {
          name,
          params: paramsOf(params, values),
        },
      );
      setSent(`${c.name} is ${c.state}`);
    } catch (err) {
      if (err instanceof ApiError) setError(err);
      else throw err;
    }
  };
  return (
    <form class="send-command" onSubmit={submit} noValidate data-testid="send-command">
      <label class="field">
        <span class="field-name">Command</span>
        <select
          name="command"
          value={name}
          onChange={(e) => {
            setName((e.currentTarget as HTMLSelectElement).value);
            setValues({});
            setError(undefined);
          }}
        >
          {names.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
        {params?.description ? <span class="field-help">{params.description}</span> : null}
      </label>
      <ParamsFields
        schema={params}
        values={values}
        issues={error?.issues ?? []}
        onChange={setValues}
      />
      {error ? (
        <p class="field-error">
          {error.message}
          {generalIssues(error.issues).map((i) => ` · ${i.path}: ${i.message}`)}
        </p>
      ) : null}
      <button type="submit">Send</button>
      {sent ? <span class="muted"> {sent}</span> : null}
    </form>
  );
}
