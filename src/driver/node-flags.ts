// Node's own flags for a driver process, per engine, given when it starts (V8 reads its heap sizes
// only then; v8.setFlagsFromString later changes nothing).
//
// node:http2 keeps each stream's JS object alive from native code until the stream's handle is
// gone, so every stream in flight at a scavenge survives it, and with V8's default young
// generation (16 MiB semi-spaces) each scavenge copied megabytes: pauses of 10–17 ms every
// 0.7 s at 1,000 req/s, and the driver's p99 3.5× h2load's. With 2 MiB semi-spaces the
// scavenges come more often and copy little: p99 12 → 3–4 ms (bench/latency.ts --h2c).
// The HTTP/1 engines' survivors stay flat, so they keep V8's default.

export function driverNodeFlags(engine: string): string[] {
  return engine === 'http2' ? ['--max-semi-space-size=2'] : [];
}

/** Whether `drive` runs this engine in a process of its own (to start it with its flags). */
export const needsOwnProcess = (engine: string) => driverNodeFlags(engine).length > 0;
