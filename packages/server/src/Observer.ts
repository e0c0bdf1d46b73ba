// Watches one connection for the operator: counts it in the metrics (connections, commands, logins, latency, bytes,
// timeouts) and writes the protocol log. Connection calls it at a few fixed points with what it already has; the
// observer never changes what the session does and never blocks it (metrics are pre-built series incremented in
// place; log lines go to the protocol log's bounded queue).
import { Context, Effect, Layer, Option } from "effect"
import type { Metric, Scope } from "effect"
import type { LineFramer } from "@pop3d/protocol"
import { Reply } from "@pop3d/protocol"
import { metrics } from "./Metrics.ts"
import * as ProtocolLog from "./ProtocolLog.ts"
import type * as Session from "./Session.ts"
import * as Texts from "./Texts.ts"

/** How a connection ended, as Connection's session-end log line has it. */
export interface Ended {
  readonly reason: string
  readonly state: Session.State
  readonly bytesOut: number
  readonly ms: number
}

/** The calls Connection makes; every one is cheap and synchronous. */
export interface ConnectionObserver {
  /** A reply sent outside a command's step: the greeting, a closing notice. */
  replied(text: string): void
  /** A line arrived, in session state `state` (a SASL response when an AUTH exchange is in progress). */
  received(event: LineFramer.FrameEvent, state: Session.State): void
  /** The step for the last line is done and its replies written; `before` is the state it started in. */
  stepped(input: Session.Input, before: Session.State, step: Session.Step): void
  /** The connection ended; only the first call counts. */
  ended(end: Ended): void
}

/** Makes the observer of each new connection. */
export interface Shape {
  /** An observer for a connection just accepted; its finalizer counts the end if `ended` never ran. */
  open(listener: string, peer: string): Effect.Effect<ConnectionObserver, never, Scope.Scope>
}

/** The observers service tag. */
export class Observers extends Context.Service<Observers, Shape>()("@pop3d/server/Observers") {}

const verbSet: ReadonlySet<string> = new Set([
  "USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "NOOP", "QUIT", "STAT", "LIST", "UIDL", "RETR", "TOP", "DELE", "RSET"
])

/** The verb a command is counted under: its keyword, or UNKNOWN (unknown keyword, over-long line). */
export const verbOf = (input: Session.Input): string => {
  switch (input._tag) {
    case "Command":
      return input.command._tag
    case "Invalid":
      return input.error.verb !== undefined && verbSet.has(input.error.verb) ? input.error.verb : "UNKNOWN"
    default:
      return "UNKNOWN"
  }
}

/** A verb's three series, looked up once per verb (the per-command path then does no string work). */
interface VerbSeries {
  readonly ok: Metric.Metric<number, unknown>
  readonly err: Metric.Metric<number, unknown>
  readonly seconds: Metric.Metric<number, unknown>
}

const verbSeries = new Map<string, VerbSeries>()

const seriesOf = (verb: string): VerbSeries => {
  let s = verbSeries.get(verb)
  if (s === undefined) {
    s = {
      ok: metrics.commands.get(verb, "ok"),
      err: metrics.commands.get(verb, "err"),
      seconds: metrics.commandSeconds.get(verb)
    }
    verbSeries.set(verb, s)
  }
  return s
}

/** The first reply line a step sent, and whether it was -ERR. */
const firstReply = (before: Session.State, step: Session.Step): { text: string; err: boolean } | undefined => {
  const first = step.out[0]
  // A step's first output is a status line or a message (Bytes only ever follow a status line).
  if (first === undefined || first._tag === "Bytes") return undefined
  if (first._tag === "Text") return { text: first.text, err: first.text.startsWith("-") }
  // A RETR/TOP whose message was removed meanwhile answered -ERR instead (Connection marked it gone).
  if (before._tag === "Transaction" && before.gone.has(first.index)) {
    return { text: Reply.err(Texts.messageGone(first.index + 1)), err: true }
  }
  return { text: first.status, err: false }
}

/** A process-unique prefix for session ids, so ids from different runs do not collide in one log. */
const runId = Date.now().toString(36)
let sequence = 0

