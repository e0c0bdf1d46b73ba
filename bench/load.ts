// The load generator: one Node process (bench/run.ts starts it pinned to the client CPU) that runs jobs sent over
// the IPC channel and drives many sockets at once. Every reply is verified against the generator's manifest:
// status lines, STAT counts and totals, LIST sizes (exact), UIDL shape and stability, and for RETR the
// dot-unstuffed octet count and SHA-256 of each message, looked up by its Message-ID. Every loop is bounded by a
// deadline and a count; every connection has a timeout.
import * as Fs from "node:fs"
import { Conn, messageIdOf, Pop3Error } from "./lib/pop3.ts"
import type { Target } from "./lib/pop3.ts"
import type { Manifest, MessageEntry, UserEntry } from "./generate.ts"

// ---------------------------------------------------------------------------------------------------------------
// Jobs and results (shared with run.ts)

export interface SessionsJob {
  readonly kind: "sessions"
  readonly target: Target
  readonly concurrency: number
  readonly warmupMs: number
  readonly durationMs: number
  readonly maxSessions: number
  readonly users: ReadonlyArray<string>
  readonly timeoutMs: number
}

export interface PrimeJob {
  readonly kind: "prime"
  readonly target: Target
  readonly users: ReadonlyArray<string>
  readonly concurrency: number
  readonly list: boolean
  readonly timeoutMs: number
}

export interface RetrJob {
  readonly kind: "retr"
  readonly target: Target
  readonly users: ReadonlyArray<string>
  readonly durationMs: number
  readonly maxPasses: number
  readonly timeoutMs: number
}

export interface HoldJob {
  readonly kind: "hold"
  readonly target: Target
  /** open this many sessions in all, pausing at each count for a measurement */
  readonly checkpoints: ReadonlyArray<number>
  readonly users: ReadonlyArray<string>
  readonly openConcurrency: number
  readonly openTimeoutMs: number
  readonly timeoutMs: number
}

export interface BigJob {
  readonly kind: "big"
  readonly target: Target
  readonly user: string
  readonly list: boolean
  readonly uidl: boolean
  readonly timeoutMs: number
}

export type Job = SessionsJob | PrimeJob | RetrJob | HoldJob | BigJob

export interface Failures {
  count: number
  byKind: Record<string, number>
  samples: Array<string>
}

export interface Common {
  readonly failures: Failures
  /** CPU seconds this client process used during the measured window */
  readonly clientCpuSeconds: number
  /** the measured window, in seconds */
  readonly seconds: number
}

export interface SessionsResult extends Common {
  readonly kind: "sessions"
  readonly sessions: number
  readonly perSecond: number
  readonly p50ms: number
  readonly p99ms: number
  readonly meanMs: number
  readonly maxMs: number
}

export interface PrimeResult extends Common {
  readonly kind: "prime"
  readonly sessions: number
}

export interface RetrResult extends Common {
  readonly kind: "retr"
  readonly messages: number
  readonly octets: number
  readonly passes: number
  readonly fullPasses: number
}

export interface HoldResult extends Common {
  readonly kind: "hold"
  readonly opened: number
  readonly closed: number
}

export interface BigResult extends Common {
  readonly kind: "big"
  readonly loginMs: number
  readonly listMs: number | undefined
  readonly uidlMs: number | undefined
  readonly quitMs: number
}

export type Result = SessionsResult | PrimeResult | RetrResult | HoldResult | BigResult

/** Messages between run.ts (parent) and this worker. */
export type ToWorker =
  | { readonly type: "init"; readonly manifest: string }
  | { readonly type: "job"; readonly id: number; readonly job: Job }
  | { readonly type: "release"; readonly id: number }

export type FromWorker =
  | { readonly type: "ready" }
  | { readonly type: "mark"; readonly id: number; readonly name: string; readonly data?: unknown }
  | { readonly type: "result"; readonly id: number; readonly result: Result }
  | { readonly type: "error"; readonly id: number; readonly message: string }

