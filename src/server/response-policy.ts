import type { DeepReadonly } from '../config/resolve.js';
import type { TargetKnobs } from '../config/target.js';
import type { CloseReason } from '../record/target.js';

// Decides, per response, whether the server ends the connection and which keep-alive headers it
// sends. Pure so every knob combination is testable without sockets; the plans are built once
// per server so the hot path allocates nothing.

export interface ResponsePlan {
  /** The server closes after this response, and why; null keeps the connection open. */
  readonly close: CloseReason | null;
  /** `Connection: close` is sent but the close is left to the client (advertise semantics). */
  readonly advertiseClose: boolean;
  /** Value of the `Keep-Alive` header, or null for none. */
  readonly keepAliveHeader: string | null;
}

export type Planner = (
  requestNumber: number,
  clientKeepsAlive: boolean,
  random: () => number,
) => ResponsePlan;

export function responsePlanner(knobs: DeepReadonly<TargetKnobs>): Planner {
  const hint =
    knobs.keepAliveHint && knobs.keepAliveTimeout > 0
      ? `timeout=${Math.floor(knobs.keepAliveTimeout / 1000)}${knobs.maxRequests > 0 ? `, max=${knobs.maxRequests}` : ''}`
      : null;
  const plan = (close: CloseReason | null, advertiseClose = false): ResponsePlan =>
    Object.freeze({
      close,
      advertiseClose,
      keepAliveHeader: close || advertiseClose ? null : hint,
    });
  const keep = plan(null);
  const advertise = plan(null, true);
  const clientRequested = plan('clientRequested');
  const requestLimit = plan('requestLimit');
  const closePolicy = plan('closePolicy');
  const limit = knobs.maxRequests;
  const closeAtLimit = knobs.maxRequestsMode === 'close';
  const p = knobs.connectionClose;

  return (requestNumber, clientKeepsAlive, random) => {
    if (!clientKeepsAlive) return clientRequested;
    const atLimit = limit > 0 && requestNumber >= limit;
    if (atLimit && closeAtLimit) return requestLimit;
    if (p > 0 && random() < p) return closePolicy;
    return atLimit ? advertise : keep;
  };
}
