import type { TypeSummary } from '../api.ts';
import { parseLabels } from '../format.ts';

export interface SelectorValues {
  type: string;
  labels: string;
  ids: string;
}

/** A device selector: a type, labels and ids; the API takes any of them. */
export function selectorOf(v: SelectorValues): Record<string, unknown> | string {
  const selector: Record<string, unknown> = {};
  if (v.type) selector.type = v.type;
  const labels = parseLabels(v.labels);
  if (!labels) return 'labels look like name=value, separated by commas';
  if (Object.keys(labels).length > 0) selector.labels = labels;
  const ids = v.ids
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (ids.length > 0) selector.ids = ids;
  return selector;
}

export function SelectorFields(props: {
  types: TypeSummary[];
  values: SelectorValues;
  onChange: (v: SelectorValues) => void;
}) {
  const { values } = props;
  const set = (patch: Partial<SelectorValues>) => props.onChange({ ...values, ...patch });
  return (
    <div class="row">
      <label class="field">
        <span class="field-name">Type</span>
        <select
          name="selector-type"
          value={values.type}
          onChange={(e) => set({ type: (e.currentTarget as HTMLSelectElement).value })}
        >
          <option value="">Any type</option>
          {props.types.map((t) => (
            <option key={t.name} value={t.name}>
              {t.name}
            </option>
          ))}
        </select>
      </label>
      <label class="field">
        <span class="field-name">Labels</span>
        <input
          name="selector-labels"
          placeholder="site=lab"
          value={values.labels}
          onInput={(e) => set({ labels: (e.currentTarget as HTMLInputElement).value })}
        />
      </label>
      <label class="field">
        <span class="field-name">Ids</span>
        <input
          name="selector-ids"
          placeholder="id-1, id-2"
          value={values.ids}
          onInput={(e) => set({ ids: (e.currentTarget as HTMLInputElement).value })}
        />
      </label>
    </div>
  );
}
