// A small, fast POP3 client for the load generator: lock-step commands, status lines, and multi-line replies
// decoded by a streaming dot-unstuffer (RFC 1939 §3) that counts octets, hashes the content with SHA-256 and keeps
// the first few KiB (for the Message-ID), without ever buffering a whole message.
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import * as Tls from "node:tls"

export interface Target {
  readonly host: string
  readonly port: number
  readonly tls: boolean
}

/** A protocol or transport problem; `kind` is the counter it is reported under. */
export class Pop3Error extends Error {
  readonly kind: string
  constructor(kind: string, message: string) {
    super(message)
    this.kind = kind
  }
}

/** Longest status line accepted (RFC 2449 says 512 octets including CRLF); a bit of slack for broken servers. */
const maxStatusLine = 4096
/**
 * How much of a message's start is kept for finding its Message-ID: the generator's header blocks are under 1 KiB.
 * A longer one would fail verification (`retr-unknown-message`), never pass unchecked. Kept small because joining
 * the kept parts is a copy per message, on the load generator's one core.
 */
const headKeep = 4096

const LF = 0x0a
const CR = 0x0d
const DOT = 0x2e
const CR_BUF = Buffer.from("\r")
const LF_DOT = Buffer.from("\n.")

/** What a multi-line reply decoded to. */
export interface Body {
  /** octets after dot-unstuffing, terminator excluded */
  readonly octets: number
  /** SHA-256 of the unstuffed octets (hex), when hashing was asked for */
  readonly sha256: string | undefined
  /** the first bytes of the content (up to 16 KiB) */
  readonly head: Buffer
  /** the whole content, when collecting was asked for (LIST, UIDL) */
  readonly whole: Buffer | undefined
  /** lines that began with a single '.' followed by other octets: the server did not stuff them */
  readonly unstuffedDotLines: number
}

/**
 * Streaming decoder of one multi-line reply body (everything after the status line up to and including the
 * terminating ".CRLF"). `feed` returns the index just past the terminator, or -1 if it needs more data.
 */
class Unstuffer {
  // 0 = inside a line, 1 = at a line start, 2 = after '.' at a line start, 3 = after ".\r" at a line start
  private state = 1
  private octets = 0
  private readonly hash: Crypto.Hash | undefined
  // The first octets of the content, by reference (received chunks are never reused): no copy per message.
  private readonly head: Array<Buffer> = []
  private headLen = 0
  private readonly chunks: Array<Buffer> | undefined
  private unstuffed = 0

  constructor(hash: boolean, collect: boolean) {
    this.hash = hash ? Crypto.createHash("sha256") : undefined
    this.chunks = collect ? [] : undefined
  }

  private emit(b: Buffer, from: number, to: number): void {
    if (to <= from) return
    const part = b.subarray(from, to)
    this.octets += to - from
    this.hash?.update(part)
    this.chunks?.push(part)
    if (this.headLen < headKeep) {
      const n = Math.min(headKeep - this.headLen, to - from)
      this.head.push(n === part.length ? part : part.subarray(0, n))
      this.headLen += n
    }
  }

  feed(b: Buffer, start: number): number {
    let p = start
    const n = b.length
    while (p < n) {
      if (this.state === 1) {
        if (b[p] === DOT) {
          this.state = 2
          p++
          continue
        }
        this.state = 0
      } else if (this.state === 2) {
        const c = b[p]
        if (c === CR) {
          this.state = 3
          p++
          continue
        }
        // ".." → "." (the second dot is content); "." followed by anything else: the dot is dropped per RFC 1939
        if (c !== DOT) this.unstuffed++
        this.state = 0
      } else if (this.state === 3) {
        if (b[p] === LF) return p + 1
        // ".\r" not followed by LF: the CR is content
        this.emit(CR_BUF, 0, 1)
        this.unstuffed++
        this.state = 0
      }
      // inside a line: copy through to the next "\n." (or to the end of the chunk)
      const i = b.indexOf(LF_DOT, p)
      if (i === -1) {
        this.emit(b, p, n)
        this.state = b[n - 1] === LF ? 1 : 0
        return -1
      }
      this.emit(b, p, i + 1)
      p = i + 1
      this.state = 1
    }
    return -1
  }

  finish(): Body {
    return {
      octets: this.octets,
      sha256: this.hash?.digest("hex"),
      head: this.head.length === 1 ? this.head[0]! : Buffer.concat(this.head),
      whole: this.chunks === undefined ? undefined : Buffer.concat(this.chunks),
      unstuffedDotLines: this.unstuffed
    }
  }
}

type Waiter =
  | { readonly kind: "status"; readonly resolve: (line: string) => void; readonly reject: (e: Error) => void }
  | {
    readonly kind: "body"
    readonly decoder: Unstuffer
    readonly resolve: (body: Body) => void
    readonly reject: (e: Error) => void
  }

/** One POP3 connection driven in lock-step: at most one reply is awaited at a time. */
export class Conn {
  readonly socket: Net.Socket
  private buf: Buffer | null = null
  private waiter: Waiter | null = null
  private failure: Error | null = null
  private ended = false
  private readonly closeWaiters: Array<() => void> = []
  private closed = false
  private timer: NodeJS.Timeout | undefined
  bytesIn = 0

