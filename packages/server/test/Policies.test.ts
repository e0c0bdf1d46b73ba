// Mailbox policies as a client sees them, on the test clock: CAPA's EXPIRE and LOGIN-DELAY (RFC 2449), the minimum
// interval between logins enforced with -ERR [LOGIN-DELAY], and RETR recording messages as retrieved for retention.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { Directory } from "@pop3d/auth"
import { Mailbox } from "@pop3d/mailbox"
import * as Connection from "../src/Connection.ts"
import * as Limits from "../src/Limits.ts"
import * as LoginInterval from "../src/LoginInterval.ts"
import * as Retention from "../src/Retention.ts"
import * as Server from "../src/Server.ts"
import * as Settings from "../src/Settings.ts"
import type * as Session from "../src/Session.ts"
import * as Throttle from "../src/Throttle.ts"
import * as FakeSocket from "./FakeSocket.ts"
import * as Fixtures from "./fixtures.ts"

const baseEnv: Session.Env = Fixtures.env

const options = Fixtures.connectionOptions

const services = (maxSessionsPerUser = 0) =>
  Effect.provide(Layer.mergeAll(
    Mailbox.layerMemory({ alice: ["Subject: a\r\n\r\nfirst\r\n", "Subject: b\r\n\r\nsecond\r\n"] }),
    Directory.layerMemory({ alice: "{PLAIN}secret" }),
    Limits.layer({ maxSessionsPerUser }),
    Layer.succeed(Throttle.Throttle)(Throttle.disabled),
    Layer.succeed(LoginInterval.LoginInterval)(LoginInterval.make())
  ))

const connect = (env: Session.Env) =>
  Effect.gen(function*() {
    const client = yield* FakeSocket.make
    const fiber = yield* Effect.forkChild(Connection.serve(client.socket, options(env)))
    assert.match(yield* client.next, /^\+OK /)
    return { client, fiber }
  })

const capa = (client: Effect.Success<typeof FakeSocket.make>) =>
  Effect.gen(function*() {
    yield* client.send("CAPA")
    assert.match(yield* client.next, /^\+OK/)
    return yield* client.body
  })

/** USER/PASS; the PASS reply line. */
const login = (client: Effect.Success<typeof FakeSocket.make>) =>
  Effect.gen(function*() {
    yield* client.send("USER alice")
    assert.match(yield* client.next, /^\+OK/)
    yield* client.send("PASS secret")
    return yield* client.next
  })

const quit = (c: { client: Effect.Success<typeof FakeSocket.make>; fiber: Fiber.Fiber<void> }) =>
  Effect.gen(function*() {
    yield* c.client.send("QUIT")
    assert.match(yield* c.client.next, /^\+OK/)
    yield* Fiber.join(c.fiber)
  })

describe("CAPA EXPIRE and LOGIN-DELAY", () => {
  it.effect("advertised from the settings, before and after login; absent when not configured", () =>
    Effect.gen(function*() {
      const plain = yield* connect(baseEnv)
      const lines = yield* capa(plain.client)
      assert.isFalse(lines.some((l) => l.startsWith("EXPIRE") || l.startsWith("LOGIN-DELAY")))
      yield* quit(plain)

      const env = { ...baseEnv, expire: Retention.expireCapability({ days: 60, retrievedDays: 7 }), loginInterval: 300 }
      const c = yield* connect(env)
      const before = yield* capa(c.client)
      assert.include(before, "EXPIRE 7")
      assert.include(before, "LOGIN-DELAY 300")
      assert.match(yield* login(c.client), /^\+OK Logged in/)
      const after = yield* capa(c.client)
      assert.include(after, "EXPIRE 7")
      assert.include(after, "LOGIN-DELAY 300")
      yield* quit(c)

      const never = yield* connect({ ...baseEnv, expire: Retention.expireCapability({ days: 0, retrievedDays: 0 }) })
      assert.include(yield* capa(never.client), "EXPIRE NEVER")
      yield* quit(never)
    }).pipe(services()))
})

