// pop3d's metrics, on Effect's `Metric`: every series is a metric instance built once (one per label combination)
// and kept in a table, so the per-command path only looks one up and increments it. The values live in Effect's
// metric registry; `exposition` renders them for /metrics. Nothing here opens a socket or reads a session.
import { Context, Effect, Layer, Metric, Result, Stream } from "effect"
import { Mailbox } from "@pop3d/mailbox"
import * as Prometheus from "./Prometheus.ts"

/** The listener names the server uses (other names get their series on first use). */
export const listenerNames = ["pop3", "pop3s"] as const

/** How a session can end (the `end` field of the session-end log line). */
export const endReasons = ["quit", "client-closed", "timeout", "auth-failures", "write-stalled", "shutdown", "error"] as const

/** Login mechanisms: `USER` is USER/PASS, the rest are SASL mechanisms. */
export const mechanisms = ["USER", "PLAIN", "NTLM", "GSSAPI"] as const

/** How a login attempt ended: logged in, wrong credentials, refused by the per-user limit, or store unavailable. */
export const loginResults = ["ok", "failed", "in-use", "unavailable"] as const

/** A login attempt's result. */
export type LoginResult = typeof loginResults[number]

/** Command verbs; `UNKNOWN` counts unknown keywords and over-long lines. */
export const verbs = [
  "USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "NOOP", "QUIT",
  "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET", "UNKNOWN"
] as const

/** Connection refusals by the connection limits. */
export const refusalReasons = ["Connections", "ConnectionsFromAddress"] as const

/** Store operations whose failures are counted. */
export const storeOperations = ["open", "read", "update", "deliver", "create"] as const

/** MailboxError reasons. */
export const storeReasons = ["MessageGone", "Unavailable", "PartialUpdate", "NoSuchMailbox"] as const

/** Command latency buckets, in seconds. */
export const commandBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** Session duration buckets, in seconds. */
export const sessionBuckets = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600]

/** Series of one metric keyed by label values; each built once, on first use (or by `all` at start-up). */
class Family<M extends Metric.Metric<any, any>> {
  private readonly byKey = new Map<string, M>()
  private readonly names: ReadonlyArray<string>
  private readonly build: (attributes: Record<string, string>) => M
  constructor(names: ReadonlyArray<string>, build: (attributes: Record<string, string>) => M) {
    this.names = names
    this.build = build
  }
  get(...values: ReadonlyArray<string>): M {
    const key = values.length === 1 ? values[0]! : values.join("\u0000")
    let m = this.byKey.get(key)
    if (m === undefined) {
      const attributes: Record<string, string> = {}
      this.names.forEach((n, i) => (attributes[n] = values[i] ?? ""))
      m = this.build(attributes)
      this.byKey.set(key, m)
    }
    return m
  }
  /** Every series built so far. */
  all(): Iterable<M> {
    return this.byKey.values()
  }
}

const counter = (name: string, description: string, labels: ReadonlyArray<string>) =>
  new Family(labels, (attributes) => Metric.counter(name, { description, attributes, incremental: true }))

const gauge = (name: string, description: string, labels: ReadonlyArray<string>) =>
  new Family(labels, (attributes) => Metric.gauge(name, { description, attributes }))

const histogram = (name: string, description: string, labels: ReadonlyArray<string>, boundaries: ReadonlyArray<number>) =>
  new Family(labels, (attributes) => Metric.histogram(name, { description, attributes, boundaries }))

/** Every pop3d metric. */
export const metrics = {
  connectionsOpen: gauge("pop3d_connections_open", "Connections being served now, by listener", ["listener"]),
  connections: counter("pop3d_connections_total", "Connections served since start (greeted), by listener", ["listener"]),
  connectionsClosed: counter(
    "pop3d_connections_closed_total",
    "Connections ended, by listener and how they ended (the session-end log line's end field)",
    ["listener", "reason"]
  ),
  connectionsRefused: counter(
    "pop3d_connections_refused_total",
    "Connections refused by max-connections or max-connections-per-address, by listener and limit",
    ["listener", "reason"]
  ),
  logins: counter(
    "pop3d_logins_total",
    "Login attempts by mechanism (USER for USER/PASS) and result (ok, failed, in-use, unavailable)",
    ["mechanism", "result"]
  ),
  commands: counter("pop3d_commands_total", "Commands by verb and result (ok: +OK or +, err: -ERR)", ["verb", "result"]),
  commandSeconds: histogram(
    "pop3d_command_duration_seconds",
    "Time from reading a command to having written its reply (RETR/TOP: the whole message), by verb",
    ["verb"],
    commandBuckets
  ),
  sessionSeconds: histogram(
    "pop3d_session_duration_seconds",
    "Connection lifetime from accept to close, by listener",
    ["listener"],
    sessionBuckets
  ),
  sentBytes: counter("pop3d_sent_bytes_total", "Octets sent to clients, counted when each connection ends, by listener", [
    "listener"
  ]),
  timeouts: counter(
    "pop3d_timeouts_total",
    "Connections closed for inactivity, by state (authorization: before login, transaction: after)",
    ["state"]
  ),
  throttledLogins: counter(
    "pop3d_throttled_logins_total",
    "Login attempts delayed by the failed-login throttle (login-delay)",
    []
  ),
  storeErrors: counter(
    "pop3d_store_errors_total",
    "Failed mailbox store operations, by operation and MailboxError reason",
    ["operation", "reason"]
  ),
  protocolLogDropped: counter(
    "pop3d_protocol_log_dropped_lines_total",
    "Protocol log lines dropped because the buffer was full or the file could not be written",
    []
  ),
  reloads: counter("pop3d_reloads_total", "SIGHUP reloads, by result (ok, failed)", ["result"])
} as const

