import type { Metrics } from '@iot-gateway/schemas';
import { clamp, gaussian, type Random, round } from '../random.ts';
import { elapsedSeconds } from './daily-cycle.ts';
import type { SensorModel } from './sensor-model.ts';

interface Point {
  readonly lat: number;
  readonly lon: number;
}

const EARTH_RADIUS_M = 6_371_000;
const toRad = (deg: number) => (deg * Math.PI) / 180;
const toDeg = (rad: number) => (rad * 180) / Math.PI;

// Where the simulated fleets drive: a loop around one of these cities.
const CITIES: readonly Point[] = [
  { lat: 52.52, lon: 13.405 }, // Berlin
  { lat: 48.137, lon: 11.575 }, // Munich
  { lat: 51.507, lon: -0.128 }, // London
  { lat: 40.713, lon: -74.006 }, // New York
  { lat: 35.676, lon: 139.65 }, // Tokyo
];

export function distanceM(a: Point, b: Point): number {
  const dLat = toRad(b.lat - a.lat);
  const dLon = toRad(b.lon - a.lon);
  const h =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(toRad(a.lat)) * Math.cos(toRad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.sqrt(h));
}

/** Initial bearing from `a` to `b`, degrees clockwise from north, in [0, 360). */
export function bearing(a: Point, b: Point): number {
  const y = Math.sin(toRad(b.lon - a.lon)) * Math.cos(toRad(b.lat));
  const x =
    Math.cos(toRad(a.lat)) * Math.sin(toRad(b.lat)) -
    Math.sin(toRad(a.lat)) * Math.cos(toRad(b.lat)) * Math.cos(toRad(b.lon - a.lon));
  return (toDeg(Math.atan2(y, x)) + 360) % 360;
}

/** A closed loop of waypoints around a city, 2 to 8 km out, a little irregular. */
function makeRoute(random: Random): Point[] {
  const city = CITIES[Math.floor(random() * CITIES.length)]!;
  const radiusM = 2000 + random() * 6000;
  const points: Point[] = [];
  const n = 8 + Math.floor(random() * 8);
  for (let i = 0; i < n; i++) {
    const angle = (2 * Math.PI * i) / n;
    const r = radiusM * (0.7 + random() * 0.6);
    points.push({
      lat: city.lat + toDeg((r * Math.cos(angle)) / EARTH_RADIUS_M),
      lon: city.lon + toDeg((r * Math.sin(angle)) / (EARTH_RADIUS_M * Math.cos(toRad(city.lat)))),
    });
  }
  return points;
}

/**
 * A vehicle driving laps of a route around a city: speed is a random walk towards a cruising
 * speed with stops at lights, the heading follows the road, altitude wanders, the satellite
 * count varies, and now and then the fix degrades (few satellites, a jittery position).
 */
export class GpsTrackerModel implements SensorModel {
  readonly route: readonly Point[];
  readonly #random: Random;
  #leg = 0;
  #along = 0;
  #speed = 0;
  #stoppedFor = 0;
  #altitude: number;
  #satellites = 9;
  #battery: number;
  #glitchUntil = 0;
  #last = 0;

  constructor(random: Random) {
    this.#random = random;
    this.route = makeRoute(random);
    this.#leg = Math.floor(random() * this.route.length);
    this.#altitude = 30 + random() * 40;
    this.#battery = 50 + random() * 50;
  }

  /** Current position on the route. */
  position(): Point {
    const from = this.route[this.#leg]!;
    const to = this.route[(this.#leg + 1) % this.route.length]!;
    const f = Math.min(1, this.#along / Math.max(1, distanceM(from, to)));
    return { lat: from.lat + (to.lat - from.lat) * f, lon: from.lon + (to.lon - from.lon) * f };
  }

  sample(now: number): Metrics {
    const dt = elapsedSeconds(this.#last, now);
    this.#last = now;
    const r = this.#random;
    if (this.#stoppedFor > 0) {
      this.#stoppedFor -= dt;
      this.#speed = 0;
    } else {
      if (r() < 0.01) this.#stoppedFor = 10 + r() * 50; // a red light
      this.#speed = clamp(this.#speed + (45 - this.#speed) * 0.1 + gaussian(r, 0, 4), 0, 130);
    }
    let move = (this.#speed / 3.6) * dt;
    while (move > 0) {
      const from = this.route[this.#leg]!;
      const to = this.route[(this.#leg + 1) % this.route.length]!;
      const left = distanceM(from, to) - this.#along;
      if (move < left) {
        this.#along += move;
        move = 0;
      } else {
        move -= left;
        this.#along = 0;
        this.#leg = (this.#leg + 1) % this.route.length;
      }
    }
    if (now > this.#glitchUntil && r() < 0.002) this.#glitchUntil = now + 30_000;
    const glitch = now < this.#glitchUntil;
    this.#satellites = glitch
      ? Math.floor(r() * 4)
      : clamp(Math.round(this.#satellites + gaussian(r, 0, 0.7)), 5, 16);
    this.#altitude = clamp(this.#altitude + gaussian(r, 0, 0.3 * Math.sqrt(dt)), 0, 120);
    this.#battery -= dt * 2e-4;
    if (this.#battery < 5) this.#battery = 100; // back on the charger

    const from = this.route[this.#leg]!;
    const to = this.route[(this.#leg + 1) % this.route.length]!;
    const pos = this.position();
    const jitter = glitch ? 0.0008 : 0.00002;
    return {
      lat: round(clamp(pos.lat + gaussian(r, 0, jitter), -90, 90), 6),
      lon: round(clamp(pos.lon + gaussian(r, 0, jitter), -180, 180), 6),
      speed: round(this.#speed, 1),
      heading: round(bearing(from, to), 1),
      altitude: round(this.#altitude, 1),
      satellites: this.#satellites,
      battery: round(this.#battery, 2),
    };
  }

  invalid(now: number): Metrics {
    return { ...this.sample(now), lat: 123.4 };
  }
}
