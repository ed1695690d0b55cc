import type { DeepReadonly } from '../config/resolve.js';
import type { TargetKnobs } from '../config/target.js';
import type { CloseReason } from './counters.js';

// Decides, per response, whether the server ends the connection and which keep-alive headers it
// sends. Pure so every knob combination is testable without sockets.

export interface ResponsePlan {
  /** The server closes after this response, and why; null keeps the connection open. */
  close: CloseReason | null;
  /** `Connection: close` is sent but the close is left to the client (advertise semantics). */
  advertiseClose: boolean;
  /** Value of the `Keep-Alive` header, or null for none. */
  keepAliveHeader: string | null;
}

export function planResponse(
  knobs: DeepReadonly<TargetKnobs>,
  requestNumber: number,
  clientKeepsAlive: boolean,
  random: () => number,
): ResponsePlan {
  const atLimit = knobs.maxRequests > 0 && requestNumber >= knobs.maxRequests;
  let close: CloseReason | null = null;
  if (!clientKeepsAlive) close = 'clientRequested';
  else if (atLimit && knobs.maxRequestsMode === 'close') close = 'requestLimit';
  else if (knobs.connectionClose > 0 && random() < knobs.connectionClose) close = 'closePolicy';
  const advertiseClose = close === null && atLimit && knobs.maxRequestsMode === 'advertise';
  const keepsAlive = close === null && !advertiseClose;
  const keepAliveHeader =
    keepsAlive && knobs.keepAliveHint && knobs.keepAliveTimeout > 0
      ? `timeout=${Math.floor(knobs.keepAliveTimeout / 1000)}${knobs.maxRequests > 0 ? `, max=${knobs.maxRequests}` : ''}`
      : null;
  return { close, advertiseClose, keepAliveHeader };
}
