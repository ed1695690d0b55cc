import type { EventBatch } from './batch.js';

// The ring buffer's binary pages (per_cpu/cpuN/trace_pipe_raw), read without the kernel formatting
// text: a 16-byte page header (timestamp, commit), then events with a compressed 32-bit header
// (type_len: 5 bits, time delta: 27 bits). See the kernel's Documentation/trace/ring-buffer-design
// and libtraceevent's kbuffer. Field offsets come from the event's `format` file, not constants.

export interface EventLayout {
  id: number;
  skaddr: number;
  oldstate: number;
  newstate: number;
  sport: number;
  dport: number;
  family: number;
  saddr: number;
  daddr: number;
  saddrV6: number;
  daddrV6: number;
}

/** Reads the event's id and field offsets from its tracefs `format` file. */
export function parseFormat(format: string): EventLayout {
  const id = Number(/^ID: (\d+)/m.exec(format)?.[1]);
  const at = (name: string) => {
    const m = new RegExp(`field:[^;]*\\b${name}(\\[\\d+\\])?;\\s*offset:(\\d+);`).exec(format);
    if (!m) throw new Error(`the tracepoint has no field ${name}`);
    return Number(m[2]);
  };
  return {
    id,
    skaddr: at('skaddr'),
    oldstate: at('oldstate'),
    newstate: at('newstate'),
    sport: at('sport'),
    dport: at('dport'),
    family: at('family'),
    saddr: at('saddr'),
    daddr: at('daddr'),
    saddrV6: at('saddr_v6'),
    daddrV6: at('daddr_v6'),
  };
}

/**
 * Another event of the instance (a retransmit, a reset sent or received): where its socket's
 * address and the fields the wire record reads are, null where the event has none.
 */
export interface ExtraLayout {
  id: number;
  /** The batch's kind for it (tracer/connections.ts RETRANSMIT, RESET_SENT, RESET_RECEIVED). */
  kind: number;
  skaddr: number;
  state: number | null;
  reason: number | null;
  sport: number | null;
  dport: number | null;
}

export function parseExtraFormat(format: string, kind: number): ExtraLayout {
  const id = Number(/^ID: (\d+)/m.exec(format)?.[1]);
  const at = (name: string) => {
    const m = new RegExp(`field:[^;]*\\b${name}(\\[\\d+\\])?;\\s*offset:(\\d+);`).exec(format);
    return m ? Number(m[2]) : null;
  };
  const skaddr = at('skaddr');
  if (skaddr === null) throw new Error('the tracepoint has no field skaddr');
  return {
    id,
    kind,
    skaddr,
    state: at('state'),
    reason: at('reason'),
    sport: at('sport'),
    dport: at('dport'),
  };
}

/** An event of another kind: rare (faults), so read with Buffer's checked readers. */
function addExtra(page: Buffer, at: number, x: ExtraLayout, ts: number, out: EventBatch): void {
  const j = out.next();
  out.ts[j] = ts;
  out.kind[j] = x.kind;
  out.sk[j] =
    page.readUInt32LE(at + x.skaddr) + (page.readUInt32LE(at + x.skaddr + 4) & 0xffff) * 2 ** 32;
  out.oldstate[j] = x.state === null ? 0 : page.readInt32LE(at + x.state);
  out.newstate[j] = x.reason === null ? 0 : page.readUInt32LE(at + x.reason);
  out.sport[j] = x.sport === null ? 0 : page.readUInt16LE(at + x.sport);
  out.dport[j] = x.dport === null ? 0 : page.readUInt16LE(at + x.dport);
  out.saddr[j] = 0;
  out.daddr[j] = 0;
}

const PAGE_HEADER = 16;
const COMMIT_MASK = (1 << 27) - 1;
const MISSED_EVENTS = 0x80000000;
const TS_SHIFT = 2 ** 27;
const PADDING = 29;
const TIME_EXTEND = 30;
const TIME_STAMP = 31;
const AF_INET = 2;

