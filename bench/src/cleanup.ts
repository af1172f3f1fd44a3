// The bench shares the test harness's exit cleanup: every child process and temp dir it makes is
// killed or removed when the bench ends, fails, times out or is interrupted with Ctrl-C.
export { killOnExit, removeOnExit } from '@iot-gateway/testing';
