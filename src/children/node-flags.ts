import { ENGINE_RULES, HTTP2_HEAP } from '../driver/engines/rules.js';
import type { EngineName } from '../record/driver.js';

// Node's own flags for a run's child processes, given when each starts (V8 reads its heap sizes
// only then; v8.setFlagsFromString later changes nothing). An engine's are its own (the
// registry); the HTTP/2 target takes the same young generation as the http2 engine, for the
// reason the registry gives.

export const driverNodeFlags = (engine: EngineName): string[] => [
  ...ENGINE_RULES[engine].nodeFlags,
];

export const targetNodeFlags = (protocol: string | undefined): string[] =>
  protocol === 'h2c' || protocol === 'h2' ? [...HTTP2_HEAP] : [];

/** Whether `drive` runs this engine in a process of its own (to start it with its flags). */
export const needsOwnProcess = (engine: EngineName) => driverNodeFlags(engine).length > 0;
