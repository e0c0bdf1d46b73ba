// One POP3 connection: socket bytes → LineFramer (a Stream) → Session.step → replies → socket. Owns the
// inactivity timers (a timeout on every read that sends the closing notice), STLS and write back-pressure.
// It never decides protocol behaviour itself: that is Session's; it never runs UPDATE on a timeout or shutdown.
import { Cause, Clock, Effect, Exit, Redacted, Result, Schema, Stream } from "effect"
import type * as Socket from "effect/socket/Socket"
import type { Scope } from "effect"
import type { Mailbox } from "@pop3d/mailbox"
import { type DotStuffer, LineFramer, Reply } from "@pop3d/protocol"
import type { ConnectionObserver } from "./Observer.ts"
import * as Output from "./Output.ts"
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
  /**
   * True when the socket holds none of the octets written to it (so their buffers can be reused); without it, or
   * after STLS replaced the socket, written buffers are left to the garbage collector.
   */
  readonly drained?: (() => boolean) | undefined
}

/** The client sent nothing for the whole inactivity period. */
export class IdleTimeout extends Schema.TaggedError<IdleTimeout>()("IdleTimeout", {}) {}

/** The client stopped reading: a write made no progress for the whole inactivity period. */
export class WriteStalled extends Schema.TaggedError<WriteStalled>()("WriteStalled", {}) {}

/** Output is flushed to the socket once this many octets are queued, even mid-batch (bounded memory). */
const flushThreshold = 64 * 1024

/** Octets of a message read per step (its wire form is queued, and flushed past `flushThreshold`, before the next). */
const readSize = 64 * 1024

/** Lines of one read handled without an Effect before the connection yields to the others. */
const linesPerTurn = 64

/** How long the closing notice may take to write before the socket is closed anyway. */
const noticeTimeout = "2 seconds"

/** A framed line tagged with the TLS generation it arrived in (plaintext behind STLS is dropped). */
interface Framed {
  readonly event: LineFramer.FrameEvent
  readonly generation: number
}

/** What a connection's steps can fail with (each ends the connection). */
type ConnectionError = WriteStalled | Socket.SocketError | Mailbox.MailboxError

/** What is left to run of a line's handling before the next line: nothing, when it was all done at once. */
type Pending = Effect.Effect<void, ConnectionError, Session.Services> | undefined

/** How a session ended, for the log line. */
type EndReason = "quit" | "client-closed" | "timeout" | "auth-failures" | "write-stalled" | "shutdown" | "error"

