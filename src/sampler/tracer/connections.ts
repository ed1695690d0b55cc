import type { EventBatch } from './batch.js';

// Per connection, from the kernel's record of each socket's state changes: which side sent the
// first FIN (ESTABLISHED→FIN_WAIT1 is the active closer; ESTABLISHED→CLOSE_WAIT the passive one),
// a simultaneous close (both left ESTABLISHED by sending a FIN; both then pass FIN_WAIT1→CLOSING),
// a reset (a socket went to CLOSE from ESTABLISHED, CLOSE_WAIT or FIN_WAIT1: an abort or an RST
// received), the time from one side's FIN to the other's, and the connection's lifetime. Both
// sockets of a connection are joined by their 4-tuple; where only one side is visible (a server
// on another host), that side alone says who was first. Events must come in time order.
// One object per connection, which is also what is handed on: at 20k closes a second, fewer
// objects is less time in garbage collection.

const ESTABLISHED = 1;
const SYN_SENT = 2;
const FIN_WAIT1 = 4;
const CLOSE = 7;
const CLOSE_WAIT = 8;
const LAST_ACK = 9;
const CLOSING = 11;
const NONE = 0;
/** Event kinds besides a state change (EventBatch.kind). */
export const RETRANSMIT = 1;
export const RESET_SENT = 2;
export const RESET_RECEIVED = 3;

import type { KernelClose, WireSide, WireSides } from '../../record/closes.js';
import type { FirstFin } from '../../record/tcp.js';
import { CLOSING_CODES } from '../../reduce/wire.js';

const wireSide = (): WireSide => ({
  synRetransmits: 0,
  dataRetransmits: 0,
  finRetransmits: 0,
  resetSent: -1,
  resetReceived: false,
  stateNs: CLOSING_CODES.map(() => -1),
  leftFrom: NONE,
  state: NONE,
  since: 0,
});

/** A state change on a followed socket: the time in the state it left, the state it is in. */
function moveTo(w: WireSide, oldstate: number, newstate: number, ts: number): void {
  const k = (CLOSING_CODES as readonly number[]).indexOf(oldstate);
  if (k >= 0 && w.since > 0) w.stateNs[k] = Math.max(0, w.stateNs[k] as number) + (ts - w.since);
  if (newstate === CLOSE) w.leftFrom = oldstate;
  w.state = newstate;
  w.since = ts;
}

export type { KernelClose };

class Conn implements KernelClose {
  hasClient = false;
  hasServer = false;
  cEst = NONE;
  cFin = NONE;
  cCloseWait = NONE;
  cLastAck = NONE;
  cReset = NONE;
  cClosed = NONE;
  sEst = NONE;
  sFin = NONE;
  sCloseWait = NONE;
  sLastAck = NONE;
  sReset = NONE;
  sClosed = NONE;
  // The summary, filled when the connection ends.
  closedAt = NONE;
  firstFin: FirstFin = 'reset';
  resetBy: 'client' | 'server' | null = null;
  marginUs: number | null = null;
  lifetimeUs = 0;
  timeWaitClient = false;
  timeWaitServer = false;
  bothSides = false;
  wire: WireSides | null = null;
  /** The sockets' kernel addresses, to forget them once the connection is finished. */
  cSk = 0;
  sSk = 0;

  constructor(
    readonly key: number | string,
    readonly server: number | string,
    readonly clientPort: number,
  ) {}

  get sides(): { client: boolean; server: boolean } {
    return { client: this.hasClient, server: this.hasServer };
  }

