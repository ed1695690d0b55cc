import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { monoMs } from '../clock.js';
import type { DeepReadonly } from '../config/resolve.js';
import type { TargetKnobs } from '../config/target.js';
import { type ServerCloses, serverView } from '../record/closes.js';
import type { CloseReason, Closer } from '../record/target.js';
import type { TargetCounters } from './counters.js';

// Every connection the target accepts, from accept to close: its requests, its idle timer (the
// target's own, so the timeout is exact and every idle close is counted), who closed it first
// and why. Closing is done here, so each close is decided and counted in one place.

export interface ConnState {
  /** The client's port, kept: after a close the socket no longer says. */
  port: number;
  requests: number;
  inflight: number;
  idleSince: number;
  closer: Closer | null;
  reason: CloseReason | null;
  /** Idle time at an idle-timeout close, ms. */
  idleMs: number | null;
  leaking: boolean;
  timer: NodeJS.Timeout | null;
}

export class Connections {
  private readonly conns = new Map<Socket, ConnState>();
  private readonly rst: boolean;
  private shuttingDown = false;
  // A destroyed socket's 'close' comes a loop turn later than the server's own bookkeeping, so
  // shutdown waits for every tracked socket rather than for server.close() alone.
  private drained: (() => void) | null = null;
  private closes: ServerCloses = { port: [], at: [], view: [] };
  /** Each open connection by its peer's address and port (HTTP/2 finds its session's socket). */
  private readonly byPeer = new Map<string, Socket>();
  /**
   * What the idle timer does; closing at once by default. HTTP/2 sends a GOAWAY first
   * (h2-sessions.ts), having marked the close with closeBy() itself.
   */
  idleAction: ((socket: Socket, st: ConnState) => void) | null = null;

  /**
   * `keepCloses`: keep each closed connection's client port, time and the server's view of it,
   * for a parent that joins them with the kernel's record (takeCloses()).
   */
  constructor(
    private readonly knobs: DeepReadonly<TargetKnobs>,
    private readonly counters: TargetCounters,
    private readonly keepCloses = false,
  ) {
    this.rst = knobs.closeWith === 'rst';
    counters.tcpKeepAliveMs = knobs.tcpKeepAlive;
  }

  /** The connections closed since the last call. */
  takeCloses(): ServerCloses {
    const out = this.closes;
    this.closes = { port: [], at: [], view: [] };
    return out;
  }

  get(socket: Socket): ConnState | undefined {
    return this.conns.get(socket);
  }

  /** The open connection from this peer, if any. */
  find(address: string | undefined, port: number | undefined): Socket | undefined {
    return this.byPeer.get(`${address}|${port}`);
  }

  /** The server's 'connection' event. */
  readonly accept = (socket: Socket): void => {
    this.counters.accepted++;
    // Node sets only the idle time (TCP_KEEPIDLE); the probes' interval and count are the kernel's.
    if (this.knobs.tcpKeepAlive > 0) socket.setKeepAlive(true, this.knobs.tcpKeepAlive);
    const st: ConnState = {
      port: socket.remotePort ?? 0,
      requests: 0,
      inflight: 0,
      idleSince: performance.now(),
      closer: null,
      reason: null,
      idleMs: null,
      leaking: false,
      timer: null,
    };
    this.conns.set(socket, st);
    const peer = `${socket.remoteAddress}|${socket.remotePort}`;
    this.byPeer.set(peer, socket);
    const timeout = this.knobs.keepAliveTimeout;
    if (timeout > 0) st.timer = setTimeout(this.onIdleTimer, timeout, socket, st).unref();
    socket.once('end', () => {
      if (st.closer) return;
      st.closer = 'client';
      if (st.leaking) this.counters.leaked++;
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (st.closer) return;
      const reset = err.code === 'ECONNRESET' || err.code === 'EPIPE';
      st.closer = reset ? 'clientReset' : 'server';
      st.reason = reset ? null : 'error';
    });
    socket.once('close', () => {
      if (st.timer) clearTimeout(st.timer);
      this.conns.delete(socket);
      this.byPeer.delete(peer);
      if (this.conns.size === 0) this.drained?.();
      // Closed without a decision of ours or a FIN/RST from the peer: Node closed it itself
      // (headers timeout, parse error, connectionTimeout).
      const closer = st.closer ?? 'server';
      const serverSide = closer === 'server' || closer === 'serverReset';
      const reason = serverSide ? (st.reason ?? (this.shuttingDown ? 'shutdown' : 'error')) : null;
      this.counters.add({
        closer,
        reason,
        requests: st.requests,
        idleMs: st.reason === 'idleTimeout' ? st.idleMs : null,
      });
      if (this.keepCloses && st.port > 0) {
        this.closes.port.push(st.port);
        this.closes.at.push(monoMs());
        this.closes.view.push(serverView(closer, reason));
      }
    });
  };

  /** Marks the server as the closer; the caller (or Node) does the closing. */
  closeBy(st: ConnState, reason: CloseReason): void {
    st.closer = this.rst ? 'serverReset' : 'server';
    st.reason = reason;
  }

  closeNow(socket: Socket, st: ConnState, reason: CloseReason): void {
    this.closeBy(st, reason);
    if (this.rst) socket.resetAndDestroy();
    else socket.destroy();
  }

  requestStarted(st: ConnState): void {
    st.requests++;
    st.inflight++;
  }

  responded(st: ConnState): void {
    if (--st.inflight === 0) st.idleSince = performance.now();
  }

  private readonly onIdleTimer = (socket: Socket, st: ConnState): void => {
    if (st.closer || socket.destroyed) return;
    const idleFor = performance.now() - st.idleSince;
    const timeout = this.knobs.keepAliveTimeout;
    // Timers tick in whole milliseconds; allow one so the close is not pushed a full period late.
    if (st.inflight === 0 && idleFor + 1 >= timeout) {
      st.idleMs = idleFor;
      if (this.idleAction) this.idleAction(socket, st);
      else this.closeNow(socket, st, 'idleTimeout');
      return;
    }
    const wait = st.inflight > 0 ? timeout : timeout - idleFor;
    st.timer = setTimeout(this.onIdleTimer, wait, socket, st).unref();
  };

  /** Shutdown: every open connection is closed by the server, reason `shutdown`. */
  shutdown(): Promise<void> {
    this.shuttingDown = true;
    for (const st of this.conns.values()) if (!st.closer) this.closeBy(st, 'shutdown');
    return new Promise<void>((done) => {
      this.drained = done;
      if (this.conns.size === 0) done();
    });
  }

  /** Every open connection, for a shutdown that must close each its own way (HTTP/2). */
  sockets(): IterableIterator<Socket> {
    return this.conns.keys();
  }

  destroyAll(): void {
    for (const socket of this.conns.keys()) socket.destroy();
  }
}
