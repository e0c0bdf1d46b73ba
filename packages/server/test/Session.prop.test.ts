// Property test of the session state machine: random command sequences (biased to log in first) run through
// Session.step against the in-memory store, checked after every step against a small reference model and the
// invariants of docs/ARCHITECTURE.md.
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Effect, Layer, Result, Schema, Stream } from "effect"
import { Directory } from "@pop3d/auth"
import { Mailbox } from "@pop3d/mailbox"
import * as Limits from "../src/Limits.ts"
import * as Session from "../src/Session.ts"
import * as Throttle from "../src/Throttle.ts"
import * as Fixtures from "./fixtures.ts"

const messages = [
  "Subject: one\r\n\r\nhello\r\n",
  "Subject: two\n\n.starts with a dot\nsecond\n.\nlast line\n",
  "Subject: three\r\n\r\nno final newline"
]
const normalise = (s: string) => s.replace(/\r\n|\r|\n/g, "\r\n").replace(/([^\n])$/, "$1\r\n")
const wire = messages.map(normalise)

const env: Session.Env = Fixtures.env

const Step = Schema.Literals([
  "USER alice", "USER bob", "PASS secret", "PASS wrong", "STAT", "LIST", "LIST 1", "LIST 2", "LIST 3", "LIST 4",
  "UIDL", "UIDL 3", "RETR 1", "RETR 2", "RETR 3", "RETR 4", "TOP 1 0", "TOP 2 1", "TOP 3 5", "DELE 1", "DELE 2",
  "DELE 3", "DELE 4", "RSET", "NOOP", "QUIT", "CAPA", "RETR 0", "FOO", "AUTH", "OTHER-SESSION-DELETES 1",
  "OTHER-SESSION-DELETES 2", "OTHER-SESSION-DELETES 3"
])

/** What the model expects of one step: the status line's sign and, where it is exact, the whole reply. */
interface Expected {
  readonly ok: boolean
  readonly exact?: string
  readonly body?: string
  readonly closes?: boolean
}

/** The reference model: message numbers 1..3 fixed at login, a deletion set, a set of messages removed elsewhere. */
class Model {
  phase: "auth" | "trans" | "closed" = "auth"
  user: string | undefined
  failures = 0
  deleted = new Set<number>()
  removedElsewhere = new Set<number>()
  quit = false

  size(i: number) {
    return Buffer.byteLength(wire[i]!, "latin1")
  }
  live() {
    return [0, 1, 2].filter((i) => !this.deleted.has(i))
  }
  check(n: number): number | undefined {
    return n >= 1 && n <= 3 && !this.deleted.has(n - 1) ? n - 1 : undefined
  }
  step(cmd: string): Expected {
    const [verb, a, b] = cmd.split(" ") as [string, string | undefined, string | undefined]
    const n = a === undefined ? NaN : Number(a)
    if (verb === "NOOP") return { ok: true, exact: "+OK\r\n" }
    if (verb === "CAPA") return { ok: true }
    if (verb === "FOO" || (verb === "RETR" && n === 0)) return { ok: false }
    if (verb === "QUIT") {
      const wasTrans = this.phase === "trans"
      this.phase = "closed"
      this.quit = wasTrans
      return { ok: true, closes: true }
    }
    if (this.phase === "auth") {
      if (verb === "USER") {
        this.user = a
        return { ok: true }
      }
      if (verb === "PASS") {
        if (this.user === undefined) return { ok: false }
        if (this.user === "alice" && a === "secret") {
          this.phase = "trans"
          return { ok: true }
        }
        this.user = undefined
        this.failures++
        if (this.failures >= env.maxAuthFailures) {
          this.phase = "closed"
          return { ok: false, closes: true }
        }
        return { ok: false }
      }
      if (verb === "AUTH") return { ok: true }
      return { ok: false } // every transaction command before login
    }
    // TRANSACTION
    switch (verb) {
      case "USER":
      case "PASS":
      case "AUTH":
        return { ok: false }
      case "STAT": {
        const live = this.live()
        return { ok: true, exact: `+OK ${live.length} ${live.reduce((s, i) => s + this.size(i), 0)}\r\n` }
      }
      case "LIST": {
        if (a === undefined) {
          return { ok: true, body: this.live().map((i) => `${i + 1} ${this.size(i)}\r\n`).join("") + ".\r\n" }
        }
        const i = this.check(n)
        return i === undefined ? { ok: false } : { ok: true, exact: `+OK ${n} ${this.size(i)}\r\n` }
      }
      case "UIDL": {
        if (a === undefined) return { ok: true, body: this.live().map((i) => `${i + 1} ${i + 1}\r\n`).join("") + ".\r\n" }
        const i = this.check(n)
        return i === undefined ? { ok: false } : { ok: true, exact: `+OK ${n} ${i + 1}\r\n` }
      }
      case "RETR":
      case "TOP": {
        const i = this.check(n)
        if (i === undefined || this.removedElsewhere.has(i)) return { ok: false }
        const full = wire[i]!
        let text = full
        if (verb === "TOP") {
          const lines = full.split("\r\n").slice(0, -1)
          const blank = lines.indexOf("")
          const keep = blank === -1 ? lines.length : blank + 1 + Number(b)
          text = lines.slice(0, keep).map((l) => l + "\r\n").join("")
        }
        return { ok: true, body: text.split("\r\n").map((l) => (l.startsWith(".") ? "." + l : l)).join("\r\n") + ".\r\n" }
      }
      case "DELE": {
        const i = this.check(n)
        if (i === undefined) return { ok: false }
        this.deleted.add(i)
        return { ok: true }
      }
      case "RSET":
        this.deleted.clear()
        return { ok: true }
    }
    return { ok: false }
  }
  /** The UIDs that must remain in the store once the session is over. */
  remaining(): Array<number> {
    return [0, 1, 2].filter((i) => !this.removedElsewhere.has(i) && !(this.quit && this.deleted.has(i))).map((i) => i + 1)
  }
}

