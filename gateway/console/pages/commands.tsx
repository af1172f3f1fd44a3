import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Command, FleetCommand, KeyInfo, ObjectSchema, TypeSummary } from '../api.ts';
import { ApiError, api, deviceTypes, may } from '../api.ts';
import { CommandPicker } from '../components/command-picker.tsx';
import { ErrorText } from '../components/error-text.tsx';
import type { ParamValues } from '../components/params-form.tsx';
import { paramsOf } from '../components/params-form.tsx';
import type { SelectorValues } from '../components/selector-fields.tsx';
import { SelectorFields, selectorOf } from '../components/selector-fields.tsx';
import { fleet } from '../fleet-store.ts';
import { time } from '../format.ts';
import { useSubscription } from '../hooks.ts';
import { stream } from '../live-stream.ts';

const SENT_KEY = 'iot-gateway.fleet-commands';
const STATES = ['queued', 'sent', 'succeeded', 'failed', 'timed_out', 'expired', 'cancelled'];

/** Fleet commands by selector with their live summaries, and the latest commands of all devices. */
export function CommandsPage(props: { me: KeyInfo }) {
  useSubscription(fleet);
  const [types, setTypes] = useState<TypeSummary[]>([]);
  const [recent, setRecent] = useState<Command[]>([]);
  const [fleets, setFleets] = useState<FleetCommand[]>([]);

  useEffect(() => {
    deviceTypes().then(setTypes, () => {});
    api<{ commands: Command[] }>('GET', '/v1/commands?limit=50').then(
      (r) => setRecent(r.commands),
      () => {},
    );
    // The fleet commands sent from this tab; the API has no list of them.
    const ids = JSON.parse(sessionStorage.getItem(SENT_KEY) ?? '[]') as string[];
    Promise.all(
      ids.map((id) => api<FleetCommand>('GET', `/v1/fleet-commands/${id}`).catch(() => undefined)),
    ).then((all) => setFleets(all.filter((f): f is FleetCommand => f !== undefined)));
  }, []);

  // A fleet's summary is read again (at most every 500 ms) when one of its commands changes.
  useEffect(() => {
    const dirty = new Set<string>();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const unlisten = stream.on((m) => {
      if (m.type !== 'command') return;
      const c = m.command as Command;
      setRecent((list) => [c, ...list.filter((x) => x.id !== c.id)].slice(0, 50));
      if (!c.fleetId) return;
      dirty.add(c.fleetId);
      timer ??= setTimeout(async () => {
        timer = undefined;
        const ids = [...dirty];
        dirty.clear();
        for (const id of ids) {
          const f = await api<FleetCommand>('GET', `/v1/fleet-commands/${id}`).catch(
            () => undefined,
          );
          if (f) setFleets((list) => list.map((x) => (x.id === f.id ? f : x)));
        }
      }, 500);
    });
    return () => {
      unlisten();
      clearTimeout(timer);
    };
  }, []);

  const sent = (f: FleetCommand) => {
    setFleets((list) => [f, ...list]);
    const ids = JSON.parse(sessionStorage.getItem(SENT_KEY) ?? '[]') as string[];
    sessionStorage.setItem(SENT_KEY, JSON.stringify([f.id, ...ids].slice(0, 20)));
  };

  return (
    <section>
      <h2>Commands</h2>
      {may(props.me.role, 'operator') ? <FleetForm types={types} onSent={sent} /> : null}
      {fleets.length > 0 ? <h3>Fleet commands</h3> : null}
      {fleets.map((f) => (
        <FleetSummary key={f.id} fleet={f} />
      ))}
      <h3>Latest commands</h3>
      <table class="list" data-testid="recent-commands">
        <thead>
          <tr>
            <th>Sent</th>
            <th>Device</th>
            <th>Command</th>
            <th>Source</th>
            <th>State</th>
          </tr>
        </thead>
        <tbody>
          {recent.map((c) => (
            <tr key={c.id}>
              <td>{time(c.createdAt)}</td>
              <td>
                <a href={`#/devices/${encodeURIComponent(c.deviceId)}`}>{c.deviceId}</a>
              </td>
              <td>
                <code>{c.name}</code>{' '}
                {Object.keys(c.params).length > 0 ? JSON.stringify(c.params) : ''}
              </td>
              <td>{c.source}</td>
              <td>
                <span class={`state state-${c.state}`}>{c.state}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function FleetSummary(props: { fleet: FleetCommand }) {
  const f = props.fleet;
  const total = Math.max(1, f.targeted);
  return (
    <div class="fleet-summary" data-testid="fleet-summary">
      <div>
        <code>{f.name}</code> {Object.keys(f.params).length > 0 ? JSON.stringify(f.params) : ''} to{' '}
        {JSON.stringify(f.selector)} · {f.targeted} targeted
        {f.skipped.count > 0 ? ` · ${f.skipped.count} skipped` : ''} · {f.done ? 'done' : 'running'}{' '}
        · <span class="muted">{time(f.createdAt)}</span>
      </div>
      <div class="bar">
        {STATES.filter((s) => (f.states[s] ?? 0) > 0).map((s) => (
          <span
            key={s}
            class={`seg state-${s}`}
            style={{ width: `${((f.states[s] ?? 0) / total) * 100}%` }}
            title={`${s}: ${f.states[s]}`}
          />
        ))}
      </div>
      <div class="small">
        {STATES.filter((s) => (f.states[s] ?? 0) > 0).map((s) => (
          <span key={s} class={`state state-${s}`}>
            {s} {f.states[s]}
          </span>
        ))}
      </div>
    </div>
  );
}

function FleetForm(props: { types: TypeSummary[]; onSent: (f: FleetCommand) => void }) {
  const [selector, setSelector] = useState<SelectorValues>({ type: '', labels: '', ids: '' });
  const [name, setName] = useState('');
  const [values, setValues] = useState<ParamValues>({});
  const [schema, setSchema] = useState<ObjectSchema | undefined>();
  const [error, setError] = useState<ApiError | string | undefined>();
  const issues = useMemo(() => (error instanceof ApiError ? error.issues : []), [error]);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    const sel = selectorOf(selector);
    if (typeof sel === 'string') return setError(sel);
    try {
      props.onSent(
        await api<FleetCommand>('POST', '/v1/fleet-commands', {
          selector: sel,
          name,
          params: paramsOf(schema, values),
        }),
      );
    } catch (err) {
      setError(err instanceof ApiError ? err : String(err));
    }
  };
  return (
    <form class="panel" onSubmit={submit} noValidate data-testid="fleet-form">
      <h3>Send to a fleet</h3>
      <SelectorFields types={props.types} values={selector} onChange={setSelector} />
      <CommandPicker
        types={props.types}
        type={selector.type}
        name={name}
        values={values}
        issues={issues}
        onChange={(n, v, s) => {
          setName(n);
          setValues(v);
          setSchema(s);
        }}
      />
      <ErrorText error={error} />
      <button type="submit" disabled={!name}>
        Send to every matching device
      </button>
    </form>
  );
}
