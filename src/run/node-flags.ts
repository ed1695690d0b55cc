// Node's own flags for a run's child processes, given when each starts (V8 reads its heap sizes
// only then; v8.setFlagsFromString later changes nothing).
//
// node:http2 keeps each stream's JS object alive from native code until the stream's handle is
// gone, so every stream in flight at a scavenge survives it, and with V8's default young
// generation (16 MiB semi-spaces) each scavenge copied megabytes: pauses of 10-17 ms every
// 0.7 s at 1,000 req/s. With 2 MiB semi-spaces the scavenges come more often and copy little:
// the http2 engine's p99 at 1,000 req/s 12 -> 4 ms (bench/latency.ts --h2c: 3.5x h2load's ->
// 1.9x), the HTTP/2 target's p99 as h2load measured it 8.7-11.8 -> 6.5-7.4 ms. The HTTP/1
// engines' and target's survivors stay flat: they keep V8's default.

const HTTP2_HEAP = ['--max-semi-space-size=2'];

export const driverNodeFlags = (engine: string): string[] => (engine === 'http2' ? HTTP2_HEAP : []);

export const targetNodeFlags = (protocol: string | undefined): string[] =>
  protocol === 'h2c' || protocol === 'h2' ? HTTP2_HEAP : [];

/** Whether `drive` runs this engine in a process of its own (to start it with its flags). */
export const needsOwnProcess = (engine: string) => driverNodeFlags(engine).length > 0;
