import { useEffect, useMemo, useState } from 'preact/hooks';
import type { KeyInfo, ObjectSchema, TypeSummary } from '../api.ts';
import { ApiError, api, deviceTypes, may } from '../api.ts';
import { CommandPicker } from '../components/command-picker.tsx';
import { Confirm } from '../components/copy-secret.tsx';
import { ErrorText } from '../components/error-text.tsx';
import type { ParamValues } from '../components/params-form.tsx';
import { paramsOf } from '../components/params-form.tsx';
import type { SelectorValues } from '../components/selector-fields.tsx';
import { SelectorFields, selectorOf } from '../components/selector-fields.tsx';
import { nextRuns } from '../cron.ts';
import { dateTime } from '../format.ts';

interface Schedule {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  selector: Record<string, unknown>;
  command: { name: string; params?: Record<string, unknown> };
  createdAt: string;
  nextRunAt?: string;
}

interface Run {
  at: string;
  outcome: string;
  fleetId?: string;
  targeted: number;
  skipped: number;
  error?: string;
}

const PRESETS: Array<[string, string]> = [
  ['every minute', '* * * * *'],
  ['every 15 minutes', '*/15 * * * *'],
  ['hourly', '0 * * * *'],
  ['daily at 06:00', '0 6 * * *'],
  ['weekdays at 22:00', '0 22 * * 1-5'],
];

