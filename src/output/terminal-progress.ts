import { plain } from '../text.js';
import type { Output } from './output.js';

// One progress line per timeline entry on stderr: rewritten in place on a terminal, one line each
// otherwise (CI logs).

export function terminalProgress(stream: NodeJS.WriteStream, live: boolean): Output {
  let last = '';
  const done = () => {
    if (live && last) stream.write('\n');
    last = '';
  };
  return {
    interval(run, e) {
      const load = e.load
        ? `${e.load.rps.toFixed(0)} req/s  p99 ${e.load.latency.p99.toFixed(2)} ms  errors ${e.load.errors}  `
        : '';
      const tw = e.tcp
        ? `TIME_WAIT client ${e.tcp.client.states.timeWait} server ${e.tcp.server.states.timeWait}`
        : '';
      last = `[${plain(run.variant ?? run.name)}] ${(e.t / 1000).toFixed(1)}s ${e.phase.padEnd(6)} ${load}${tw}`;
      stream.write(live ? `\r\x1b[K${last}` : `${last}\n`);
    },
    runEnd: done,
    stop: done,
    abort: done,
  };
}