  summarise(): void {
    const cl = this.hasClient && this.cClosed !== NONE;
    const sv = this.hasServer && this.sClosed !== NONE;
    const activeC = cl && this.cFin !== NONE;
    const activeS = sv && this.sFin !== NONE;
    // With one side visible, its own record says who was first.
    if (activeC && activeS) this.firstFin = 'simultaneous';
    else if (activeC || (sv && this.sCloseWait !== NONE)) this.firstFin = 'client';
    else if (activeS || (cl && this.cCloseWait !== NONE)) this.firstFin = 'server';
    else this.firstFin = 'reset';
    const rc = cl ? this.cReset : NONE;
    const rs = sv ? this.sReset : NONE;
    this.resetBy =
      rc === NONE && rs === NONE
        ? null
        : rs === NONE || (rc !== NONE && rc <= rs)
          ? 'client'
          : 'server';
    const fc = cl ? this.cFin || this.cLastAck : NONE;
    const fs = sv ? this.sFin || this.sLastAck : NONE;
    this.marginUs = fc !== NONE && fs !== NONE ? Math.abs(fs - fc) / 1000 : null;
    const start = Math.min(
      cl ? this.cEst : Number.POSITIVE_INFINITY,
      sv ? this.sEst : Number.POSITIVE_INFINITY,
    );
    this.closedAt = Math.max(cl ? this.cClosed : NONE, sv ? this.sClosed : NONE);
    this.lifetimeUs = (this.closedAt - start) / 1000;
    const clean = this.resetBy === null;
    this.timeWaitClient = clean && (this.firstFin === 'client' || this.firstFin === 'simultaneous');
    this.timeWaitServer = clean && (this.firstFin === 'server' || this.firstFin === 'simultaneous');
    this.bothSides = this.hasClient && this.hasServer;
  }
}

export class ConnectionTracker {
  /** Live sockets by kernel address, client side and server side. */
  private readonly clients = new Map<number, Conn>();
  private readonly servers = new Map<number, Conn>();
  /** Connections not yet ended, by server address, then client address and port. */
  private readonly open = new Map<number | string, Map<number | string, Conn>>();
  /** Connections with one side closed, waiting for the other (or for the grace to pass). */
  private readonly halfClosed = new Set<Conn>();
  /** Client sockets in SYN_SENT, by kernel address: when they entered it. */
  private readonly connecting = new Map<number, number>();
  /** SYNs retransmitted by client sockets still connecting, by kernel address. */
  private readonly synRetransmits = new Map<number, number>();

  /**
   * `connected`: a client socket's connect time, µs, when it reaches ESTABLISHED. `followWire`:
   * keep each connection's wire record (retransmits, resets, time in each closing state).
   */
  constructor(
    private readonly port: number,
    private readonly done: (close: KernelClose) => void,
    private readonly connected: (us: number) => void = () => {},
    private readonly followWire = false,
  ) {}

  /** Event `i` of the batch; events must come in time order. */
  add(b: EventBatch, i: number): void {
    if (b.kind[i] !== 0) {
      this.wireEvent(b, i);
      return;
    }
    const newstate = b.newstate[i] as number;
    // connect() enters SYN_SENT before it searches for a free port (tcp_v4_connect), so the time
    // to ESTABLISHED includes that search; the socket has no port yet, only its address names it.
    if (newstate === SYN_SENT) {
      if (b.dport[i] === this.port) this.connecting.set(b.sk[i] as number, b.ts[i] as number);
      return;
    }
    if (newstate === ESTABLISHED) {
      this.established(b, i);
      return;
    }
    const sk = b.sk[i] as number;
    if (newstate === CLOSE) this.connecting.delete(sk); // a connect that failed
    let c = this.clients.get(sk);
    const client = c !== undefined;
    if (!c) c = this.servers.get(sk);
    if (!c) return; // a socket that was established before tracing began
    const oldstate = b.oldstate[i] as number;
    const ts = b.ts[i] as number;
    const w = c.wire?.[client ? 'client' : 'server'];
    if (w) moveTo(w, oldstate, newstate, ts);
    if (oldstate === ESTABLISHED && newstate === FIN_WAIT1) {
      if (client) c.cFin = ts;
      else c.sFin = ts;
    } else if (oldstate === ESTABLISHED && newstate === CLOSE_WAIT) {
      if (client) c.cCloseWait = ts;
      else c.sCloseWait = ts;
    } else if (oldstate === CLOSE_WAIT && newstate === LAST_ACK) {
      if (client) c.cLastAck = ts;
      else c.sLastAck = ts;
    } else if (newstate === CLOSE) {
      const reset = oldstate === ESTABLISHED || oldstate === CLOSE_WAIT || oldstate === FIN_WAIT1;
      if (client) {
        c.cClosed = ts;
        if (reset) c.cReset = ts;
        this.clients.delete(sk);
      } else {
        c.sClosed = ts;
        if (reset) c.sReset = ts;
        this.servers.delete(sk);
      }
      const otherOpen = client
        ? c.hasServer && c.sClosed === NONE
        : c.hasClient && c.cClosed === NONE;
      if (otherOpen) this.halfClosed.add(c);
      else this.finish(c);
    }
  }

