// The connection fiber under the test clock: inactivity timers (notice, close, no UPDATE), timer resets by
// commands and SASL lines, shutdown notices, pipelining order and over-long lines.
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Directory } from "@pop3d/auth"
import { Mailbox } from "@pop3d/mailbox"
import * as Connection from "../src/Connection.ts"
import * as Limits from "../src/Limits.ts"
import * as Throttle from "../src/Throttle.ts"
import * as FakeSocket from "./FakeSocket.ts"
import * as Fixtures from "./fixtures.ts"

const options: Connection.ConnectionOptions = Fixtures.connectionOptions()

const messages = ["Subject: a\r\n\r\nfirst\r\n", "Subject: b\n\n.dot\nsecond\n"]

const withStore = Effect.provide([
  Mailbox.layerMemory({ alice: messages }),
  Directory.layerMemory({ alice: "{PLAIN}secret" }),
  Limits.layer({ maxSessionsPerUser: 2 }),
  Layer.succeed(Throttle.Throttle)(Throttle.disabled)
])

const withThrottle = Effect.provide([
  Mailbox.layerMemory({ alice: messages }),
  Directory.layerMemory({ alice: "{PLAIN}secret" }),
  Limits.layer(),
  Throttle.layer({ initialDelay: "2 seconds", maxDelay: "15 seconds" })
])

const open = Effect.gen(function*() {
  const client = yield* FakeSocket.make
  const fiber = yield* Effect.forkChild(Connection.serve(client.socket, options))
  assert.match(yield* client.next, /^\+OK /)
  return { client, fiber }
})

const login = (client: Effect.Success<typeof FakeSocket.make>) =>
  Effect.gen(function*() {
    yield* client.send("USER alice")
    assert.match(yield* client.next, /^\+OK/)
    yield* client.send("PASS secret")
    assert.match(yield* client.next, /^\+OK Logged in/)
  })

const remaining = Effect.gen(function*() {
  const store = yield* Mailbox.Mailbox
  return (yield* store.open("alice")).messages.map((m) => m.uid)
})

describe("inactivity timers (test clock)", () => {
  it.effect("before login: open at 59 s, notice and close at 60 s", () =>
    Effect.gen(function*() {
      const { client } = yield* open
      yield* TestClock.adjust("59 seconds")
      assert.isFalse(yield* Deferred.isDone(client.closed))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* client.next, "-ERR Disconnected for inactivity, closing connection")
      yield* Deferred.await(client.closed)
    }).pipe(withStore))

  it.effect("after login: open at 29 min, notice and close at 30 min, and no UPDATE", () =>
    Effect.gen(function*() {
      const { client } = yield* open
      yield* login(client)
      yield* client.send("DELE 1")
      assert.match(yield* client.next, /^\+OK/)
      yield* TestClock.adjust("29 minutes")
      assert.isFalse(yield* Deferred.isDone(client.closed))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* client.next, "-ERR Disconnected for inactivity, closing connection")
      yield* Deferred.await(client.closed)
      assert.deepStrictEqual(yield* remaining, [1, 2])
    }).pipe(withStore))

  it.effect("every command restarts the timer", () =>
    Effect.gen(function*() {
      const { client } = yield* open
      for (let i = 0; i < 5; i++) {
        yield* TestClock.adjust("50 seconds")
        yield* client.send("NOOP")
        assert.strictEqual(yield* client.next, "+OK")
      }
      yield* TestClock.adjust("59 seconds")
      assert.isFalse(yield* Deferred.isDone(client.closed))
      yield* TestClock.adjust("1 second")
      assert.match(yield* client.next, /^-ERR Disconnected/)
    }).pipe(withStore))

  it.effect("a SASL continuation line restarts the timer", () =>
    Effect.gen(function*() {
      const { client } = yield* open
      yield* client.send("AUTH PLAIN")
      assert.strictEqual(yield* client.next, "+ ")
      yield* TestClock.adjust("50 seconds")
      yield* client.send(Buffer.from("\0alice\0secret").toString("base64"))
      assert.match(yield* client.next, /^\+OK Logged in/)
      yield* TestClock.adjust("29 minutes")
      assert.isFalse(yield* Deferred.isDone(client.closed))
    }).pipe(withStore))
})

describe("write stall (test clock)", () => {
  it.effect("a client that stops reading is dropped after the period of its state, and nothing is removed", () =>
    Effect.gen(function*() {
      const { client, fiber } = yield* open
      yield* login(client)
      yield* client.send("DELE 2")
      assert.match(yield* client.next, /^\+OK/)
      yield* client.stall
      yield* client.send("RETR 1")
      yield* TestClock.adjust("29 minutes")
      assert.isFalse(yield* Deferred.isDone(client.closed))
      yield* TestClock.adjust("1 minute")
      yield* Deferred.await(client.closed)
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* remaining, [1, 2])
    }).pipe(withStore))
})

