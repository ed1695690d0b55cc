import type { Capabilities } from '../../record/driver.js';
import { edit, type Json, obj } from './edit.js';

// The driver's parts that the drive and run steps both change, as each version changed them.

/** What an engine could observe, read from what its result said it could not (drive@1). */
function capabilitiesOf(notMeasured: unknown): Capabilities {
  const missing = new Set(Array.isArray(notMeasured) ? notMeasured : []);
  return {
    connectionReuse: !missing.has('latency.newConnection'),
    connectTime: !missing.has('connectTime'),
    closedBy: !missing.has('connections.closedBy'),
    responseHeaders: !missing.has('responses'),
  };
}

/** The driver's figures as drive@2 has them: capabilities recorded, its own delay unknown. */
export function driverTotals(d: Json): Json {
  return {
    ...(edit(d, 'timeline[]', (i) => ({ ...i, self: null })) as Json),
    capabilities: d.capabilities ?? capabilitiesOf(d.notMeasured),
    self: d.self ?? null,
    resources: d.resources ?? { cpuMs: 0, cpuCores: 0, eventLoopUtilization: 0, peakRssBytes: 0 },
  };
}

/** The error class undici named UND_ERR_SOCKET is the project's own `peerClosed` since. */
export function renamed(byClass: unknown): unknown {
  const x = obj(byClass);
  if (!('UND_ERR_SOCKET' in x)) return byClass;
  const { UND_ERR_SOCKET, ...rest } = x;
  return { ...rest, peerClosed: UND_ERR_SOCKET };
}

export const errorsOf = (e: Json): Json => ({
  ...e,
  byClass: renamed(e.byClass),
  reusedByClass: renamed(e.reusedByClass),
  firstMs: renamed(e.firstMs),
});

/** drive@4 and run@5 added the main thread's wait for a CPU: unknown before. */
export const withCpuWait = (self: Json): Json => ({ cpuWait: null, ...self });

/** drive@5 and run@6 added HTTP/2: none was spoken before, and no close was a GOAWAY's. */
export function withHttp2(summary: Json): Json {
  const x = edit(summary, 'connections.clientCloseReasons', (r) => ({ ...r, goaway: 0 })) as Json;
  return { ...x, http2: null };
}

/** drive@7 and run@10: HTTP/2 sessions retired at the client's own stream limit (none before). */
export const withRequestLimit = (reasons: Json): Json => ({ ...reasons, requestLimit: 0 });

/**
 * drive@8 and run@11 count a status outside 100-599 as 'other'; before, it was not counted (the
 * audit's statusClasses says where that left completed requests in no class).
 */
export const withOtherStatus = (status: Json): Json => ({ ...status, other: 0 });

/** drive@6 and run@7 count HTTP/2 per interval too: a result from before kept the totals only. */
export const withIntervalHttp2 = (interval: Json): Json => ({ ...interval, http2: null });
