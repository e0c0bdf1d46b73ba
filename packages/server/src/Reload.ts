// SIGHUP: re-reads the settings (the config file; flags and environment stay those pop3d started with), the TLS
// certificate and key, and the users file, and puts what can change live in force for new connections and logins
// (open sessions keep what they started with). Every changed setting is logged; one that needs a restart is
// logged as such and keeps its running value until then. A reload that fails (an invalid setting, an unreadable
// certificate) logs why and changes nothing it could not check.
import { Effect, Logger, LogLevel, Queue, References } from "effect"
import type { Scope } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Tls from "node:tls"
import type { TlsMaterial } from "./Connection.ts"
import type { Current, Shape as Live } from "./LiveSettings.ts"
import * as Mechanisms from "./Mechanisms.ts"
import { increment, metrics } from "./Metrics.ts"
import type { Settings } from "./Settings.ts"

/**
 * The settings a reload puts in force (their readers look at the live settings for each new connection or login).
 * Any other setting, including ones this table does not know yet, needs a restart.
 */
export const liveSettings: ReadonlySet<string> = new Set([
  "tlsCert", "tlsKey", "tlsCertIsDefault", "usersFile", "unauthenticatedTimeout", "authenticatedTimeout",
  "maxCommandSize", "maxSaslResponse", "exactRfc822Size", "plaintext", "saslMechanisms", "ntlm", "gssapi",
  "maxAuthFailures", "maxConnections", "maxConnectionsPerAddress", "maxSessionsPerUser", "loginDelay",
  "loginDelayMax", "loginDelayDecay", "authCacheSize", "authCacheTtl", "logLevel", "protocolLog",
  "protocolLogMaxSize", "protocolLogKeep"
])

/** Settings fields that are not settings of their own (derived from others). */
const derived: ReadonlySet<string> = new Set(["tlsCertIsDefault", "configFile"])

/** The flag a settings field is given by (`maxCommandSize` → `max-command-size`). */
export const flagOf = (field: string): string =>
  field === "dataDir"
    ? "data"
    : field === "ntlm" || field === "gssapi"
    ? `${field}-*`
    : field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/** A settings value as the log shows it (maps as `k=v` lists). */
const show = (value: unknown): string =>
  typeof value === "string"
    ? value
    : JSON.stringify(value, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v)) ?? "undefined"

/** One changed setting. */
export interface Change {
  readonly field: string
  readonly flag: string
  readonly from: string
  readonly to: string
  /** Put in force by the reload (false: needs a restart). */
  readonly live: boolean
}

/** The settings that differ between `previous` and `next`. */
export const diff = (previous: Settings, next: Settings): ReadonlyArray<Change> => {
  const fields = new Set([...Object.keys(previous), ...Object.keys(next)])
  const out: Array<Change> = []
  for (const field of fields) {
    if (derived.has(field)) continue
    const from = show((previous as unknown as Record<string, unknown>)[field])
    const to = show((next as unknown as Record<string, unknown>)[field])
    if (from !== to) out.push({ field, flag: flagOf(field), from, to, live: liveSettings.has(field) })
  }
  return out
}

/** `next` with every setting that needs a restart kept at its running value. */
export const effective = (running: Settings, next: Settings): Settings => {
  const out: Record<string, unknown> = { ...next }
  for (const field of new Set([...Object.keys(running), ...Object.keys(next)])) {
    if (!liveSettings.has(field)) out[field] = (running as unknown as Record<string, unknown>)[field]
  }
  return out as unknown as Settings
}

/** What a certificate is, for the log: SHA-256 fingerprint, subject and expiry. */
export const describeCertificate = (cert: string): Record<string, string> => {
  try {
    const x = new Crypto.X509Certificate(cert)
    return { fingerprint: x.fingerprint256, subject: x.subject.replace(/\n/g, ", "), validTo: x.validTo }
  } catch (e) {
    return { certificate: `unparsable: ${(e as Error).message}` }
  }
}

/** A TLS listener whose certificate a reload replaces. */
export interface TlsListener {
  readonly name: string
  readonly setSecureContext: (material: TlsMaterial) => void
}

/** What `reload` needs. */
export interface Options {
  /** Reads and validates the settings again, from the same sources as at start. */
  readonly load: Effect.Effect<Settings, { readonly message: string }>
  readonly live: Live
  /** The implicit-TLS listeners (STLS reads the live certificate by itself). */
  readonly tlsListeners: () => ReadonlyArray<TlsListener>
}

type TlsOutcome = "unchanged" | "reloaded" | "kept" | "none"

