// End-to-end helpers: start the real `pop3d serve` as a direct node child process on free loopback ports with a
// fresh data folder, drive its CLI (user add, deliver), and talk to it with a minimal raw POP3 line client over TCP
// or TLS. Everything here has a bounded timeout: a test may fail, never hang.
import { spawn, type ChildProcess } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Tls from "node:tls"

/** The workspace root (this file is test/helpers/server.ts). */
export const root = Path.resolve(import.meta.dirname, "..", "..")

/** The pop3d entry point, run directly by node (Node 24 runs .ts sources). */
export const bin = Path.join(root, "packages", "server", "src", "bin.ts")

/** The node binary running the tests: pnpm's Node 24 under `pnpm exec vitest`. */
export const nodeBin = process.execPath

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Makes a fresh temp folder; remove it with `removeDir`. */
export const makeTempDir = (prefix = "pop3d-e2e-"): string => Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))

/** Removes a folder tree, ignoring errors. */
export const removeDir = (dir: string): void => {
  try {
    Fs.rmSync(dir, { recursive: true, force: true })
  } catch {
    // best effort
  }
}

/** A free loopback port: bind port 0, read it, close. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = Net.createServer()
    srv.unref()
    srv.on("error", reject)
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      srv.close(() => resolve(port))
    })
  })

// ---------------------------------------------------------------------------------------------------------------
// The CLI

export interface CliResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `node bin.ts ...args` with optional stdin; kills it after `timeoutMs` (default 60 s: each call loads
 * Effect anew, which takes seconds on a loaded machine). */
export const runCli = (
  args: ReadonlyArray<string>,
  options: { readonly input?: string | Buffer; readonly env?: Record<string, string>; readonly timeoutMs?: number } =
    {}
): Promise<CliResult> =>
  new Promise((resolve, reject) => {
    const child = spawn(nodeBin, [bin, ...args], {
      cwd: root,
      env: { ...cleanEnv(), ...options.env },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d))
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`pop3d ${args.join(" ")} timed out after ${options.timeoutMs ?? 60_000} ms\n${stdout}\n${stderr}`))
    }, options.timeoutMs ?? 60_000)
    child.on("error", (e) => {
      clearTimeout(timer)
      reject(e)
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin.on("error", () => {})
    child.stdin.end(options.input ?? "")
  })

/** The environment the tests give pop3d: the test runner's, without any POP3D_* setting leaking in. */
const cleanEnv = (): Record<string, string> => {
  // V8's compile cache only speeds up start-up (each CLI call loads Effect anew); it changes no behaviour.
  const out: Record<string, string> = { NODE_COMPILE_CACHE: Path.join(Os.tmpdir(), "pop3d-e2e-compile-cache") }
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith("POP3D_")) out[k] = v
  }
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// The server

export interface StartOptions {
  /** Extra `serve` flags (e.g. ["--plaintext", "allowed"]). */
  readonly args?: ReadonlyArray<string>
  /** Extra environment variables. */
  readonly env?: Record<string, string>
  /** Reuse this data folder (restart); default: a fresh temp folder owned by the server handle. */
  readonly dataDir?: string
  /** Turn the plain listener off (port 0). */
  readonly noPlain?: boolean
  /** Turn the TLS listener off (port 0). */
  readonly noTls?: boolean
  /** Use these ports instead of fresh free ones (e.g. chosen by the test for a config file). */
  readonly port?: number
  readonly tlsPort?: number
  /** Do not pass --port/--tls-port: the caller sets them some other way (env, config file). */
  readonly portsVia?: "flags" | "none"
  /** How many "listening" lines to wait for (default: one per listener that is on). */
  readonly expectListeners?: number
  /** How long to wait for the listening lines. */
  readonly startTimeoutMs?: number
  /**
   * Keep pop3d's defaults for login throttling and connection/session limits. By default the helper turns them
   * off (unless `args` set them), because every test connects from 127.0.0.1: one test's deliberate failed logins
   * or open connections must not slow down or refuse another's. test/e2e/limits.test.ts tests them.
   */
  readonly keepLimits?: boolean
}