/** Cron schedules: create (with the next runs shown), delete, and each one's runs. */
export function SchedulesPage(props: { me: KeyInfo }) {
  const [schedules, setSchedules] = useState<Schedule[]>([]);
  const [types, setTypes] = useState<TypeSummary[]>([]);
  const [open, setOpen] = useState<string | undefined>();
  const [deleting, setDeleting] = useState<Schedule | undefined>();
  const load = () =>
    api<{ schedules: Schedule[] }>('GET', '/v1/schedules').then(
      (r) => setSchedules(r.schedules),
      () => {},
    );
  useEffect(() => {
    void load();
    deviceTypes().then(setTypes, () => {});
  }, []);
  const operator = may(props.me.role, 'operator');
  return (
    <section>
      <h2>Schedules</h2>
      {operator ? <ScheduleForm types={types} onCreated={load} /> : null}
      {deleting ? (
        <Confirm
          text={`Delete the schedule "${deleting.name}" and its run history?`}
          action="Delete schedule"
          onCancel={() => setDeleting(undefined)}
          onConfirm={async () => {
            await api('DELETE', `/v1/schedules/${deleting.id}`);
            setDeleting(undefined);
            void load();
          }}
        />
      ) : null}
      <table class="list" data-testid="schedules">
        <thead>
          <tr>
            <th>Name</th>
            <th>Cron</th>
            <th>Devices</th>
            <th>Command</th>
            <th>Next run</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {schedules.map((s) => [
            <tr key={s.id}>
              <td>{s.name}</td>
              <td>
                <code>{s.cron}</code> <span class="muted small">{s.timezone}</span>
              </td>
              <td>
                <code class="small">{JSON.stringify(s.selector)}</code>
              </td>
              <td>
                <code>{s.command.name}</code>{' '}
                {s.command.params ? JSON.stringify(s.command.params) : ''}
              </td>
              <td>{s.nextRunAt ? dateTime(s.nextRunAt) : '–'}</td>
              <td class="actions">
                <button
                  type="button"
                  class="secondary"
                  onClick={() => setOpen(open === s.id ? undefined : s.id)}
                >
                  Runs
                </button>
                {operator ? (
                  <button type="button" class="danger" onClick={() => setDeleting(s)}>
                    Delete
                  </button>
                ) : null}
              </td>
            </tr>,
            open === s.id ? (
              <tr key={`${s.id}-runs`}>
                <td colSpan={6}>
                  <Runs id={s.id} />
                </td>
              </tr>
            ) : null,
          ])}
          {schedules.length === 0 ? (
            <tr>
              <td colSpan={6} class="muted">
                No schedules.
              </td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </section>
  );
}

function Runs(props: { id: string }) {
  const [runs, setRuns] = useState<Run[] | undefined>();
  useEffect(() => {
    api<{ runs: Run[] }>('GET', `/v1/schedules/${props.id}/runs?limit=20`).then(
      (r) => setRuns(r.runs),
      () => setRuns([]),
    );
  }, [props.id]);
  if (!runs) return <span class="muted">Loading…</span>;
  if (runs.length === 0) return <span class="muted">No runs yet.</span>;
  return (
    <ul class="events">
      {runs.map((r) => (
        <li key={r.at} class={r.outcome === 'failed' ? 'sev-error' : ''}>
          {dateTime(r.at)} · {r.outcome} · {r.targeted} targeted, {r.skipped} skipped
          {r.error ? ` · ${r.error}` : ''}
        </li>
      ))}
    </ul>
  );
}

function ScheduleForm(props: { types: TypeSummary[]; onCreated: () => void }) {
  const [name, setName] = useState('');
  const [cron, setCron] = useState('0 22 * * 1-5');
  const [timezone, setTimezone] = useState(
    Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC',
  );
  const [selector, setSelector] = useState<SelectorValues>({ type: '', labels: '', ids: '' });
  const [command, setCommand] = useState('');
  const [values, setValues] = useState<ParamValues>({});
  const [schema, setSchema] = useState<ObjectSchema | undefined>();
  const [error, setError] = useState<ApiError | string | undefined>();
  const preview = useMemo(() => {
    try {
      return { runs: nextRuns(cron, timezone, 5) };
    } catch (err) {
      return { problem: err instanceof Error ? err.message : String(err) };
    }
  }, [cron, timezone]);
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    const sel = selectorOf(selector);
    if (typeof sel === 'string') return setError(sel);
    try {
      await api('POST', '/v1/schedules', {
        ...(name ? { name } : {}),
        cron,
        timezone,
        selector: sel,
        command: { name: command, params: paramsOf(schema, values) },
      });
      props.onCreated();
    } catch (err) {
      setError(err instanceof ApiError ? err : String(err));
    }
  };
  return (
    <form class="panel" onSubmit={submit} noValidate data-testid="schedule-form">
      <h3>New schedule</h3>
      <div class="row">
        <label class="field">
          <span class="field-name">Name</span>
          <input
            name="name"
            value={name}
            onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <label class="field">
          <span class="field-name">Cron *</span>
          <input
            name="cron"
            value={cron}
            onInput={(e) => setCron((e.currentTarget as HTMLInputElement).value)}
          />
          <span class="field-help">
            {PRESETS.map(([label, expr]) => (
              <button key={expr} type="button" class="link" onClick={() => setCron(expr)}>
                {label}
              </button>
            ))}
          </span>
        </label>
        <label class="field">
          <span class="field-name">Time zone</span>
          <input
            name="timezone"
            value={timezone}
            onInput={(e) => setTimezone((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
      </div>
      <div class="next-runs" data-testid="next-runs">
        {'problem' in preview ? (
          <span class="field-error">{preview.problem}</span>
        ) : (
          <>
            Next runs:{' '}
            {preview.runs.map((t) => (
              <span key={t} class="chip">
                {dateTime(t)}
              </span>
            ))}
          </>
        )}
      </div>
      <SelectorFields types={props.types} values={selector} onChange={setSelector} />
      <CommandPicker
        types={props.types}
        type={selector.type}
        name={command}
        values={values}
        issues={
          error instanceof ApiError
            ? error.issues.map((i) => ({ ...i, path: i.path.replace('command.', '') }))
            : []
        }
        onChange={(n, v, s) => {
          setCommand(n);
          setValues(v);
          setSchema(s);
        }}
      />
      <ErrorText error={error} />
      <button type="submit" disabled={!command}>
        Create schedule
      </button>
    </form>
  );
}
