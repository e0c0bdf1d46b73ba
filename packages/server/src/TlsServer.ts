// The implicit-TLS listener: a Node `tls.Server` served as Effect's `SocketServer` (as NodeSocketServer.makeTls
// does), keeping hold of the server so a reload can give it a new certificate (`setSecureContext`): handshakes
// after the call use the new one, connections already open keep theirs. It knows nothing about POP3.
import { Context, Deferred, Effect, Exit, Fiber, Scope } from "effect"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NetAddress from "effect/net/NetAddress"
import * as Socket from "effect/socket/Socket"
import * as SocketServer from "effect/socket/SocketServer"
import type * as Net from "node:net"
import * as Tls from "node:tls"

type SocketServerShape = SocketServer.SocketServer["Service"]

/** A TLS socket server whose certificate can be replaced while it runs. */
export interface TlsServer extends SocketServerShape {
  /** New handshakes use this certificate and key from now on. Throws when they are unusable (nothing changes). */
  readonly setSecureContext: (options: { readonly key: string; readonly cert: string }) => void
}

const openError = (cause: unknown) =>
  new SocketServer.SocketServerError({ reason: new SocketServer.SocketServerOpenError({ cause }) })

/** Listens with `options` in the current scope; connections reach `run`'s handler once their handshake is done. */
export const make = (
  options: Tls.TlsOptions & Net.ListenOptions
): Effect.Effect<TlsServer, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const failed = Deferred.makeUnsafe<never, Error>()
    const pending = new Map<Net.Socket, () => void>()
    const queueUntilRun = (conn: Net.Socket) => {
      const remove = () => {
        pending.delete(conn)
        conn.off("close", remove)
        conn.off("error", remove)
      }
      pending.set(conn, remove)
      conn.on("close", remove)
      conn.on("error", remove)
    }
    let onConnection = queueUntilRun
    const server = Tls.createServer(options)
    server.on("tlsClientError", (_error, socket) => socket.destroy())
    server.on("secureConnection", (conn: Net.Socket) => {
      conn.pause() // nothing is read before the handler takes the socket's reader
      onConnection(conn)
    })
    server.on("error", (err) => Deferred.doneUnsafe(failed, Exit.fail(err)))
    yield* Effect.addFinalizer(() =>
      Effect.callback<void>((resume) => {
        pending.forEach((remove, conn) => {
          remove()
          conn.destroy()
        })
        server.close(() => resume(Effect.void))
      })
    )
    yield* Effect.callback<void>((resume) => {
      server.listen(options, () => resume(Effect.void))
    }).pipe(Effect.raceFirst(Effect.mapError(Deferred.await(failed), openError)))

    const run = <R, E, _>(handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>) =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const services = Context.omit(Scope.Scope)(yield* Effect.context<R>()) as Context.Context<R>
        const track = Fiber.runIn(scope)
        const previous = onConnection
        onConnection = (conn: Net.Socket) => {
          let error: Error | undefined
          conn.on("error", (err) => {
            error = err
          })
          const socket = NodeSocket.fromDuplex(
            Effect.acquireRelease(
              Effect.suspend((): Effect.Effect<Net.Socket, Socket.SocketError> =>
                error !== undefined
                  ? Effect.fail(new Socket.SocketError({ reason: new Socket.SocketOpenError({ kind: "Unknown", cause: error }) }))
                  : conn.closed
                  ? Effect.fail(new Socket.SocketError({ reason: new Socket.SocketCloseError({ code: 1000 }) }))
                  : Effect.succeed(conn)
              ),
              (conn) => Effect.sync(() => void (conn.closed === false && conn.destroySoon()))
            ),
            { tlsServer: true }
          )
          track(
            Effect.runForkWith(Context.add(services, NodeSocket.NetSocket, conn))(
              socket.pipe(
                Effect.flatMap(handler),
                Effect.ignoreCause({ log: "Unhandled", message: "Unhandled error in TlsServer" })
              )
            )
          )
        }
        pending.forEach((remove, conn) => {
          remove()
          onConnection(conn)
        })
        return yield* Effect.callback<never>(() =>
          Effect.suspend(() => {
            onConnection = previous
            return Scope.close(scope, Exit.void)
          })
        )
      })

    const bound = server.address() as Net.AddressInfo
    const address = yield* Effect.fromResult(NetAddress.inetAddressFromIpString(bound.address, bound.port)).pipe(
      Effect.mapError(openError)
    )
    return {
      ...SocketServer.SocketServer.of({ address, run }),
      setSecureContext: (material) => {
        // Built first, so a bad key or a key that does not match the certificate throws before anything changes.
        Tls.createSecureContext({ ...options, key: material.key, cert: material.cert })
        server.setSecureContext({ ...options, key: material.key, cert: material.cert })
      }
    } satisfies TlsServer
  })