/** Flags that turn off login throttling and connection limits (see StartOptions.keepLimits). */
const noLimits: ReadonlyArray<readonly [string, string]> = [
  ["--login-delay-max", "0"],
  ["--max-connections-per-address", "0"],
  ["--max-sessions-per-user", "0"]
]

export interface ExitInfo {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface Server {
  readonly process: ChildProcess
  readonly dataDir: string
  readonly port: number
  readonly tlsPort: number
  /** The self-signed certificate pop3d made in <data>/tls/cert.pem (PEM). */
  readonly certPem: string
  /** The demo user's password if this start created it. */
  readonly demoPassword: string | undefined
  stdout(): string
  stderr(): string
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitInfo>
  /** Sends `signal` and waits (at most `timeoutMs`, then SIGKILL) for the exit. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ExitInfo>
  /** `pop3d user add NAME --password-stdin --data DIR`. */
  addUser(name: string, password: string): Promise<void>
  /** `pop3d deliver USER --data DIR` with the message on stdin; returns the UID printed. */
  deliver(user: string, message: string | Buffer): Promise<number>
  /** Any CLI command with `--data DIR` appended. */
  cli(args: ReadonlyArray<string>, input?: string | Buffer): Promise<CliResult>
  /** Removes the data folder if this handle made it (call after stop). */
  cleanup(): void
}

const listeningCount = (out: string): number => out.split("\n").filter((l) => /message=listening\b/.test(l)).length

/** Starts `pop3d serve` and waits until every listener logged "listening" (and the first-start banner). */
export const startServer = async (options: StartOptions = {}): Promise<Server> => {
  let lastError: unknown
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options)
    } catch (e) {
      lastError = e
      // A port taken between freePort() and the server's bind: try again with new ports.
      if (!(e instanceof PortInUse)) throw e
    }
  }
  throw lastError
}

class PortInUse extends Error {}