/** Serves one accepted socket until the session ends; never fails (errors end this connection only). */
export const serve = (
  socket: Socket.Socket,
  options: ConnectionOptions
): Effect.Effect<void, never, Exclude<Session.Services, Scope.Scope>> =>
  Effect.gen(function*() {
    const started = Date.now()
    const clock = yield* Clock.Clock
    const reader = yield* socket.reader
    const writer = yield* socket.writer
    const framer = LineFramer.make(options.maxCommandSize)
    let state: Session.State = Session.initial(options.secure, options.address)
    let generation = 0
    let commands = 0
    let bytesOut = 0
    let reason: EndReason = "client-closed"
    // The session asked to close: no more lines are read.
    let ended = false
    // A message file opened at once but not yet handed to `pump` (closed with the connection if it never is).
    let unclaimed: Mailbox.MessageFile | undefined
    yield* Effect.addFinalizer(() => Effect.sync(() => unclaimed?.close()))
    let user = "-"
    const output = Output.make()
    const drained = options.drained
    if (drained === undefined) output.detach()
    // What the connection waits on the client for, and since when (clock ms); nothing while it works itself.
    let waitingFor: "read" | "write" | undefined
    let waitingSince = 0

    const idleSeconds = () =>
      state._tag === "Transaction" ? options.authenticatedTimeout : options.unauthenticatedTimeout

    /** From now on the connection waits on the client; whatever it waited for clears it (a failure ends it). */
    const startWaiting = (what: "read" | "write") => {
      waitingFor = what
      waitingSince = clock.currentTimeMillisUnsafe()
    }

    // The inactivity timers: one watchdog per connection (not a timer per read and per write) that fails once the
    // connection has waited on the client for the whole period of the current state: for a line (IdleTimeout: the
    // closing notice is sent) or for a write to drain (WriteStalled). Login switches the period at once.
    const watchdog: Effect.Effect<never, IdleTimeout | WriteStalled> = Effect.suspend(function check(): Effect.Effect<
      never,
      IdleTimeout | WriteStalled
    > {
      const period = idleSeconds() * 1000
      const left = waitingFor === undefined ? period : waitingSince + period - clock.currentTimeMillisUnsafe()
      if (left > 0) return Effect.flatMap(Effect.sleep(left), check)
      return waitingFor === "read" ? Effect.fail(new IdleTimeout()) : Effect.fail(new WriteStalled())
    })

    const written = () => {
      waitingFor = undefined
      output.written(drained?.() === true)
    }

    const flush = Effect.suspend(() => {
      const batch = output.take()
      if (batch === undefined) return Effect.void
      for (const chunk of batch) bytesOut += chunk.length
      startWaiting("write")
      return Effect.map(writer.writeAll(batch), written)
    })

    /** Flushes once the queue passes the threshold (bounded memory). */
    const flushIfFull = Effect.suspend(() => (output.length >= flushThreshold ? flush : Effect.void))

    // The read side: every pull first flushes what the previous lines produced, then waits for the client.
    const pull = Effect.catchTag(reader.pull, "SocketError", (e): Effect.Effect<never, Cause.Done | Socket.SocketError> =>
      e.reason._tag === "SocketCloseError" ? Cause.done() : Effect.fail(e))
    const frame = (chunks: ReadonlyArray<Uint8Array | string>) => {
      waitingFor = undefined
      const out: Array<Framed> = []
      for (const chunk of chunks) {
        if (typeof chunk === "string") continue
        for (const event of framer.push(chunk)) out.push({ event, generation })
      }
      return out.length > 0 ? Effect.succeed(out as [Framed, ...Array<Framed>]) : pullFramed
    }
    const readFramed = Effect.suspend(() => {
      startWaiting("read")
      return Effect.flatMap(pull, frame)
    })
    const pullFramed: Effect.Effect<
      readonly [Framed, ...Array<Framed>],
      WriteStalled | Socket.SocketError | Cause.Done
    > = Effect.suspend(() => (ended ? Cause.done() : output.length === 0 ? readFramed : Effect.andThen(flush, readFramed)))

    /** The client's lines, framed: the Stream the session consumes. */
    const lines: Stream.Stream<Framed, WriteStalled | Socket.SocketError> = Stream.fromPull(
      Effect.succeed(pullFramed)
    )

    // A message goes out through the same queue as text replies, so that pipelined RETRs share writes. It is read
    // into a pool buffer and encoded into the queue's pool buffers: nothing is allocated per message. When the store
    // can open it at once (`openMessageNow`) and it fits one read, no Effect runs for it at all: the common RETR.
    // Returns what is left to run, if anything.
    const sendMessage = (
      t: Session.Transaction,
      out: Extract<Session.Output, { _tag: "Message" }>
    ): Pending => {
      // The message is opened before answering, so that one removed meanwhile gets -ERR.
      const opened = t.view.openMessageNow(out.index)
      if (opened === undefined) return sendOpened(t, out)
      if (Result.isFailure(opened)) return gone(t, out, opened.failure)
      const file = opened.success
      const stuffer = out.encoder()
      output.text(out.status)
      const pooled = Output.sharedPool.take()
      let read: Result.Result<number, Mailbox.MailboxError>
      try {
        read = file.readNow(pooled.subarray(0, readSize))
        if (Result.isSuccess(read) && read.success > 0) output.encode(stuffer, pooled.subarray(0, read.success))
      } catch (defect) {
        file.close()
        throw defect
      } finally {
        Output.sharedPool.give(pooled)
      }
      if (Result.isFailure(read)) {
        file.close()
        return Effect.fail(read.failure)
      }
      if (read.success < readSize || stuffer.done) {
        file.close()
        output.copy(stuffer.end())
        return out.sent === Effect.void ? undefined : out.sent
      }
      // A message larger than one read: the rest goes out in steps, each flushed when the queue is full. The file is
      // the connection's until `pump` has taken it, so that an interruption in between still closes it.
      unclaimed = file
      const rest = Effect.acquireRelease(
        Effect.sync(() => {
          unclaimed = undefined
          return (buffer: Uint8Array) => Effect.suspend(() => Effect.fromResult(file.readNow(buffer)))
        }),
        () => Effect.sync(file.close)
      )
      return Effect.andThen(pump(rest, stuffer), out.sent)
    }

    /** The message could not be opened: -ERR when another session removed it, else the connection fails. */
    const gone = (t: Session.Transaction, out: { readonly index: number }, error: Mailbox.MailboxError) => {
      if (error.reason !== "MessageGone") return Effect.fail(error)
      output.text(Session.messageGone(t, out.index))
      return undefined
    }

    /** `sendMessage` through the store's Effect API, for a message it cannot open at once. */
    const sendOpened = (t: Session.Transaction, out: Extract<Session.Output, { _tag: "Message" }>) =>
      Effect.gen(function*() {
        const opened = yield* Effect.result(out.open)
        if (Result.isFailure(opened)) return yield* (gone(t, out, opened.failure) ?? Effect.void)
        output.text(out.status)
        yield* pump(Effect.succeed(opened.success.read), out.encoder())
        yield* out.sent
      }).pipe(Effect.scoped)

    /** Reads, encodes and queues the rest of an open message, flushing whenever the queue is full. */
    const pump = <R>(
      acquire: Effect.Effect<(buffer: Uint8Array) => Effect.Effect<number, Mailbox.MailboxError>, never, R>,
      stuffer: DotStuffer.DotStuffer
    ) =>
      Effect.gen(function*() {
        const read = yield* acquire
        const pooled = yield* Effect.acquireRelease(
          Effect.sync(() => Output.sharedPool.take()),
          (b) => Effect.sync(() => Output.sharedPool.give(b))
        )
        const buffer = pooled.subarray(0, readSize)
        while (!stuffer.done) {
          yield* flushIfFull
          const n = yield* read(buffer)
          if (n === 0) break
          output.encode(stuffer, buffer.subarray(0, n))
        }
        output.copy(stuffer.end())
        yield* flushIfFull
      }).pipe(Effect.scoped)

    const startTls = Effect.gen(function*() {
      yield* flush
      // The socket `drained` reports on is replaced by the TLS one: written buffers are not reused any more.
      output.detach()
      generation++
      framer.reset()
      const material = options.tls!()
      yield* reader.upgrade({ key: Redacted.make(material.key), cert: material.cert })
      // RFC 2595 §4: everything learned before TLS is forgotten (a USER given in clear does not carry over).
      if (state._tag === "Authorization") state = { ...state, secure: true, user: undefined, sasl: undefined }
    })

    // The lines of one read are handled in a plain loop: a step the session answers at once, with replies that need
    // no waiting, runs without an Effect. Each returns what is left to run before the next line, if anything.

    /** Queues one step's replies from `from` on. */
    const emit = (t: Session.State, outs: ReadonlyArray<Session.Output>, from: number): Pending => {
      for (let k = from; k < outs.length; k++) {
        const out = outs[k]!
        if (out._tag === "Text") output.text(out.text)
        else if (out._tag === "Bytes") output.bytes(out.bytes)
        else {
          const rest = sendMessage(t as Session.Transaction, out)
          if (rest !== undefined) return Effect.flatMap(rest, () => emit(t, outs, k + 1) ?? Effect.void)
        }
        if (output.length >= flushThreshold) return Effect.flatMap(flush, () => emit(t, outs, k + 1) ?? Effect.void)
      }
      return undefined
    }

    /** Applies one step: the new state, its replies, then STLS or the end of the session. */
    const apply = (input: Session.Input, result: Session.Step): Pending => {
      const before = state
      state = result.state
      if (state._tag === "Transaction") user = state.user
      if (state._tag === "Authorization" && state.sasl !== undefined) framer.setMaxLength(options.maxSaslResponse)
      else framer.setMaxLength(options.maxCommandSize)
      const finish = (): Pending => {
        options.observer?.stepped(input, before, result)
        if (result.action === "starttls") return startTls
        if (result.action === "close") {
          reason = state._tag === "Closed" && before._tag === "Authorization" && input._tag === "Command" &&
              input.command._tag !== "QUIT"
            ? "auth-failures"
            : "quit"
          ended = true
          return flush
        }
        return undefined
      }
      const rest = emit(before, result.out, 0)
      return rest === undefined ? finish() : Effect.flatMap(rest, () => finish() ?? Effect.void)
    }

    const handle = (framed: Framed): Pending => {
      if (framed.generation !== generation) return undefined // plaintext pipelined behind STLS
      commands++
      options.observer?.received(framed.event, state)
      const input: Session.Input = framed.event._tag === "TooLong"
        ? { _tag: "TooLong" }
        : Session.decodeLine(state, framed.event.line)
      const decided = Session.decide(options.env, state, input)
      return Effect.isEffect(decided)
        ? Effect.flatMap(decided, (result) => apply(input, result) ?? Effect.void)
        : apply(input, decided)
    }

    /**
     * Handles the lines of one read from `from` on, until the session ends. Every `linesPerTurn` lines handled at
     * once it yields, so that one client pipelining thousands of commands does not hold the other connections up.
     */
    const handleAll = (batch: ReadonlyArray<Framed>, from: number): Effect.Effect<void, ConnectionError, Session.Services> => {
      for (let i = from; i < batch.length && !ended; i++) {
        const rest = handle(batch[i]!)
        if (rest !== undefined) return Effect.flatMap(rest, () => handleAll(batch, i + 1))
        if (output.length >= flushThreshold) return Effect.flatMap(flush, () => handleAll(batch, i + 1))
        if ((i - from + 1) % linesPerTurn === 0) return Effect.flatMap(Effect.yieldNow, () => handleAll(batch, i + 1))
      }
      return Effect.void
    }

    const notice = (text: string, code?: Reply.ResponseCode) =>
      Effect.suspend(() => {
        output.text(Reply.err(text, code))
        options.observer?.replied(Reply.err(text, code))
        return flush
      }).pipe(Effect.timeout(noticeTimeout), Effect.ignore)

    output.text(Session.greeting)
    options.observer?.replied(Session.greeting)
    const outcome = yield* Effect.raceFirst(Stream.runForEachArray(lines, (batch) => handleAll(batch, 0)), watchdog).pipe(
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
