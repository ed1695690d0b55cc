import type { Http2ServerRequest } from 'node:http2';
import type { DeepReadonly } from '../config/resolve.js';
import type { TargetKnobs } from '../config/target.js';
import type { TargetCounters } from './counters.js';
import type { H2Sessions } from './h2-sessions.js';
import type { Handler } from './handler.js';

// The HTTP/2 request handler: each stream is a request on its session's connection (counted
// there), answered after the delay. How a session ends is H2Sessions' business, not the
// response's: HTTP/2 has no Connection header.

export function createH2Handler(
  knobs: DeepReadonly<TargetKnobs>,
  sessions: H2Sessions,
  counters: TargetCounters,
): Handler {
  const body = Buffer.alloc(knobs.bodySize, 'x');
  const { min, max } = knobs.delay;
  return (request, reply) => {
    counters.requests++;
    const stream = (request.raw as unknown as Http2ServerRequest).stream;
    if (!sessions.started(stream)) return reply.code(500).send();
    reply.code(knobs.status).header('content-type', 'text/plain');
    if (max === 0) return reply.send(body);
    setTimeout(() => reply.send(body), min + Math.random() * (max - min));
    return reply;
  };
}
