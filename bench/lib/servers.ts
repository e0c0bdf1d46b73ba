// Starting, measuring and stopping the two servers: pop3d (one Node process) and a private Dovecot instance
// (a master and the processes it forks). Every process is started by us, tracked by PID and stopped by PID.
import * as Child from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { Conn } from "./pop3.ts"
import type { Target } from "./pop3.ts"
import * as Proc from "./proc.ts"

export type ServerName = "pop3d" | "dovecot"

export interface Memory {
  /** pop3d: RSS of the process; Dovecot: PSS summed over its processes (KiB) */
  readonly kib: number
  readonly rssKiB: number
  readonly pssKiB: number
  readonly processes: number
  readonly byComm?: Record<string, { n: number; pssKiB: number }>
}

export interface Server {
  readonly name: ServerName
  readonly pid: number
  readonly plain: Target
  readonly tls: Target
  readonly log: string
  /** CPU seconds used so far (whole process tree for Dovecot) */
  cpu(): number
  memory(): Memory
  stop(): Promise<void>
  alive(): boolean
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Every child process we started that may still be running, for the exit handler. */
export const started = new Map<number, string>()

const exited = (child: Child.ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once("exit", () => resolve()))

/** Waits until the server answers with a POP3 greeting. */
export const waitReady = async (target: Target, child: Child.ChildProcess, timeoutMs: number, log: string): Promise<void> => {
  const stopAt = Date.now() + timeoutMs
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`server exited during start-up (${child.exitCode ?? child.signalCode}); log ${log}:\n${tail(log)}`)
    }
    const c = new Conn(target, 2000)
    try {
      const greeting = await c.status()
      if (greeting.startsWith("+OK")) return
    } catch {
      // not yet
    } finally {
      c.destroy()
    }
    if (Date.now() > stopAt) throw new Error(`server did not greet on ${target.port} within ${timeoutMs} ms; log ${log}:\n${tail(log)}`)
    await sleep(200)
  }
}

export const tail = (file: string, lines = 15): string => {
  try {
    return Fs.readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n")
  } catch {
    return "(no log)"
  }
}

/** The command line with CPU pinning (taskset) and priority (nice) in front; both exec, so the PID stays the server's. */
export const wrapped = (cpus: string | undefined, nice: number, cmd: string, args: ReadonlyArray<string>): [string, Array<string>] => {
  let line = [cmd, ...args]
  if (cpus !== undefined) line = ["taskset", "-c", cpus, ...line]
  if (nice !== 0) line = ["nice", "-n", String(nice), ...line]
  return [line[0]!, line.slice(1)]
}

export interface Pop3dOptions {
  readonly repo: string
  readonly node: string
  readonly dir: string
  readonly maildirRoot: string
  readonly usersFile: string
  readonly cert: string
  readonly key: string
  readonly port: number
  readonly tlsPort: number
  readonly cpus: string | undefined
  readonly nice: number
  readonly nodeArgs?: ReadonlyArray<string>
  readonly extraArgs?: ReadonlyArray<string>
  readonly logName?: string
}

export const startPop3d = async (o: Pop3dOptions): Promise<Server> => {
  const log = Path.join(o.dir, o.logName ?? "pop3d.log")
  const fd = Fs.openSync(log, "a")
  const dataDir = Path.join(o.dir, "data")
  Fs.mkdirSync(dataDir, { recursive: true })
  const [cmd, args] = wrapped(o.cpus, o.nice, o.node, [
    // As `pnpm start` runs it (see the README): V8's young generation capped at 8 MiB per semi-space.
    "--max-semi-space-size=8",
    ...(o.nodeArgs ?? []),
    Path.join(o.repo, "packages/server/src/bin.ts"),
    "serve",
    "--data", dataDir,
    "--listen", "127.0.0.1",
    "--port", String(o.port),
    "--tls-port", String(o.tlsPort),
    "--tls-cert", o.cert,
    "--tls-key", o.key,
    "--plaintext", "allowed",
    "--maildir-root", o.maildirRoot,
    "--users-file", o.usersFile,
    ...(o.extraArgs ?? [])
  ])
  const child = Child.spawn(cmd, args, { cwd: o.repo, stdio: ["ignore", fd, fd] })
  Fs.closeSync(fd)
  const pid = child.pid!
  started.set(pid, "pop3d")
  const plain: Target = { host: "127.0.0.1", port: o.port, tls: false }
  const tls: Target = { host: "127.0.0.1", port: o.tlsPort, tls: true }
  try {
    await waitReady(plain, child, 60_000, log)
  } catch (e) {
    child.kill("SIGKILL")
    started.delete(pid)
    throw e
  }
  return {
    name: "pop3d",
    pid,
    plain,
    tls,
    log,
    cpu: () => Proc.processCpuSeconds(pid),
    memory: () => {
      const m = Proc.smapsRollup(pid)
      const rss = Proc.rssKiB(pid)
      return { kib: rss, rssKiB: rss, pssKiB: m?.pss ?? Number.NaN, processes: 1 }
    },
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM")
        const t = setTimeout(() => child.kill("SIGKILL"), 15_000)
        await exited(child)
        clearTimeout(t)
      }
      started.delete(pid)
    }
  }
}

