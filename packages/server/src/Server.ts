// The listeners: plain POP3 with STLS and implicit TLS, each accepted socket served by Connection in its own fiber
// owned by the listener's scope. Closing the scope (SIGTERM) interrupts every connection: each sends its closing
// notice and none runs UPDATE. It builds no store and no directory: those come in as services.
import { Cause, Effect, Exit, Option } from "effect"
import { Reply } from "@pop3d/protocol"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import type * as Socket from "effect/socket/Socket"
import type * as SocketServer from "effect/socket/SocketServer"
import * as Fs from "node:fs"
import type { Sasl } from "@pop3d/auth"
import * as Connection from "./Connection.ts"
import * as Limits from "./Limits.ts"
import * as LiveSettings from "./LiveSettings.ts"
import { increment, metrics } from "./Metrics.ts"
import * as Observer from "./Observer.ts"
import * as Retention from "./Retention.ts"
import * as TlsServer from "./TlsServer.ts"
import type * as Session from "./Session.ts"
import type { Settings } from "./Settings.ts"

/** The implementation name in CAPA. */
export const implementation = "pop3d"

/** Reads the certificate and key named in the settings. */
export const readTls = (settings: Settings): Connection.TlsMaterial => ({
  cert: Fs.readFileSync(settings.tlsCert, "utf8"),
  key: Fs.readFileSync(settings.tlsKey, "utf8")
})

/** The session environment the settings describe. */
export const sessionEnv = (
  settings: Settings,
  mechanisms: ReadonlyArray<Sasl.SaslMechanism>,
  tlsAvailable: boolean
): Session.Env => ({
  exactRfc822Size: settings.exactRfc822Size,
  plaintext: settings.plaintext,
  maxAuthFailures: settings.maxAuthFailures,
  maxCommandSize: settings.maxCommandSize,
  tlsAvailable,
  mechanisms,
  implementation,
  expire: Retention.expireCapability({ days: settings.retentionDays, retrievedDays: settings.retentionRetrievedDays }),
  loginInterval: settings.loginInterval
})

/**
 * Socket write buffer before `write` asks the connection to wait for drain: one flush of queued replies (64 KiB), so
 * that a RETR's reply is written without a round trip through the event loop.
 */
const socketHighWaterMark = 64 * 1024

/** A listener that is up: its address, and the effect that serves it until interrupted. */
export interface Listener {
  readonly name: string
  readonly address: string
  readonly serve: Effect.Effect<never, SocketServer.SocketServerError, Session.Services>
  /** Implicit TLS: gives new handshakes another certificate (a reload); throws if it is unusable. */
  readonly setSecureContext?: ((material: Connection.TlsMaterial) => void) | undefined
}

/**
 * What a new connection runs with: the live settings when the server has them (so a reload applies to the
 * connections that start after it), else the ones the listener was opened with.
 */
const connectionConfig = (
  settings: Settings,
  env: Session.Env,
  secure: boolean,
  tls: Connection.TlsMaterial | undefined
) =>
  Effect.map(Effect.serviceOption(LiveSettings.LiveSettings), (live) => {
    if (Option.isNone(live)) return { settings, env, tls: tls === undefined ? undefined : () => tls }
    const now = live.value.now()
    return {
      settings: now.settings,
      env: sessionEnv(now.settings, now.mechanisms, !secure && now.tls !== undefined),
      // Read at the STLS upgrade, so a certificate reloaded meanwhile is the one used.
      tls: secure || now.tls === undefined ? undefined : () => live.value.now().tls ?? now.tls!
    }
  })

const describe = (address: unknown): string => {
  const a = address as { _tag?: string; hostname?: string; port?: number }
  return a.hostname !== undefined ? `${a.hostname.includes(":") ? `[${a.hostname}]` : a.hostname}:${a.port}` : String(address)
}

