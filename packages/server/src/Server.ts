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
  implementation
})

/** A listener that is up: its address, and the effect that serves it until interrupted. */
export interface Listener {
  readonly name: string
  readonly address: string
  readonly serve: Effect.Effect<never, SocketServer.SocketServerError, Session.Services>
}

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
        yield* Effect.logWarning("connection refused").pipe(
          Effect.annotateLogs({ listener: name, peer, reason: refused.value.reason })
        )
        const writer = yield* socket.writer
        yield* writer.write(Buffer.from(Reply.err(refused.value.message, Limits.responseCode(refused.value)), "latin1"))
      }
      return
    }
    yield* Connection.serve(socket, {
      address,
      env,
      secure,
      tls: tls === undefined ? undefined : () => tls,
      maxCommandSize: settings.maxCommandSize,
      maxSaslResponse: settings.maxSaslResponse,
      unauthenticatedTimeout: settings.unauthenticatedTimeout,
      authenticatedTimeout: settings.authenticatedTimeout,
      peer,
      listener: name
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
      const server = yield* NodeSocketServer.make({ host: settings.listen, port: settings.port, noDelay: true })
      const env = sessionEnv(settings, mechanisms, tls !== undefined)
      listeners.push({
        name: "pop3",
        address: describe(server.address),
        serve: server.run(handler(settings, env, false, tls, "pop3"))
      })
    }
    if (settings.tlsPort > 0 && tls !== undefined) {
      const server = yield* NodeSocketServer.makeTls({
        host: settings.listen,
        port: settings.tlsPort,
        noDelay: true,
        key: tls.key,
        cert: tls.cert,
        minVersion: "TLSv1.2"
      })
      const env = sessionEnv(settings, mechanisms, false)
      listeners.push({
        name: "pop3s",
        address: describe(server.address),
        serve: server.run(handler(settings, env, true, undefined, "pop3s"))
      })
    }
    return listeners
  })

/** Serves every listener until interrupted. */
export const serveAll = (listeners: ReadonlyArray<Listener>) =>
  Effect.all(listeners.map((l) => l.serve), { concurrency: "unbounded", discard: true })