describe("shutdown", () => {
  it.effect("interrupting the connection sends -ERR [SYS/TEMP] and runs no UPDATE", () =>
    Effect.gen(function*() {
      const { client, fiber } = yield* open
      yield* login(client)
      yield* client.send("DELE 2")
      assert.match(yield* client.next, /^\+OK/)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* client.next, "-ERR [SYS/TEMP] Server shutting down, closing connection")
      yield* Deferred.await(client.closed)
      assert.deepStrictEqual(yield* remaining, [1, 2])
    }).pipe(withStore))

  it.effect("a client that hangs up after DELE removes nothing", () =>
    Effect.gen(function*() {
      const { client, fiber } = yield* open
      yield* login(client)
      yield* client.send("DELE 1")
      yield* client.next
      yield* client.hangup
      yield* Fiber.join(fiber)
      assert.deepStrictEqual(yield* remaining, [1, 2])
    }).pipe(withStore))
})

describe("pipelining and framing", () => {
  it.effect("many commands in one write are answered in order, each multi-line reply complete first", () =>
    Effect.gen(function*() {
      const { client } = yield* open
      yield* client.sendRaw("USER alice\r\nPASS secret\r\nLIST\r\nRETR 2\r\nNOOP\r\nTOP 1 0\r\nUIDL 2\r\nQUIT\r\n")
      assert.strictEqual(yield* client.next, "+OK Send PASS")
      assert.match(yield* client.next, /^\+OK Logged in, maildrop has 2 messages/)
      assert.match(yield* client.next, /^\+OK 2 messages/)
      assert.deepStrictEqual(yield* client.body, ["1 21", "2 28"])
      assert.strictEqual(yield* client.next, "+OK 28 octets")
      assert.deepStrictEqual(yield* client.body, ["Subject: b", "", "..dot", "second"])
      assert.strictEqual(yield* client.next, "+OK")
      assert.strictEqual(yield* client.next, "+OK Top of message follows")
      assert.deepStrictEqual(yield* client.body, ["Subject: a", ""])
      assert.strictEqual(yield* client.next, "+OK 2 2")
      assert.match(yield* client.next, /^\+OK Signing off/)
      yield* Deferred.await(client.closed)
    }).pipe(withStore))

  it.effect("an over-long line gets -ERR and the session goes on", () =>
    Effect.gen(function*() {
      const { client } = yield* open
      yield* client.sendRaw("NOOP " + "x".repeat(100_000) + "\r\nNOOP\r\n")
      assert.strictEqual(yield* client.next, "-ERR Command line too long: at most 512 octets including CRLF")
      assert.strictEqual(yield* client.next, "+OK")
    }).pipe(withStore))

  it.effect("too many failed logins: -ERR and close", () =>
    Effect.gen(function*() {
      const { client } = yield* open
      for (let i = 0; i < 2; i++) {
        yield* client.send("USER alice")
        yield* client.next
        yield* client.send("PASS nope")
        assert.strictEqual(yield* client.next, "-ERR [AUTH] Authentication failed")
      }
      yield* client.send("USER nobody")
      yield* client.next
      yield* client.send("PASS nope")
      assert.strictEqual(yield* client.next, "-ERR [AUTH] Authentication failed; too many failures, closing connection")
      yield* Deferred.await(client.closed)
    }).pipe(withStore))
})

describe("login protection", () => {
  it.effect("a failed login delays the next attempt from the same address; a good one is answered at once", () =>
    Effect.gen(function*() {
      const { client } = yield* open
      yield* client.send("USER alice")
      yield* client.next
      yield* client.send("PASS wrong")
      assert.strictEqual(yield* client.next, "-ERR [AUTH] Authentication failed")
      yield* client.send("USER alice")
      yield* client.next
      yield* client.send("PASS secret")
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(yield* client.pending, 0)
      yield* TestClock.adjust("1 millis")
      assert.match(yield* client.next, /^\+OK Logged in/)
    }).pipe(withThrottle))

  it.effect("sessions beyond the per-user limit get -ERR [IN-USE] and stay in AUTHORIZATION", () =>
    Effect.gen(function*() {
      const a = yield* open
      yield* login(a.client)
      const b = yield* open
      yield* login(b.client)
      const c = yield* open
      yield* c.client.send("USER alice")
      yield* c.client.next
      yield* c.client.send("PASS secret")
      assert.strictEqual(yield* c.client.next, "-ERR [IN-USE] Too many sessions open for this mailbox, try again later")
      yield* a.client.send("QUIT")
      yield* a.client.next
      yield* Deferred.await(a.client.closed)
      yield* c.client.send("USER alice")
      yield* c.client.next
      yield* c.client.send("PASS secret")
      assert.match(yield* c.client.next, /^\+OK Logged in/)
    }).pipe(withStore))
})

