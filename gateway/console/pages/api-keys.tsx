import { useEffect, useState } from 'preact/hooks';
import type { KeyInfo, Role } from '../api.ts';
import { ApiError, api } from '../api.ts';
import { Confirm, CopySecret } from '../components/copy-secret.tsx';
import { ErrorText } from '../components/error-text.tsx';
import { dateTime } from '../format.ts';

/** API keys, for admins: create (the secret shown once), list, revoke. */
export function ApiKeysPage(props: { me: KeyInfo }) {
  const [keys, setKeys] = useState<KeyInfo[]>([]);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [secret, setSecret] = useState<string | undefined>();
  const [revoking, setRevoking] = useState<KeyInfo | undefined>();
  const [error, setError] = useState<ApiError | undefined>();
  const load = () =>
    api<{ keys: KeyInfo[] }>('GET', '/v1/api-keys').then(
      (r) => setKeys(r.keys),
      () => {},
    );
  useEffect(() => {
    void load();
  }, []);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const r = await api<{ secret: string }>('POST', '/v1/api-keys', { name, role });
      setSecret(r.secret);
      setName('');
      void load();
    } catch (err) {
      if (err instanceof ApiError) setError(err);
    }
  };
  return (
    <section>
      <h2>API keys</h2>
      <form class="panel row" onSubmit={create} noValidate>
        <label class="field">
          <span class="field-name">Name *</span>
          <input
            name="key-name"
            value={name}
            onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <label class="field">
          <span class="field-name">Role</span>
          <select
            name="role"
            value={role}
            onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value as Role)}
          >
            <option value="viewer">viewer: reads everything</option>
            <option value="operator">operator: also commands and schedules</option>
            <option value="admin">admin: also devices and keys</option>
          </select>
        </label>
        <button type="submit">Create key</button>
        <ErrorText error={error} />
      </form>
      {secret ? (
        <CopySecret label="New API key" secret={secret} onClose={() => setSecret(undefined)} />
      ) : null}
      {revoking ? (
        <Confirm
          text={`Revoke "${revoking.name}"? Everything using it stops working at once.`}
          action="Revoke"
          onCancel={() => setRevoking(undefined)}
          onConfirm={async () => {
            try {
              await api('DELETE', `/v1/api-keys/${revoking.id}`);
            } catch (err) {
              if (err instanceof ApiError) setError(err);
            }
            setRevoking(undefined);
            void load();
          }}
        />
      ) : null}
      <table class="list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Role</th>
            <th>Created</th>
            <th>Last used</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.id}>
              <td>
                {k.name}
                {k.id === props.me.id ? <span class="muted"> (this key)</span> : null}
              </td>
              <td>
                <span class={`badge role-${k.role}`}>{k.role}</span>
              </td>
              <td>{dateTime(k.createdAt)}</td>
              <td>{k.lastUsedAt ? dateTime(k.lastUsedAt) : '–'}</td>
              <td>
                <button type="button" class="danger" onClick={() => setRevoking(k)}>
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
