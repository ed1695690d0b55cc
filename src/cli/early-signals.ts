// Imported first by main.ts, so it is in place before the rest of the CLI loads. Until a command
// takes a signal over (a run aborts and writes what it measured), nothing has started that needs
// undoing, and the signal ends the process with the catalogue's code rather than by the signal.
import { EXIT } from '../errors.js';

const CODES: Readonly<Record<'SIGINT' | 'SIGTERM' | 'SIGHUP', number>> = {
  SIGINT: EXIT.interrupted,
  SIGTERM: EXIT.terminated,
  SIGHUP: EXIT.hangUp,
};

for (const [signal, code] of Object.entries(CODES)) {
  process.on(signal, () => {
    // Another listener is a command's own handling; it decides how the process ends.
    if (process.listenerCount(signal) > 1) return;
    process.exit(code);
  });
}
