// A single-producer, single-consumer ring of fixed-size numeric records in shared memory: how the
// hot loop hands what it observed to the recorder thread without allocating, without a message
// per request, and without waiting for it. The producer (the driver's main thread) writes a
// record's fields and then publishes its head; the consumer reads up to the head and publishes
// its tail. Indices run on as 32-bit integers and wrap; the capacity is a power of two, so the
// distance head − tail (taken unsigned) is always the number of records waiting.
//
// A full ring never blocks the producer and never drops a record: what does not fit waits, in
// order, in a local overflow queue that later writes (and flush()) move into the ring as room
// frees. The consumer is woken by the producer only when asked (wake()) or when the ring is past
// half full; otherwise it polls on its own clock.

/** Numbers per record: a type and up to seven fields. */
export const STRIDE = 8;
const HEAD = 0;
const TAIL = 1;
const WAKE = 2;

export interface RingBuffers {
  control: SharedArrayBuffer;
  data: SharedArrayBuffer;
}

export function createRing(capacity: number): RingBuffers {
  if (capacity < 2 || (capacity & (capacity - 1)) !== 0) {
    throw new Error(`ring capacity must be a power of two, got ${capacity}`);
  }
  return {
    control: new SharedArrayBuffer(4 * Int32Array.BYTES_PER_ELEMENT),
    data: new SharedArrayBuffer(capacity * STRIDE * Float64Array.BYTES_PER_ELEMENT),
  };
}

export class RingWriter {
  private readonly control: Int32Array;
  private readonly data: Float64Array;
  private readonly mask: number;
  private readonly capacity: number;
  private head = 0;
  private overflow: Float64Array[] = [];

  constructor(buffers: RingBuffers) {
    this.control = new Int32Array(buffers.control);
    this.data = new Float64Array(buffers.data);
    this.capacity = this.data.length / STRIDE;
    this.mask = this.capacity - 1;
  }

  /** Records waiting in the overflow queue (the ring was full when they came). */
  get overflowed(): number {
    return this.overflow.length;
  }

  put(type: number, a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0): void {
    if (this.overflow.length > 0) this.flush();
    const used = (this.head - Atomics.load(this.control, TAIL)) >>> 0;
    if (this.overflow.length > 0 || used >= this.capacity) {
      this.overflow.push(Float64Array.of(type, a, b, c, d, e, f, g));
      this.wake();
      return;
    }
    const at = (this.head & this.mask) * STRIDE;
    const data = this.data;
    data[at] = type;
    data[at + 1] = a;
    data[at + 2] = b;
    data[at + 3] = c;
    data[at + 4] = d;
    data[at + 5] = e;
    data[at + 6] = f;
    data[at + 7] = g;
    this.head = (this.head + 1) | 0;
    Atomics.store(this.control, HEAD, this.head);
    if (used + 1 === this.capacity >>> 1) this.wake();
  }

  /** Moves what waits in the overflow queue into the ring, as far as it fits; true when empty. */
  flush(): boolean {
    while (this.overflow.length > 0) {
      const used = (this.head - Atomics.load(this.control, TAIL)) >>> 0;
      if (used >= this.capacity) return false;
      const rec = this.overflow.shift() as Float64Array;
      this.data.set(rec, (this.head & this.mask) * STRIDE);
      this.head = (this.head + 1) | 0;
      Atomics.store(this.control, HEAD, this.head);
    }
    return true;
  }

  /** Wakes the consumer now (it otherwise polls). */
  wake(): void {
    Atomics.store(this.control, WAKE, 1);
    Atomics.notify(this.control, WAKE);
  }
}

export class RingReader {
  private readonly control: Int32Array;
  private readonly data: Float64Array;
  private readonly mask: number;

  constructor(buffers: RingBuffers) {
    this.control = new Int32Array(buffers.control);
    this.data = new Float64Array(buffers.data);
    this.mask = this.data.length / STRIDE - 1;
  }

  /** Sleeps until woken or `ms` have passed (only where blocking is allowed: a worker). */
  wait(ms: number): void {
    Atomics.wait(this.control, WAKE, 0, ms);
    Atomics.store(this.control, WAKE, 0);
  }

  /**
   * Hands every published record to `each` (the data array and the record's offset in it; read
   * the fields before returning), in order, then frees their slots. Returns how many there were.
   */
  drain(each: (data: Float64Array, at: number) => void): number {
    const head = Atomics.load(this.control, HEAD);
    let tail = Atomics.load(this.control, TAIL);
    let n = 0;
    while (tail !== head) {
      each(this.data, (tail & this.mask) * STRIDE);
      tail = (tail + 1) | 0;
      n++;
      // Free slots as we go, so a producer far ahead gets room before the whole batch is read.
      if ((n & 1023) === 0) Atomics.store(this.control, TAIL, tail);
    }
    Atomics.store(this.control, TAIL, tail);
    return n;
  }
}