describe("sending messages", () => {
  // Larger than one read (64 KiB) and than a flush: it goes out in several steps, dot lines and bare LFs included.
  const large = Array.from({ length: 6000 }, (_, i) => (i % 7 === 0 ? `.line ${i}` : `line ${i} ${"x".repeat(30)}`)).join("\n")
  const stored = [...messages, `Subject: large\n\n${large}\n`]

  /** The memory store, except that it never opens a message at once: every RETR takes the Effect API. */
  const waitingStore = Layer.effect(Mailbox.Mailbox)(Effect.gen(function*() {
    const inner = yield* Mailbox.Mailbox
    return {
      ...inner,
      open: (user: string) =>
        Effect.map(inner.open(user), (view): Mailbox.MailboxView => ({ ...view, openMessageNow: () => undefined }))
    }
  })).pipe(Layer.provide(Mailbox.layerMemory({ alice: stored })))

  const transcript = (store: Layer.Layer<Mailbox.Mailbox>) =>
    Effect.gen(function*() {
      const { client } = yield* open
      yield* client.sendRaw("USER alice\r\nPASS secret\r\nRETR 3\r\nRETR 2\r\nTOP 3 2\r\nRETR 1\r\nQUIT\r\n")
      yield* Deferred.await(client.closed)
      const lines: Array<string> = []
      while ((yield* client.pending) > 0) lines.push(yield* client.next)
      return lines
    }).pipe(
      Effect.provide([
        store,
        Directory.layerMemory({ alice: "{PLAIN}secret" }),
        Limits.layer(),
        Layer.succeed(Throttle.Throttle)(Throttle.disabled)
      ])
    )

  it.effect("a message goes out the same whether the store opens it at once or through its Effect API", () =>
    Effect.gen(function*() {
      const now = yield* transcript(Mailbox.layerMemory({ alice: stored }))
      const waiting = yield* transcript(waitingStore)
      assert.deepStrictEqual(waiting, now)
      const body = ["Subject: large", "", ...large.split("\n").map((l) => (l.startsWith(".") ? "." + l : l))]
      assert.strictEqual(now[2], `+OK ${stored[2]!.length + stored[2]!.split("\n").length - 1} octets`)
      assert.deepStrictEqual(now.slice(3, 3 + body.length + 1), [...body, "."])
      assert.match(now[now.length - 1]!, /^\+OK Signing off/)
    }))

  it.effect("UIDL is answered once the store has stored the UIDs, and gets -ERR [SYS/TEMP] if it could not", () =>
    Effect.gen(function*() {
      const listed = ["+OK 2 messages (49 octets)", "1 21", "2 28", "."]
      const session = (stored: Deferred.Deferred<void, Mailbox.MailboxError>) =>
        Effect.gen(function*() {
          const { client } = yield* open
          yield* login(client)
          yield* client.send("UIDL")
          yield* client.send("LIST")
          // Nothing yet, not even the LIST behind it (replies keep the commands' order).
          yield* TestClock.adjust("1 second")
          assert.strictEqual(yield* client.pending, 0)
          return client
        }).pipe(
          Effect.provide([
            Layer.effect(Mailbox.Mailbox)(Effect.gen(function*() {
              const inner = yield* Mailbox.Mailbox
              return {
                ...inner,
                open: (user: string) =>
                  Effect.map(inner.open(user), (view): Mailbox.MailboxView => ({
                    ...view,
                    uidsStored: () => Deferred.await(stored)
                  }))
              }
            })).pipe(Layer.provide(Mailbox.layerMemory({ alice: messages }))),
            Directory.layerMemory({ alice: "{PLAIN}secret" }),
            Limits.layer(),
            Layer.succeed(Throttle.Throttle)(Throttle.disabled)
          ])
        )
      const lines = (client: Effect.Success<typeof FakeSocket.make>, n: number) =>
        Effect.forEach(Array.from({ length: n }), () => client.next)

      const stored = yield* Deferred.make<void, Mailbox.MailboxError>()
      const first = yield* session(stored)
      yield* Deferred.succeed(stored, undefined)
      assert.deepStrictEqual(yield* lines(first, 8), ["+OK Unique-id listing follows", "1 1", "2 2", ".", ...listed])

      const lost = yield* Deferred.make<void, Mailbox.MailboxError>()
      const second = yield* session(lost)
      yield* Deferred.fail(lost, new Mailbox.MailboxError({ reason: "Unavailable", message: "disk full" }))
      assert.deepStrictEqual(yield* lines(second, 5), [
        "-ERR [SYS/TEMP] Mailbox temporarily unavailable, try again later",
        ...listed
      ])
    }))
})