  private established(b: EventBatch, i: number): void {
    const sport = b.sport[i] as number;
    const dport = b.dport[i] as number;
    const side = sport === this.port ? 'server' : dport === this.port ? 'client' : null;
    if (!side) return;
    const clientPort = side === 'client' ? sport : dport;
    // The connection is named by the server's address, then the client's address and port.
    let server: number | string;
    let key: number | string;
    const v6 = b.v6.get(i);
    if (v6 === undefined) {
      server = side === 'client' ? (b.daddr[i] as number) : (b.saddr[i] as number);
      const clientAddr = side === 'client' ? (b.saddr[i] as number) : (b.daddr[i] as number);
      key = clientAddr * 65536 + clientPort; // 48 bits: exact as a number
    } else {
      const [s, d] = v6.split(' ') as [string, string];
      server = side === 'client' ? d : s;
      key = `${side === 'client' ? s : d}:${clientPort}`;
    }
    let byClient = this.open.get(server);
    if (!byClient) {
      byClient = new Map();
      this.open.set(server, byClient);
    }
    let c = byClient.get(key);
    if (!c || (side === 'client' ? c.hasClient : c.hasServer)) {
      if (c) this.finish(c); // a new connection on a reused 4-tuple
      c = new Conn(key, server, clientPort);
      byClient.set(key, c);
    }
    const ts = b.ts[i] as number;
    if (this.followWire) {
      c.wire ??= { client: wireSide(), server: wireSide() };
      const w = c.wire[side];
      w.state = ESTABLISHED;
      w.since = ts;
      const syns = this.synRetransmits.get(b.sk[i] as number);
      if (side === 'client' && syns !== undefined) {
        w.synRetransmits = syns;
        this.synRetransmits.delete(b.sk[i] as number);
      }
    }
    if (side === 'client') {
      const sk = b.sk[i] as number;
      const since = this.connecting.get(sk);
      if (since !== undefined) {
        this.connecting.delete(sk);
        this.connected((ts - since) / 1000);
      }
      c.hasClient = true;
      c.cEst = ts;
      c.cSk = b.sk[i] as number;
      this.clients.set(b.sk[i] as number, c);
    } else {
      c.hasServer = true;
      c.sEst = ts;
      c.sSk = b.sk[i] as number;
      this.servers.set(b.sk[i] as number, c);
    }
  }

  /** A retransmit or a reset on a followed socket. */
  private wireEvent(b: EventBatch, i: number): void {
    const sk = b.sk[i] as number;
    const kind = b.kind[i];
    const state = b.oldstate[i] as number;
    if (kind === RETRANSMIT && state === SYN_SENT) {
      if (this.connecting.has(sk))
        this.synRetransmits.set(sk, (this.synRetransmits.get(sk) ?? 0) + 1);
      return;
    }
    let c = this.clients.get(sk);
    const client = c !== undefined;
    if (!c) c = this.servers.get(sk);
    const w = c?.wire?.[client ? 'client' : 'server'];
    if (!w) return;
    if (kind === RESET_RECEIVED) w.resetReceived = true;
    else if (kind === RESET_SENT) {
      if (w.resetSent < 0) w.resetSent = b.newstate[i] as number;
    } else if (state === FIN_WAIT1 || state === CLOSING || state === LAST_ACK) w.finRetransmits++;
    else w.dataRetransmits++;
  }

  /** Ends connections whose other side has not closed within `graceNs` of the first. */
  flush(now: number, graceNs: number): void {
    for (const c of this.halfClosed) {
      if (now - Math.max(c.cClosed, c.sClosed) >= graceNs) this.finish(c);
    }
  }

  private finish(c: Conn): void {
    this.halfClosed.delete(c);
    // A side still open is forgotten with it: its close, should it come, would count it twice.
    if (this.clients.get(c.cSk) === c) this.clients.delete(c.cSk);
    if (this.servers.get(c.sSk) === c) this.servers.delete(c.sSk);
    const byClient = this.open.get(c.server);
    if (byClient?.get(c.key) === c) byClient.delete(c.key);
    // A side that never closed says nothing; a connection neither side closed is not over.
    if (c.cClosed === NONE && c.sClosed === NONE) return;
    c.summarise();
    this.done(c);
  }
}