// Build every series whose labels are known, so a scrape shows them at 0 before the first event.
for (const l of listenerNames) {
  metrics.connectionsOpen.get(l)
  metrics.connections.get(l)
  metrics.sentBytes.get(l)
  metrics.sessionSeconds.get(l)
  for (const r of endReasons) metrics.connectionsClosed.get(l, r)
  for (const r of refusalReasons) metrics.connectionsRefused.get(l, r)
}
for (const m of mechanisms) for (const r of loginResults) metrics.logins.get(m, r)
for (const v of verbs) {
  metrics.commands.get(v, "ok")
  metrics.commands.get(v, "err")
  metrics.commandSeconds.get(v)
}
for (const s of ["authorization", "transaction"]) metrics.timeouts.get(s)
metrics.throttledLogins.get()
for (const o of storeOperations) for (const r of storeReasons) metrics.storeErrors.get(o, r)
metrics.protocolLogDropped.get()
metrics.reloads.get("ok")
metrics.reloads.get("failed")

/** Puts every pre-built series into the registry of the current context, so it is exported at 0. */
export const register: Effect.Effect<void> = Effect.contextWith((context: Context.Context<never>) =>
  Effect.sync(() => {
    for (const family of Object.values(metrics)) {
      for (const m of (family as Family<Metric.Metric<any, any>>).all()) m.valueUnsafe(context)
    }
  })
)

/** The exposition text of every metric in the current context's registry. */
export const exposition: Effect.Effect<string> = Effect.map(Metric.snapshot, Prometheus.render)

/** Adds `n` to a series, in the given context (the hot path: no Effect allocated). */
export const add = (m: Metric.Metric<number, unknown>, n: number, context: Context.Context<never>): void =>
  m.updateUnsafe(n, context)

/** Counts one event on a series, as an Effect. */
export const increment = (m: Metric.Metric<number, unknown>): Effect.Effect<void> => Metric.update(m, 1)

/** Counts a failed store operation. */
const storeError = (operation: typeof storeOperations[number]) => (e: Mailbox.MailboxError) =>
  increment(metrics.storeErrors.get(operation, e.reason))

/** The store with its failures counted (`pop3d_store_errors_total`); behaviour unchanged. */
export const instrumentStore = <E, R>(store: Layer.Layer<Mailbox.Mailbox, E, R>): Layer.Layer<Mailbox.Mailbox, E, R> =>
  Layer.effect(Mailbox.Mailbox)(Effect.gen(function*() {
    const inner = yield* Mailbox.Mailbox
    const context = yield* Effect.context<never>()
    /** Counts a failed read on the fast path (no Effect allocated). */
    const countNow = <A>(result: Result.Result<A, Mailbox.MailboxError>): Result.Result<A, Mailbox.MailboxError> => {
      if (Result.isFailure(result)) add(metrics.storeErrors.get("read", result.failure.reason), 1, context)
      return result
    }
    const instrumentView = (view: Mailbox.MailboxView): Mailbox.MailboxView =>
      Object.assign(Object.create(view) as Mailbox.MailboxView, {
        read: (index: number) => view.read(index).pipe(Stream.tapError(storeError("read"))),
        openMessage: (index: number) =>
          view.openMessage(index).pipe(
            Effect.tapError(storeError("read")),
            Effect.map((reader): Mailbox.MessageReader => ({
              read: (buffer) => reader.read(buffer).pipe(Effect.tapError(storeError("read")))
            }))
          ),
        openMessageNow: (index: number) => {
          const opened = view.openMessageNow(index)
          if (opened === undefined) return undefined
          if (Result.isFailure(opened)) return countNow(opened)
          const file = opened.success
          return Result.succeed<Mailbox.MessageFile>({ readNow: (buffer) => countNow(file.readNow(buffer)), close: file.close })
        },
        commitUpdate: (indices: ReadonlyArray<number>) =>
          view.commitUpdate(indices).pipe(Effect.tapError(storeError("update"))),
        // The UID list an open left to write behind its answer: a failure counts as the open's.
        uidsStored: () => view.uidsStored?.()?.pipe(Effect.tapError(storeError("open")))
      })
    return {
      ...inner,
      open: (user: string) => inner.open(user).pipe(Effect.tapError(storeError("open")), Effect.map(instrumentView)),
      deliver: (user: string, message: Uint8Array) =>
        inner.deliver(user, message).pipe(Effect.tapError(storeError("deliver"))),
      create: (user: string) => inner.create(user).pipe(Effect.tapError(storeError("create")))
    }
  })).pipe(Layer.provide(store))