const startOnce = async (options: StartOptions): Promise<Server> => {
  const ownsDir = options.dataDir === undefined
  const dataDir = options.dataDir ?? Path.join(makeTempDir(), "data")
  const port = options.noPlain ? 0 : options.port ?? await freePort()
  const tlsPort = options.noTls ? 0 : options.tlsPort ?? await freePort()
  const args = ["serve", "--data", dataDir, "--listen", "127.0.0.1"]
  if ((options.portsVia ?? "flags") === "flags") args.push("--port", String(port), "--tls-port", String(tlsPort))
  args.push(...(options.args ?? []))
  if (options.keepLimits !== true) {
    for (const [flag, value] of noLimits) if (!args.includes(flag)) args.push(flag, value)
  }
  const env: Record<string, string> = { ...cleanEnv(), ...options.env }
  const child = spawn(nodeBin, [bin, ...args], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] })
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d))
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d))
  const exited = new Promise<ExitInfo>((resolve) => {
    child.on("exit", (code, signal) => resolve({ code, signal }))
  })
  let hasExited = false
  void exited.then(() => (hasExited = true))
  const expected = options.expectListeners ?? (port > 0 ? 1 : 0) + (tlsPort > 0 ? 1 : 0)
  const deadline = Date.now() + (options.startTimeoutMs ?? 45_000)
  while (listeningCount(stdout) < expected) {
    if (hasExited) {
      const output = stdout + stderr
      if (ownsDir) removeDir(Path.dirname(dataDir))
      if (/EADDRINUSE/.test(output) && options.port === undefined && options.tlsPort === undefined) {
        throw new PortInUse(output)
      }
      throw new Error(`pop3d exited before listening:\n${output}`)
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`pop3d did not log ${expected} "listening" lines in time:\n${stdout}\n${stderr}`)
    }
    await sleep(25)
  }
  // The first-start banner follows the listening lines; wait briefly for it when the users file was just made.
  let demoPassword: string | undefined
  const bannerDeadline = Date.now() + 5_000
  for (;;) {
    const m = /created user "demo" with password "([^"]+)"/.exec(stdout)
    if (m) {
      demoPassword = m[1]
      break
    }
    if (!ownsDir || Date.now() > bannerDeadline || options.args?.includes("--users-file")) break
    await sleep(25)
  }
  const certFile = Path.join(dataDir, "tls", "cert.pem")
  const certPem = Fs.existsSync(certFile) ? Fs.readFileSync(certFile, "utf8") : ""
  const stop = async (signal: NodeJS.Signals = "SIGTERM", timeoutMs = 10_000): Promise<ExitInfo> => {
    if (!hasExited) child.kill(signal)
    const timer = sleep(timeoutMs).then(() => "timeout" as const)
    const r = await Promise.race([exited, timer])
    if (r === "timeout") {
      child.kill("SIGKILL")
      await exited
      throw new Error(`pop3d did not exit within ${timeoutMs} ms of ${signal}`)
    }
    return r
  }
  const cli = (cliArgs: ReadonlyArray<string>, input?: string | Buffer) =>
    runCli([...cliArgs, "--data", dataDir], input === undefined ? {} : { input })
  return {
    process: child,
    dataDir,
    port,
    tlsPort,
    certPem,
    demoPassword,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    stop,
    cli,
    addUser: async (name, password) => {
      const r = await cli(["user", "add", name, "--password-stdin"], password)
      if (r.code !== 0) throw new Error(`user add ${name} failed (${r.code}): ${r.stdout}${r.stderr}`)
    },
    deliver: async (user, message) => {
      // Messages go in on stdin, as an MTA gives them; large ones as a FILE argument, so that the suites that
      // need big messages do not depend on stdin handling (test/e2e/cli.test.ts covers large stdin deliveries;
      // reading stdin once failed with EAGAIN past a pipe buffer).
      let file: string | undefined
      if (Buffer.byteLength(message) > 32 * 1024) {
        file = Path.join(Path.dirname(dataDir), `message-${process.pid}-${Date.now()}-${Math.random()}.eml`)
        Fs.writeFileSync(file, message)
      }
      const r = await (file === undefined ? cli(["deliver", user], message) : cli(["deliver", user, file]))
      if (file !== undefined) Fs.rmSync(file, { force: true })
      const uid = /^(\d+)\s*$/m.exec(r.stdout)
      if (r.code !== 0 || !uid) throw new Error(`deliver to ${user} failed (${r.code}): ${r.stdout}${r.stderr}`)
      return Number(uid[1])
    },
    cleanup: () => {
      if (ownsDir) removeDir(Path.dirname(dataDir))
    }
  }
}

/** Stops a server (SIGTERM, then SIGKILL) and removes its folder; for afterAll/afterEach. */
export const shutdown = async (server: Server | undefined): Promise<void> => {
  if (server === undefined) return
  try {
    await server.stop("SIGTERM", 8_000)
  } catch {
    // already reported by the test that cares
  }
  server.cleanup()
}

// ---------------------------------------------------------------------------------------------------------------
// The raw POP3 line client

export interface ConnectOptions {
  /** Implicit TLS. */
  readonly tls?: boolean
  /** CA to verify the server with (PEM); without it the certificate is not checked. */
  readonly ca?: string
  /** Read the greeting (default true). */
  readonly greeting?: boolean
  readonly timeoutMs?: number
}

export interface MultiLine {
  /** The status line without CRLF. */
  readonly status: string
  /** The body lines as sent (still dot-stuffed), without CRLF, without the final ".". */
  readonly lines: ReadonlyArray<string>
  /** The raw bytes after the status line, the final ".CRLF" included. */
  readonly raw: Buffer
}

