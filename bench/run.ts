// `pnpm bench`: pop3d against a private Dovecot 2.3 on the same machine, the same Maildir data (one identical copy
// each), the same users and password scheme, driven by the same verifying load generator (bench/load.ts).
// Prints one table, writes bench/results/latest.json and latest.md. See bench/README.md.
//
//   node bench/run.ts [--quick] [--big N] [--users N] [--retr-messages N] [--seconds S] [--warmup S] [--retr-seconds S]
//                     [--mem 1000,10000] [--mem-seconds S] [--scheme auto|plain|sha512-crypt] [--only pop3d|dovecot]
//                     [--skip selftest,big,sessions,retr,light,memory] [--light-seconds S] [--profile] [--profile-seconds S] [--no-pin] [--seed N]
//                     [--data-cache DIR | --no-cache] [--full-copy] [--keep] [--drop-caches] [--pop3d-arg ARG]...
//                     [--dovecot-tuned] [--nice N] [--auth-cache]
//                     [--out FILE]
import * as Child from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { bigUser, defaultParams, generate, retrName, Rng, userName } from "./generate.ts"
import type { GenParams, Manifest } from "./generate.ts"
import type { BigResult, FromWorker, HoldResult, Job, PrimeResult, Result, RetrResult, SessionsResult, ToWorker } from "./load.ts"
import { Conn } from "./lib/pop3.ts"
import * as Light from "./lib/light.ts"
import * as Proc from "./lib/proc.ts"
import * as Servers from "./lib/servers.ts"
import type { Server, ServerName } from "./lib/servers.ts"
import { format as formatProfile, summarise } from "./profile.ts"

const benchDir = Path.dirname(new URL(import.meta.url).pathname)
const repo = Path.dirname(benchDir)

// ---------------------------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2)
const flag = (name: string): boolean => argv.includes(`--${name}`)
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  return i === -1 ? undefined : argv[i + 1]
}
const opts = (name: string): Array<string> => argv.flatMap((a, i) => (a === `--${name}` && argv[i + 1] !== undefined ? [argv[i + 1]!] : []))
const num = (name: string, d: number, signed = false): number => {
  const v = opt(name)
  if (v === undefined) return d
  const n = Number(v)
  if (!Number.isFinite(n) || (n < 0 && !signed)) throw new Error(`--${name} wants a number, got ${v}`)
  return n
}

if (flag("help") || flag("h")) {
  console.log(Fs.readFileSync(new URL(import.meta.url), "utf8").split("\n").filter((l) => l.startsWith("//")).join("\n"))
  process.exit(0)
}

const quick = flag("quick")
const known = new Set([
  "quick", "big", "users", "retr-messages", "seconds", "warmup", "retr-seconds", "light-seconds", "mem", "mem-seconds", "scheme", "only", "skip",
  "profile", "profile-seconds", "no-pin", "dovecot-tuned", "nice", "auth-cache", "data-cache", "no-cache", "full-copy", "keep", "drop-caches", "pop3d-arg", "seed", "out", "help"
])
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]!
  if (a.startsWith("--") && !known.has(a.slice(2))) throw new Error(`unknown option ${a} (see bench/README.md)`)
}

const params: GenParams = {
  ...defaultParams,
  seed: num("seed", 1),
  users: num("users", quick ? 100 : 500),
  retrMessages: num("retr-messages", quick ? 300 : 1000),
  big: num("big", quick ? 10_000 : 100_000)
}
const warmupMs = num("warmup", quick ? 1 : 2) * 1000
const windowMs = num("seconds", quick ? 3 : 6) * 1000
const retrMs = num("retr-seconds", quick ? 4 : 10) * 1000
const lightMs = num("light-seconds", quick ? 2 : 5) * 1000
const memSessions = (opt("mem") ?? (quick ? "300" : "1000,10000")).split(",").filter((s) => s !== "").map(Number).sort((a, b) => a - b)
const memOpenMs = num("mem-seconds", quick ? 30 : 150) * 1000
const dovecotTuned = flag("dovecot-tuned")
const schemeOpt = (opt("scheme") ?? "auto").toLowerCase()
const skip = new Set((opt("skip") ?? "").split(",").filter((s) => s !== ""))
const only = opt("only") as ServerName | undefined
const profile = flag("profile")
const profileMs = num("profile-seconds", 8) * 1000
const ncpu = Os.cpus().length
const pin = !flag("no-pin") && ncpu >= 2
const serverCpus = pin ? "0" : undefined
const clientCpus = pin ? Array.from({ length: ncpu - 1 }, (_, i) => i + 1).join(",") : undefined
const outFile = opt("out") ?? Path.join(benchDir, "results", "latest.json")
const fullCopy = flag("full-copy")
const isRoot = process.getuid?.() === 0
/** priority of the servers and the load generator: above other work on a shared machine (needs root) */
const nice = num("nice", isRoot ? -10 : 0, true)
const sessionTimeoutMs = 30_000
const levels: ReadonlyArray<{ readonly concurrency: number; readonly tls: boolean }> = [
  { concurrency: 1, tls: false },
  { concurrency: 16, tls: false },
  { concurrency: 64, tls: false },
  { concurrency: 16, tls: true }
]

