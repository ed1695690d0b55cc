import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DeepReadonly } from '../config/resolve.js';
import type { TargetKnobs } from '../config/target.js';
import type { CloseReason } from '../record/target.js';
import type { Connections, ConnState } from './connections.js';
import type { TargetCounters } from './counters.js';
import { answerAndLeak } from './fault.js';
import { responsePlanner } from './response-policy.js';

// The request handler: plans each response (keep-alive headers, whether the server closes after
// it), applies the delay, and closes the connection the way the knobs say.

export type Handler = (request: FastifyRequest, reply: FastifyReply) => unknown;

export function createHandler(
  knobs: DeepReadonly<TargetKnobs>,
  connections: Connections,
  counters: TargetCounters,
): Handler {
  const body = Buffer.alloc(knobs.bodySize, 'x');
  const rst = knobs.closeWith === 'rst';
  const delayed = knobs.delay.max > 0;
  const plan = responsePlanner(knobs);

  const closeAtOnceNow = (socket: Socket | null, st: ConnState, reason: CloseReason) => {
    if (socket && !st.closer && socket.writableLength === 0) {
      connections.closeBy(st, reason);
      socket.destroy();
    }
  };

  const send = (reply: FastifyReply, st: ConnState, closeAtOnce: CloseReason | null) => {
    connections.responded(st);
    // closeWith "fin" closes at once, as nginx does. Node's own close (destroySoon) sends the
    // FIN a loop turn after the data, by which time a fast client has often closed first.
    // 'prefinish' is emitted inside res.end() right after the response was handed to the kernel,
    // so closing there puts the FIN right behind the data, with nothing of ours or Fastify's in
    // between. (Measured with the tracer, undici at 1,000 req/s, client and target on separate
    // CPUs: 99% server-first, as nginx; Node's own close loses more often.)
    if (closeAtOnce) {
      reply.raw.once('prefinish', () => closeAtOnceNow(reply.raw.socket, st, closeAtOnce));
    }
    reply.send(body);
  };

  return (request, reply) => {
    counters.requests++;
    const socket = request.raw.socket;
    const st = connections.get(socket);
    if (!st) return reply.code(500).send();
    connections.requestStarted(st);
    if (knobs.fault === 'close-wait-leak') {
      return answerAndLeak(request, reply, st, knobs.status, body);
    }
    const { close: reason, keepAliveHeader } = plan(
      st.requests,
      reply.raw.shouldKeepAlive,
      Math.random,
    );
    reply.code(knobs.status).header('content-type', 'text/plain');
    if (keepAliveHeader) reply.header('keep-alive', keepAliveHeader);
    if (reason) {
      reply.header('connection', 'close');
      // Runs before Node's own 'finish' handler, which would otherwise send the FIN first.
      reply.raw.prependOnceListener('finish', () => {
        if (st.closer) return;
        connections.closeBy(st, reason);
        if (rst) socket.resetAndDestroy();
      });
    }
    const atOnce = reason !== null && knobs.closeWith === 'fin' ? reason : null;
    if (!delayed) return send(reply, st, atOnce);
    const { min, max } = knobs.delay;
    setTimeout(send, min + Math.random() * (max - min), reply, st, atOnce);
    return reply;
  };
}
