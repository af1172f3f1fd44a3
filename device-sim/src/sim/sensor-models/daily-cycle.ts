const DAY_MS = 86_400_000;

/** Hour of the (UTC) day, 0 to 24, fractional. */
export function hourOfDay(now: number): number {
  return (((now % DAY_MS) + DAY_MS) % DAY_MS) / 3_600_000;
}

/** A day/night wave in [-1, 1] that peaks at `peakHour`. */
export function dailyWave(now: number, peakHour: number): number {
  return Math.cos((2 * Math.PI * (hourOfDay(now) - peakHour)) / 24);
}

/** A bump in [0, 1] centred on `hour`, about `width` hours wide, wrapping around midnight. */
export function dailyPeak(now: number, hour: number, width: number): number {
  let d = Math.abs(hourOfDay(now) - hour);
  if (d > 12) d = 24 - d;
  return Math.exp(-(d * d) / (2 * width * width));
}

/** Seconds elapsed since `last`, bounded so a long pause does not fling the model around. */
export function elapsedSeconds(last: number, now: number): number {
  if (last === 0) return 1;
  return Math.min(3600, Math.max(0, (now - last) / 1000));
}