const CRLF = Buffer.from("\r\n")
const TERMINATOR = Buffer.from("\r\n.\r\n")
const EMPTY_BODY = Buffer.from(".\r\n")

/** The bytes received and not read yet: a growable buffer, so that a multi-megabyte RETR costs O(n), not O(n²). */
class InputBuffer {
  private data = Buffer.alloc(64 * 1024)
  private start = 0
  private end = 0

  append(chunk: Buffer): void {
    if (this.end + chunk.length > this.data.length) {
      const size = this.end - this.start
      if (size + chunk.length <= this.data.length / 2) {
        this.data.copyWithin(0, this.start, this.end)
      } else {
        const next = Buffer.alloc(Math.max(this.data.length * 2, (size + chunk.length) * 2))
        this.data.copy(next, 0, this.start, this.end)
        this.data = next
      }
      this.start = 0
      this.end = size
    }
    chunk.copy(this.data, this.end)
    this.end += chunk.length
  }

  get length(): number {
    return this.end - this.start
  }

  /** Position of `needle` at or after `from` (relative to the unread bytes), or -1. */
  indexOf(needle: Buffer, from = 0): number {
    const i = this.data.subarray(this.start, this.end).indexOf(needle, from)
    return i
  }

  startsWith(prefix: Buffer): boolean {
    return this.length >= prefix.length && this.data.subarray(this.start, this.start + prefix.length).equals(prefix)
  }

  /** Removes and returns (a copy of) the first `n` bytes. */
  take(n: number): Buffer {
    const out = Buffer.from(this.data.subarray(this.start, this.start + n))
    this.start += n
    if (this.start === this.end) this.start = this.end = 0
    return out
  }

  clear(): void {
    this.start = this.end = 0
  }

  toString(): string {
    return this.data.toString("latin1", this.start, this.end)
  }
}

/** A POP3 client that sends lines and reads status lines and multi-line bodies, each read bounded by a timeout. */
export class Pop3Client {
  private socket: Net.Socket
  private buffer = new InputBuffer()
  private ended = false
  private error: Error | undefined
  private waiters: Array<() => void> = []
  /** The greeting line, when read at connect. */
  greeting = ""
  readonly timeoutMs: number

  private constructor(socket: Net.Socket, timeoutMs: number) {
    this.socket = socket
    this.timeoutMs = timeoutMs
    this.attach(socket)
  }

