import { useEffect, useState } from 'preact/hooks';

/** Re-renders the component whenever `source` says it changed. */
export function useSubscription(source: { subscribe(listener: () => void): () => void }): void {
  const [, setTick] = useState(0);
  useEffect(() => source.subscribe(() => setTick((t) => t + 1)), [source]);
}

/** The current location hash route, e.g. `/devices/thermostat-1`. */
export function useRoute(): string {
  const [route, setRoute] = useState(readRoute);
  useEffect(() => {
    const onChange = () => setRoute(readRoute());
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

function readRoute(): string {
  return location.hash.replace(/^#/, '') || '/fleet';
}

/** Re-renders every `ms`, for "3 s ago" labels. */
export function useTicker(ms: number): void {
  const [, setTick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), ms);
    return () => clearInterval(timer);
  }, [ms]);
}