/** Reads the certificate and key, checks that they work together, and hands them to the TLS listeners. */
const reloadTls = (options: Options, settings: Settings, running: TlsMaterial | undefined) =>
  Effect.gen(function*() {
    let material: TlsMaterial
    try {
      if (!Fs.existsSync(settings.tlsCert) && !Fs.existsSync(settings.tlsKey) && running === undefined) {
        return { tls: running, outcome: "none" as TlsOutcome }
      }
      material = { cert: Fs.readFileSync(settings.tlsCert, "utf8"), key: Fs.readFileSync(settings.tlsKey, "utf8") }
      Tls.createSecureContext({ cert: material.cert, key: material.key })
    } catch (e) {
      yield* Effect.logError("TLS certificate not reloaded, keeping the running one").pipe(Effect.annotateLogs({
        cert: settings.tlsCert,
        key: settings.tlsKey,
        error: (e as Error).message
      }))
      return { tls: running, outcome: "kept" as TlsOutcome }
    }
    if (running !== undefined && running.cert === material.cert && running.key === material.key) {
      return { tls: running, outcome: "unchanged" as TlsOutcome }
    }
    for (const listener of options.tlsListeners()) {
      try {
        listener.setSecureContext(material)
      } catch (e) {
        yield* Effect.logError("TLS certificate not reloaded, keeping the running one").pipe(Effect.annotateLogs({
          listener: listener.name,
          error: (e as Error).message
        }))
        return { tls: running, outcome: "kept" as TlsOutcome }
      }
    }
    yield* Effect.logInfo("TLS certificate reloaded").pipe(
      Effect.annotateLogs({ cert: settings.tlsCert, ...describeCertificate(material.cert) })
    )
    return { tls: material, outcome: "reloaded" as TlsOutcome }
  })

/** One reload: settings, certificate, users file, and every part registered with the live settings. */
export const reload = (options: Options): Effect.Effect<void> =>
  Effect.gen(function*() {
    yield* Effect.logInfo("reload requested (SIGHUP)")
    const running = options.live.now()
    const loaded = yield* Effect.result(options.load)
    if (loaded._tag === "Failure") {
      yield* increment(metrics.reloads.get("failed"))
      return yield* Effect.logError("reload failed, nothing changed").pipe(Effect.annotateLogs({ error: loaded.failure.message }))
    }
    const changes = diff(running.settings, loaded.success)
    for (const c of changes) {
      const line = Effect.annotateLogs({ setting: c.flag, from: c.from, to: c.to })
      yield* (c.live ? Effect.logInfo("setting changed") : Effect.logWarning("setting changed, needs restart")).pipe(line)
    }
    const settings = effective(running.settings, loaded.success)
    const tls = yield* reloadTls(options, settings, running.tls)
    const mechanismsChanged = changes.some((c) => c.live && ["saslMechanisms", "ntlm", "gssapi"].includes(c.field))
    const mechanisms = mechanismsChanged ? yield* Mechanisms.fromSettings(settings) : running.mechanisms
    yield* options.live.apply({ settings, mechanisms, tls: tls.tls } satisfies Current)
    yield* increment(metrics.reloads.get("ok"))
    yield* Effect.logInfo("reload done").pipe(Effect.annotateLogs({
      changed: changes.filter((c) => c.live).length,
      needsRestart: changes.filter((c) => !c.live).map((c) => c.flag).join(",") || "none",
      tls: tls.outcome
    }))
  }).pipe(Effect.catchCause((cause) => Effect.logError("reload failed").pipe(Effect.annotateLogs({ cause: String(cause) }))))

/**
 * Runs `reload` on every SIGHUP for the lifetime of the current scope (the default action, which ends the
 * process, is off meanwhile). Signals arriving during a reload are folded into one more reload.
 */
export const onSighup = (options: Options): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const signals = yield* Queue.sliding<void>(1)
    const handler = () => void Queue.offerUnsafe(signals, undefined)
    yield* Effect.acquireRelease(
      Effect.sync(() => void process.on("SIGHUP", handler)),
      () => Effect.sync(() => void process.off("SIGHUP", handler))
    )
    yield* Effect.forkScoped(Effect.forever(Queue.take(signals).pipe(Effect.andThen(reload(options)))))
  })

const levels = { debug: "Debug", info: "Info", warning: "Warn", error: "Error" } as const

/**
 * Runs `self` with the log level read from the live settings at each log call (so a reload changes it): the
 * loggers in place are wrapped in a filter, and the minimum level is opened to debug.
 */
export const withLiveLogLevel = (live: Live) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const loggers = yield* Logger.CurrentLoggers
    const filtered = new Set([...loggers].map((inner) =>
      Logger.make((options) => {
        if (LogLevel.isGreaterThanOrEqualTo(options.logLevel, levels[live.now().settings.logLevel])) {
          inner.log(options)
        }
      })
    ))
    return yield* self.pipe(
      Effect.provideService(Logger.CurrentLoggers, filtered),
      Effect.provideService(References.MinimumLogLevel, "Debug")
    )
  })
