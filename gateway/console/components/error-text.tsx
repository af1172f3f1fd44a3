import type { ApiError } from '../api.ts';

/** An API error's message, with its issues listed (or a plain message). */
export function ErrorText(props: { error: ApiError | string | undefined }) {
  const { error } = props;
  if (!error) return null;
  if (typeof error === 'string') return <p class="field-error">{error}</p>;
  return (
    <div class="field-error" data-testid="api-error">
      {error.message}
      {error.issues.length > 0 ? (
        <ul>
          {error.issues.map((i) => (
            <li key={i.path}>
              <code>{i.path}</code>: {i.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