const handler = (settings: Settings, env: Session.Env, secure: boolean, tls: Connection.TlsMaterial | undefined, name: string) =>
(socket: Socket.Socket) =>
  Effect.gen(function*() {
    const raw = yield* Effect.serviceOption(NodeSocket.NetSocket)
    const address = Option.match(raw, { onNone: () => "unknown", onSome: (s) => s.remoteAddress ?? "unknown" })
    const peer = Option.match(raw, { onNone: () => "unknown", onSome: (s) => `${address}:${s.remotePort ?? "?"}` })
    const limits = yield* Limits.Limits
    const slot = yield* Effect.exit(limits.connection(address))
    if (Exit.isFailure(slot)) {
      const refused = Cause.findErrorOption(slot.cause)
      if (Option.isSome(refused)) {
        yield* increment(metrics.connectionsRefused.get(name, refused.value.reason))
        yield* Effect.logWarning("connection refused").pipe(
          Effect.annotateLogs({ listener: name, peer, reason: refused.value.reason })
        )
        // The socket opens with its reader; until then a write would wait forever.
        yield* socket.reader
        // The reader opens the socket for writing too (the adapter's writer waits for it).
        yield* socket.reader
        const writer = yield* socket.writer
        yield* writer.write(Buffer.from(Reply.err(refused.value.message, Limits.responseCode(refused.value)), "latin1"))
      }
      return
    }
    const config = yield* connectionConfig(settings, env, secure, tls)
    yield* Connection.serve(socket, {
      address,
      env: config.env,
      secure,
      tls: config.tls,
      maxCommandSize: config.settings.maxCommandSize,
      maxSaslResponse: config.settings.maxSaslResponse,
      unauthenticatedTimeout: config.settings.unauthenticatedTimeout,
      authenticatedTimeout: config.settings.authenticatedTimeout,
      peer,
      listener: name,
      observer: yield* Observer.open(name, peer),
      // The socket writes go to until STLS: once it holds nothing, the connection's written buffers are reused.
      drained: Option.match(raw, { onNone: () => undefined, onSome: (s) => () => s.writableLength === 0 })
    })
  }).pipe(Effect.scoped, Effect.ignore)

/** Opens the configured listeners (port 0 = off) in the current scope. */
export const listen = (settings: Settings, mechanisms: ReadonlyArray<Sasl.SaslMechanism>) =>
  Effect.gen(function*() {
    const wantTls = settings.tlsPort > 0 || settings.port > 0
    const tls = wantTls && Fs.existsSync(settings.tlsCert) && Fs.existsSync(settings.tlsKey) ? readTls(settings) : undefined
    if (wantTls && tls === undefined) {
      yield* Effect.logWarning("no TLS certificate: STLS and the implicit-TLS listener are off", {
        cert: settings.tlsCert,
        key: settings.tlsKey
      })
    }
    const listeners: Array<Listener> = []
    if (settings.port > 0) {
      const server = yield* NodeSocketServer.make({
        host: settings.listen,
        port: settings.port,
        noDelay: true,
        highWaterMark: socketHighWaterMark
      })
      const env = sessionEnv(settings, mechanisms, tls !== undefined)
      listeners.push({
        name: "pop3",
        address: describe(server.address),
        serve: server.run(handler(settings, env, false, tls, "pop3"))
      })
    }
    if (settings.tlsPort > 0 && tls !== undefined) {
      const server = yield* TlsServer.make({
        host: settings.listen,
        port: settings.tlsPort,
        noDelay: true,
        highWaterMark: socketHighWaterMark,
        key: tls.key,
        cert: tls.cert,
        minVersion: "TLSv1.2"
      })
      const env = sessionEnv(settings, mechanisms, false)
      listeners.push({
        name: "pop3s",
        address: describe(server.address),
        serve: server.run(handler(settings, env, true, undefined, "pop3s")),
        setSecureContext: server.setSecureContext
      })
    }
    return listeners
  })

/** Serves every listener until interrupted. */
export const serveAll = (listeners: ReadonlyArray<Listener>) =>
  Effect.all(listeners.map((l) => l.serve), { concurrency: "unbounded", discard: true })