  constructor(target: Target, timeoutMs: number) {
    this.socket = target.tls
      ? Tls.connect({ host: target.host, port: target.port, rejectUnauthorized: false })
      : Net.connect({ host: target.host, port: target.port })
    this.socket.setNoDelay(true)
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk))
    this.socket.on("error", (e: Error) => this.fail(new Pop3Error("socket-error", `${(e as NodeJS.ErrnoException).code ?? ""} ${e.message}`)))
    this.socket.on("end", () => {
      this.ended = true
      this.fail(new Pop3Error("unexpected-close", "server closed the connection"))
    })
    this.socket.on("close", () => {
      this.closed = true
      this.ended = true
      if (this.timer !== undefined) clearTimeout(this.timer)
      this.fail(new Pop3Error("unexpected-close", "connection closed"))
      for (const w of this.closeWaiters.splice(0)) w()
    })
    this.timer = setTimeout(() => {
      this.fail(new Pop3Error("timeout", `no progress within ${timeoutMs} ms`))
      this.socket.destroy()
    }, timeoutMs)
  }

  private fail(e: Error): void {
    if (this.failure === null) this.failure = e
    const w = this.waiter
    if (w !== null) {
      this.waiter = null
      w.reject(e)
    }
  }

  private onData(chunk: Buffer): void {
    this.bytesIn += chunk.length
    this.buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk])
    this.drain()
  }

  private drain(): void {
    while (this.waiter !== null && this.buf !== null) {
      const w = this.waiter
      const b = this.buf
      if (w.kind === "status") {
        const i = b.indexOf(LF)
        if (i === -1) {
          if (b.length > maxStatusLine) {
            this.fail(new Pop3Error("status-too-long", `status line longer than ${maxStatusLine} octets`))
            this.socket.destroy()
          }
          return
        }
        if (i === 0 || b[i - 1] !== CR) {
          this.waiter = null
          w.reject(new Pop3Error("bare-lf", "status line not ended by CRLF"))
          return
        }
        const line = b.toString("latin1", 0, i - 1)
        this.buf = i + 1 === b.length ? null : b.subarray(i + 1)
        this.waiter = null
        w.resolve(line)
      } else {
        const end = w.decoder.feed(b, 0)
        if (end === -1) {
          this.buf = null
          return
        }
        this.buf = end === b.length ? null : b.subarray(end)
        this.waiter = null
        w.resolve(w.decoder.finish())
      }
    }
  }

  private wait<T>(make: (resolve: (v: T) => void, reject: (e: Error) => void) => Waiter): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.failure !== null && this.buf === null) return reject(this.failure)
      this.waiter = make(resolve, reject)
      this.drain()
      if (this.waiter !== null && this.ended && this.buf === null) this.fail(this.failure ?? new Pop3Error("unexpected-close", "connection closed"))
    })
  }

  /** The next status line (without CRLF). */
  status(): Promise<string> {
    return this.wait<string>((resolve, reject) => ({ kind: "status", resolve, reject }))
  }

  /** The next status line, which must start with +OK. */
  async ok(what: string): Promise<string> {
    const line = await this.status()
    if (!line.startsWith("+OK")) throw new Pop3Error(`err-${what}`, `${what}: ${line.slice(0, 200)}`)
    return line
  }

  /** Sends one command line; its reply is read with `ok`, `status` or `body`. */
  send(line: string): void {
    this.socket.write(`${line}\r\n`)
  }

  /** Sends one command line and returns its status line, which must be +OK. */
  async command(line: string, what: string): Promise<string> {
    this.send(line)
    return this.ok(what)
  }

  /** Reads the body of a multi-line reply (after its +OK status line). */
  body(options: { hash?: boolean; collect?: boolean }): Promise<Body> {
    const decoder = new Unstuffer(options.hash === true, options.collect === true)
    return this.wait<Body>((resolve, reject) => ({ kind: "body", decoder, resolve, reject }))
  }

  /** Sends a command with a multi-line reply and returns its body split into lines. */
  async lines(line: string, what: string): Promise<Array<string>> {
    await this.command(line, what)
    const body = await this.body({ collect: true })
    const text = body.whole!.toString("latin1")
    if (text.length === 0) return []
    if (!text.endsWith("\r\n")) throw new Pop3Error(`bad-${what}`, `${what}: body does not end with CRLF`)
    return text.slice(0, -2).split("\r\n")
  }

  /** Sends QUIT, expects +OK and waits until the server closes the connection. */
  async quit(): Promise<void> {
    this.socket.write("QUIT\r\n")
    await this.ok("quit")
    if (this.buf !== null) throw new Pop3Error("trailing-data", "data after the QUIT reply")
    await this.waitClosed()
  }

  waitClosed(): Promise<void> {
    if (this.closed) return Promise.resolve()
    return new Promise<void>((resolve) => this.closeWaiters.push(resolve))
  }

  /** Ends the connection without QUIT. */
  destroy(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.socket.destroy()
  }

  /** Stops the per-connection timeout (for sessions that are held open on purpose). */
  clearTimeout(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Logs in with USER/PASS after reading the greeting. */
  async login(user: string, password: string): Promise<void> {
    await this.ok("greeting")
    await this.command(`USER ${user}`, "user")
    await this.command(`PASS ${password}`, "pass")
  }
}

/** The Message-ID in the first bytes of a message, or undefined. */
export const messageIdOf = (head: Buffer): string | undefined => {
  // Only the header block is searched (a body line could quote a Message-ID; and it is the cheap part).
  const end = head.indexOf("\r\n\r\n")
  const text = head.toString("latin1", 0, end === -1 ? head.length : end)
  const m = /(?:^|\r\n)Message-ID:[ \t]*(<[^>\r\n]*>)/i.exec(text)
  return m === null ? undefined : m[1]
}