// ---------------------------------------------------------------------------------------------------------------
// Worker state

let manifest: Manifest | undefined
const byMessageId = new Map<string, Map<string, MessageEntry>>()
/** UIDL listing first seen per "host:port user", to check that UIDs are stable across sessions */
const uidlSeen = new Map<string, string>()

const userOf = (name: string): UserEntry => {
  const u = manifest?.users[name]
  if (u === undefined) throw new Error(`unknown user ${name}`)
  return u
}

const messagesOf = (name: string): Map<string, MessageEntry> => {
  let m = byMessageId.get(name)
  if (m === undefined) {
    m = new Map(userOf(name).messages.map((e) => [e[0], e]))
    byMessageId.set(name, m)
  }
  return m
}

const newFailures = (): Failures => ({ count: 0, byKind: {}, samples: [] })

const record = (f: Failures, e: unknown): void => {
  const kind = e instanceof Pop3Error ? e.kind : "exception"
  f.count++
  f.byKind[kind] = (f.byKind[kind] ?? 0) + 1
  if (f.samples.length < 8) f.samples.push(`${kind}: ${e instanceof Error ? e.message : String(e)}`)
}

const check = (ok: boolean, kind: string, message: () => string): void => {
  if (!ok) throw new Pop3Error(kind, message())
}

const now = (): number => performance.now()

const send = (m: FromWorker): void => {
  process.send?.(m)
}

const cpuSeconds = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

// ---------------------------------------------------------------------------------------------------------------
// Verifiers

const verifyStat = (line: string, u: UserEntry): void => {
  const m = /^\+OK (\d+) (\d+)/.exec(line)
  check(m !== null, "bad-stat", () => `STAT: ${line}`)
  check(Number(m![1]) === u.count && Number(m![2]) === u.octets, "stat-mismatch", () => `STAT says ${m![1]} ${m![2]}, expected ${u.count} ${u.octets}`)
}

const verifyUidl = (lines: ReadonlyArray<string>, u: UserEntry, key: string): void => {
  check(lines.length === u.count, "uidl-count", () => `UIDL has ${lines.length} lines, expected ${u.count}`)
  const seen = new Set<string>()
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!
    const sp = l.indexOf(" ")
    const uid = l.slice(sp + 1)
    check(sp > 0 && l.slice(0, sp) === String(i + 1), "uidl-numbering", () => `UIDL line ${i + 1}: ${l}`)
    check(/^[\x21-\x7e]{1,70}$/.test(uid), "uidl-bad-uid", () => `UIDL line ${i + 1}: ${l}`)
    check(!seen.has(uid), "uidl-duplicate", () => `UIDL duplicate ${uid}`)
    seen.add(uid)
  }
  const joined = lines.join("\n")
  const before = uidlSeen.get(key)
  if (before === undefined) uidlSeen.set(key, joined)
  else check(before === joined, "uidl-unstable", () => "UIDL listing differs from an earlier session")
}

/** Verifies a LIST listing; returns the sizes by message number (index 0 = message 1). */
const verifyList = (lines: ReadonlyArray<string>, u: UserEntry): Array<number> => {
  check(lines.length === u.count, "list-count", () => `LIST has ${lines.length} lines, expected ${u.count}`)
  const sizes: Array<number> = []
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!
    const sp = l.indexOf(" ")
    check(sp > 0 && l.slice(0, sp) === String(i + 1) && /^\d+$/.test(l.slice(sp + 1)), "list-line", () => `LIST line ${i + 1}: ${l}`)
    sizes.push(Number(l.slice(sp + 1)))
  }
  const got = [...sizes].sort((a, b) => a - b)
  const want = u.messages.map((e) => e[2]).sort((a, b) => a - b)
  for (let i = 0; i < want.length; i++) {
    check(got[i] === want[i], "list-sizes", () => `LIST sizes differ from the wire sizes of the messages (sorted position ${i}: ${got[i]} vs ${want[i]})`)
  }
  return sizes
}

