// The POP3 session state machine: AUTHORIZATION → TRANSACTION → UPDATE as data. `step` takes the state and one
// input and returns the replies and the next state; one small handler per verb, dispatched from one table.
// It never touches a socket, a timer or a file: the store and the directory are services it is given.
import { Cause, Effect, Exit, Option, Result, Scope, Stream } from "effect"
import { Capa, Command, DotStuffer, Reply, Sasl as SaslCodec } from "@pop3d/protocol"
import { Directory, Sasl } from "@pop3d/auth"
import { Mailbox } from "@pop3d/mailbox"
import * as Limits from "./Limits.ts"
import * as LoginInterval from "./LoginInterval.ts"
import * as Texts from "./Texts.ts"
import * as Throttle from "./Throttle.ts"
import type { PlaintextPolicy } from "./Settings.ts"

/** What a session needs to know about its server and listener. */
export interface Env {
  readonly exactRfc822Size: boolean
  readonly plaintext: PlaintextPolicy
  readonly maxAuthFailures: number
  readonly maxCommandSize: number
  /** STLS can be offered on this listener (plain listener with a certificate). */
  readonly tlsAvailable: boolean
  /** The SASL mechanisms this server has enabled, in CAPA order. */
  readonly mechanisms: ReadonlyArray<Sasl.SaslMechanism>
  readonly implementation: string
  /** CAPA `EXPIRE` argument (RFC 2449): the shortest retention in days, or `NEVER`; absent: not advertised. */
  readonly expire?: string | undefined
  /** Minimum seconds between two logins of one user (CAPA `LOGIN-DELAY`, enforced); absent or 0: none. */
  readonly loginInterval?: number | undefined
}

/** An AUTH exchange in progress: client lines are SASL responses, not commands. */
export interface SaslInProgress {
  readonly mechanism: string
  readonly exchange: Sasl.SaslExchange
}

/** Before login. */
export interface Authorization {
  readonly _tag: "Authorization"
  readonly secure: boolean
  /** The client's address, for login throttling. */
  readonly client: string
  readonly user: string | undefined
  readonly failures: number
  readonly sasl: SaslInProgress | undefined
}

/** After login: the snapshot is fixed; `deleted` and `gone` hold 0-based indices (mutated in place: O(1) DELE). */
export interface Transaction {
  readonly _tag: "Transaction"
  readonly secure: boolean
  readonly user: string
  readonly view: Mailbox.MailboxView
  readonly deleted: Set<number>
  readonly gone: Set<number>
}

/** The session has ended (QUIT, too many failures); nothing more is read. */
export interface Closed {
  readonly _tag: "Closed"
  readonly secure: boolean
  readonly removed: number
}

/** The session state. */
export type State = Authorization | Transaction | Closed

/** One thing the client sent, as the session sees it. */
export type Input =
  | { readonly _tag: "Command"; readonly command: Command.Command }
  | { readonly _tag: "Invalid"; readonly error: Command.CommandError }
  | { readonly _tag: "TooLong" }
  | { readonly _tag: "SaslResponse"; readonly line: string }

/**
 * One reply: a rendered text (status line, or a whole multi-line block), rendered octets (the listings of LIST and
 * UIDL), or a message to send. A message is its
 * stored octets (`open`), an encoder to the wire form (CRLF, dot-stuffing, TOP's line limit, terminator), and what
 * to do once all of it was sent; `messageBody` composes them into one Stream.
 */
export type Output =
  | { readonly _tag: "Text"; readonly text: string }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | {
    readonly _tag: "Message"
    readonly index: number
    readonly status: string
    readonly open: Effect.Effect<Mailbox.MessageReader, Mailbox.MailboxError, Scope.Scope>
    readonly encoder: () => DotStuffer.DotStuffer
    /** Run once all of it was sent; `Effect.void` itself when there is nothing to do. */
    readonly sent: Effect.Effect<void>
  }

/** A message reply's wire form after its status line, as one Stream (runs `sent` at its end). */
export const messageBody = (out: Extract<Output, { _tag: "Message" }>): Stream.Stream<Uint8Array, Mailbox.MailboxError> =>
  Stream.suspend(() => {
    const stuffer = out.encoder()
    return Mailbox.streamOf(out.open).pipe(
      Stream.takeWhile(() => !stuffer.done),
      Stream.map((chunk) => stuffer.push(chunk)),
      Stream.concat(Stream.sync(() => stuffer.end())),
      Stream.filter((b) => b.length > 0),
      Stream.concat(Stream.fromEffectDrain(out.sent))
    )
  })

