import type { Issue, ObjectSchema, PropertySchema } from '../api.ts';

export type ParamValues = Record<string, string | boolean>;

/**
 * The fields of a command's params, made from its JSON Schema: numbers with their range, enums
 * as choices, booleans as checkboxes, required fields marked. The browser does not refuse
 * values itself (the form is `noValidate`): the gateway checks them and its `issues` are shown
 * next to the fields they name.
 */
export function ParamsFields(props: {
  schema: ObjectSchema | undefined;
  values: ParamValues;
  issues: readonly Issue[];
  onChange: (values: ParamValues) => void;
}) {
  const { schema, values, issues } = props;
  const properties = Object.entries(schema?.properties ?? {});
  const required = new Set(schema?.required ?? []);
  if (properties.length === 0) return <p class="muted">This command takes no params.</p>;
  return (
    <div class="fields">
      {properties.map(([name, p]) => {
        const problems = issues.filter((i) => fieldOf(i.path) === name);
        const set = (v: string | boolean) => props.onChange({ ...values, [name]: v });
        return (
          <div key={name} class={problems.length > 0 ? 'field invalid' : 'field'}>
            <label class="field-name" for={`param-${name}`}>
              {name}
              {required.has(name) ? ' *' : ''}
            </label>
            {input(name, p, values[name], set)}
            <span class="field-help">{help(p)}</span>
            {problems.map((i) => (
              <span key={i.message} class="field-error" data-testid={`error-${name}`}>
                {i.message}
              </span>
            ))}
          </div>
        );
      })}
    </div>
  );
}

function input(
  name: string,
  p: PropertySchema,
  current: string | boolean | undefined,
  set: (v: string | boolean) => void,
) {
  if (p.enum) {
    return (
      <select
        id={`param-${name}`}
        name={name}
        value={String(current ?? '')}
        onChange={(e) => set((e.currentTarget as HTMLSelectElement).value)}
      >
        <option value="">(not set)</option>
        {p.enum.map((v) => (
          <option key={String(v)} value={String(v)}>
            {String(v)}
          </option>
        ))}
      </select>
    );
  }
  if (p.type === 'boolean') {
    return (
      <input
        type="checkbox"
        id={`param-${name}`}
        name={name}
        checked={current === true}
        onChange={(e) => set((e.currentTarget as HTMLInputElement).checked)}
      />
    );
  }
  const text = typeof current === 'string' ? current : '';
  const onInput = (e: Event) => set((e.currentTarget as HTMLInputElement).value);
  if (p.type === 'number' || p.type === 'integer') {
    return (
      <input
        id={`param-${name}`}
        name={name}
        type="number"
        min={p.minimum}
        max={p.maximum}
        step={p.type === 'integer' ? 1 : 'any'}
        value={text}
        onInput={onInput}
      />
    );
  }
  return <input id={`param-${name}`} name={name} type="text" value={text} onInput={onInput} />;
}

function help(p: PropertySchema): string {
  const parts: string[] = [];
  if (p.description) parts.push(p.description);
  if (p.minimum !== undefined || p.maximum !== undefined) {
    parts.push(`${p.minimum ?? '…'} to ${p.maximum ?? '…'}`);
  }
  return parts.join(' · ');
}

/** `body.params.setpoint` (or `params.setpoint`) → `setpoint`. */
function fieldOf(path: string): string | undefined {
  const m = /(?:^|\.)params\.([^.]+)/.exec(path);
  return m?.[1];
}

/** Issues that name no single field (shown above the form). */
export function generalIssues(issues: readonly Issue[]): Issue[] {
  return issues.filter((i) => fieldOf(i.path) === undefined);
}

/**
 * The params object from the form's values: numbers parsed (an unparsable one is sent as typed,
 * so the gateway names the field), empty fields left out.
 */
export function paramsOf(schema: ObjectSchema | undefined, values: ParamValues) {
  const params: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(schema?.properties ?? {})) {
    const v = values[name];
    if (v === undefined || v === '') continue;
    if (p.type === 'boolean') params[name] = v === true;
    else if ((p.type === 'number' || p.type === 'integer') && typeof v === 'string') {
      const n = Number(v);
      params[name] = v.trim() !== '' && Number.isFinite(n) ? n : v;
    } else if (p.enum && typeof v === 'string' && typeof p.enum[0] === 'number') {
      params[name] = Number(v);
    } else params[name] = v;
  }
  return params;
}
