import type { Capabilities } from '../../record/driver.js';

// What the autocannon engine can observe, apart from the engine itself so that knowing it does not
// load autocannon: it cannot tell new from reused connections, time connects, say who closed
// first or see response headers.
export const AUTOCANNON_CAPABILITIES: Capabilities = {
  connectionReuse: false,
  connectTime: false,
  closedBy: false,
  responseHeaders: false,
};
