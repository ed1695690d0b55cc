/**
 * Called exactly once per request: the error, or the status and body bytes; `isNew` tells
 * whether the request went out on a connection it opened (null when the engine cannot tell).
 * `since`, `measured` and `sentInBurst` are handed back as they were given to send(): the load
 * loop passes one shared callback instead of allocating a closure per request.
 */
export type SendDone = (
  err: unknown,
  status: number,
  bytes: number,
  isNew: boolean | null,
  since: number,
  measured: boolean,
  sentInBurst: number,
) => void;

/** A request-at-a-time engine, driven by the load models in ../load.ts. */
export interface Engine {
  /**
   * Set when the client refused a request outright (an argument it cannot send): every request
   * would be refused the same way, so the load stops at once and the options are bad input.
   */
  readonly refused: Error | null;
  send(done: SendDone, since: number, measured: boolean, sentInBurst: number): void;
  /** Lets in-flight requests finish, then closes every connection from the client side. */
  close(): Promise<void>;
  /** Fails in-flight requests and closes every connection now. */
  destroy(): Promise<void>;
}