export interface DovecotOptions {
  readonly dir: string
  readonly template: string
  readonly maildirRoot: string
  readonly usersFile: string
  readonly cert: string
  readonly key: string
  readonly port: number
  readonly tlsPort: number
  readonly cpus: string | undefined
  readonly nice: number
  readonly processLimit: number
  readonly clientLimit: number
  readonly mailUser: string
  readonly mailGroup: string
  /** Dovecot's high-performance settings instead of the stock ones */
  readonly tuned: boolean
}

/** Dovecot's documented high-performance mode: login processes serve many connections, pop3 processes are reused. */
const tuning = `service pop3-login {
  service_count = 0
  process_min_avail = 2
  process_limit = 8
}
service pop3 {
  service_count = 0
}
`

export const dovecotConfig = (o: DovecotOptions): string => {
  const fields: Record<string, string> = {
    instance: `pop3d-bench-${process.pid}`,
    base: o.dir,
    cert: o.cert,
    key: o.key,
    scheme: "PLAIN",
    users: o.usersFile,
    mailUid: o.mailUser,
    mailGid: o.mailGroup,
    maildirRoot: o.maildirRoot,
    maxUserIp: String(o.processLimit),
    processLimit: String(o.processLimit),
    clientLimit: String(o.clientLimit),
    port: String(o.port),
    tlsPort: String(o.tlsPort),
    tuning: o.tuned ? tuning : "# stock service settings (run.ts --dovecot-tuned puts Dovecot's high-performance mode here)"
  }
  return Fs.readFileSync(o.template, "utf8").replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    const v = fields[k]
    if (v === undefined) throw new Error(`dovecot template: unknown field ${k}`)
    return v
  })
}

export const startDovecot = async (o: DovecotOptions): Promise<Server> => {
  Fs.mkdirSync(Path.join(o.dir, "state"), { recursive: true })
  const conf = Path.join(o.dir, "dovecot.conf")
  Fs.writeFileSync(conf, dovecotConfig(o))
  const check = Child.spawnSync("doveconf", ["-c", conf, "-n"], { encoding: "utf8" })
  if (check.status !== 0) throw new Error(`doveconf rejected ${conf}:\n${check.stderr}`)
  const log = Path.join(o.dir, "dovecot.log")
  const fd = Fs.openSync(Path.join(o.dir, "dovecot-stderr.log"), "a")
  const [cmd, args] = wrapped(o.cpus, o.nice, "dovecot", ["-F", "-c", conf])
  const child = Child.spawn(cmd, args, { cwd: o.dir, stdio: ["ignore", fd, fd] })
  Fs.closeSync(fd)
  const pid = child.pid!
  started.set(pid, "dovecot")
  const plain: Target = { host: "127.0.0.1", port: o.port, tls: false }
  const tls: Target = { host: "127.0.0.1", port: o.tlsPort, tls: true }
  try {
    await waitReady(plain, child, 60_000, log)
  } catch (e) {
    await stopTree(pid, child)
    throw e
  }
  return {
    name: "dovecot",
    pid,
    plain,
    tls,
    log,
    cpu: () => Proc.treeCpuSeconds(pid).seconds,
    memory: () => {
      const m = Proc.treeMemory(pid)
      return { kib: m.pssKiB, rssKiB: m.rssKiB, pssKiB: m.pssKiB, processes: m.processes, byComm: m.byComm }
    },
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: () => stopTree(pid, child)
  }
}

/** SIGTERM to the Dovecot master; after it exits, any process of its tree still alive gets SIGKILL, by PID. */
const stopTree = async (pid: number, child: Child.ChildProcess): Promise<void> => {
  const tree = Proc.processTree(pid).filter((s) => s.pid !== pid)
  if (child.exitCode === null && child.signalCode === null) {
    process.kill(pid, "SIGTERM")
    const t = setTimeout(() => child.kill("SIGKILL"), 30_000)
    await exited(child)
    clearTimeout(t)
  }
  started.delete(pid)
  for (let round = 0; round < 50; round++) {
    const left = tree.filter((s) => Proc.readStat(s.pid)?.startTime === s.startTime && Proc.readStat(s.pid)?.state !== "Z")
    if (left.length === 0) return
    if (round === 20) for (const s of left) process.kill(s.pid, "SIGKILL")
    await sleep(100)
  }
}

/** Kills, by PID, every process we started that is still running (synchronous, for exit handlers). */
export const killStarted = (): void => {
  for (const [pid] of started) {
    try {
      process.kill(pid, "SIGTERM")
    } catch {
      // gone
    }
  }
}