/** What the connection must do after writing the replies. */
export type Action = "continue" | "close" | "starttls"

/** The result of one step. */
export interface Step {
  readonly out: ReadonlyArray<Output>
  readonly state: State
  readonly action: Action
  /** The login attempt this step decided, if any (for metrics). */
  readonly login?: LoginAttempt | undefined
}

/** A decided login attempt: the mechanism (`USER` for USER/PASS) and how it ended. */
export interface LoginAttempt {
  readonly mechanism: string
  readonly result: "ok" | "failed" | "in-use" | "unavailable"
}

const attempt = (step: Step, mechanism: string, result: LoginAttempt["result"]): Step => ({
  ...step,
  login: { mechanism, result }
})

/** The services a step may use. */
export type Services = Mailbox.Mailbox | Directory.Directory | Throttle.Throttle | Limits.Limits | Scope.Scope

/** The state a new connection starts in. */
export const initial = (secure: boolean, client = "unknown"): State => ({
  _tag: "Authorization",
  secure,
  client,
  user: undefined,
  failures: 0,
  sasl: undefined
})

/** The greeting (no APOP timestamp: PROFILE V0012). */
export const greeting: string = Reply.ok(Texts.greeting)

/** Turns one framed line into an input, given the state (SASL responses are not commands). */
export const decodeLine = (state: State, line: string): Input => {
  if (state._tag === "Authorization" && state.sasl !== undefined) return { _tag: "SaslResponse", line }
  const r = Command.decode(line)
  return Result.isSuccess(r) ? { _tag: "Command", command: r.success } : { _tag: "Invalid", error: r.failure }
}

const text = (t: string): Output => ({ _tag: "Text", text: t })

/** A status line and the `n value` lines of the live messages at `indices` (LIST, UIDL), rendered as octets. */
const listing = (state: State, status: string, indices: Uint32Array, value: (index: number) => number): Step => ({
  out: [text(status), { _tag: "Bytes", bytes: Reply.numberLines(indices.length, (k) => indices[k]! + 1, (k) => value(indices[k]!)) }],
  state,
  action: "continue"
})
const reply = (state: State, ...lines: Array<string>): Step => ({ out: lines.map(text), state, action: "continue" })
const closing = (state: State, ...lines: Array<string>): Step => ({ out: lines.map(text), state, action: "close" })

/** Whether USER/PASS and plaintext SASL mechanisms may be used on this connection (PROFILE V0010). */
export const plaintextPermitted = (env: Env, secure: boolean): boolean =>
  env.plaintext === "allowed" || (env.plaintext === "tls-only" && secure)

const plaintextRefusal = (env: Env): string =>
  Reply.err(env.plaintext === "never" ? Texts.plaintextNever : Texts.plaintextNeedsTls, "AUTH")

/** The mechanisms listed in CAPA and bare AUTH on this connection. */
export const offeredMechanisms = (env: Env, secure: boolean): ReadonlyArray<string> =>
  env.mechanisms.filter((m) => !m.plaintext || plaintextPermitted(env, secure)).map((m) => m.name)

/** The CAPA capability lines for this state. */
export const capabilities = (env: Env, state: State): ReadonlyArray<string> =>
  Capa.render({
    user: plaintextPermitted(env, state.secure),
    stls: env.tlsAvailable && !state.secure && state._tag === "Authorization",
    sasl: offeredMechanisms(env, state.secure),
    implementation: env.implementation,
    expire: env.expire,
    loginDelay: env.loginInterval !== undefined && env.loginInterval > 0 ? env.loginInterval : undefined
  })

// ---------------------------------------------------------------------------------------------------------------
// Transaction helpers

const sizeOf = (env: Env, m: Mailbox.MessageInfo): number => (env.exactRfc822Size ? m.wireSize : m.storageSize)

