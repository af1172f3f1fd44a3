/** `npm run sim -- --help`. docs/simulator.md is the longer reference. */
export const HELP = `Usage: npm run sim -- [flags]

Simulates a fleet of devices against an IoT gateway with the device SDK: realistic sensor data,
built-in command handlers, chaos, and a load mode for benchmarks. Progress goes to stderr (a
live line on a terminal, periodic lines otherwise); a summary is printed at exit.

Gateway and devices
  --gateway URL           gateway HTTP base URL                    [http://127.0.0.1:8080]
  -n, --devices N         number of devices                                          [10]
  -t, --types LIST        device types, comma separated, optionally weighted:
                          thermostat,gps-tracker:2,power-meter                [thermostat]
  --device-types FILE     extra device type definitions (as the gateway's DEVICE_TYPES_FILE)
  --id-prefix TEXT        device ids are PREFIX-00001, PREFIX-00002, ...               [sim]
  --provision             create the devices through the operator API; needs ADMIN_TOKEN
                          in the environment. Existing devices get a rotated token.
  --tokens FILE           use provisioned devices from a JSON file instead:
                          {"id": "token"} or {"id": {"token": "...", "type": "gps-tracker"}}
  --save-tokens FILE      with --provision: write the tokens in that format for next time

Load
  -r, --rate R            readings per second per device, or "max": as fast as acks allow
                          with at most --window readings unacked per device             [1]
  --window N              max mode: unacked readings per device                        [16]
  --buffer N              offline buffer per device; the oldest reading is dropped when
                          full (about 0.85 KB each: mind large fleets in long outages) [1000]
  --batch N               most readings per telemetry frame (backlogs are packed)     [100]
  --batch-delay MS        let a reading wait up to MS for others to share its frame      [0]
  -d, --duration S        stop after S seconds; 0 runs until Ctrl-C                       [0]
  --ramp S                spread the first connections over S seconds   [devices / 2000]
  --drain S               at exit, wait up to S seconds for outstanding acks             [10]
  --processes N           child processes to spread devices over; 0 picks
                          ceil(devices / per-process)                                     [0]
  --per-process N         most devices per process (about 19000 sockets fit one)    [15000]

Chaos
  --invalid SHARE         share (0..1) of readings sent invalid: out-of-range or unknown
                          metrics (rejected with invalid_telemetry) and, for a quarter each,
                          malformed JSON and frames of unknown type                       [0]
  --disconnects N         random abrupt disconnects per minute across the fleet; the SDK
                          reconnects with backoff and resends what was unacked            [0]
  --zombies SHARE         share of devices that go silent once (stop answering pings and
                          sending) until the gateway drops them (close 4002)              [0]
  --churn N               devices per minute that go offline and come back later          [0]
  --churn-offline S       churned devices stay offline up to S seconds                   [10]

Commands (handled by every simulated device)
  reboot                  answers, goes offline for delayMs plus a second, reconnects
  set_interval            changes the reading interval
  set_setpoint            thermostats move their target temperature
  firmware_update         sends firmware.progress events, then answers with the new version
  --firmware-ms MS        how long a simulated firmware update takes                   [5000]

Output
  --json                  print the summary as JSON on stdout
  --ledger DIR            write each acked reading's time and each delivered command id
                          per device into DIR at exit, to check against the gateway's storage
  --status-interval S     seconds between status lines when stderr is not a terminal      [5]
  --seed N                seed the sensor models for repeatable data
  -h, --help              this text

Ctrl-C or SIGTERM stops sending, waits for acks (--drain) and prints the summary; so does the
end of --duration, or every device stopping for good (its session taken over by another
connection, the device deleted or its credentials rotated). Exit code 0, or 1 when readings were
rejected or left unacked or devices stopped, 2 for bad flags or a failed start.

Examples
  # 100 thermostats at one reading per second for a minute
  ADMIN_TOKEN=... npm run sim -- --provision --devices 100 --duration 60

  # a mixed fleet, provisioned once, tokens kept for later runs
  ADMIN_TOKEN=... npm run sim -- --provision --save-tokens fleet.json \\
      --types thermostat:2,gps-tracker,power-meter --devices 400 --duration 10
  npm run sim -- --tokens fleet.json --rate 0.2

  # benchmark: 20,000 devices (two processes), as fast as acks allow, JSON summary
  ADMIN_TOKEN=... npm run sim -- --provision --devices 20000 --rate max --window 32 \\
      --duration 60 --json > result.json

  # chaos: 2% bad data, 30 disconnects a minute, 1% zombies, churn
  ADMIN_TOKEN=... npm run sim -- --provision --devices 500 --invalid 0.02 \\
      --disconnects 30 --zombies 0.01 --churn 20
`;
