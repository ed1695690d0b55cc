// An HTTP/1.1 response parser for the net engine, fed the socket's chunks as they come: the
// status line and the headers the engine acts on (Content-Length, Transfer-Encoding: chunked,
// Connection, Keep-Alive), then the body counted, not kept: by length, by chunks, or to the end of
// the connection. 1xx interim responses are skipped. One response at a time (no pipelining):
// bytes past the end of a response are a protocol error.

export interface ResponseHead {
  status: number;
  /** The response asked to close the connection (Connection: close, or HTTP/1.0 without keep-alive). */
  close: boolean;
  /** The Keep-Alive header's value, trimmed; null when absent. */
  keepAlive: string | null;
}

export class ProtocolError extends Error {
  readonly code = 'HPE_INVALID';
}

const CR = 13;
const LF = 10;
const MAX_HEAD = 64 * 1024;
const MAX_LINE = 4096;

type State = 'head' | 'length' | 'eof' | 'size' | 'data' | 'dataEnd' | 'trailer' | 'done';

export class ResponseParser {
  private state: State = 'done';
  private headParts: Buffer[] = [];
  private headBytes = 0;
  private remaining = 0;
  private line = '';
  private noBody = false;
  head: ResponseHead | null = null;
  /** Body bytes of the current response. */
  bytes = 0;

  /** Starts a response; `noBody` for a HEAD request, whose response has headers only. */
  begin(noBody: boolean): void {
    this.state = 'head';
    this.headParts = [];
    this.headBytes = 0;
    this.noBody = noBody;
    this.head = null;
    this.bytes = 0;
  }

  get expectingEof(): boolean {
    return this.state === 'eof';
  }

  get idle(): boolean {
    return this.state === 'done';
  }

  /** Feeds a chunk; true when the response is complete. Throws ProtocolError on bad input. */
  feed(buf: Buffer): boolean {
    let i = 0;
    while (i < buf.length) {
      switch (this.state) {
        case 'done':
          throw new ProtocolError('bytes after the response (the server sent more than it said)');
        case 'head':
          i = this.readHead(buf, i);
          break;
        case 'length':
          i = this.readCounted(buf, i, 'done');
          break;
        case 'eof':
          this.bytes += buf.length - i;
          i = buf.length;
          break;
        case 'size':
        case 'trailer':
        case 'dataEnd':
          i = this.readLine(buf, i);
          break;
        case 'data':
          i = this.readCounted(buf, i, 'dataEnd');
          break;
      }
    }
    return this.state === 'done';
  }

  /** Body bytes of a known length (the whole body, or one chunk); `then` once all are read. */
  private readCounted(buf: Buffer, from: number, then: State): number {
    const n = Math.min(this.remaining, buf.length - from);
    this.bytes += n;
    this.remaining -= n;
    if (this.remaining === 0) this.state = then;
    return from + n;
  }

  private readHead(buf: Buffer, from: number): number {
    // The end of the head may straddle chunks: search the tail of what came before too.
    const prevTail = this.headBytes > 0 ? Buffer.concat(this.headParts).subarray(-3) : null;
    const joined = prevTail ? Buffer.concat([prevTail, buf.subarray(from)]) : buf.subarray(from);
    const end = joined.indexOf('\r\n\r\n');
    if (end < 0) {
      this.headParts.push(buf.subarray(from));
      this.headBytes += buf.length - from;
      if (this.headBytes > MAX_HEAD) throw new ProtocolError('response headers over 64 KiB');
      return buf.length;
    }
    const used = end + 4 - (prevTail?.length ?? 0); // bytes of buf (from `from`) in the head
    this.headParts.push(buf.subarray(from, from + used));
    const text = Buffer.concat(this.headParts).toString('latin1');
    this.headParts = [];
    this.headBytes = 0;
    this.parseHead(text);
    return from + used;
  }

  private parseHead(text: string): void {
    const lines = text.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
    if (!m)
      throw new ProtocolError(`not an HTTP/1.x status line: ${(lines[0] ?? '').slice(0, 40)}`);
    const http10 = m[1] === '0';
    const status = Number(m[2]);
    let length: number | null = null;
    let chunked = false;
    let connection = '';
    let keepAlive: string | null = null;
    for (let k = 1; k < lines.length; k++) {
      const l = lines[k] as string;
      const colon = l.indexOf(':');
      if (colon <= 0) continue;
      const name = l.slice(0, colon).trim().toLowerCase();
      const value = l.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d+$/.test(value)) throw new ProtocolError(`bad Content-Length: ${value}`);
        length = Number(value);
      } else if (name === 'transfer-encoding') chunked = /\bchunked\s*$/i.test(value);
      else if (name === 'connection') connection = value.toLowerCase();
      else if (name === 'keep-alive') keepAlive = value;
    }
    if (status >= 100 && status < 200 && status !== 101) {
      this.state = 'head'; // an interim response: the real one follows
      return;
    }
    const close = /\bclose\b/.test(connection) || (http10 && !/\bkeep-alive\b/.test(connection));
    this.head = { status, close, keepAlive };
    if (this.noBody || status === 204 || status === 304) this.state = 'done';
    else if (chunked) this.state = 'size';
    else if (length !== null) {
      this.remaining = length;
      this.state = length === 0 ? 'done' : 'length';
    } else this.state = 'eof';
  }

  /** A CRLF-ended line of the chunked framing (a size, the CRLF after data, a trailer). */
  private readLine(buf: Buffer, from: number): number {
    let i = from;
    while (i < buf.length) {
      const c = buf[i] as number;
      i++;
      if (c === LF) {
        const line = this.line;
        this.line = '';
        this.endLine(line);
        return i;
      }
      if (c !== CR) {
        this.line += String.fromCharCode(c);
        if (this.line.length > MAX_LINE) throw new ProtocolError('chunk line over 4 KiB');
      }
    }
    return i;
  }

  private endLine(line: string): void {
    if (this.state === 'dataEnd') {
      if (line !== '') throw new ProtocolError('chunk data longer than its size');
      this.state = 'size';
    } else if (this.state === 'size') {
      const size = Number.parseInt(line.split(';')[0]?.trim() ?? '', 16);
      if (!Number.isFinite(size) || size < 0) throw new ProtocolError(`bad chunk size: ${line}`);
      if (size === 0) this.state = 'trailer';
      else {
        this.remaining = size;
        this.state = 'data';
      }
    } else if (this.state === 'trailer' && line === '') this.state = 'done';
  }

  /** The connection ended: a body read to the end is complete; anything else is cut short. */
  end(): boolean {
    if (this.state === 'eof') {
      this.state = 'done';
      return true;
    }
    return false;
  }
}