/** The indices of the messages not marked deleted (a typed array: a mailbox may hold 100,000 of them). */
const live = (t: Transaction): Uint32Array => {
  const out = new Uint32Array(t.view.messages.length)
  let n = 0
  for (let i = 0; i < out.length; i++) if (!t.deleted.has(i)) out[n++] = i
  return out.subarray(0, n)
}

const totals = (env: Env, t: Transaction): { count: number; octets: number } => {
  let count = 0
  let octets = 0
  const messages = t.view.messages
  for (let i = 0; i < messages.length; i++) {
    if (!t.deleted.has(i)) {
      count++
      octets += sizeOf(env, messages[i]!)
    }
  }
  return { count, octets }
}

/** Checks a message number against the snapshot: the 0-based index, or the -ERR line to send. */
const message = (t: Transaction, n: number): Result.Result<number, string> => {
  const count = t.view.messages.length
  if (n < 1 || n > count) return Result.fail(Reply.err(Texts.noSuchMessage(n, count)))
  if (t.deleted.has(n - 1)) return Result.fail(Reply.err(Texts.alreadyDeleted(n)))
  return Result.succeed(n - 1)
}

const messageOutput = (env: Env, t: Transaction, index: number, bodyLines: number | undefined): Output => ({
  _tag: "Message",
  index,
  status: bodyLines === undefined
    ? Reply.ok(Texts.retrFollows(sizeOf(env, t.view.messages[index]!)))
    : Reply.ok(Texts.topFollows),
  // Built when run: a connection whose store opens the message at once never runs it.
  open: Effect.suspend(() => t.view.openMessage(index)),
  encoder: () => DotStuffer.make(bodyLines === undefined ? undefined : { bodyLines }),
  // RETR (not TOP) records the message as retrieved once all of it was sent, for retention.
  // `Effect.void` itself when there is nothing to record (the store says so), so that a connection can skip it.
  sent: bodyLines === undefined ? markRetrieved(t, index) : Effect.void
})

const markRetrieved = (t: Transaction, index: number): Effect.Effect<void> => {
  const mark = t.view.markRetrieved(index)
  return mark === Effect.void
    ? Effect.void
    : mark.pipe(Effect.ignore({ log: "Warn", message: "could not mark a message retrieved" }))
}

/** The -ERR line for a message another session removed meanwhile; later reads of it answer the same. */
export const messageGone = (t: Transaction, index: number): string => {
  t.gone.add(index)
  return Reply.err(Texts.messageGone(index + 1))
}

// ---------------------------------------------------------------------------------------------------------------
// Logging in

