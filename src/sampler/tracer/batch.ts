// State changes as columns rather than objects: at 20k closes a second the tracer reads some 150k
// events a second, and an object (with address strings) for each was a third of its time in
// garbage collection. Addresses are kept as numbers (IPv4) and made text only where a connection
// starts; IPv6 pairs are rare and kept as text beside the columns.

export class EventBatch {
  length = 0;
  ts = new Float64Array(1024);
  /** The socket's kernel address, low 48 bits. */
  sk = new Float64Array(1024);
  oldstate = new Uint8Array(1024);
  newstate = new Uint8Array(1024);
  sport = new Uint16Array(1024);
  dport = new Uint16Array(1024);
  /** 0 for a state change; else what else the kernel said (tracer/connections.ts RETRANSMIT…). */
  kind = new Uint8Array(1024);
  /** IPv4 addresses as numbers; 0 with `v6` set for IPv6. */
  saddr = new Uint32Array(1024);
  daddr = new Uint32Array(1024);
  /** For IPv6 events: "saddr daddr" as text, by index. */
  readonly v6 = new Map<number, string>();

  /** Room for one more event; returns its index. */
  next(): number {
    if (this.length === this.ts.length) this.grow();
    return this.length++;
  }

  private grow(): void {
    const n = this.ts.length * 2;
    const more = <T extends Float64Array | Uint8Array | Uint16Array | Uint32Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.ts = more(this.ts);
    this.sk = more(this.sk);
    this.oldstate = more(this.oldstate);
    this.kind = more(this.kind);
    this.newstate = more(this.newstate);
    this.sport = more(this.sport);
    this.dport = more(this.dport);
    this.saddr = more(this.saddr);
    this.daddr = more(this.daddr);
  }

  /** Copies event `i` of `from` to the end of this batch. */
  copy(from: EventBatch, i: number): void {
    const j = this.next();
    this.ts[j] = from.ts[i] as number;
    this.sk[j] = from.sk[i] as number;
    this.oldstate[j] = from.oldstate[i] as number;
    this.kind[j] = from.kind[i] as number;
    this.newstate[j] = from.newstate[i] as number;
    this.sport[j] = from.sport[i] as number;
    this.dport[j] = from.dport[i] as number;
    this.saddr[j] = from.saddr[i] as number;
    this.daddr[j] = from.daddr[i] as number;
    const v6 = from.v6.get(i);
    if (v6 !== undefined) this.v6.set(j, v6);
  }
}