const t0 = Date.now()
const say = (s: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

// ---------------------------------------------------------------------------------------------------------------
// Clean-up: everything we start is tracked by PID

let workdir: string | undefined
let keepWorkdir = flag("keep")
let worker: Worker | undefined

const cleanupSync = () => {
  worker?.kill()
  Servers.killStarted()
}
process.on("exit", cleanupSync)
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping the servers and the load generator`)
    cleanupSync()
    setTimeout(() => process.exit(130), 2000)
  })
}

// ---------------------------------------------------------------------------------------------------------------
// The load-generator process

interface Pending {
  readonly resolve: (r: Result) => void
  readonly reject: (e: Error) => void
  readonly onMark: (name: string, data: unknown) => void
}

class Worker {
  private readonly child: Child.ChildProcess
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private readonly ready: Promise<void>
  readonly pid: number

  constructor(manifestPath: string) {
    const script = Path.join(benchDir, "load.ts")
    const [cmd, args] = Servers.wrapped(clientCpus, nice, process.execPath, [script])
    this.child = Child.spawn(cmd, args, { stdio: ["ignore", "inherit", "inherit", "ipc"] })
    this.pid = this.child.pid!
    let readyResolve: () => void = () => {}
    this.ready = new Promise((r) => (readyResolve = r))
    this.child.on("message", (m: FromWorker) => {
      if (m.type === "ready") return readyResolve()
      const p = this.pending.get(m.id)
      if (p === undefined) return
      if (m.type === "mark") p.onMark(m.name, m.data)
      else if (m.type === "result") {
        this.pending.delete(m.id)
        p.resolve(m.result)
      } else if (m.type === "error") {
        this.pending.delete(m.id)
        p.reject(new Error(`load generator: ${m.message}`))
      }
    })
    this.child.on("exit", (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`load generator exited (${code ?? signal})`))
      this.pending.clear()
    })
    this.post({ type: "init", manifest: manifestPath })
  }

  private post(m: ToWorker): void {
    this.child.send(m)
  }

  /** Runs a job; `boundMs` is the hard limit after which the load generator is killed and the job counts as a hang. */
  async run<R extends Result>(job: Job, boundMs: number, onMark: (name: string, data: unknown, id: number) => void = () => {}): Promise<R> {
    await this.ready
    const id = this.nextId++
    return new Promise<R>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new Error(`HANG: ${job.kind} job did not finish within ${boundMs / 1000} s`))
        this.kill()
      }, boundMs)
      this.pending.set(id, {
        resolve: (r) => {
          clearTimeout(timer)
          resolve(r as R)
        },
        reject: (e) => {
          clearTimeout(timer)
          reject(e)
        },
        onMark: (name, data) => onMark(name, data, id)
      })
      this.post({ type: "job", id, job })
    })
  }

  release(id: number): void {
    this.post({ type: "release", id })
  }

  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  kill(): void {
    if (this.alive()) this.child.kill("SIGKILL")
  }

  cpuSeconds(): number {
    return Proc.processCpuSeconds(this.pid)
  }
}

let manifestPath = ""
let pop3dArgs: Array<string> = []
const getWorker = (): Worker => {
  if (worker === undefined || !worker.alive()) worker = new Worker(manifestPath)
  return worker
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const sh = (cmd: string, args: ReadonlyArray<string>, input?: string): string => {
  const r = Child.spawnSync(cmd, args, { encoding: "utf8", input, maxBuffer: 64 * 1024 * 1024 })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr ?? ""}`)
  return r.stdout
}
const shOk = (cmd: string, args: ReadonlyArray<string>): string | undefined => {
  const r = Child.spawnSync(cmd, args, { encoding: "utf8" })
  return r.status === 0 ? r.stdout.trim() : undefined
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const s = Net.createServer()
    s.on("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as Net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })

const cryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

/**
 * `{SHA512-CRYPT}$6$salt$hash` (glibc SHA-crypt, 5000 rounds, as `doveadm pw -s SHA512-CRYPT` makes) for each
 * password, by one `openssl passwd -6` run; the salt is derived from `key` so the users file is deterministic.
 */
const sha512Crypt = (key: string, passwords: ReadonlyArray<string>): Array<string> => {
  const rng = new Rng(`salt/${key}`)
  let salt = ""
  for (let i = 0; i < 16; i++) salt += cryptAlphabet[Math.floor(rng.next() * 64)]
  const out = sh("openssl", ["passwd", "-6", "-salt", salt, "-stdin"], passwords.map((p) => `${p}\n`).join("")).trim().split("\n")
  if (out.length !== passwords.length || !out.every((h) => h.startsWith("$6$"))) throw new Error("openssl passwd -6 gave unexpected output")
  return out.map((h) => `{SHA512-CRYPT}${h}`)
}

type Scheme = "PLAIN" | "SHA512-CRYPT"

/** The users file in Dovecot passwd-file format; cached beside the data (hashing 1000 users takes a few seconds). */
const usersFile = (dataDir: string, m: Manifest, scheme: Scheme): string => {
  const file = Path.join(dataDir, `users.${scheme}`)
  if (Fs.existsSync(file)) return file
  const names = Object.keys(m.users)
  const passwords = names.map((n) => m.users[n]!.password)
  const stored = scheme === "PLAIN" ? passwords.map((p) => `{PLAIN}${p}`) : sha512Crypt(`${m.params.seed}`, passwords)
  const lines = names.map((n, i) => `${n}:${stored[i]}`)
  Fs.writeFileSync(`${file}.tmp`, `${lines.join("\n")}\n`, { mode: 0o644 })
  Fs.renameSync(`${file}.tmp`, file)
  return file
}

/** Whether pop3d accepts {SHA512-CRYPT} in its users file: start a throwaway instance and log in. */
const pop3dAcceptsSha512 = async (dir: string, cert: string, key: string): Promise<boolean> => {
  Fs.mkdirSync(dir, { recursive: true })
  for (const d of ["new", "cur", "tmp"]) Fs.mkdirSync(Path.join(dir, "maildir", "probe", d), { recursive: true })
  const users = Path.join(dir, "users")
  Fs.writeFileSync(users, `probe:${sha512Crypt("probe", ["probe-pass"])[0]}\n`)
  const s = await Servers.startPop3d({
    repo, node: process.execPath, dir, maildirRoot: Path.join(dir, "maildir"), usersFile: users, cert, key,
    port: await freePort(), tlsPort: 0, cpus: undefined, nice: 0
  })
  try {
    const c = new Conn(s.plain, 10_000)
    try {
      await c.ok("greeting")
      await c.command("USER probe", "user")
      c.socket.write("PASS probe-pass\r\n")
      const pass = await c.status()
      return pass.startsWith("+OK")
    } catch {
      return false
    } finally {
      c.destroy()
    }
  } finally {
    await s.stop()
  }
}

/** A copy of the Maildir tree: its own folders, and (unless `full`) hard links to the message files, which
 * neither server ever writes to: both only rename them and add files of their own. */
const copyTree = (from: string, to: string, full: boolean): void => {
  sh("rm", ["-rf", to])
  sh("cp", [full ? "-a" : "-al", from, to])
}

/**
 * The default data cache: one folder per parameter set under <tmp>/pop3d-bench-cache (the data is deterministic,
 * so a set is generated once); besides the one in use, only the two most recently used sets are kept.
 */
const cacheDir = (p: GenParams): string => {
  const root = Path.join(Os.tmpdir(), "pop3d-bench-cache")
  Fs.mkdirSync(root, { recursive: true, mode: 0o755 })
  const name = `s${p.seed}-u${p.users}-r${p.retrUsers}x${p.retrMessages}-b${p.big}-${Crypto.createHash("sha256").update(JSON.stringify(p)).digest("hex").slice(0, 8)}`
  const old = Fs.readdirSync(root).filter((d) => d !== name).map((d) => ({ d, t: Fs.statSync(Path.join(root, d)).mtimeMs })).sort((a, b) => b.t - a.t)
  for (const { d } of old.slice(2)) sh("rm", ["-rf", Path.join(root, d)])
  const dir = Path.join(root, name)
  Fs.mkdirSync(dir, { recursive: true, mode: 0o755 })
  Fs.utimesSync(dir, new Date(), new Date())
  return dir
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  return s.length === 0 ? Number.NaN : s[Math.floor((s.length - 1) / 2)]!
}

type CpuTimes = ReturnType<typeof Proc.cpuTimes>

interface Sample {
  readonly server: number
  readonly client: number
  readonly runner: number
  readonly core: CpuTimes
  readonly clientCore: CpuTimes | undefined
}

const runnerCpu = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

/** Server and client CPU so far, plus the time counters of the server's core and the client's core (or of all CPUs when not pinned). */
const sample = (s: Server): Sample => ({
  server: s.cpu(),
  client: worker?.cpuSeconds() ?? 0,
  runner: runnerCpu(),
  core: Proc.cpuTimes(pin ? Number(serverCpus) : undefined),
  clientCore: pin && !clientCpus!.includes(",") ? Proc.cpuTimes(Number(clientCpus)) : undefined
})

/**
 * How much of the server's core, and of the load generator's core, went to processes other than ours between two
 * samples (other sessions' work on a shared machine), and the hypervisor's steal, in %.
 */
const interference = (a: Sample, b: Sample): { otherCpuPct: number; otherClientCpuPct: number; stealPct: number } => {
  const wall = b.core.total - a.core.total
  const ours = (b.server - a.server) + (pin ? 0 : (b.client - a.client) + (b.runner - a.runner))
  const others = (b.core.busy - a.core.busy) - ours
  let otherClient = Number.NaN
  if (a.clientCore !== undefined && b.clientCore !== undefined) {
    const w = b.clientCore.total - a.clientCore.total
    otherClient = Math.max(0, ((b.clientCore.busy - a.clientCore.busy) - (b.client - a.client) - (b.runner - a.runner)) / w * 100)
  }
  return { otherCpuPct: Math.max(0, others / wall * 100), otherClientCpuPct: otherClient, stealPct: (b.core.steal - a.core.steal) / wall * 100 }
}

// ---------------------------------------------------------------------------------------------------------------
// Results

interface Failed {
  readonly error: string
}
type PerServer<T> = Partial<Record<ServerName, T | Failed>>

interface SessionsRow extends SessionsResult {
  readonly serverCpuSeconds: number
  readonly cpuPer1000: number
  readonly otherCpuPct: number
  readonly otherClientCpuPct: number
  readonly stealPct: number
}
interface RetrRow extends RetrResult {
  readonly serverCpuSeconds: number
  readonly otherCpuPct: number
  readonly otherClientCpuPct: number
  readonly stealPct: number
  readonly mbPerSecond: number
  readonly cpuPerGB: number
}
/** One run of the light C client (bench/light/retr.c), with the server's CPU over it. */
interface LightRow extends Light.LightResult {
  readonly serverCpuSeconds: number
  readonly mbPerSecond: number
  readonly cpuPerGB: number
}
interface MemoryRow {
  readonly opened: number
  readonly openSeconds: number
  readonly baseline: Servers.Memory
  readonly held: Servers.Memory
  readonly perSessionKiB: number
  readonly hold: HoldResult
}
interface BigRow {
  readonly first: BigResult
  readonly warmList: ReadonlyArray<BigResult>
  readonly warmUidl: ReadonlyArray<BigResult>
  readonly warmListMs: number
  readonly warmUidlMs: number
}

interface Results {
  readonly date: string
  readonly command: string
  readonly machine: Record<string, string | number>
  readonly config: Record<string, unknown>
  readonly sessions: Array<{ readonly concurrency: number; readonly tls: boolean; readonly results: PerServer<SessionsRow> }>
  retr: PerServer<RetrRow> | undefined
  light: Array<{ readonly logins: string; readonly cpus: string; readonly results: PerServer<LightRow> }> | undefined
  readonly memory: Array<{ readonly sessions: number; readonly results: PerServer<MemoryRow> }>
  big: PerServer<BigRow> | undefined
  readonly prime: PerServer<Array<PrimeResult>>
  readonly failures: Record<ServerName, number>
  readonly failureSamples: Record<ServerName, Array<string>>
  readonly serverErrors: Record<ServerName, Array<string>>
  profile: unknown
  readonly notes: Array<string>
  durationSeconds: number
}

const isFailed = <T>(x: T | Failed | undefined): x is Failed => x !== undefined && typeof x === "object" && x !== null && "error" in x

// ---------------------------------------------------------------------------------------------------------------
// Main

const main = async (): Promise<void> => {
  const nodeMajor = Number(process.versions.node.split(".")[0])
  if (nodeMajor < 22) throw new Error(`pop3d needs Node ≥ 22.19; this is ${process.version} (run it as \`pnpm bench\`)`)
  if (pin) sh("taskset", ["-a", "-p", "-c", clientCpus!, String(process.pid)])

  const servers: Array<ServerName> = only === undefined ? ["pop3d", "dovecot"] : [only]
  const notes: Array<string> = []
  const dovecotVersion = shOk("dovecot", ["--version"])
  if (servers.includes("dovecot")) {
    if (dovecotVersion === undefined) {
      throw new Error("Dovecot is not installed. As root: apt-get update && apt-get install -y dovecot-core dovecot-pop3d " +
        "(the benchmark runs its own private instance and never uses the system service); or run with --only pop3d")
    }
    if (process.getuid?.() !== 0) throw new Error("the private Dovecot instance needs root (its master drops privileges); run as root or with --only pop3d")
  }
  const foreign = Proc.pidsByComm("dovecot")
  if (foreign.length > 0) {
    notes.push(`other dovecot processes were running before the benchmark (pids ${foreign.map((s) => s.pid).join(", ")}); left alone`)
    say(`note: ${notes[notes.length - 1]}`)
  }

  // the verifier must catch a broken server before any figure is trusted
  if (!skip.has("selftest")) {
    const st = Child.spawnSync(process.execPath, [Path.join(benchDir, "selftest.ts")], { encoding: "utf8", timeout: 120_000 })
    if (st.status !== 0) throw new Error(`bench/selftest.ts failed: the load generator's verification is broken\n${st.stdout}${st.stderr}`)
    say("selftest: the verifier catches every broken-server fault it is shown")
  }

  // work folder: world-readable so Dovecot's unprivileged processes can reach the data
  workdir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "pop3d-bench-"))
  Fs.chmodSync(workdir, 0o755)
  const dataDir = opt("data-cache") !== undefined
    ? Path.resolve(opt("data-cache")!)
    : flag("no-cache") ? Path.join(workdir, "master") : cacheDir(params)
  Fs.mkdirSync(dataDir, { recursive: true, mode: 0o755 })
  Fs.chmodSync(dataDir, 0o755)
  say(`work folder ${workdir}; data ${dataDir}`)

  const manifest = generate(dataDir, params, say)
  sh("chmod", ["-R", "a+rX", dataDir])
  manifestPath = Path.join(dataDir, "manifest.json")
  const sessionUsers = Array.from({ length: params.users }, (_, i) => userName(i))
  const retrUsers = Array.from({ length: params.retrUsers }, (_, i) => retrName(i))

  const tlsDir = Path.join(workdir, "tls")
  Fs.mkdirSync(tlsDir, { mode: 0o755 })
  const cert = Path.join(tlsDir, "cert.pem")
  const key = Path.join(tlsDir, "key.pem")
  say("TLS: self-signed RSA-2048 certificate for both servers")
  sh("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "7", "-subj", "/CN=localhost"])
  Fs.chmodSync(key, 0o644)

  let scheme: Scheme
  if (schemeOpt === "plain") scheme = "PLAIN"
  else if (schemeOpt === "sha512-crypt") scheme = "SHA512-CRYPT"
  else if (schemeOpt === "auto") {
    const ok = servers.includes("pop3d") ? await pop3dAcceptsSha512(Path.join(workdir, "probe"), cert, key) : true
    scheme = ok ? "SHA512-CRYPT" : "PLAIN"
    say(`password scheme: ${scheme} (pop3d ${ok ? "accepts" : "does not accept"} {SHA512-CRYPT})`)
  } else throw new Error(`--scheme: auto, plain or sha512-crypt, not ${schemeOpt}`)
  const users = usersFile(dataDir, manifest, scheme)

  // pop3d's own limits and caches, set to match the Dovecot side: no connection or per-user limits (Dovecot's are
  // raised too), and no cache of successful password checks (Dovecot's auth cache is off by default, and even on it
  // re-hashes the password), so that every login costs one SHA512-CRYPT (or PLAIN) check on both servers
  const help = Child.spawnSync(process.execPath, [Path.join(repo, "packages/server/src/bin.ts"), "serve", "--help"], { encoding: "utf8" }).stdout ?? ""
  const supported = (f: string) => help.includes(`--${f} `)
  const matching: Array<string> = []
  for (const f of ["max-connections", "max-connections-per-address", "max-sessions-per-user"]) if (supported(f)) matching.push(`--${f}`, "0")
  if (supported("auth-cache-size") && !flag("auth-cache")) matching.push("--auth-cache-size", "0")
  pop3dArgs = [...matching, ...opts("pop3d-arg")]
  if (servers.includes("pop3d")) say(`pop3d flags: ${pop3dArgs.join(" ")}`)

  // one identical copy of the data per server
  const started: Partial<Record<ServerName, Server>> = {}
  const serverDirs: Partial<Record<ServerName, string>> = {}
  for (const name of servers) {
    const dir = Path.join(workdir, name)
    Fs.mkdirSync(dir, { mode: 0o755 })
    serverDirs[name] = dir
    const t = Date.now()
    const to = Path.join(dir, "maildir")
    copyTree(Path.join(dataDir, "maildir"), to, fullCopy)
    Fs.copyFileSync(users, Path.join(dir, "users"))
    Fs.chmodSync(Path.join(dir, "users"), 0o644)
    // Dovecot's mail processes run as nobody: they need to own the folders (to move files and write indexes);
    // the message files only need to be readable
    if (name === "dovecot") sh("sh", ["-c", fullCopy ? `chown -R nobody:nogroup '${to}'` : `find '${to}' -type d -exec chown nobody:nogroup {} +`])
    say(`${name}: ${fullCopy ? "copied" : "hard-linked a copy of"} the data in ${((Date.now() - t) / 1000).toFixed(1)} s`)
  }
  /** Drops the page cache (root only), so that the next reads come from the disk. */
  const dropCaches = () => {
    sh("sync", [])
    Fs.writeFileSync("/proc/sys/vm/drop_caches", "3")
  }
  if (flag("drop-caches")) {
    dropCaches()
    notes.push("page cache dropped (--drop-caches) before the servers started, and again before each server's first open of the large mailbox")
  }

  const startServer = async (name: ServerName, cpus = serverCpus): Promise<Server> => {
    const dir = serverDirs[name]!
    if (name === "pop3d") {
      return Servers.startPop3d({
        repo, node: process.execPath, dir, maildirRoot: Path.join(dir, "maildir"), usersFile: Path.join(dir, "users"),
        cert, key, port: await freePort(), tlsPort: await freePort(), cpus, nice, extraArgs: pop3dArgs
      })
    }
    const limit = Math.max(1024, ...memSessions.map((n) => n + 200))
    return Servers.startDovecot({
      dir, template: Path.join(benchDir, "dovecot.conf.template"), maildirRoot: Path.join(dir, "maildir"),
      usersFile: Path.join(dir, "users"), cert, key, port: await freePort(), tlsPort: await freePort(), cpus, nice,
      processLimit: limit, clientLimit: Math.min(limit + 1000, 16000), mailUser: "nobody", mailGroup: "nogroup", tuned: dovecotTuned
    })
  }
  for (const name of servers) {
    started[name] = await startServer(name)
    say(`${name}: pid ${started[name]!.pid}, plain ${started[name]!.plain.port}, TLS ${started[name]!.tls.port}${pin ? `, CPU ${serverCpus}` : ""}`)
  }
  const w = getWorker()
  say(`load generator: pid ${w.pid}${pin ? `, CPU ${clientCpus}` : ""}`)

  const cpuModel = Os.cpus()[0]?.model ?? "?"
  const gitHead = shOk("git", ["-C", repo, "rev-parse", "--short", "HEAD"]) ?? "?"
  const gitDirty = (shOk("git", ["-C", repo, "status", "--porcelain", "--untracked-files=no", "packages"]) ?? "") !== ""
  const results: Results = {
    date: new Date().toISOString(),
    command: `node bench/run.ts ${argv.join(" ")}`.trim(),
    machine: {
      nproc: ncpu,
      cpu: cpuModel,
      memoryGiB: Math.round(Os.totalmem() / 2 ** 30 * 10) / 10,
      kernel: Os.release(),
      os: (shOk("sh", ["-c", ". /etc/os-release && echo $PRETTY_NAME"]) ?? "?"),
      node: process.version,
      dovecot: dovecotVersion ?? "-",
      pop3d: `${gitHead}${gitDirty ? " (with uncommitted changes in packages/)" : ""}`,
      fdLimit: Number(shOk("sh", ["-c", "ulimit -n"]) ?? 0),
      loadavgAtStart: Fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
    },
    config: {
      scheme,
      pinning: pin ? `servers on CPU ${serverCpus}, load generator on CPU ${clientCpus}` : "none",
      nice,
      data: params,
      dataMB: Math.round(Object.values(manifest.users).reduce((a, u) => a + u.stored, 0) / 1e6),
      sessionWarmupSeconds: warmupMs / 1000,
      sessionWindowSeconds: windowMs / 1000,
      retrSeconds: retrMs / 1000,
      lightSeconds: lightMs / 1000,
      memorySessions: memSessions,
      memoryOpenBoundSeconds: memOpenMs / 1000,
      pop3dArgs,
      dovecot: dovecotTuned
        ? "tuned (--dovecot-tuned): login processes in high-performance mode (service_count=0, process_min_avail=2), pop3 processes reused (service_count=0); limits raised for 10k sessions; pop3_uidl_format=%u"
        : "stock service settings (high-security login processes, one pop3 process per session), limits raised for 10k sessions; pop3_uidl_format=%u; ssl=yes; disable_plaintext_auth=no"
    },
    sessions: [],
    retr: undefined,
    light: undefined,
    memory: [],
    big: undefined,
    prime: {},
    failures: { pop3d: 0, dovecot: 0 },
    failureSamples: { pop3d: [], dovecot: [] },
    serverErrors: { pop3d: [], dovecot: [] },
    profile: undefined,
    notes,
    durationSeconds: 0
  }

  const account = (name: ServerName, r: { failures: { count: number; samples: Array<string> } }): void => {
    results.failures[name] += r.failures.count
    for (const s of r.failures.samples) if (results.failureSamples[name].length < 20) results.failureSamples[name].push(s)
    if (r.failures.count > 0) say(`  ${name}: ${r.failures.count} verification failures, e.g. ${r.failures.samples[0]}`)
  }
  const guard = async <T>(name: ServerName, what: string, f: (s: Server) => Promise<T>): Promise<T | Failed> => {
    const s = started[name]!
    if (!s.alive()) return { error: `${name} is not running` }
    try {
      const r = await f(s)
      const after = started[name]!
      if (!after.alive()) {
        const msg = `${name} died during ${what}; log:\n${Servers.tail(after.log)}`
        results.serverErrors[name].push(msg)
        say(msg)
      }
      return r
    } catch (e) {
      const msg = `${what}: ${e instanceof Error ? e.message : String(e)}`
      results.serverErrors[name].push(msg)
      say(`  ${name}: ERROR ${msg}`)
      return { error: msg }
    }
  }

  const allCpus = `0-${ncpu - 1}`
  /** Lets every process of the running servers (and the ones they fork later) run on `cpus`. */
  const setCpus = (cpus: string) => {
    for (const name of servers) for (const p of Proc.processTree(started[name]!.pid)) shOk("taskset", ["-a", "-p", "-c", cpus, String(p.pid)])
  }

  // (4) the big mailbox first, before anything else touches it
  if (!skip.has("big") && params.big > 0) {
    say(`big mailbox (${params.big} messages): first open, then warm`)
    const big: PerServer<BigRow> = {}
    const firsts: Partial<Record<ServerName, BigResult>> = {}
    const bigJob = (s: Server, list: boolean, uidl: boolean): Job => ({ kind: "big", target: s.plain, user: bigUser, list, uidl, timeoutMs: 600_000 })
    // Both servers start their first open from the same page cache: warm (every message file read once, here, so
    // the first server does not pay the disk for the second), or cold for each with --drop-caches.
    const bigFiles = ["new", "cur"].flatMap((sub) => {
      const dir = Path.join(dataDir, "maildir", bigUser, sub)
      return Fs.existsSync(dir) ? Fs.readdirSync(dir).map((f) => Path.join(dir, f)) : []
    })
    if (!flag("drop-caches")) {
      const scratch = Buffer.allocUnsafe(1 << 20)
      for (const file of bigFiles) {
        const fd = Fs.openSync(file, "r")
        while (Fs.readSync(fd, scratch, 0, scratch.length, null) > 0);
        Fs.closeSync(fd)
      }
      notes.push("the large mailbox's files were read once before the first opens, so both servers start from a warm page cache")
    }
    // Both servers may use every CPU here (the load generator only waits on one socket at a time): pop3d measures a
    // large mailbox on two threads where it can; Dovecot's pop3 process has one. Narrowed again afterwards.
    if (pin) {
      setCpus(allCpus)
      notes.push(`the large-mailbox workload ran with the servers' processes allowed on CPUs ${allCpus} (taskset), then pinned again`)
    }
    for (const name of servers) {
      if (flag("drop-caches")) dropCaches()
      // A server may go on working after its first open (pop3d surveys the mailbox again a second later, to keep
      // it warm): the next server's first open does not start until that is done, so it does not share the core.
      if (name !== servers[0]) await sleep(4000)
      const r = await guard(name, "big first open", (s) => getWorker().run<BigResult>(bigJob(s, true, true), 660_000))
      if (isFailed(r)) big[name] = r
      else {
        firsts[name] = r
        account(name, r)
        say(`  ${name}: first open: login ${r.loginMs.toFixed(0)} ms, LIST done ${r.listMs?.toFixed(0)} ms, UIDL done ${r.uidlMs?.toFixed(0)} ms`)
      }
    }
    for (const name of servers) {
      if (firsts[name] === undefined) continue
      const r = await guard(name, "big warm", async (s) => {
        const lists: Array<BigResult> = []
        const uidls: Array<BigResult> = []
        for (let i = 0; i < 3; i++) {
          lists.push(await getWorker().run<BigResult>(bigJob(s, true, false), 660_000))
          uidls.push(await getWorker().run<BigResult>(bigJob(s, false, true), 660_000))
        }
        return { lists, uidls }
      })
      if (isFailed(r)) {
        big[name] = r
        continue
      }
      for (const x of [...r.lists, ...r.uidls]) account(name, x)
      const row: BigRow = {
        first: firsts[name]!,
        warmList: r.lists,
        warmUidl: r.uidls,
        warmListMs: median(r.lists.map((x) => x.listMs ?? Number.NaN)),
        warmUidlMs: median(r.uidls.map((x) => x.uidlMs ?? Number.NaN))
      }
      big[name] = row
      say(`  ${name}: warm: LIST done ${row.warmListMs.toFixed(0)} ms, UIDL done ${row.warmUidlMs.toFixed(0)} ms (medians of 3)`)
    }
    results.big = big
    if (pin) setCpus(serverCpus!)
  }

  // first login of every user (moves new/ to cur/, builds indexes and UID lists), outside the measurements
  if (!skip.has("sessions") || !skip.has("retr") || !skip.has("memory")) {
    for (const name of servers) {
      const r = await guard(name, "prime", async (s) => [
        await getWorker().run<PrimeResult>({ kind: "prime", target: s.plain, users: sessionUsers, concurrency: 16, list: false, timeoutMs: 120_000 }, 900_000),
        await getWorker().run<PrimeResult>({ kind: "prime", target: s.plain, users: retrUsers, concurrency: retrUsers.length, list: true, timeoutMs: 300_000 }, 900_000)
      ])
      if (!isFailed(r)) {
        results.prime[name] = r
        for (const x of r) account(name, x)
        say(`${name}: first login of ${sessionUsers.length + retrUsers.length} users in ${(r[0]!.seconds + r[1]!.seconds).toFixed(1)} s`)
      }
    }
  }

  // (1) sessions
  if (!skip.has("sessions")) {
    for (const level of levels) {
      const row: PerServer<SessionsRow> = {}
      for (const name of servers) {
        row[name] = await guard(name, `sessions c=${level.concurrency}${level.tls ? " TLS" : ""}`, async (s) => {
          let a: Sample | undefined
          let b: Sample | undefined
          const r = await getWorker().run<SessionsResult>({
            kind: "sessions", target: level.tls ? s.tls : s.plain, concurrency: level.concurrency, warmupMs, durationMs: windowMs,
            maxSessions: 2_000_000, users: sessionUsers, timeoutMs: sessionTimeoutMs
          }, warmupMs + windowMs + sessionTimeoutMs + 60_000, (mark) => {
            if (mark === "start") a = sample(s)
            if (mark === "end") b = sample(s)
          })
          account(name, r)
          if (a === undefined || b === undefined) throw new Error("no CPU samples")
          const serverCpuSeconds = b.server - a.server
          return { ...r, serverCpuSeconds, cpuPer1000: serverCpuSeconds / r.sessions * 1000, ...interference(a, b) }
        })
        const x = row[name]!
        if (!isFailed(x)) {
          say(`sessions c=${level.concurrency}${level.tls ? " TLS" : ""} ${name}: ${x.perSecond.toFixed(0)}/s, p50 ${x.p50ms.toFixed(2)} ms, p99 ${x.p99ms.toFixed(2)} ms, ` +
            `server ${x.cpuPer1000.toFixed(3)} CPU s/1000, client CPU ${(x.clientCpuSeconds / x.seconds * 100).toFixed(0)} %, others on the server CPU ${x.otherCpuPct.toFixed(0)} %`)
        }
      }
      results.sessions.push({ ...level, results: row })
    }
  }

  // (2) RETR throughput
  if (!skip.has("retr")) {
    const row: PerServer<RetrRow> = {}
    for (const name of servers) {
      row[name] = await guard(name, "retr", async (s) => {
        let a: Sample | undefined
        let b: Sample | undefined
        const r = await getWorker().run<RetrResult>({
          kind: "retr", target: s.plain, users: retrUsers, durationMs: retrMs, maxPasses: 10_000, timeoutMs: retrMs + 120_000
        }, retrMs + 240_000, (mark) => {
          if (mark === "start") a = sample(s)
          if (mark === "end") b = sample(s)
        })
        account(name, r)
        if (a === undefined || b === undefined) throw new Error("no CPU samples")
        const serverCpuSeconds = b.server - a.server
        return { ...r, serverCpuSeconds, mbPerSecond: r.octets / 1e6 / r.seconds, cpuPerGB: serverCpuSeconds / (r.octets / 1e9), ...interference(a, b) }
      })
      const x = row[name]!
      if (!isFailed(x)) {
        say(`retr ${name}: ${x.mbPerSecond.toFixed(0)} MB/s (${x.messages} messages, ${x.fullPasses} whole mailboxes), server ${x.cpuPerGB.toFixed(2)} CPU s/GB, client CPU ${(x.clientCpuSeconds / x.seconds * 100).toFixed(0)} %, others on the server CPU ${x.otherCpuPct.toFixed(0)} %`)
      }
    }
    results.retr = row
  }

  // (2b) RETR cross-check with a light client (bench/light/retr.c): the same users and mailboxes, driven by a C
  // client that checks each reply's status and dot-unstuffed size but not its content, so that it costs next to
  // nothing. Run with the servers pinned as above, then with nothing pinned (servers and client free on every CPU),
  // where Dovecot's process per session spreads over the cores and pop3d's one event loop does not.
  if (!skip.has("light") && !skip.has("retr")) {
    const built = Light.build(workdir!)
    if ("error" in built) {
      notes.push(`the light RETR cross-check was skipped: no C compiler (cc) or it failed: ${built.error}`)
      say(`note: ${notes[notes.length - 1]}`)
    } else {
      const credentials = Light.credentials(manifest, retrUsers)
      const runLight = async (name: ServerName, s: Server, cpus: string, mode: Light.LightMode, ms: number): Promise<Light.LightResult> => {
        // at the load generator's priority (--nice), on `cpus`
        const x = await Light.run(built.binary, s.plain.port, ms, mode, credentials, (cmd, args) => Servers.wrapped(cpus, nice, cmd, args))
        if (x.failures > 0) {
          results.failures[name] += x.failures
          if (results.failureSamples[name].length < 20) results.failureSamples[name].push(`light RETR: ${x.sample}`)
        }
        return x
      }
      const placements = pin ? [{ server: serverCpus!, client: clientCpus! }, { server: allCpus, client: allCpus }] : [{ server: allCpus, client: allCpus }]
      const modes = placements.flatMap((p) => (["pass", "session"] as const).map((logins) => ({ ...p, logins })))
      results.light = []
      for (const mode of modes) {
        if (pin) setCpus(mode.server)
        const row: PerServer<LightRow> = {}
        for (const name of servers) {
          row[name] = await guard(name, "light retr", async (s) => {
            await runLight(name, s, mode.client, mode.logins, 1000)
            const before = s.cpu()
            const r = await runLight(name, s, mode.client, mode.logins, lightMs)
            const serverCpuSeconds = s.cpu() - before
            return { ...r, serverCpuSeconds, mbPerSecond: r.octets / 1e6 / r.seconds, cpuPerGB: serverCpuSeconds / (r.octets / 1e9) }
          })
          const x = row[name]!
          if (!isFailed(x)) {
            say(`light retr ${name} (a login ${mode.logins === "pass" ? "per pass" : "per client"}, servers on CPUs ${mode.server}, client on ${mode.client}): ${x.mbPerSecond.toFixed(0)} MB/s, server ${x.cpuPerGB.toFixed(2)} CPU s/GB, client CPU ${(x.clientCpuSeconds / x.seconds * 100).toFixed(0)} %, ${x.failures} failures`)
          }
        }
        results.light.push({
          logins: mode.logins === "pass" ? "a login per pass" : "one login per client",
          cpus: mode.server === mode.client ? `nothing pinned (CPUs ${mode.server})` : `servers on CPU ${mode.server}, client on CPU ${mode.client}`,
          results: row
        })
      }
      if (pin) setCpus(serverCpus!)
    }
  }

  // (3) idle authenticated sessions: each server restarted first (so its memory holds no leftovers of the other
  // workloads) and not pinned (memory does not depend on the CPU, and Dovecot forks a process per session), warmed
  // up with one short session per user, measured (baseline), then sessions are opened up to each count in --mem and
  // the server is measured there again, all in one ramp bounded by --mem-seconds
  if (!skip.has("memory") && memSessions.length > 0) {
    const fdLimit = Number(results.machine.fdLimit)
    const counts = memSessions.filter((n) => n + 500 <= fdLimit)
    for (const n of memSessions.filter((n) => n + 500 > fdLimit)) {
      notes.push(`memory with ${n} sessions skipped: the open-files limit is ${fdLimit} (needs about ${n + 500}; raise ulimit -n)`)
      say(notes[notes.length - 1]!)
    }
    const rows = counts.map((n) => ({ sessions: n, results: {} as PerServer<MemoryRow> }))
    for (const name of servers) {
      const r = await guard(name, "memory", async (old) => {
        await old.stop()
        const s = await startServer(name, undefined)
        started[name] = s
        // one short session per user first, so the baseline is a warmed-up server (JIT, heap, caches), not a cold one
        const warm = await getWorker().run<PrimeResult>({
          kind: "prime", target: s.plain, users: sessionUsers.slice(0, 100), concurrency: 16, list: false, timeoutMs: 120_000
        }, 900_000)
        account(name, warm)
        await sleep(2000)
        const baseline = s.memory()
        const w = getWorker()
        const points: Array<{ checkpoint: number; opened: number; openSeconds: number; held: Servers.Memory }> = []
        const hold = await w.run<HoldResult>({
          kind: "hold", target: s.plain, checkpoints: counts, users: sessionUsers, openConcurrency: 32,
          openTimeoutMs: memOpenMs, timeoutMs: 60_000
        }, memOpenMs + 600_000, (mark, data, id) => {
          if (mark !== "held") return
          const d = data as { checkpoint: number; opened: number; openSeconds: number }
          void sleep(2000).then(() => {
            points.push({ ...d, held: s.memory() })
            w.release(id)
          })
        })
        account(name, hold)
        return { baseline, points, hold }
      })
      if (isFailed(r)) {
        for (const row of rows) row.results[name] = r
        continue
      }
      for (const row of rows) {
        const p = r.points.find((x) => x.checkpoint === row.sessions)
        if (p === undefined) continue
        row.results[name] = {
          opened: p.opened, openSeconds: p.openSeconds, baseline: r.baseline, held: p.held,
          perSessionKiB: (p.held.kib - r.baseline.kib) / Math.max(1, p.opened), hold: r.hold
        }
        const x = row.results[name]!
        if (!isFailed(x)) {
          say(`memory ${row.sessions} ${name}: ${x.opened} sessions held (${x.openSeconds.toFixed(1)} s to open), ${(x.baseline.kib / 1024).toFixed(0)} → ${(x.held.kib / 1024).toFixed(0)} MiB ` +
            `(${x.held.processes} processes), ${x.perSessionKiB.toFixed(1)} KiB per session`)
          if (x.opened < row.sessions) {
            notes.push(`${name} held ${x.opened} of ${row.sessions} idle sessions: opening them is bounded to ${memOpenMs / 1000} s (--mem-seconds); the figure per session is over the ${x.opened} held`)
            say(`  note: ${notes[notes.length - 1]}`)
          }
        }
      }
    }
    results.memory.push(...rows)
  }

  for (const name of servers) {
    const s = started[name]!
    if (!s.alive()) results.serverErrors[name].push(`${name} was not running at the end; log:\n${Servers.tail(s.log)}`)
    await s.stop()
  }
  for (const name of servers) {
    const errs = scanLog(name, name === "pop3d" ? started[name]!.log : Path.join(serverDirs[name]!, "dovecot.log"))
    if (errs.length > 0) {
      results.serverErrors[name].push(...errs)
      say(`${name}: ${errs.length} error/warning lines in its log, e.g. ${errs[0]}`)
    }
  }

  // optional: CPU profiles of pop3d (node --cpu-prof) during the sessions workload at concurrency 16 and during RETR
  if (profile && servers.includes("pop3d")) {
    const dir = serverDirs.pop3d!
    const profiles: Record<string, unknown> = {}
    for (const what of ["sessions", "retr"] as const) {
      const profDir = Path.join(dir, `cpuprofile-${what}`)
      const s = await Servers.startPop3d({
        repo, node: process.execPath, dir, maildirRoot: Path.join(dir, "maildir"), usersFile: Path.join(dir, "users"),
        cert, key, port: await freePort(), tlsPort: await freePort(), cpus: serverCpus, nice, extraArgs: pop3dArgs,
        nodeArgs: ["--cpu-prof", `--cpu-prof-dir=${profDir}`], logName: `pop3d-profile-${what}.log`
      })
      // warm it up first (first logins, JIT, caches) and keep only the samples of the measured window
      await getWorker().run<PrimeResult>({
        kind: "prime", target: s.plain, users: what === "sessions" ? sessionUsers : retrUsers, concurrency: what === "sessions" ? 16 : retrUsers.length,
        list: what === "retr", timeoutMs: 300_000
      }, 900_000)
      say(`profile: pop3d with --cpu-prof, ${what === "sessions" ? "sessions c=16" : `RETR with ${retrUsers.length} clients`} for ${profileMs / 1000} s`)
      let rate = ""
      let fromUs = 0
      let toUs = 0
      const onMark = (mark: string) => {
        if (mark === "start") fromUs = Number(process.hrtime.bigint() / 1000n)
        if (mark === "end") toUs = Number(process.hrtime.bigint() / 1000n)
      }
      if (what === "sessions") {
        const r = await getWorker().run<SessionsResult>({
          kind: "sessions", target: s.plain, concurrency: 16, warmupMs: 1000, durationMs: profileMs, maxSessions: 2_000_000,
          users: sessionUsers, timeoutMs: sessionTimeoutMs
        }, profileMs + 120_000, onMark)
        account("pop3d", r)
        rate = `${r.perSecond.toFixed(0)} sessions/s`
      } else {
        const r = await getWorker().run<RetrResult>({
          kind: "retr", target: s.plain, users: retrUsers, durationMs: profileMs, maxPasses: 10_000, timeoutMs: profileMs + 120_000
        }, profileMs + 240_000, onMark)
        account("pop3d", r)
        rate = `${(r.octets / 1e6 / r.seconds).toFixed(0)} MB/s`
      }
      await s.stop()
      const file = Fs.existsSync(profDir) ? Fs.readdirSync(profDir).find((f) => f.endsWith(".cpuprofile")) : undefined
      if (file === undefined) {
        notes.push(`profile ${what}: pop3d wrote no .cpuprofile (did it exit cleanly on SIGTERM?)`)
        continue
      }
      const dest = Path.join(benchDir, "results", `pop3d-${what}.cpuprofile`)
      Fs.mkdirSync(Path.dirname(dest), { recursive: true })
      Fs.copyFileSync(Path.join(profDir, file), dest)
      const summary = summarise(dest, 30, fromUs > 0 && toUs > fromUs ? { fromUs, toUs } : undefined)
      profiles[what] = { file: Path.relative(repo, dest), rate, window: { fromUs, toUs }, summary }
      console.log(`\npop3d CPU profile, ${what} (${rate} under the profiler), ${Path.relative(repo, dest)}:\n${formatProfile(summary)}\n`)
    }
    results.profile = profiles
  }

  worker?.kill()
  results.machine.loadavgAtEnd = Fs.readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
  results.durationSeconds = Math.round((Date.now() - t0) / 1000)
  const table = render(results)
  Fs.mkdirSync(Path.dirname(outFile), { recursive: true })
  Fs.writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`)
  Fs.writeFileSync(outFile.replace(/\.json$/, ".md"), `${table}\n`)
  console.log(`\n${table}\n`)
  console.log(`results: ${Path.relative(process.cwd(), outFile)} (and .md); ${results.durationSeconds} s in all`)
  const total = results.failures.pop3d + results.failures.dovecot
  if (total > 0) console.log(`VERIFICATION FAILURES: pop3d ${results.failures.pop3d}, dovecot ${results.failures.dovecot}`)
}

/** Error and warning lines from a server's log (pop3d: logfmt level=ERROR/WARN; Dovecot: "Error:"/"Panic:"/"Fatal:"). */
const scanLog = (name: ServerName, file: string): Array<string> => {
  let text = ""
  try {
    text = Fs.readFileSync(file, "utf8")
  } catch {
    return []
  }
  const re = name === "pop3d" ? /level=(ERROR|FATAL|WARN)|end=error/ : /(Error|Panic|Fatal): /
  const ignore = name === "dovecot" ? /setrlimit\(RLIMIT_NPROC/ : /^$/
  return text.split("\n").filter((l) => re.test(l) && !ignore.test(l)).slice(0, 20)
}

// ---------------------------------------------------------------------------------------------------------------
// The table

interface Row {
  readonly section: string
  readonly metric: string
  readonly pop3d: string
  readonly dovecot: string
  readonly ratio: string
  readonly better: string
  readonly bar: string
}

const fmt = (x: number | undefined, digits: number): string =>
  x === undefined || !Number.isFinite(x) ? "—" : x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })

const render = (r: Results): string => {
  const rows: Array<Row> = []
  const add = <T>(
    section: string,
    metric: string,
    per: PerServer<T> | undefined,
    get: (x: T) => number | undefined,
    digits: number,
    better: "higher" | "lower" | "",
    bar?: { readonly ratio: number; readonly cmp: "≥" | "≤" }
  ) => {
    const cell = (name: ServerName): [string, number | undefined] => {
      const x = per?.[name]
      if (x === undefined) return ["—", undefined]
      if (isFailed(x)) return ["error", undefined]
      const v = get(x)
      return [fmt(v, digits), v]
    }
    const [ps, pv] = cell("pop3d")
    const [ds, dv] = cell("dovecot")
    const ratio = pv !== undefined && dv !== undefined && Number.isFinite(pv) && Number.isFinite(dv) && dv !== 0 ? pv / dv : undefined
    let barText = ""
    if (bar !== undefined) {
      const met = ratio === undefined ? undefined : bar.cmp === "≥" ? ratio >= bar.ratio : ratio <= bar.ratio
      barText = `${bar.cmp} ${bar.ratio}× ${met === undefined ? "?" : met ? "met" : "not met"}`
    }
    rows.push({
      section,
      metric,
      pop3d: ps,
      dovecot: ds,
      ratio: better === "" || ratio === undefined ? "" : `${ratio.toFixed(2)}×`,
      better: better === "" ? "" : `${better} is better`,
      bar: barText
    })
  }
  for (const s of r.sessions) {
    const label = `sessions, ${s.tls ? "implicit TLS, " : ""}concurrency ${s.concurrency}`
    const barOn = !s.tls && s.concurrency === 16
    add<SessionsRow>(label, "sessions/s", s.results, (x) => x.perSecond, 0, "higher", barOn ? { ratio: 2, cmp: "≥" } : undefined)
    add<SessionsRow>(label, "latency p50 (ms)", s.results, (x) => x.p50ms, 2, "lower")
    add<SessionsRow>(label, "latency p99 (ms)", s.results, (x) => x.p99ms, 2, "lower")
    add<SessionsRow>(label, "server CPU s per 1000 sessions", s.results, (x) => x.cpuPer1000, 3, "lower", barOn ? { ratio: 0.5, cmp: "≤" } : undefined)
    add<SessionsRow>(label, "load generator CPU %", s.results, (x) => x.clientCpuSeconds / x.seconds * 100, 0, "")
    add<SessionsRow>(label, "other processes on the server's CPU %", s.results, (x) => x.otherCpuPct, 0, "")
    add<SessionsRow>(label, "other processes on the load generator's CPU %", s.results, (x) => x.otherClientCpuPct, 0, "")
    add<SessionsRow>(label, "verification failures", s.results, (x) => x.failures.count, 0, "")
  }
  if (r.retr !== undefined) {
    const label = `RETR, ${r.config.data && (r.config.data as GenParams).retrUsers} clients, whole mailboxes`
    add<RetrRow>(label, "MB/s of message data", r.retr, (x) => x.mbPerSecond, 0, "higher", { ratio: 1.5, cmp: "≥" })
    add<RetrRow>(label, "server CPU s per GB", r.retr, (x) => x.cpuPerGB, 2, "lower")
    add<RetrRow>(label, "messages verified", r.retr, (x) => x.messages, 0, "")
    add<RetrRow>(label, "load generator CPU %", r.retr, (x) => x.clientCpuSeconds / x.seconds * 100, 0, "")
    add<RetrRow>(label, "other processes on the server's CPU %", r.retr, (x) => x.otherCpuPct, 0, "")
    add<RetrRow>(label, "other processes on the load generator's CPU %", r.retr, (x) => x.otherClientCpuPct, 0, "")
    add<RetrRow>(label, "verification failures", r.retr, (x) => x.failures.count, 0, "")
  }
  for (const l of r.light ?? []) {
    const label = `RETR cross-check, light C client (sizes checked, not content), ${l.logins}, ${l.cpus}`
    add<LightRow>(label, "MB/s of message data", l.results, (x) => x.mbPerSecond, 0, "higher")
    add<LightRow>(label, "server CPU s per GB", l.results, (x) => x.cpuPerGB, 2, "lower")
    add<LightRow>(label, "messages", l.results, (x) => x.messages, 0, "")
    add<LightRow>(label, "client CPU %", l.results, (x) => x.clientCpuSeconds / x.seconds * 100, 0, "")
    add<LightRow>(label, "size mismatches and errors", l.results, (x) => x.failures, 0, "")
  }
  for (const m of r.memory) {
    const label = `${m.sessions.toLocaleString("en-US")} idle authenticated sessions`
    add<MemoryRow>(label, "KiB per session (pop3d RSS, Dovecot PSS)", m.results, (x) => x.perSessionKiB, 1, "lower", { ratio: 0.1, cmp: "≤" })
    add<MemoryRow>(label, "total MiB while held", m.results, (x) => x.held.kib / 1024, 0, "lower")
    add<MemoryRow>(label, "sessions held", m.results, (x) => x.opened, 0, "")
    add<MemoryRow>(label, "server processes", m.results, (x) => x.held.processes, 0, "")
    add<MemoryRow>(label, "seconds to open them", m.results, (x) => x.openSeconds, 1, "lower")
  }
  if (r.big !== undefined) {
    const n = (r.config.data as GenParams).big.toLocaleString("en-US")
    const label = `${n}-message mailbox`
    add<BigRow>(label, "first open: connect → +OK to PASS (ms)", r.big, (x) => x.first.loginMs, 0, "lower")
    add<BigRow>(label, "first open: connect → end of LIST (ms)", r.big, (x) => x.first.listMs, 0, "lower", { ratio: 0.5, cmp: "≤" })
    add<BigRow>(label, "first open: connect → end of UIDL, after LIST (ms)", r.big, (x) => x.first.uidlMs, 0, "lower", { ratio: 0.5, cmp: "≤" })
    add<BigRow>(label, "warm: connect → +OK to PASS (ms, median of 6)", r.big, (x) => median([...x.warmList, ...x.warmUidl].map((y) => y.loginMs)), 0, "lower")
    add<BigRow>(label, "warm: connect → end of LIST (ms, median of 3)", r.big, (x) => x.warmListMs, 0, "lower", { ratio: 0.5, cmp: "≤" })
    add<BigRow>(label, "warm: connect → end of UIDL (ms, median of 3)", r.big, (x) => x.warmUidlMs, 0, "lower", { ratio: 0.5, cmp: "≤" })
  }
  const failuresPer: PerServer<{ n: number }> = { pop3d: { n: r.failures.pop3d }, dovecot: { n: r.failures.dovecot } }
  add<{ n: number }>("all workloads", "verification failures (every reply checked)", failuresPer, (x) => x.n, 0, "")
  const errorsPer: PerServer<{ n: number }> = { pop3d: { n: r.serverErrors.pop3d.length }, dovecot: { n: r.serverErrors.dovecot.length } }
  add<{ n: number }>("all workloads", "server errors (crashes, hangs, error log lines)", errorsPer, (x) => x.n, 0, "")

  const m = r.machine
  const head = [
    `pop3d ${m.pop3d} vs Dovecot ${m.dovecot} — ${r.date.slice(0, 16).replace("T", " ")} UTC — \`${r.command}\``,
    "",
    `Machine: ${m.nproc} × ${m.cpu}, ${m.memoryGiB} GiB, ${m.os}, Linux ${m.kernel}, Node ${m.node}; load average ${m.loadavgAtStart} at the start, ${m.loadavgAtEnd} at the end. ` +
    `Pinning: ${r.config.pinning}${r.config.nice !== 0 ? `; servers and load generator at nice ${r.config.nice}` : ""}. Password scheme on both: {${r.config.scheme}}` +
    `${(r.config.pop3dArgs as Array<string>).length > 0 ? `; pop3d ${(r.config.pop3dArgs as Array<string>).join(" ")}` : ""}. ` +
    `Data: ${(r.config.data as GenParams).users} + ${(r.config.data as GenParams).retrUsers} users, ${(r.config.data as GenParams).big.toLocaleString("en-US")}-message mailbox, ${r.config.dataMB} MB. ` +
    `Ratio = pop3d / Dovecot.`,
    "",
    "| workload | metric | pop3d | Dovecot | ratio | better | bar (issue 5) |",
    "|---|---|--:|--:|--:|---|---|"
  ]
  let last = ""
  for (const row of rows) {
    head.push(`| ${row.section === last ? "" : row.section} | ${row.metric} | ${row.pop3d} | ${row.dovecot} | ${row.ratio} | ${row.better} | ${row.bar} |`)
    last = row.section
  }
  if (r.notes.length > 0) head.push("", ...r.notes.map((n) => `Note: ${n}`))
  return head.join("\n")
}

main().then(
  () => {
    if (workdir !== undefined && !keepWorkdir) {
      const t = Date.now()
      sh("rm", ["-rf", workdir])
      say(`removed the work folder in ${((Date.now() - t) / 1000).toFixed(1)} s`)
    }
    else if (workdir !== undefined) console.log(`work folder kept: ${workdir}`)
    process.exit(0)
  },
  (e: unknown) => {
    console.error(`bench failed: ${e instanceof Error ? e.stack ?? e.message : String(e)}`)
    cleanupSync()
    if (workdir !== undefined) {
      keepWorkdir = true
      console.error(`work folder kept for inspection: ${workdir}`)
    }
    process.exit(1)
  }
)