const keyOf = (t: Target, user: string): string => `${t.host}:${t.port}/${user}`

// ---------------------------------------------------------------------------------------------------------------
// Jobs

/** One short session: greeting, USER/PASS, STAT, UIDL, QUIT, server close. */
const shortSession = async (target: Target, user: string, timeoutMs: number, list: boolean): Promise<void> => {
  const u = userOf(user)
  const c = new Conn(target, timeoutMs)
  try {
    await c.login(user, u.password)
    verifyStat(await c.command("STAT", "stat"), u)
    if (list) verifyList(await c.lines("LIST", "list"), u)
    verifyUidl(await c.lines("UIDL", "uidl"), u, keyOf(target, user))
    await c.quit()
  } finally {
    c.destroy()
  }
}

const percentile = (sorted: ReadonlyArray<number>, q: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))]!

const runSessions = async (id: number, job: SessionsJob): Promise<SessionsResult> => {
  const failures = newFailures()
  const latencies: Array<number> = []
  const t0 = now()
  const stopAt = t0 + job.warmupMs + job.durationMs
  let started = 0
  let measuring = false
  let windowStart = 0
  let windowEnd = 0
  let cpuStart = 0
  let cpuEnd = 0
  const startTimer = setTimeout(() => {
    send({ type: "mark", id, name: "start" })
    cpuStart = cpuSeconds()
    windowStart = now()
    measuring = true
  }, job.warmupMs)
  const endTimer = setTimeout(() => {
    measuring = false
    windowEnd = now()
    cpuEnd = cpuSeconds()
    send({ type: "mark", id, name: "end" })
  }, job.warmupMs + job.durationMs)
  const slot = async (i: number): Promise<void> => {
    const mine = job.users.filter((_, k) => k % job.concurrency === i)
    let k = 0
    while (now() < stopAt && started < job.maxSessions) {
      started++
      const user = mine[k++ % mine.length]!
      const s = now()
      try {
        await shortSession(job.target, user, job.timeoutMs, false)
        if (measuring) latencies.push(now() - s)
      } catch (e) {
        record(failures, e)
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(job.concurrency, job.users.length) }, (_, i) => slot(i)))
  clearTimeout(startTimer)
  if (windowEnd === 0) {
    // stopped early (maxSessions): close the window now
    clearTimeout(endTimer)
    measuring = false
    windowEnd = now()
    cpuEnd = cpuSeconds()
    if (windowStart === 0) {
      windowStart = t0
      send({ type: "mark", id, name: "start" })
    }
    send({ type: "mark", id, name: "end" })
  }
  latencies.sort((a, b) => a - b)
  const seconds = (windowEnd - windowStart) / 1000
  return {
    kind: "sessions",
    sessions: latencies.length,
    perSecond: latencies.length / seconds,
    p50ms: percentile(latencies, 0.5),
    p99ms: percentile(latencies, 0.99),
    meanMs: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
    maxMs: latencies.length === 0 ? Number.NaN : latencies[latencies.length - 1]!,
    failures,
    clientCpuSeconds: cpuEnd - cpuStart,
    seconds
  }
}

const runPrime = async (job: PrimeJob): Promise<PrimeResult> => {
  const failures = newFailures()
  const t0 = now()
  const c0 = cpuSeconds()
  const queue = [...job.users]
  let done = 0
  const slot = async () => {
    for (let user = queue.shift(); user !== undefined; user = queue.shift()) {
      try {
        await shortSession(job.target, user, job.timeoutMs, job.list)
        done++
      } catch (e) {
        record(failures, e)
      }
    }
  }
  await Promise.all(Array.from({ length: job.concurrency }, slot))
  return { kind: "prime", sessions: done, failures, clientCpuSeconds: cpuSeconds() - c0, seconds: (now() - t0) / 1000 }
}

