// CLOCK_MONOTONIC in milliseconds: the clock the kernel's tracepoints stamp closes with (trace_clock
// mono) and that the driver's, the target's and the sampler's windows are read on, so that a close
// and a window can be placed against each other. Not wall time: never for a date.

export const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;
