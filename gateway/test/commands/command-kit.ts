import type { Frame, TestDevice } from '../support/test-device.ts';

/**
 * Makes a test device answer every command it receives, like a well-behaved device, and records
 * the command frames in arrival order.
 */
export function autoAnswer(
  device: TestDevice,
  answer: (frame: Frame) => {
    status: 'succeeded' | 'failed';
    result?: unknown;
    error?: unknown;
  } = (frame) => ({ status: 'succeeded', result: { ran: frame.name } }),
): Frame[] {
  const received: Frame[] = [];
  device.ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Frame;
    if (frame.type !== 'command') return;
    received.push(frame);
    device.send({ type: 'command_result', id: frame.id, ...answer(frame) });
  });
  // Frames that arrived with `hello` (before this listener) are answered too.
  for (const frame of device.frames.filter((f) => f.type === 'command')) {
    received.push(frame);
    device.send({ type: 'command_result', id: frame.id, ...answer(frame) });
  }
  return received;
}

/** Command frames the device received and no test consumed yet, in arrival order. */
export function commandFrames(device: TestDevice): Frame[] {
  return device.frames.filter((f) => f.type === 'command');
}

/**
 * Proves the gateway sent nothing more: a `ping` is answered after everything the gateway had
 * already queued for the socket, so once its `pong` is in, earlier frames are in too.
 */
export async function roundTrip(device: TestDevice): Promise<void> {
  device.send({ type: 'ping' });
  await device.next((f) => f.type === 'pong');
}
