import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ConnState } from './connections.js';

// The CLOSE_WAIT leak, the bug under study: the handler takes the socket over, answers, and never
// finishes the response, so the server never closes the connection after the client has closed
// its side. Needs server.httpAllowHalfOpen (see server.ts), or Node would close on the client's FIN.

export function answerAndLeak(
  request: FastifyRequest,
  reply: FastifyReply,
  st: ConnState,
  status: number,
  body: Buffer,
): void {
  reply.hijack();
  st.leaking = true;
  st.inflight--;
  const socket = request.raw.socket;
  socket.write(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      `Content-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
  );
  socket.write(body);
}
