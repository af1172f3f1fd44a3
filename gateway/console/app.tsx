import { useEffect, useState } from 'preact/hooks';
import type { KeyInfo } from './api.ts';
import { api, credentials, may, whenUnauthorized } from './api.ts';
import { fleet } from './fleet-store.ts';
import { useRoute, useSubscription } from './hooks.ts';
import { stream } from './live-stream.ts';
import { ApiKeysPage } from './pages/api-keys.tsx';
import { CommandsPage } from './pages/commands.tsx';
import { DevicePage } from './pages/device.tsx';
import { FleetPage } from './pages/fleet.tsx';
import { SchedulesPage } from './pages/schedules.tsx';
import { SignIn } from './pages/sign-in.tsx';

const streamState = { subscribe: (l: () => void) => stream.onState(l) };

export function App() {
  const [key, setKey] = useState<KeyInfo | undefined>();
  const [checking, setChecking] = useState(credentials.get() !== null);

  const signOut = () => {
    credentials.forgetAll();
    stream.stop();
    fleet.stop();
    setKey(undefined);
  };

  useEffect(() => {
    whenUnauthorized(signOut);
    if (!credentials.get()) return;
    api<KeyInfo>('GET', '/v1/api-keys/self')
      .then(setKey, () => credentials.clear())
      .finally(() => setChecking(false));
  }, []);

  useEffect(() => {
    if (!key) return;
    stream.start();
    fleet.start();
    return () => {
      stream.stop();
      fleet.stop();
    };
  }, [key]);

  if (checking) return null;
  if (!key) return <SignIn onSignedIn={setKey} />;
  return <Shell me={key} onSignOut={signOut} />;
}

function Shell(props: { me: KeyInfo; onSignOut: () => void }) {
  const route = useRoute();
  useSubscription(streamState);
  const { me } = props;
  const [, section = 'fleet', rest] = /^\/([^/]+)\/?(.*)$/.exec(route) ?? [];
  let page: preact.ComponentChildren;
  if (section === 'devices' && rest) page = <DevicePage id={decodeURIComponent(rest)} me={me} />;
  else if (section === 'commands') page = <CommandsPage me={me} />;
  else if (section === 'schedules') page = <SchedulesPage me={me} />;
  else if (section === 'keys' && may(me.role, 'admin')) page = <ApiKeysPage me={me} />;
  else page = <FleetPage me={me} />;
  const link = (to: string, label: string) => (
    <a
      href={`#/${to}`}
      class={section === to || (to === 'fleet' && section === 'devices') ? 'active' : ''}
    >
      {label}
    </a>
  );
  return (
    <div class="shell">
      <header>
        <strong class="brand">IoT gateway</strong>
        <nav>
          {link('fleet', 'Fleet')}
          {link('commands', 'Commands')}
          {link('schedules', 'Schedules')}
          {may(me.role, 'admin') ? link('keys', 'API keys') : null}
        </nav>
        <span class={`live ${stream.state}`} data-testid="stream-state">
          {stream.state === 'live'
            ? '● live'
            : stream.state === 'connecting'
              ? '○ connecting'
              : '○ offline'}
        </span>
        <span class="who" data-testid="who">
          {me.name} <span class={`badge role-${me.role}`}>{me.role}</span>
        </span>
        <button type="button" class="secondary" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      <main>{page}</main>
    </div>
  );
}