const runRetr = async (id: number, job: RetrJob): Promise<RetrResult> => {
  const failures = newFailures()
  send({ type: "mark", id, name: "start" })
  const c0 = cpuSeconds()
  const t0 = now()
  const stopAt = t0 + job.durationMs
  let messages = 0
  let octets = 0
  let passes = 0
  let fullPasses = 0
  const client = async (user: string) => {
    const u = userOf(user)
    const index = messagesOf(user)
    while (now() < stopAt && passes < job.maxPasses) {
      passes++
      const c = new Conn(job.target, job.timeoutMs)
      try {
        await c.login(user, u.password)
        const sizes = verifyList(await c.lines("LIST", "list"), u)
        const seen = new Set<string>()
        // One RETR is kept in flight ahead of the one being read and checked (RFC 2449 PIPELINING, which both
        // servers announce), so that the server has the next command while this client checks a message. Every
        // RETR sent is read, so QUIT's reply is never mistaken for a message.
        let next = 1
        const sendNext = () => {
          if (next <= sizes.length && now() < stopAt) c.send(`RETR ${next++}`)
        }
        sendNext()
        let i = 1
        for (; i < next; i++) {
          const status = await c.ok("retr")
          sendNext()
          const body = await c.body({ hash: true })
          const m = /^\+OK (\d+) octets/.exec(status)
          if (m !== null) check(Number(m[1]) === body.octets, "retr-status-size", () => `RETR ${i}: status says ${m[1]} octets, sent ${body.octets}`)
          check(body.unstuffedDotLines === 0, "not-dot-stuffed", () => `RETR ${i}: ${body.unstuffedDotLines} lines starting with '.' were not stuffed`)
          check(body.octets === sizes[i - 1], "retr-vs-list", () => `RETR ${i}: ${body.octets} octets, LIST said ${sizes[i - 1]}`)
          const mid = messageIdOf(body.head)
          const entry = mid === undefined ? undefined : index.get(mid)
          check(entry !== undefined, "retr-unknown-message", () => `RETR ${i}: no known Message-ID (${mid})`)
          check(!seen.has(mid!), "retr-duplicate", () => `RETR ${i}: ${mid} already retrieved in this session`)
          seen.add(mid!)
          check(body.octets === entry![2], "retr-size", () => `RETR ${i} (${mid}): ${body.octets} octets, expected ${entry![2]}`)
          check(body.sha256 === entry![3], "retr-checksum", () => `RETR ${i} (${mid}): SHA-256 differs from the generated message`)
          // counted once every check has passed: a message that fails one is a failure only
          messages++
          octets += body.octets
        }
        if (i > sizes.length) {
          check(seen.size === u.count, "retr-incomplete", () => `pass retrieved ${seen.size} of ${u.count} messages`)
          fullPasses++
        }
        await c.quit()
      } catch (e) {
        record(failures, e)
      } finally {
        c.destroy()
      }
    }
  }
  await Promise.all(job.users.map(client))
  const seconds = (now() - t0) / 1000
  const clientCpuSeconds = cpuSeconds() - c0
  send({ type: "mark", id, name: "end" })
  return { kind: "retr", messages, octets, passes, fullPasses, failures, clientCpuSeconds, seconds }
}

const releases = new Map<number, () => void>()