const decoder = new TextDecoder("latin1")

/** Runs one session over `commands`, returning a failure message at the first divergence from the model. */
const runSession = (commands: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const store = yield* Mailbox.Mailbox
    const model = new Model()
    let state = Session.initial(false)
    for (const cmd of commands) {
      if (cmd.startsWith("OTHER-SESSION-DELETES")) {
        // Another session removes a message while this one holds its snapshot (before login it would only change
        // what the snapshot holds, which the model does not track).
        if (state._tag !== "Transaction") continue
        const uid = Number(cmd.split(" ")[1])
        const other = yield* store.open("alice")
        const index = other.messages.findIndex((m) => m.uid === uid)
        if (index >= 0) {
          yield* other.commitUpdate([index])
          model.removedElsewhere.add(uid - 1)
        }
        continue
      }
      if (state._tag === "Closed") break
      const expected = model.step(cmd)
      const stepped = yield* Session.step(env, state, Session.decodeLine(state, cmd))
      let transcript = ""
      for (const out of stepped.out) {
        if (out._tag === "Text") {
          transcript += out.text
          continue
        }
        if (out._tag === "Bytes") {
          transcript += Buffer.from(out.bytes).toString("latin1")
          continue
        }
        const body = yield* Effect.result(Stream.runCollect(Session.messageBody(out)))
        if (Result.isFailure(body)) {
          assert.strictEqual(body.failure.reason, "MessageGone", `${cmd}: unexpected store error`)
          transcript += Session.messageGone(state as Session.Transaction, out.index)
        } else {
          transcript += out.status + body.success.map((c) => decoder.decode(c)).join("")
        }
      }
      state = stepped.state
      const status = transcript.slice(0, transcript.indexOf("\r\n") + 2)
      assert.isTrue(Buffer.byteLength(status, "latin1") <= 512, `${cmd}: status line over 512 octets`)
      assert.match(status, /^(\+OK|-ERR)( [^\r\n]*)?\r\n$/, `${cmd}: malformed status line ${JSON.stringify(status)}`)
      assert.strictEqual(status.startsWith("+OK"), expected.ok, `${cmd}: expected ${expected.ok ? "+OK" : "-ERR"}, got ${status}`)
      if (expected.exact !== undefined) assert.strictEqual(transcript, expected.exact, `${cmd}: reply`)
      if (expected.body !== undefined) assert.strictEqual(transcript.slice(status.length), expected.body, `${cmd}: body`)
      const rest = transcript.slice(status.length)
      if (rest !== "") {
        assert.isTrue(rest.endsWith("\r\n.\r\n") || rest === ".\r\n", `${cmd}: multi-line reply not terminated`)
        assert.notInclude(rest.slice(0, -3), "\r\n.\r\n", `${cmd}: multi-line reply terminated twice`)
      }
      assert.strictEqual(stepped.action === "close", expected.closes === true, `${cmd}: close`)
      if (model.phase === "trans") assert.strictEqual(state._tag, "Transaction")
    }
    // After the session (QUIT or dropped): the store holds exactly what the model says.
    const after = yield* store.open("alice")
    assert.deepStrictEqual(after.messages.map((m) => m.uid), model.remaining(), `store after ${commands.join("; ")}`)
  })

const layers = () =>
  Effect.provide([
    Mailbox.layerMemory({ alice: messages }),
    Directory.layerMemory({ alice: "{PLAIN}secret" }),
    Limits.layer(),
    Layer.succeed(Throttle.Throttle)(Throttle.disabled)
  ])

describe("Session.step against the reference model", () => {
  it.effect.prop(
    "random sessions, biased to log in first",
    [Schema.Boolean, Arbitrary.array(Arbitrary.array(Arbitrary.schema(Step), { maxLength: 12 }), { minLength: 2, maxLength: 4 })],
    ([logInFirst, parts]) =>
      runSession(logInFirst ? ["USER alice", "PASS secret", ...parts.flat()] : parts.flat()).pipe(layers()),
    { timeout: 90_000, arbitrary: { runs: 300 } }
  )

  it.effect("message numbers never shift after DELE, and QUIT removes exactly the marked ones", () =>
    runSession(["USER alice", "PASS secret", "DELE 1", "LIST 2", "UIDL 3", "RETR 1", "LIST", "DELE 3", "QUIT"]).pipe(layers()))

  it.effect("a dropped session removes nothing", () =>
    runSession(["USER alice", "PASS secret", "DELE 1", "DELE 2"]).pipe(layers()))

  it.effect("a message removed by another session answers -ERR, and the numbering stays", () =>
    runSession(["USER alice", "PASS secret", "OTHER-SESSION-DELETES 2", "RETR 2", "RETR 2", "LIST", "RETR 3", "QUIT"])
      .pipe(layers()))
})