  private attach(socket: Net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.buffer.append(d)
      this.wake()
    })
    socket.on("end", () => {
      this.ended = true
      this.wake()
    })
    socket.on("close", () => {
      this.ended = true
      this.wake()
    })
    socket.on("error", (e) => {
      this.error = e
      this.ended = true
      this.wake()
    })
  }

  private wake() {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  static async connect(port: number, options: ConnectOptions = {}): Promise<Pop3Client> {
    const timeoutMs = options.timeoutMs ?? 10_000
    const socket = await new Promise<Net.Socket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connect to ${port} timed out`)), timeoutMs)
      const s: Net.Socket = options.tls
        ? Tls.connect({
          host: "127.0.0.1",
          port,
          ...(options.ca === undefined ? { rejectUnauthorized: false } : { ca: options.ca, servername: "localhost" })
        }, () => {
          clearTimeout(timer)
          resolve(s)
        })
        : Net.connect({ host: "127.0.0.1", port }, () => {
          clearTimeout(timer)
          resolve(s)
        })
      s.once("error", (e) => {
        clearTimeout(timer)
        reject(e)
      })
    })
    const client = new Pop3Client(socket, timeoutMs)
    if (options.greeting ?? true) client.greeting = await client.readLine()
    return client
  }

  /** Whether the connection is encrypted now. */
  get encrypted(): boolean {
    return (this.socket as Tls.TLSSocket).encrypted === true
  }

  /** Sends one line (CRLF appended). */
  send(line: string): void {
    this.socket.write(Buffer.from(line + "\r\n", "latin1"))
  }

  /** Sends raw bytes as they are. */
  sendRaw(data: string | Buffer): void {
    this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data)
  }

  /** Waits until `ready()` holds (checked after each arrival), the connection ends, or the timeout. */
  private async waitFor<T>(find: () => T | undefined, what: string, timeoutMs = this.timeoutMs): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = find()
      if (found !== undefined) return found
      if (this.ended) {
        throw new Error(`connection closed while waiting for ${what}; buffered: ${JSON.stringify(this.buffer.toString().slice(0, 2000))}${this.error ? ` (${this.error.message})` : ""}`)
      }
      const left = deadline - Date.now()
      if (left <= 0) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; buffered: ${JSON.stringify(this.buffer.toString().slice(0, 2000))}`)
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Reads raw bytes up to and including `delimiter`. */
  async readUntil(delimiter: Buffer, what = "data", timeoutMs = this.timeoutMs): Promise<Buffer> {
    let from = 0
    return this.waitFor(() => {
      const i = this.buffer.indexOf(delimiter, from)
      if (i === -1) {
        from = Math.max(0, this.buffer.length - delimiter.length + 1)
        return undefined
      }
      return this.buffer.take(i + delimiter.length)
    }, what, timeoutMs)
  }

  /** Reads one line (CRLF-terminated) and returns it without the CRLF. */
  async readLine(timeoutMs = this.timeoutMs): Promise<string> {
    const b = await this.readUntil(CRLF, "a line", timeoutMs)
    return b.subarray(0, b.length - 2).toString("latin1")
  }

  /** Reads a multi-line body after a status line already read (up to and including CRLF.CRLF). */
  async readBody(timeoutMs = this.timeoutMs): Promise<{ lines: Array<string>; raw: Buffer }> {
    // The body starts right after the status line's CRLF, so a body that is just "." is ".\r\n".
    let from = 0
    const raw = await this.waitFor(() => {
      if (this.buffer.startsWith(EMPTY_BODY)) return this.buffer.take(EMPTY_BODY.length)
      const i = this.buffer.indexOf(TERMINATOR, from)
      if (i === -1) {
        from = Math.max(0, this.buffer.length - TERMINATOR.length + 1)
        return undefined
      }
      return this.buffer.take(i + TERMINATOR.length)
    }, "the end of a multi-line reply", timeoutMs)
    const text = raw.toString("latin1")
    const lines = text === ".\r\n" ? [] : text.slice(0, -5).split("\r\n")
    return { lines, raw }
  }

  /** Sends a command and reads its status line. */
  async command(line: string, timeoutMs = this.timeoutMs): Promise<string> {
    this.send(line)
    return this.readLine(timeoutMs)
  }

  /** Sends a command that answers multi-line on success; reads the body only after +OK. */
  async multi(line: string, timeoutMs = this.timeoutMs): Promise<MultiLine> {
    this.send(line)
    return this.readMulti(timeoutMs)
  }

  /** Reads a status line and, if it is +OK, the multi-line body after it. */
  async readMulti(timeoutMs = this.timeoutMs): Promise<MultiLine> {
    const status = await this.readLine(timeoutMs)
    if (!status.startsWith("+OK")) return { status, lines: [], raw: Buffer.alloc(0) }
    const body = await this.readBody(timeoutMs)
    return { status, ...body }
  }

  /** USER + PASS; returns PASS's status line (throws if USER is refused). */
  async login(user: string, password: string): Promise<string> {
    const u = await this.command(`USER ${user}`)
    if (!u.startsWith("+OK")) throw new Error(`USER refused: ${u}`)
    return this.command(`PASS ${password}`)
  }

  /** Sends STLS, expects +OK, and does the TLS handshake on the same socket. */
  async stls(ca?: string): Promise<string> {
    const status = await this.command("STLS")
    if (!status.startsWith("+OK")) return status
    await this.upgrade(ca)
    return status
  }

  /** Starts TLS on the current socket (after the server said +OK to STLS); bytes the server sent in clear are lost. */
  async upgrade(ca?: string): Promise<void> {
    const plain = this.socket
    plain.removeAllListeners("data")
    plain.removeAllListeners("end")
    plain.removeAllListeners("close")
    plain.removeAllListeners("error")
    plain.on("error", () => {})
    this.buffer.clear()
    const secure = await new Promise<Tls.TLSSocket>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("TLS handshake timed out")), this.timeoutMs)
      const s = Tls.connect({
        socket: plain,
        ...(ca === undefined ? { rejectUnauthorized: false } : { ca, servername: "localhost" })
      }, () => {
        clearTimeout(timer)
        resolve(s)
      })
      s.once("error", (e) => {
        clearTimeout(timer)
        reject(e)
      })
    })
    this.socket = secure
    this.attach(secure)
  }

  /** Waits for the server to close; returns whatever it sent before closing. */
  async readToEnd(timeoutMs = this.timeoutMs): Promise<string> {
    await this.waitFor(() => (this.ended ? true : undefined), "the server to close", timeoutMs).catch((e: Error) => {
      if (!this.ended) throw e
    })
    const rest = this.buffer.toString()
    this.buffer.clear()
    return rest
  }

  /** Stops reading from the socket (the server's writes back up); `resumeReading` starts again. */
  pauseReading(): void {
    this.socket.pause()
  }

  resumeReading(): void {
    this.socket.resume()
  }

  /** Whether the server has closed the connection. */
  get closed(): boolean {
    return this.ended
  }

  /** Bytes received and not read yet. */
  get pending(): string {
    return this.buffer.toString()
  }

  /** QUIT (ignoring failures) and close. */
  async quit(): Promise<string | undefined> {
    let status: string | undefined
    try {
      if (!this.ended) status = await this.command("QUIT", 5_000)
    } catch {
      // connection already gone
    }
    this.destroy()
    return status
  }

  /** Drops the connection without QUIT. */
  destroy(): void {
    this.socket.destroy()
  }
}

