import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

// A raw HTTP/1.1 client for tests where the wire matters: it never closes unless told to, keeps
// its half of the connection open when the server sends FIN (allowHalfOpen), and records whether
// the server's FIN or RST arrived.

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export class RawConn {
  serverFin = false;
  resetSeen = false;
  closed = false;
  private buf = '';
  private waiter: (() => void) | null = null;

  private constructor(readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buf += chunk;
      this.waiter?.();
    });
    socket.on('end', () => {
      this.serverFin = true;
      this.waiter?.();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') this.resetSeen = true;
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  static async open(port: number, host = '127.0.0.1'): Promise<RawConn> {
    const socket = connect({ port, host, allowHalfOpen: true });
    await once(socket, 'connect');
    return new RawConn(socket);
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  async request(headers: Record<string, string> = {}, path = '/'): Promise<RawResponse> {
    const lines = [`GET ${path} HTTP/1.1`, 'Host: localhost'];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    this.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    return this.readResponse();
  }

  private async readResponse(): Promise<RawResponse> {
    for (;;) {
      const parsed = this.tryParse();
      if (parsed) return parsed;
      if (this.closed || this.serverFin || this.resetSeen) {
        throw new Error(`connection ended before a full response (${this.buf.length} bytes)`);
      }
      await new Promise<void>((r) => {
        this.waiter = r;
      });
    }
  }

  private tryParse(): RawResponse | null {
    const headEnd = this.buf.indexOf('\r\n\r\n');
    if (headEnd < 0) return null;
    const [statusLine = '', ...headerLines] = this.buf.slice(0, headEnd).split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of headerLines) {
      const at = line.indexOf(':');
      headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    if (this.buf.length < headEnd + 4 + length) return null;
    const body = this.buf.slice(headEnd + 4, headEnd + 4 + length);
    this.buf = this.buf.slice(headEnd + 4 + length);
    return { status: Number(statusLine.split(' ')[1]), headers, body };
  }

  /** Resolves true once the server's FIN (or RST) has arrived, false after `ms`. */
  async waitServerClose(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.serverFin && !this.resetSeen && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, left);
      });
    }
    return true;
  }

  /** Client-side close: FIN, then wait until both directions are done. */
  async end(): Promise<void> {
    if (this.closed) return;
    this.socket.end();
    await this.waitClosedOr(2000);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private async waitClosedOr(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 20);
      });
    }
  }
}
