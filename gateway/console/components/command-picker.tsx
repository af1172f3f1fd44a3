import { useEffect, useState } from 'preact/hooks';
import type { Issue, ObjectSchema, TypeSummary } from '../api.ts';
import { typeSchema } from '../api.ts';
import type { ParamValues } from './params-form.tsx';
import { ParamsFields } from './params-form.tsx';

/**
 * A command name and its params, for a selector: the commands of the chosen type (or of every
 * type), with the params form made from the first type's JSON Schema that has the command.
 */
export function CommandPicker(props: {
  types: TypeSummary[];
  type: string;
  name: string;
  values: ParamValues;
  issues: readonly Issue[];
  onChange: (name: string, values: ParamValues, schema: ObjectSchema | undefined) => void;
}) {
  const { types, type, name } = props;
  const candidates = type ? types.filter((t) => t.name === type) : types;
  const names = [...new Set(candidates.flatMap((t) => t.commands))].sort();
  const [schema, setSchema] = useState<ObjectSchema | undefined>();
  const owner = candidates.find((t) => t.commands.includes(name));
  useEffect(() => {
    if (!owner) {
      setSchema(undefined);
      return;
    }
    typeSchema(owner.name).then(
      (s) => {
        const found = s.$defs[`command.${name}`];
        setSchema(found);
        props.onChange(name, props.values, found);
      },
      () => {},
    );
  }, [owner?.name, name]);
  return (
    <div>
      <label class="field">
        <span class="field-name">Command *</span>
        <select
          name="command"
          value={name}
          onChange={(e) =>
            props.onChange((e.currentTarget as HTMLSelectElement).value, {}, undefined)
          }
        >
          <option value="">Choose…</option>
          {names.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </label>
      {name ? (
        <ParamsFields
          schema={schema}
          values={props.values}
          issues={props.issues}
          onChange={(v) => props.onChange(name, v, schema)}
        />
      ) : null}
    </div>
  );
}
