// An in-memory Socket for connection tests: the test pushes client bytes in and reads the server's output back as
// CRLF lines; `closed` completes when the server releases the writer (ends the connection).
import { Deferred, Effect, Queue } from "effect"
import * as Socket from "effect/socket/Socket"

const encoder = new TextEncoder()
const decoder = new TextDecoder("latin1")

/** A fake socket and the client's side of it. */
export const make = Effect.gen(function*() {
  const inbound = yield* Queue.unbounded<Uint8Array, Socket.SocketError>()
  const outbound = yield* Queue.unbounded<string>()
  const closed = yield* Deferred.make<void>()
  let partial = ""
  // A client that stopped reading: writes never complete.
  let stalled = false
  const push = (chunk: Uint8Array | string) =>
    Effect.suspend(() => {
      partial += typeof chunk === "string" ? chunk : decoder.decode(chunk)
      const lines = partial.split("\r\n")
      partial = lines.pop()!
      return Queue.offerAll(outbound, lines)
    }).pipe(Effect.asVoid)
  const socket = Socket.make({
    reader: Effect.succeed<Socket.Reader>({
      pull: Queue.take(inbound).pipe(Effect.map((c) => [c] as const)),
      upgrade: () =>
        Effect.fail(new Socket.SocketError({ reason: new Socket.SocketUpgradeError({ cause: new Error("fake") }) }))
    }),
    writer: Effect.acquireRelease(
      Effect.succeed<Socket.Writer>({
        write: (c) => (Socket.isCloseEvent(c) ? Effect.void : stalled ? Effect.never : push(c)),
        writeAll: (cs) => (stalled ? Effect.never : Effect.forEach(cs, push, { discard: true }))
      }),
      () => Deferred.succeed(closed, undefined)
    )
  })
  return {
    socket,
    /** Sends one line with CRLF. */
    send: (line: string) => Queue.offer(inbound, encoder.encode(line + "\r\n")),
    /** Sends raw bytes (several lines in one write, partial lines). */
    sendRaw: (text: string) => Queue.offer(inbound, Buffer.from(text, "latin1")),
    /** The client stops reading: every later write waits forever. */
    stall: Effect.sync(() => {
      stalled = true
    }),
    /** The client hangs up. */
    hangup: Queue.fail(inbound, new Socket.SocketError({ reason: new Socket.SocketCloseError({ code: 1000 }) })),
    /** The next line the server wrote (without CRLF). */
    next: Queue.take(outbound),
    /** The lines of a multi-line reply after its status line, up to and without the terminating ".". */
    body: Effect.gen(function*() {
      const lines: Array<string> = []
      for (;;) {
        const line = yield* Queue.take(outbound)
        if (line === ".") return lines
        lines.push(line)
      }
    }),
    /** Lines written so far and not yet taken. */
    pending: Queue.size(outbound),
    closed
  }
})