/** Connects to the plain port and logs in with USER/PASS (server must allow plaintext there), expecting +OK. */
export const loginPlain = async (port: number, user: string, password: string): Promise<Pop3Client> => {
  const c = await Pop3Client.connect(port)
  const r = await c.login(user, password)
  if (!r.startsWith("+OK")) {
    c.destroy()
    throw new Error(`login as ${user} failed: ${r}`)
  }
  return c
}

/** Connects to the implicit-TLS port and logs in with USER/PASS, expecting +OK. */
export const loginTls = async (port: number, user: string, password: string, ca?: string): Promise<Pop3Client> => {
  const c = await Pop3Client.connect(port, ca === undefined ? { tls: true } : { tls: true, ca })
  const r = await c.login(user, password)
  if (!r.startsWith("+OK")) {
    c.destroy()
    throw new Error(`login as ${user} failed: ${r}`)
  }
  return c
}

/** Un-stuffs body lines the way a client does and joins them with CRLF (each line ends with CRLF). */
export const unstuff = (lines: ReadonlyArray<string>): string =>
  lines.map((l) => (l.startsWith(".") ? l.slice(1) : l) + "\r\n").join("")

/** A message's text as RETR must send it: CRLF line ends, a final CRLF added if missing (before dot-stuffing). */
export const toWire = (message: string): string => {
  const crlf = message.replace(/\r\n|\r|\n/g, "\r\n")
  return crlf.endsWith("\r\n") || crlf === "" ? crlf : crlf + "\r\n"
}

/** A simple test message. */
export const makeMessage = (subject: string, body: string, eol = "\r\n"): string =>
  [`From: sender@example.org`, `To: rcpt@example.org`, `Subject: ${subject}`, ``, ...body.split("\n")].join(eol)
