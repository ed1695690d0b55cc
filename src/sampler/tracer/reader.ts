import { closeSync, constants, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { EventBatch } from './batch.js';
import {
  type EventLayout,
  type ExtraLayout,
  parseExtraFormat,
  parseFormat,
  parsePage,
} from './pages.js';
import type { TraceInstance } from './tracefs.js';

// Drains an instance's per-CPU binary buffers without blocking: each read returns one sub-buffer
// (a partial one when that is all there is), EAGAIN when the buffer is empty. One connection's
// events land on whichever CPU handled them, so the caller merges the CPUs by timestamp.

export class BufferReader {
  private readonly fds: number[];
  private readonly layout: EventLayout;
  private readonly extras: ExtraLayout[];
  private readonly page: Buffer;
  bytes = 0;
  pages = 0;

  constructor(instance: TraceInstance) {
    this.layout = parseFormat(instance.format);
    this.extras = instance.extraFormats.map((e) => parseExtraFormat(e.format, e.kind));
    this.page = Buffer.alloc(instance.pageSize);
    this.fds = instance.cpus.map((cpu) =>
      openSync(
        join(instance.dir, 'per_cpu', `cpu${cpu}`, 'trace_pipe_raw'),
        constants.O_RDONLY | constants.O_NONBLOCK,
      ),
    );
  }

  /** Everything the buffers hold now: one batch per CPU, each in time order. */
  drain(): EventBatch[] {
    return this.fds.map((fd) => {
      const events = new EventBatch();
      for (;;) {
        let n: number;
        try {
          n = readSync(fd, this.page, 0, this.page.length, null);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
          throw err;
        }
        if (n <= 0) break;
        this.bytes += n;
        this.pages++;
        parsePage(this.page, n, this.layout, events, this.extras);
      }
      return events;
    });
  }

  close(): void {
    for (const fd of this.fds) closeSync(fd);
  }
}
