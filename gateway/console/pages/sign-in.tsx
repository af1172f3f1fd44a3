import { useState } from 'preact/hooks';
import type { KeyInfo } from '../api.ts';
import { ApiError, api, credentials } from '../api.ts';

/** Asks for an API key and checks it with `GET /v1/api-keys/self`. */
export function SignIn(props: { onSignedIn: (key: KeyInfo) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    credentials.set(key.trim());
    try {
      props.onSignedIn(await api<KeyInfo>('GET', '/v1/api-keys/self'));
    } catch (err) {
      credentials.clear();
      setError(err instanceof ApiError ? err.message : 'the gateway did not answer');
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <form onSubmit={submit}>
        <h1>IoT gateway</h1>
        <p class="muted">Sign in with an operator API key.</p>
        <label class="field">
          <span class="field-name">API key</span>
          <input
            name="api-key"
            type="password"
            autoComplete="off"
            value={key}
            onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)}
            placeholder="gwk_…"
          />
        </label>
        {error ? <p class="field-error">{error}</p> : null}
        <button type="submit" disabled={busy || key.trim() === ''}>
          Sign in
        </button>
        <p class="muted small">
          The key stays in this tab (sessionStorage) and is sent only to this gateway. The first
          start wrote an admin key to <code>DATA_DIR/admin-api-key</code>.
        </p>
      </form>
    </main>
  );
}
