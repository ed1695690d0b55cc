import type { Capabilities } from '../recorder.js';

/**
 * Called exactly once per request: the error, or the status and body bytes; `isNew` tells
 * whether the request went out on a connection it opened (null when the engine cannot tell).
 */
export type SendDone = (err: unknown, status: number, bytes: number, isNew: boolean | null) => void;

/** A request-at-a-time engine, driven by the load models in ../load.ts. */
export interface Engine {
  readonly capabilities: Capabilities;
  send(done: SendDone): void;
  /** Lets in-flight requests finish, then closes every connection from the client side. */
  close(): Promise<void>;
  /** Fails in-flight requests and closes every connection now. */
  destroy(): Promise<void>;
}