class Observer implements ConnectionObserver {
  readonly id = `${runId}-${++sequence}`
  private readonly context: Context.Context<never>
  private readonly log: ProtocolLog.Shape | undefined
  private readonly listener: string
  private startedAt = 0
  private done = false

  constructor(context: Context.Context<never>, log: ProtocolLog.Shape | undefined, listener: string, peer: string) {
    this.context = context
    this.log = log
    this.listener = listener
    metrics.connectionsOpen.get(listener).modifyUnsafe(1, context)
    metrics.connections.get(listener).updateUnsafe(1, context)
    if (log?.enabled()) log.write(ProtocolLog.format(this.id, "*", `connect peer=${peer} listener=${listener}`))
  }

  private add(m: Metric.Metric<number, unknown>, n: number) {
    m.updateUnsafe(n, this.context)
  }

  replied(text: string): void {
    if (this.log?.enabled()) this.log.write(ProtocolLog.format(this.id, "S:", ProtocolLog.serverText(text)))
  }

  received(event: LineFramer.FrameEvent, state: Session.State): void {
    this.startedAt = performance.now()
    if (this.log?.enabled()) {
      const inSasl = state._tag === "Authorization" && state.sasl !== undefined
      const text = event._tag === "TooLong" ? "<line too long, discarded>" : ProtocolLog.clientText(event.line, inSasl)
      this.log.write(ProtocolLog.format(this.id, "C:", text))
    }
  }

  stepped(input: Session.Input, before: Session.State, step: Session.Step): void {
    const reply = firstReply(before, step)
    if (input._tag !== "SaslResponse") {
      const series = seriesOf(verbOf(input))
      this.add(reply?.err === true ? series.err : series.ok, 1)
      this.add(series.seconds, (performance.now() - this.startedAt) / 1000)
    }
    if (step.login !== undefined) this.add(metrics.logins.get(step.login.mechanism, step.login.result), 1)
    if (reply !== undefined && this.log?.enabled()) {
      this.log.write(ProtocolLog.format(this.id, "S:", ProtocolLog.serverText(reply.text)))
    }
  }

  ended(end: Ended): void {
    if (this.done) return
    this.done = true
    metrics.connectionsOpen.get(this.listener).modifyUnsafe(-1, this.context)
    this.add(metrics.connectionsClosed.get(this.listener, end.reason), 1)
    this.add(metrics.sentBytes.get(this.listener), end.bytesOut)
    this.add(metrics.sessionSeconds.get(this.listener), end.ms / 1000)
    if (end.reason === "timeout") {
      this.add(metrics.timeouts.get(end.state._tag === "Transaction" ? "transaction" : "authorization"), 1)
    }
    if (this.log?.enabled()) {
      this.log.write(ProtocolLog.format(this.id, "*", `close reason=${end.reason} bytesOut=${end.bytesOut} ms=${end.ms}`))
    }
  }
}

/** The observers, writing to the protocol log when one is provided. */
export const make: Effect.Effect<Shape> = Effect.gen(function*() {
  const log = Option.getOrUndefined(yield* Effect.serviceOption(ProtocolLog.ProtocolLog))
  return {
    open: (listener, peer) =>
      Effect.gen(function*() {
        const started = Date.now()
        const observer = new Observer(yield* Effect.context<never>(), log, listener, peer)
        yield* Effect.addFinalizer(() =>
          Effect.sync(() =>
            observer.ended({
              reason: "error",
              state: { _tag: "Closed", secure: false, removed: 0 },
              bytesOut: 0,
              ms: Date.now() - started
            })
          )
        )
        return observer
      })
  }
})

/** The observers as a layer. */
export const layer: Layer.Layer<Observers> = Layer.effect(Observers, make)

/** The observer for a new connection, or undefined when the server runs without observers (unit tests). */
export const open = (listener: string, peer: string): Effect.Effect<ConnectionObserver | undefined, never, Scope.Scope> =>
  Effect.flatMap(
    Effect.serviceOption(Observers),
    (o) => (Option.isSome(o) ? o.value.open(listener, peer) : Effect.succeed(undefined))
  )