describe("the session environment from the settings", () => {
  it.effect("EXPIRE from the retention settings, LOGIN-DELAY from login-interval", () =>
    Effect.gen(function*() {
      const load = (flags: Record<string, string>) =>
        Settings.load({ flags: { data: "/nonexistent", ...flags }, env: {}, isRoot: false })
      const off = Server.sessionEnv(yield* load({}), [], false)
      assert.strictEqual(off.expire, "NEVER")
      assert.strictEqual(off.loginInterval, 0)
      const on = Server.sessionEnv(
        yield* load({ "retention-days": "60", "retention-retrieved-days": "7", "login-interval": "900" }),
        [],
        false
      )
      assert.strictEqual(on.expire, "7")
      assert.strictEqual(on.loginInterval, 900)
    }))
})

describe("LOGIN-DELAY enforcement", () => {
  const env = { ...baseEnv, loginInterval: 60 }

  it.effect("a second login sooner than the interval gets -ERR [LOGIN-DELAY]; the session stays usable; later it works", () =>
    Effect.gen(function*() {
      const first = yield* connect(env)
      assert.match(yield* login(first.client), /^\+OK Logged in/)
      yield* quit(first)
      yield* TestClock.adjust("59 seconds")
      const second = yield* connect(env)
      const refused = yield* login(second.client)
      assert.match(refused, /^-ERR \[LOGIN-DELAY\] Logins must be at least 60 seconds apart: try again in 1 second$/)
      yield* second.client.send("STAT")
      assert.match(yield* second.client.next, /^-ERR/, "still not logged in")
      yield* TestClock.adjust("1 second")
      assert.match(yield* login(second.client), /^\+OK Logged in/, "the same connection may try again")
      yield* quit(second)
    }).pipe(services()))

  it.effect("a login refused for another reason (too many sessions) does not count as a login", () =>
    Effect.gen(function*() {
      const a = yield* connect(env)
      assert.match(yield* login(a.client), /^\+OK Logged in/) // t = 0
      yield* TestClock.adjust("61 seconds")
      const b = yield* connect(env)
      assert.match(yield* login(b.client), /^-ERR \[IN-USE\]/) // t = 61, admitted then taken back
      yield* quit(a)
      yield* TestClock.adjust("1 second")
      const c = yield* connect(env)
      assert.match(yield* login(c.client), /^\+OK Logged in/, "62 s after the last real login")
      yield* quit(c)
      yield* quit(b)
    }).pipe(services(1)))

  it.effect("with no interval set, logins may follow each other at once", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 3; i++) {
        const c = yield* connect(baseEnv)
        assert.match(yield* login(c.client), /^\+OK Logged in/)
        yield* quit(c)
      }
    }).pipe(services()))
})

describe("RETR records retrieval", () => {
  it.effect("RETR (not TOP) marks the message retrieved; a retrieved-age expiry removes only that one", () =>
    Effect.gen(function*() {
      const c = yield* connect(baseEnv)
      assert.match(yield* login(c.client), /^\+OK Logged in/)
      yield* c.client.send("TOP 2 0")
      assert.match(yield* c.client.next, /^\+OK/)
      yield* c.client.body
      yield* c.client.send("RETR 1")
      assert.match(yield* c.client.next, /^\+OK/)
      assert.deepStrictEqual(yield* c.client.body, ["Subject: a", "", "first"])
      yield* quit(c)
      const store = yield* Mailbox.Mailbox
      yield* TestClock.adjust("1 day")
      assert.deepStrictEqual(yield* store.expire("alice", { retrievedBefore: 1 }), { removed: 1 })
      const left = yield* store.open("alice")
      assert.deepStrictEqual(left.messages.map((m) => m.uid), [2])
    }).pipe(services()))
})