const runHold = async (id: number, job: HoldJob): Promise<HoldResult> => {
  const failures = newFailures()
  const c0 = cpuSeconds()
  const t0 = now()
  const stopAt = t0 + job.openTimeoutMs
  const held: Array<Conn> = []
  let next = 0
  // open sessions in steps; at each checkpoint report and wait until the parent has measured the server
  for (const target of job.checkpoints) {
    const opener = async () => {
      while (next < target && now() < stopAt) {
        const user = job.users[next++ % job.users.length]!
        const u = userOf(user)
        const c = new Conn(job.target, job.timeoutMs)
        try {
          await c.login(user, u.password)
          verifyStat(await c.command("STAT", "stat"), u)
          c.clearTimeout()
          held.push(c)
        } catch (e) {
          record(failures, e)
          c.destroy()
        }
      }
    }
    await Promise.all(Array.from({ length: job.openConcurrency }, opener))
    const released = new Promise<void>((resolve) => releases.set(id, resolve))
    send({ type: "mark", id, name: "held", data: { checkpoint: target, opened: held.length, openSeconds: (now() - t0) / 1000 } })
    await released
  }
  // every held session must still be alive: NOOP, then QUIT
  let closed = 0
  const queue = [...held]
  const closer = async () => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
      const conn = c
      const timer = setTimeout(() => conn.destroy(), job.timeoutMs)
      try {
        await conn.command("NOOP", "noop")
        await conn.quit()
        closed++
      } catch (e) {
        record(failures, e)
      } finally {
        clearTimeout(timer)
        conn.destroy()
      }
    }
  }
  await Promise.all(Array.from({ length: job.openConcurrency }, closer))
  return { kind: "hold", opened: held.length, closed, failures, clientCpuSeconds: cpuSeconds() - c0, seconds: (now() - t0) / 1000 }
}

const runBig = async (job: BigJob): Promise<BigResult> => {
  const failures = newFailures()
  const u = userOf(job.user)
  const c0 = cpuSeconds()
  const t0 = now()
  let loginMs = Number.NaN
  let listMs: number | undefined
  let uidlMs: number | undefined
  let quitMs = Number.NaN
  const c = new Conn(job.target, job.timeoutMs)
  try {
    await c.login(job.user, u.password)
    loginMs = now() - t0
    // The times are taken when a listing has arrived (its last octet, split into lines); it is verified after the
    // session, so that the client's checking of 100,000 lines is not counted as the server's time.
    const list = job.list ? await c.lines("LIST", "list") : undefined
    if (list !== undefined) listMs = now() - t0
    const uidl = job.uidl ? await c.lines("UIDL", "uidl") : undefined
    if (uidl !== undefined) uidlMs = now() - t0
    await c.quit()
    quitMs = now() - t0
    if (list !== undefined) verifyList(list, u)
    if (uidl !== undefined) verifyUidl(uidl, u, keyOf(job.target, job.user))
  } catch (e) {
    record(failures, e)
  } finally {
    c.destroy()
  }
  return { kind: "big", loginMs, listMs, uidlMs, quitMs, failures, clientCpuSeconds: cpuSeconds() - c0, seconds: (now() - t0) / 1000 }
}

/** Loads the generator's manifest (for running jobs in-process, as bench/selftest.ts does). */
export const loadManifest = (path: string): void => {
  manifest = JSON.parse(Fs.readFileSync(path, "utf8")) as Manifest
  byMessageId.clear()
  uidlSeen.clear()
}

/** Runs one job in this process (sessions, prime, retr, big; hold needs the parent's release). */
export const run = (id: number, job: Job): Promise<Result> => {
  switch (job.kind) {
    case "sessions":
      return runSessions(id, job)
    case "prime":
      return runPrime(job)
    case "retr":
      return runRetr(id, job)
    case "hold":
      return runHold(id, job)
    case "big":
      return runBig(job)
  }
}

if (process.send !== undefined && import.meta.url === `file://${process.argv[1]}`) {
  process.on("message", (m: ToWorker) => {
    if (m.type === "init") {
      manifest = JSON.parse(Fs.readFileSync(m.manifest, "utf8")) as Manifest
      send({ type: "ready" })
    } else if (m.type === "job") {
      run(m.id, m.job).then(
        (result) => send({ type: "result", id: m.id, result }),
        (e: unknown) => send({ type: "error", id: m.id, message: e instanceof Error ? e.stack ?? e.message : String(e) })
      )
    } else if (m.type === "release") {
      releases.get(m.id)?.()
      releases.delete(m.id)
    }
  })
  process.on("disconnect", () => process.exit(0))
}
