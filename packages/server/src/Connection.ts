// One POP3 connection: socket bytes → LineFramer (a Stream) → Session.step → replies → socket. Owns the
// inactivity timers (a timeout on every read that sends the closing notice), STLS and write back-pressure.
// It never decides protocol behaviour itself: that is Session's; it never runs UPDATE on a timeout or shutdown.
import { Cause, Effect, Exit, Pull, Redacted, Schema, Stream } from "effect"
import type * as Socket from "effect/socket/Socket"
import type { Scope } from "effect"
import { LineFramer, Reply } from "@pop3d/protocol"
import type { ConnectionObserver } from "./Observer.ts"
import * as Session from "./Session.ts"
import * as Texts from "./Texts.ts"

/** TLS material for STLS upgrades (read per upgrade, so a reload takes effect for new sessions). */
export interface TlsMaterial {
  readonly key: string
  readonly cert: string
}

/** What one connection needs from its listener. */
export interface ConnectionOptions {
  readonly env: Session.Env
  /** The listener is implicit TLS: the socket is already secure. */
  readonly secure: boolean
  /** Certificate and key for STLS, when the plain listener offers it. */
  readonly tls: (() => TlsMaterial) | undefined
  readonly maxCommandSize: number
  readonly maxSaslResponse: number
  readonly unauthenticatedTimeout: number
  readonly authenticatedTimeout: number
  /** The client's address and port, for logs. */
  readonly peer: string
  /** The client's address alone, for throttling. */
  readonly address: string
  readonly listener: string
  /** Metrics and protocol log for this connection (none in unit tests). */
  readonly observer?: ConnectionObserver | undefined
}

/** The client sent nothing for the whole inactivity period. */
export class IdleTimeout extends Schema.TaggedError<IdleTimeout>()("IdleTimeout", {}) {}

/** The client stopped reading: a write made no progress for the whole inactivity period. */
export class WriteStalled extends Schema.TaggedError<WriteStalled>()("WriteStalled", {}) {}

/** Output is flushed to the socket once this many octets are queued, even mid-batch (bounded memory). */
const flushThreshold = 64 * 1024

/** How long the closing notice may take to write before the socket is closed anyway. */
const noticeTimeout = "2 seconds"

/** A framed line tagged with the TLS generation it arrived in (plaintext behind STLS is dropped). */
interface Framed {
  readonly event: LineFramer.FrameEvent
  readonly generation: number
}

/** How a session ended, for the log line. */
type EndReason = "quit" | "client-closed" | "timeout" | "auth-failures" | "write-stalled" | "shutdown" | "error"