function ipv6(buf: Buffer, at: number): string | number {
  // An IPv4-mapped address (::ffff:a.b.c.d) is the IPv4 peer it stands for.
  let mapped = buf[at + 10] === 0xff && buf[at + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (buf[at + i] !== 0) mapped = false;
  if (mapped) return buf.readUInt32LE(at + 12);
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(buf.readUInt16BE(at + i).toString(16));
  return words.join(':');
}

/**
 * Appends the page's events (one page is one sub-buffer, 4 KB or larger) to `out`; returns whether the kernel marked events missing before
 * this page (the lost count itself comes from the instance's per-CPU stats).
 */
export function parsePage(
  page: Buffer,
  bytes: number,
  layout: EventLayout,
  out: EventBatch,
  extras: readonly ExtraLayout[] = [],
): boolean {
  if (bytes < PAGE_HEADER) return false;
  // Events are 4-byte aligned, so the page is read through 32- and 16-bit views: no bounds
  // checks per field, as Buffer's readers make. (Multi-byte values are little-endian on the
  // hosts this runs on; addresses stay in network order, which is all a key needs.)
  const u32 = new Uint32Array(page.buffer, page.byteOffset, bytes >>> 2);
  const u16 = new Uint16Array(page.buffer, page.byteOffset, bytes >>> 1);
  const i32 = new Int32Array(page.buffer, page.byteOffset, bytes >>> 2);
  let ts = (u32[0] as number) + (u32[1] as number) * 2 ** 32;
  const commit = u32[2] as number;
  const end = PAGE_HEADER + Math.min(commit & COMMIT_MASK, bytes - PAGE_HEADER);
  const sk = layout.skaddr >>> 2;
  const oldstate = layout.oldstate >>> 2;
  const newstate = layout.newstate >>> 2;
  const sport = layout.sport >>> 1;
  const dport = layout.dport >>> 1;
  const family = layout.family >>> 1;
  const saddr = layout.saddr >>> 2;
  const daddr = layout.daddr >>> 2;
  let off = PAGE_HEADER;
  while (off + 4 <= end) {
    const header = u32[off >>> 2] as number;
    const typeLen = header & 31;
    const delta = header >>> 5;
    off += 4;
    if (typeLen === PADDING) {
      if (delta === 0) break; // the rest of the page is empty
      ts += delta;
      off += u32[off >>> 2] as number;
      continue;
    }
    if (typeLen === TIME_EXTEND || typeLen === TIME_STAMP) {
      const extend = (u32[off >>> 2] as number) * TS_SHIFT + delta;
      ts = typeLen === TIME_EXTEND ? ts + extend : extend;
      off += 4;
      continue;
    }
    let length: number;
    if (typeLen === 0) {
      length = ((u32[off >>> 2] as number) - 4 + 3) & ~3;
      off += 4;
    } else length = typeLen * 4;
    ts += delta;
    const d32 = off >>> 2;
    const d16 = off >>> 1;
    off += length;
    if (u16[d16] !== layout.id) {
      const x = extras.length > 0 ? extras.find((e) => e.id === u16[d16]) : undefined;
      if (x) addExtra(page, off - length, x, ts, out);
      continue;
    }
    const j = out.next();
    out.ts[j] = ts;
    out.kind[j] = 0;
    out.sk[j] = (u32[d32 + sk] as number) + ((u32[d32 + sk + 1] as number) & 0xffff) * 2 ** 32;
    out.oldstate[j] = i32[d32 + oldstate] as number;
    out.newstate[j] = i32[d32 + newstate] as number;
    // Ports are in host order in this tracepoint.
    out.sport[j] = u16[d16 + sport] as number;
    out.dport[j] = u16[d16 + dport] as number;
    if (u16[d16 + family] === AF_INET) {
      out.saddr[j] = u32[d32 + saddr] as number;
      out.daddr[j] = u32[d32 + daddr] as number;
    } else {
      const s6 = ipv6(page, off - length + layout.saddrV6);
      const d6 = ipv6(page, off - length + layout.daddrV6);
      if (typeof s6 === 'number' && typeof d6 === 'number') {
        out.saddr[j] = s6;
        out.daddr[j] = d6;
      } else {
        out.saddr[j] = 0;
        out.daddr[j] = 0;
        out.v6.set(j, `${s6} ${d6}`);
      }
    }
  }
  return (commit & MISSED_EVENTS) !== 0;
}
