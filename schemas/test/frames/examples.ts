/** A valid `hello` frame, shared by the frame tests. */
export const hello = {
  type: 'hello',
  deviceId: 'thermo-1',
  sessionId: 's-5f2c',
  heartbeat: { intervalMs: 15_000, timeoutMs: 45_000 },
  limits: { maxFrameBytes: 65_536, maxInFlight: 64, ratePerSec: 20, burst: 40, maxBatch: 500 },
};