/** Serves one accepted socket until the session ends; never fails (errors end this connection only). */
export const serve = (
  socket: Socket.Socket,
  options: ConnectionOptions
): Effect.Effect<void, never, Exclude<Session.Services, Scope.Scope>> =>
  Effect.gen(function*() {
    const started = Date.now()
    const reader = yield* socket.reader
    const writer = yield* socket.writer
    const framer = LineFramer.make(options.maxCommandSize)
    let state: Session.State = Session.initial(options.secure, options.address)
    let generation = 0
    let commands = 0
    let bytesOut = 0
    let reason: EndReason = "client-closed"
    let user = "-"
    let queued: Array<string | Uint8Array> = []
    let queuedBytes = 0

    const idleSeconds = () =>
      state._tag === "Transaction" ? options.authenticatedTimeout : options.unauthenticatedTimeout

    const guardWrite = <A>(write: Effect.Effect<A, Socket.SocketError>) =>
      write.pipe(
        Effect.timeoutOrElse({ duration: `${idleSeconds()} seconds`, orElse: () => Effect.fail(new WriteStalled()) })
      )

    const flush = Effect.suspend(() => {
      if (queued.length === 0) return Effect.void
      const batch = queued as [string | Uint8Array, ...Array<string | Uint8Array>]
      bytesOut += queuedBytes
      queued = []
      queuedBytes = 0
      return guardWrite(writer.writeAll(batch))
    })

    const enqueue = (text: string) =>
      Effect.suspend(() => {
        queued.push(Buffer.from(text, "latin1"))
        queuedBytes += text.length
        return queuedBytes >= flushThreshold ? flush : Effect.void
      })

    // The read side: every pull first flushes what the previous lines produced, then waits for the client for at
    // most the current inactivity period. The timeout is re-read on every pull, so login switches it at once.
    const pullFramed = Effect.suspend(function loop(): Effect.Effect<
      readonly [Framed, ...Array<Framed>],
      IdleTimeout | WriteStalled | Socket.SocketError | Cause.Done
    > {
      return flush.pipe(
        Effect.andThen(reader.pull.pipe(
          Effect.timeoutOrElse({ duration: `${idleSeconds()} seconds`, orElse: () => Effect.fail(new IdleTimeout()) })
        )),
        Effect.catchTag("SocketError", (e): Effect.Effect<never, Cause.Done | Socket.SocketError> =>
          e.reason._tag === "SocketCloseError" ? Cause.done() : Effect.fail(e)),
        Effect.flatMap((chunks: ReadonlyArray<Uint8Array | string>) => {
          const out: Array<Framed> = []
          for (const chunk of chunks) {
            if (typeof chunk === "string") continue
            for (const event of framer.push(chunk)) out.push({ event, generation })
          }
          return out.length > 0 ? Effect.succeed(out as [Framed, ...Array<Framed>]) : loop()
        })
      )
    })

    /** The client's lines, framed: the Stream the session consumes. */
    const lines: Stream.Stream<Framed, IdleTimeout | WriteStalled | Socket.SocketError> = Stream.fromPull(
      Effect.succeed(pullFramed)
    )

    const sendMessage = (t: Session.Transaction, out: Extract<Session.Output, { _tag: "Message" }>) =>
      Effect.gen(function*() {
        yield* flush
        // Open the body and read its first chunk before answering, so a message removed meanwhile gets -ERR.
        const pull = yield* Stream.toPull(out.body)
        const first = yield* Effect.exit(pull)
        if (Exit.isFailure(first)) {
          const err = Cause.findErrorOption(first.cause)
          if (err._tag === "Some" && !Cause.isDone(err.value) && err.value.reason === "MessageGone") {
            return yield* enqueue(Session.messageGone(t, out.index))
          }
          if (Pull.isDoneCause(first.cause)) {
            return yield* enqueue(out.status + ".\r\n")
          }
          return yield* Effect.failCause(first.cause as Cause.Cause<never>)
        }
        yield* guardWrite(writer.writeAll([Buffer.from(out.status, "latin1"), ...first.value]))
        bytesOut += out.status.length + sum(first.value)
        for (;;) {
          const next = yield* Effect.exit(pull)
          if (Exit.isFailure(next)) {
            if (Pull.isDoneCause(next.cause)) return
            return yield* Effect.failCause(next.cause as Cause.Cause<never>)
          }
          yield* guardWrite(writer.writeAll(next.value))
          bytesOut += sum(next.value)
        }
      }).pipe(Effect.scoped)

    const startTls = Effect.gen(function*() {
      yield* flush
      generation++
      framer.reset()
      const material = options.tls!()
      yield* reader.upgrade({ key: Redacted.make(material.key), cert: material.cert })
      // RFC 2595 §4: everything learned before TLS is forgotten (a USER given in clear does not carry over).
      if (state._tag === "Authorization") state = { ...state, secure: true, user: undefined, sasl: undefined }
    })

    const handle = (framed: Framed) =>
      Effect.gen(function*() {
        if (framed.generation !== generation) return true // plaintext pipelined behind STLS
        commands++
        options.observer?.received(framed.event, state)
        const input: Session.Input = framed.event._tag === "TooLong"
          ? { _tag: "TooLong" }
          : Session.decodeLine(state, framed.event.line)
        const result = yield* Session.step(options.env, state, input)
        const before = state
        state = result.state
        if (state._tag === "Transaction") user = state.user
        if (state._tag === "Authorization" && state.sasl !== undefined) framer.setMaxLength(options.maxSaslResponse)
        else framer.setMaxLength(options.maxCommandSize)
        for (const out of result.out) {
          if (out._tag === "Text") yield* enqueue(out.text)
          else yield* sendMessage(before as Session.Transaction, out)
        }
        options.observer?.stepped(input, before, result)
        if (result.action === "starttls") yield* startTls
        if (result.action === "close") {
          reason = state._tag === "Closed" && before._tag === "Authorization" && input._tag === "Command" &&
              input.command._tag !== "QUIT"
            ? "auth-failures"
            : "quit"
          yield* flush
          return false
        }
        return true
      })

    const notice = (text: string, code?: Reply.ResponseCode) =>
      Effect.suspend(() => {
        queued.push(Buffer.from(Reply.err(text, code), "latin1"))
        options.observer?.replied(Reply.err(text, code))
        return flush
      }).pipe(Effect.timeout(noticeTimeout), Effect.ignore)

    yield* enqueue(Session.greeting)
    options.observer?.replied(Session.greeting)
    const outcome = yield* Stream.runForEachWhile(lines, handle).pipe(
      Effect.catchTag("IdleTimeout", () =>
        Effect.suspend(() => {
          reason = "timeout"
          return notice(Texts.idleTimeout)
        })),
      Effect.catchTag("WriteStalled", () => Effect.sync(() => void (reason = "write-stalled"))),
      Effect.onInterrupt(() =>
        Effect.suspend(() => {
          reason = "shutdown"
          return notice(Texts.shuttingDown, "SYS/TEMP").pipe(Effect.andThen(logEnd()))
        })
      ),
      Effect.exit
    )
    if (Exit.isFailure(outcome) && !Cause.hasInterruptsOnly(outcome.cause)) {
      const socketError = Cause.findErrorOption(outcome.cause)
      if (socketError._tag === "Some" && (socketError.value as { _tag?: string })._tag === "SocketError") {
        reason = "client-closed"
      } else {
        reason = "error"
        yield* Effect.logError("connection failed", { peer: options.peer, cause: Cause.pretty(outcome.cause) })
        yield* notice(Texts.internalError, "SYS/TEMP")
      }
    }
    yield* logEnd()

    function logEnd() {
      options.observer?.ended({ reason, state, bytesOut, ms: Date.now() - started })
      return Effect.logInfo("session end").pipe(
        Effect.annotateLogs({
          listener: options.listener,
          peer: options.peer,
          user,
          tls: state.secure,
          commands,
          bytesOut,
          removed: state._tag === "Closed" ? state.removed : 0,
          ms: Date.now() - started,
          end: reason
        })
      )
    }
  }).pipe(
    Effect.scoped,
    Effect.catchCause((cause) =>
      Cause.hasInterruptsOnly(cause) ? Effect.void : Effect.logError("connection setup failed", { cause: Cause.pretty(cause) })
    )
  )

const sum = (chunks: ReadonlyArray<Uint8Array>): number => {
  let n = 0
  for (const c of chunks) n += c.length
  return n
}

