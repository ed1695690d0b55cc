import { constants, type Http2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { DeepReadonly } from '../config/resolve.js';
import type { TargetKnobs } from '../config/target.js';
import { GOAWAY_REASONS, type GoawayReason, type TargetHttp2 } from '../record/target.js';
import { zeros } from '../record/zeros.js';
import type { Connections, ConnState } from './connections.js';

// The target's HTTP/2 sessions: how each is retired. A session is one TCP connection, tracked by
// Connections like any other (who closed first, its streams as its requests, the idle timer);
// this adds what HTTP/2 does at its end: a GOAWAY naming the last stream the server will serve,
// the streams still in flight served (graceful) or cut (immediate), then the close (a FIN, or a
// reset with closeWith: rst). The request limit sends its GOAWAY as the last stream arrives, as
// nginx does, so a client learns of it before it sends more; streams it had already sent above
// that id are refused unprocessed, and a good client sends them again elsewhere.

const { NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = constants;

interface SessionState {
  session: Http2Session;
  socket: Socket;
  conn: ConnState;
  /** Streams served or being served on it (the request count of its connection). */
  streams: number;
  open: number;
  retiring: 'graceful' | 'immediate' | null;
  /** With goaway: immediate, the stream at the limit: its end closes the session. */
  last: ServerHttp2Stream | null;
}

export class H2Sessions {
  readonly stats: TargetHttp2;
  private readonly states = new WeakMap<Http2Session, SessionState>();
  private readonly live = new Set<Http2Session>();
  /** Each session by its connection's socket, for the idle timer (which knows the socket). */
  private readonly bySocket = new WeakMap<Socket, Http2Session>();
  private readonly rst: boolean;

  constructor(
    private readonly knobs: DeepReadonly<TargetKnobs>,
    private readonly connections: Connections,
  ) {
    this.rst = knobs.closeWith === 'rst';
    this.stats = {
      protocol: knobs.protocol === 'h2' ? 'h2' : 'h2c',
      goawaysSent: zeros(GOAWAY_REASONS),
      refusedAfterGoaway: 0,
      cutAtClose: 0,
    };
    connections.idleAction = (socket) => {
      const session = this.bySocket.get(socket);
      if (session) this.retire(session, 'idleTimeout');
      else connections.closeNow(socket, connections.get(socket) as ConnState, 'idleTimeout');
    };
  }

  /**
   * The server's 'session' event. Its socket is accepted by Connections in a listener that runs
   * after this one, in the same emit: the two are linked once that emit is over.
   */
  readonly onSession = (session: Http2Session): void => {
    this.live.add(session);
    session.once('close', () => this.live.delete(session));
    queueMicrotask(() => {
      const { remoteAddress, remotePort } = session.socket ?? {};
      const socket = this.connections.find(remoteAddress, remotePort);
      const conn = socket ? this.connections.get(socket) : undefined;
      if (!socket || !conn) return;
      this.bySocket.set(socket, session);
      this.states.set(session, {
        session,
        socket,
        conn,
        streams: 0,
        open: 0,
        retiring: null,
        last: null,
      });
    });
  };

  /** A stream the handler serves: its connection's state, or null if it is not ours to serve. */
  started(stream: ServerHttp2Stream): ConnState | null {
    const s = this.states.get(stream.session as Http2Session);
    if (!s) return null;
    this.connections.requestStarted(s.conn);
    s.streams++;
    s.open++;
    stream.once('close', () => this.ended(stream, s));
    const limit = this.knobs.maxRequests;
    if (limit > 0 && s.streams === limit && !s.retiring) {
      if (this.knobs.goaway === 'graceful') {
        this.retire(stream.session as Http2Session, 'requestLimit', stream.id);
      } else {
        s.retiring = 'immediate';
        s.last = stream;
      }
    }
    return s.conn;
  }

  /** Shutdown: every live session gets its GOAWAY and closes once its streams are done. */
  shutdown(): void {
    for (const session of this.live) this.retire(session, 'shutdown');
  }

  private ended(stream: ServerHttp2Stream, s: SessionState): void {
    s.open--;
    this.connections.responded(s.conn);
    if (stream.rstCode === NGHTTP2_REFUSED_STREAM) this.stats.refusedAfterGoaway++;
    // A closed stream no longer knows its session: the state does.
    const { session } = s;
    if (session.destroyed) return;
    if (s.retiring === 'immediate' && stream === s.last) {
      this.stats.cutAtClose += s.open;
      this.stats.goawaysSent.requestLimit++;
      this.connections.closeBy(s.conn, 'requestLimit');
      this.close(session, s);
    } else if (s.retiring === 'graceful' && s.open === 0) this.close(session, s);
  }

  /** Sends the GOAWAY (the last stream to serve: `lastStreamId`, or the last one received). */
  private retire(session: Http2Session, reason: GoawayReason, lastStreamId?: number): void {
    const s = this.states.get(session);
    if (!s || s.retiring === 'graceful' || session.closed || session.destroyed) return;
    s.retiring = 'graceful';
    this.stats.goawaysSent[reason]++;
    this.connections.closeBy(s.conn, reason);
    if (lastStreamId !== undefined) session.goaway(NGHTTP2_NO_ERROR, lastStreamId);
    if (s.open === 0) this.close(session, s);
  }

  /** The close after the GOAWAY: Node's own (a second GOAWAY that can only lower the id, then a FIN), or a reset. */
  private close(session: Http2Session, s: SessionState): void {
    if (this.rst) {
      s.socket.resetAndDestroy();
      return;
    }
    if (s.retiring === 'immediate') session.destroy();
    else session.close();
  }
}