const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Lines are framed as latin1; a password is UTF-8 when its octets are valid UTF-8 (as AUTH PLAIN's are). */
const fromWire = (text: string): string => {
  try {
    return utf8.decode(Buffer.from(text, "latin1"))
  } catch {
    return text
  }
}

const login = (env: Env, state: Authorization, user: string, mechanism: string): Effect.Effect<Step, never, Services> =>
  Effect.gen(function*() {
    // LOGIN-DELAY (RFC 2449): a login sooner than the interval after the previous one is refused, and one that fails
    // below is taken back.
    let undoLogin: Effect.Effect<void> = Effect.void
    if (env.loginInterval !== undefined && env.loginInterval > 0) {
      const admission = yield* (yield* LoginInterval.LoginInterval).admit(user, env.loginInterval * 1000)
      if (admission._tag === "TooSoon") {
        const text = Texts.loginTooSoon(env.loginInterval, Math.ceil(admission.waitMs / 1000))
        return reply({ ...state, user: undefined, sasl: undefined }, Reply.err(text, "LOGIN-DELAY"))
      }
      undoLogin = admission.undo
    }
    const limits = yield* Limits.Limits
    // The user's session slot lives as long as the connection, or only until the end of this step if login fails.
    const slotScope = yield* Scope.make()
    const slot = yield* Effect.exit(limits.session(user).pipe(Scope.provide(slotScope)))
    if (Exit.isFailure(slot)) {
      const refused = Cause.findErrorOption(slot.cause)
      const text = Option.isSome(refused) ? refused.value.message : Texts.mailboxUnavailable
      yield* undoLogin
      return attempt(reply({ ...state, user: undefined, sasl: undefined }, Reply.err(text, "IN-USE")), mechanism, "in-use")
    }
    const store = yield* Mailbox.Mailbox
    const opened = yield* Effect.result(store.open(user))
    if (Result.isFailure(opened)) {
      yield* Scope.close(slotScope, Exit.void)
      yield* undoLogin
      yield* Effect.logWarning("mailbox unavailable at login", { user, reason: opened.failure.reason })
      return attempt(
        reply({ ...state, user: undefined, sasl: undefined }, Reply.err(Texts.mailboxUnavailable, "SYS/TEMP")),
        mechanism,
        "unavailable"
      )
    }
    yield* Effect.addFinalizer(() => Scope.close(slotScope, Exit.void))
    const t: Transaction = {
      _tag: "Transaction",
      secure: state.secure,
      user,
      view: opened.success,
      deleted: new Set(),
      gone: new Set()
    }
    const { count, octets } = totals(env, t)
    return attempt(reply(t, Reply.ok(Texts.loggedIn(count, octets))), mechanism, "ok")
  })

/** A failed login; `reason` is a mechanism's client-safe reason (credential failures all read the same). */
const failedLogin = (env: Env, state: Authorization, mechanism: string, reason?: string): Step => {
  const failures = state.failures + 1
  const next: Authorization = { ...state, user: undefined, sasl: undefined, failures }
  return attempt(
    failures >= env.maxAuthFailures
      ? closing({ _tag: "Closed", secure: state.secure, removed: 0 }, Reply.err(Texts.tooManyFailures, "AUTH"))
      : reply(
        next,
        Reply.err(reason === undefined || reason === Sasl.authenticationFailed ? Texts.authFailed : Texts.authFailedBecause(reason), "AUTH")
      ),
    mechanism,
    "failed"
  )
}

const saslOutcome = (
  env: Env,
  state: Authorization,
  mechanism: string,
  exchange: Sasl.SaslExchange,
  response: Uint8Array
): Effect.Effect<Step, never, Services> =>
  Effect.gen(function*() {
    const s = yield* exchange.step(response).pipe(Effect.provideService(Directory.Directory, yield* Directory.Directory))
    const throttle = yield* Throttle.Throttle
    switch (s._tag) {
      case "Challenge":
        return reply({ ...state, sasl: { mechanism, exchange } }, `+ ${SaslCodec.encodeBase64(s.data)}\r\n`)
      case "Success":
        yield* throttle.recordSuccess(state.client, s.user)
        return yield* login(env, { ...state, sasl: undefined }, s.user, mechanism)
      case "Failure":
        yield* throttle.recordFailure(state.client)
        return failedLogin(env, state, mechanism, s.reason)
    }
  })

// ---------------------------------------------------------------------------------------------------------------
// The command table

type Handler<T extends Command.Command["_tag"]> = (
  env: Env,
  state: State,
  command: Extract<Command.Command, { _tag: T }>
) => Step | Effect.Effect<Step, never, Services>

const inAuthorization = <T extends Command.Command["_tag"]>(
  f: (env: Env, state: Authorization, command: Extract<Command.Command, { _tag: T }>) =>
    Step | Effect.Effect<Step, never, Services>
): Handler<T> =>
(env, state, command) =>
  state._tag === "Authorization" ? f(env, state, command) : reply(state, Reply.err(Texts.onlyBeforeLogin(command._tag)))

const inTransaction = <T extends Command.Command["_tag"]>(
  f: (env: Env, state: Transaction, command: Extract<Command.Command, { _tag: T }>) =>
    Step | Effect.Effect<Step, never, Services>
): Handler<T> =>
(env, state, command) =>
  state._tag === "Transaction" ? f(env, state, command) : reply(state, Reply.err(Texts.loginFirst))

const handlers: { readonly [T in Command.Command["_tag"]]: Handler<T> } = {
  CAPA: (env, state) => reply(state, Reply.ok(Texts.capaFollows), Reply.multiline(capabilities(env, state))),
  NOOP: (_env, state) => reply(state, Reply.ok()),
  QUIT: (env, state) =>
    state._tag === "Transaction" ? update(env, state) : closing({ _tag: "Closed", secure: state.secure, removed: 0 }, Reply.ok(Texts.bye)),
  APOP: (_env, state) => reply(state, Reply.err(Texts.apopUnsupported)),
  STLS: (env, state) => {
    if (state._tag !== "Authorization") return reply(state, Reply.err(Texts.stlsAfterLogin))
    if (state.secure) return reply(state, Reply.err(Texts.stlsAlreadySecure))
    if (!env.tlsAvailable) return reply(state, Reply.err(Texts.stlsUnavailable))
    return { out: [text(Reply.ok(Texts.stlsBegin))], state, action: "starttls" }
  },
  USER: inAuthorization((env, state, { name }) =>
    plaintextPermitted(env, state.secure)
      ? reply({ ...state, user: name }, Reply.ok(Texts.userAccepted))
      : reply(state, plaintextRefusal(env))
  ),
  PASS: inAuthorization((env, state, { password }) => {
    if (!plaintextPermitted(env, state.secure)) return reply(state, plaintextRefusal(env))
    const user = state.user
    if (user === undefined) return reply(state, Reply.err(Texts.userFirst))
    return Effect.gen(function*() {
      const directory = yield* Directory.Directory
      const throttle = yield* Throttle.Throttle
      yield* throttle.wait(state.client, user)
      const who = yield* directory.verify(user, fromWire(password))
      if (Option.isNone(who)) {
        yield* throttle.recordFailure(state.client, user)
        return failedLogin(env, state, "USER")
      }
      yield* throttle.recordSuccess(state.client, user)
      return yield* login(env, state, who.value, "USER")
    })
  }),
  AUTH: inAuthorization((env, state, { mechanism, initialResponse }) => {
    if (mechanism === undefined) {
      return reply(state, Reply.ok(Texts.mechanismsFollow), Reply.multiline(offeredMechanisms(env, state.secure)))
    }
    const mech = env.mechanisms.find((m) => m.name === mechanism)
    if (mech === undefined) return reply(state, Reply.err(Texts.unknownMechanism(mechanism)))
    if (mech.plaintext && !plaintextPermitted(env, state.secure)) return reply(state, plaintextRefusal(env))
    return Effect.gen(function*() {
      const directory = yield* Directory.Directory
      yield* (yield* Throttle.Throttle).wait(state.client)
      const exchange = yield* mech.start().pipe(Effect.provideService(Directory.Directory, directory))
      if (initialResponse === undefined) {
        return reply({ ...state, sasl: { mechanism: mech.name, exchange } }, "+ \r\n")
      }
      const decoded = SaslCodec.decodeBase64(initialResponse)
      if (Result.isFailure(decoded)) return reply(state, Reply.err(Texts.badBase64))
      return yield* saslOutcome(env, state, mech.name, exchange, decoded.success)
    })
  }),
  STAT: inTransaction((env, state) => {
    const { count, octets } = totals(env, state)
    return reply(state, Reply.ok(`${count} ${octets}`))
  }),
  LIST: inTransaction((env, state, { msg }) => {
    if (msg !== undefined) {
      const i = message(state, msg)
      return reply(state, Result.isSuccess(i) ? Reply.ok(`${msg} ${sizeOf(env, state.view.messages[i.success]!)}`) : i.failure)
    }
    const { count, octets } = totals(env, state)
    const indices = live(state)
    const messages = state.view.messages
    return listing(state, Reply.ok(Texts.listFollows(count, octets)), indices, (i) => sizeOf(env, messages[i]!))
  }),
  UIDL: inTransaction((_env, state, { msg }) =>
    afterUidsStored(state, () => {
      if (msg !== undefined) {
        const i = message(state, msg)
        return reply(state, Result.isSuccess(i) ? Reply.ok(`${msg} ${state.view.messages[i.success]!.uid}`) : i.failure)
      }
      const messages = state.view.messages
      return listing(state, Reply.ok(Texts.uidlFollows), live(state), (i) => messages[i]!.uid)
    })
  ),
  RETR: inTransaction((env, state, { msg }) => retrieve(env, state, msg, undefined)),
  TOP: inTransaction((env, state, { msg, lines }) => retrieve(env, state, msg, lines)),
  DELE: inTransaction((_env, state, { msg }) => {
    const i = message(state, msg)
    if (Result.isFailure(i)) return reply(state, i.failure)
    state.deleted.add(i.success)
    return reply(state, Reply.ok(Texts.deleted(msg)))
  }),
  RSET: inTransaction((env, state) => {
    state.deleted.clear()
    const { count, octets } = totals(env, state)
    return reply(state, Reply.ok(Texts.loggedIn(count, octets)))
  })
}

/**
 * Answers once the view's UIDs are stored: a big first open answers while its UID list is still being written, and
 * no UID is shown before (one shown and then lost in a crash could name another message later).
 */
const afterUidsStored = (state: Transaction, answer: () => Step): Step | Effect.Effect<Step> => {
  const waiting = state.view.uidsStored?.()
  if (waiting === undefined) return answer()
  return Effect.matchEffect(waiting, {
    onFailure: (e) =>
      Effect.as(
        Effect.logWarning("UID list not written", { user: state.user, reason: e.reason }),
        reply(state, Reply.err(Texts.mailboxUnavailable, "SYS/TEMP"))
      ),
    onSuccess: () => Effect.sync(answer)
  })
}

const retrieve = (env: Env, state: Transaction, msg: number, bodyLines: number | undefined): Step => {
  const i = message(state, msg)
  if (Result.isFailure(i)) return reply(state, i.failure)
  if (state.gone.has(i.success)) return reply(state, Reply.err(Texts.messageGone(msg)))
  return { out: [messageOutput(env, state, i.success, bodyLines)], state, action: "continue" }
}

/** QUIT in TRANSACTION: the UPDATE state removes exactly the marked messages (PROFILE V0006). */
const update = (_env: Env, state: Transaction): Effect.Effect<Step> =>
  Effect.gen(function*() {
    const marked = [...state.deleted].sort((a, b) => a - b)
    const done: Closed = { _tag: "Closed", secure: state.secure, removed: 0 }
    if (marked.length === 0) return closing(done, Reply.ok(Texts.bye))
    const r = yield* Effect.result(state.view.commitUpdate(marked))
    if (Result.isFailure(r)) {
      yield* Effect.logError("UPDATE failed part-way", { user: state.user, error: r.failure.message })
      return closing(done, Reply.err(Texts.updateFailed(r.failure.message), "SYS/TEMP"))
    }
    return closing({ ...done, removed: r.success.removed }, Reply.ok(Texts.byeRemoved(r.success.removed)))
  })

const run = <T extends Command.Command["_tag"]>(
  env: Env,
  state: State,
  command: Extract<Command.Command, { _tag: T }>
): Step | Effect.Effect<Step, never, Services> => (handlers[command._tag] as Handler<T>)(env, state, command)

/**
 * One step of the state machine, answered at once when it needs no service (every TRANSACTION command but QUIT):
 * a connection runs those without an Effect. `step` is the same as an Effect.
 */
export const decide = (env: Env, state: State, input: Input): Step | Effect.Effect<Step, never, Services> => {
  if (state._tag === "Closed") return { out: [], state, action: "close" }
  switch (input._tag) {
    case "TooLong":
      if (state._tag === "Authorization" && state.sasl !== undefined) {
        return reply({ ...state, sasl: undefined }, Reply.err(Texts.saslTooLong))
      }
      return reply(state, Reply.err(Texts.lineTooLong(env.maxCommandSize)))
    case "Invalid":
      return reply(state, Reply.err(input.error.message))
    case "Command":
      return run(env, state, input.command)
    case "SaslResponse": {
      if (state._tag !== "Authorization" || state.sasl === undefined) return reply(state, Reply.err(Texts.loginFirst))
      const { exchange, mechanism } = state.sasl
      const cleared: Authorization = { ...state, sasl: undefined }
      if (input.line.trim() === "*") return reply(cleared, Reply.err(Texts.authCancelled))
      const decoded = SaslCodec.decodeBase64(input.line.trim())
      if (Result.isFailure(decoded)) return reply(cleared, Reply.err(Texts.badBase64))
      return saslOutcome(env, cleared, mechanism, exchange, decoded.success)
    }
  }
}

/** One step of the state machine: the replies to one input and the state after it. */
export const step = (env: Env, state: State, input: Input): Effect.Effect<Step, never, Services> => {
  const decided = decide(env, state, input)
  return Effect.isEffect(decided) ? decided : Effect.succeed(decided)
}
