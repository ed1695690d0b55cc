import type {
  AppView,
  ClientCloses,
  ClientView,
  CloseJoin,
  KernelCloseColumns,
  RunPart,
  ServerCloses,
  ServerView,
} from '../record/closes.js';
import type { FirstFin } from '../record/tcp.js';

// Joins each connection's end as the kernel recorded it with what the client's code and the
// server's code saw, by the client's port. On one port, connections follow one another, and every
// source records them in that order, so records are matched first in, first out; a record more
// than TOLERANCE_MS from the kernel's is not the same connection (one side's record is missing).
// Matching waits until every source has reported up to a moment (settle), so memory stays bounded
// however long the run.

const TOLERANCE_MS = 1000;

interface AppRecord {
  at: number;
  view: AppView;
}

interface KernelRecord {
  at: number;
  firstFin: FirstFin;
}

class PortQueues {
  readonly kernel: KernelRecord[] = [];
  readonly client: AppRecord[] = [];
  readonly server: AppRecord[] = [];
}

export class CloseJoiner {
  private readonly ports = new Map<number, PortQueues>();
  private readonly rows = new Map<string, number>();
  private matched = 0;
  private kernelOnly = 0;

  /** `partAt`: the part of the run a kernel time falls in, once it is settled; null: unknown. */
  constructor(private readonly partAt: (at: number) => RunPart | null = () => null) {}

  private queues(port: number): PortQueues {
    let q = this.ports.get(port);
    if (!q) {
      q = new PortQueues();
      this.ports.set(port, q);
    }
    return q;
  }

  addKernel(c: KernelCloseColumns): void {
    c.port.forEach((port, i) => {
      this.queues(port).kernel.push({ at: c.at[i] as number, firstFin: c.firstFin[i] as FirstFin });
    });
  }

  addApp(side: 'client', c: ClientCloses): void;
  addApp(side: 'server', c: ServerCloses): void;
  addApp(side: 'client' | 'server', c: ClientCloses | ServerCloses): void {
    c.port.forEach((port, i) => {
      this.queues(port)[side].push({ at: c.at[i] as number, view: c.view[i] as AppView });
    });
  }

  /** Matches every kernel record from before `horizon` (CLOCK_MONOTONIC ms; all sources past it). */
  settle(horizon = Number.POSITIVE_INFINITY): void {
    for (const [port, q] of this.ports) {
      while (q.kernel.length > 0 && (q.kernel[0] as KernelRecord).at < horizon) {
        const k = q.kernel.shift() as KernelRecord;
        const client = take(q.client, k.at);
        const server = take(q.server, k.at);
        if (client === null && server === null) this.kernelOnly++;
        else this.matched++;
        const key = `${client ?? ''}|${server ?? ''}|${k.firstFin}|${this.partAt(k.at) ?? ''}`;
        this.rows.set(key, (this.rows.get(key) ?? 0) + 1);
      }
      // Application records long past, with no kernel record to match: connections the tracer
      // did not see end (it started later, or lost them). They are not counted.
      for (const side of ['client', 'server'] as const) {
        while (q[side].length > 0 && (q[side][0] as AppRecord).at < horizon - 10 * TOLERANCE_MS) {
          q[side].shift();
        }
      }
      if (q.kernel.length + q.client.length + q.server.length === 0) this.ports.delete(port);
    }
  }

  result(): CloseJoin {
    this.settle();
    return {
      matched: this.matched,
      kernelOnly: this.kernelOnly,
      rows: [...this.rows]
        .map(([key, count]) => {
          // The key is made of the views the two sides' queues held (settle).
          const [client, server, kernel, part] = key.split('|') as [
            ClientView | '',
            ServerView | '',
            FirstFin,
            string,
          ];
          return {
            client: client || null,
            server: server || null,
            kernel,
            part: (part || null) as RunPart | null,
            count,
          };
        })
        .sort((a, b) => b.count - a.count),
    };
  }
}

/** The app's record of the connection the kernel saw end at `at`, or null if it has none. */
function take(queue: AppRecord[], at: number): AppView | null {
  while (queue.length > 0 && (queue[0] as AppRecord).at < at - TOLERANCE_MS) queue.shift();
  const head = queue[0];
  if (!head || head.at > at + TOLERANCE_MS) return null;
  queue.shift();
  return head.view;
}
