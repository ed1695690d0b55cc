import { STATE_BY_SS_NAME, TIME_WAIT_INDEX } from '../tcp-states.js';
import { readTool } from './exec.js';
import { type SocketSource, type SocketVisitor, sideOf } from './source.js';

// iproute2's ss: the same netlink interface with a kernel-side port filter, but it spends most of
// its time formatting text, so it is the fallback when the helper could not be built.

export const ssSource: SocketSource = {
  name: 'ss',
  timerResolutionMs: 1000, // whole seconds
  async visit(ns, port, visit) {
    const filter = `( sport = :${port} or dport = :${port} )`;
    const text = await readTool([...ns.prefix, 'ss', '-Htano', 'state', 'connected', filter]);
    parseSs(text, port, visit);
  },
};

const portOf = (addr: string) => Number(addr.slice(addr.lastIndexOf(':') + 1));

/** `ss -Htano state connected '( sport = :P or dport = :P )'` output. */
export function parseSs(text: string, port: number, visit: SocketVisitor): void {
  let at = 0;
  while (at < text.length) {
    let end = text.indexOf('\n', at);
    if (end < 0) end = text.length;
    const line = text.slice(at, end);
    at = end + 1;
    const cols = line.split(/\s+/);
    if (cols.length < 5) continue;
    const state = STATE_BY_SS_NAME[cols[0] as string];
    if (state === undefined) continue;
    const local = cols[3] as string;
    const peer = cols[4] as string;
    const side = sideOf(portOf(local), portOf(peer), port);
    if (!side) continue;
    visit(side, state, state === TIME_WAIT_INDEX ? ssTimerMs(line) : 0, local, peer);
  }
}

/** `timer:(timewait,52sec,0)` → 52000; ss prints ms, sec or min. */
function ssTimerMs(line: string): number {
  const m = /timer:\(timewait,([\d.]+)(ms|sec|min)/.exec(line);
  if (!m) return 0;
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'sec' ? n * 1000 : n * 60_000;
}
