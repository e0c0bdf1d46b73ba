// The retention sweep on the test clock (PROFILE E0005): it runs at start and every interval, removes what the
// policy says from every mailbox, and leaves alone a mailbox a session holds a snapshot of, whose messages go at
// the first sweep after the session ends.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import { Mailbox } from "@pop3d/mailbox"
import * as Limits from "../src/Limits.ts"
import * as Retention from "../src/Retention.ts"

const m = (subject: string) => `Subject: ${subject}\r\n\r\n${subject}\r\n`

const services = Effect.provide(Layer.mergeAll(
  Mailbox.layerMemory({ alice: [m("a1"), m("a2")], bob: [m("b1")], carol: [m("c1"), m("c2")] }),
  Limits.layer()
))

const uids = (user: string) => Effect.flatMap(Mailbox.Mailbox, (s) => Effect.map(s.open(user), (v) => v.messages.map((x) => x.uid)))

const text = (view: Mailbox.MailboxView, index: number) =>
  Effect.map(Stream.mkUint8Array(view.read(index)), (b) => new TextDecoder().decode(b))

describe("Retention sweep", () => {
  it.effect("removes old messages every interval; a mailbox with an open session is skipped until it ends", () =>
    Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      const limits = yield* Limits.Limits
      // Alice is logged in: her session slot and her snapshot, taken at day 0.
      const session = yield* Scope.make()
      yield* limits.session("alice").pipe(Scope.provide(session))
      const view = yield* store.open("alice")
      const sweeper = yield* Effect.forkChild(Retention.run({ days: 30, retrievedDays: 0, interval: 3600 }))
      yield* TestClock.adjust("29 days")
      assert.deepStrictEqual(yield* uids("bob"), [1], "29 days old: kept")
      yield* store.deliver("bob", new TextEncoder().encode(m("b2"))) // delivered on day 29
      yield* TestClock.adjust("1 day")
      yield* TestClock.adjust("1 hour") // the next sweep after day 30
      assert.deepStrictEqual(yield* uids("bob"), [2], "older than 30 days: removed; the newer one stays")
      assert.deepStrictEqual(yield* uids("carol"), [])
      // Alice's snapshot is whole: her messages were not removed under her.
      assert.strictEqual(yield* text(view, 0), m("a1"))
      assert.strictEqual(yield* text(view, 1), m("a2"))
      assert.strictEqual((yield* store.stats("alice")).messages, 2)
      // She logs out (QUIT removing nothing); the next sweep removes them, and the next login sees none.
      yield* Scope.close(session, Exit.void)
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(yield* uids("alice"), [])
      yield* Fiber.interrupt(sweeper)
    }).pipe(services))

  it.effect("retrieved messages go after retention-retrieved-days, the others after retention-days", () =>
    Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      const view = yield* store.open("carol")
      yield* view.markRetrieved(0) // c1 was RETR'd
      const options = { days: 60, retrievedDays: 7, interval: 3600 }
      const sweeper = yield* Effect.forkChild(Retention.run(options))
      yield* TestClock.adjust("7 days")
      assert.deepStrictEqual(yield* uids("carol"), [1, 2], "exactly 7 days: not older than 7 days yet")
      yield* TestClock.adjust("1 hour")
      assert.deepStrictEqual(yield* uids("carol"), [2], "the retrieved one is gone")
      yield* TestClock.adjust("53 days")
      assert.deepStrictEqual(yield* uids("carol"), [], "the unretrieved one goes after 60 days")
      yield* Fiber.interrupt(sweeper)
    }).pipe(services))

  it.effect("one sweep reports what it did; nothing is removed with retention off", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("400 days")
      const limits = yield* Limits.Limits
      const scope = yield* Scope.make()
      yield* limits.session("bob").pipe(Scope.provide(scope))
      assert.isFalse(Retention.isOn({ days: 0, retrievedDays: 0, interval: 3600 }))
      assert.deepStrictEqual(yield* Retention.sweep({ days: 0, retrievedDays: 0, interval: 3600 }), {
        mailboxes: 3,
        skipped: 1,
        removed: 0,
        failed: 0
      })
      assert.deepStrictEqual(yield* Retention.sweep({ days: 365, retrievedDays: 0, interval: 3600 }), {
        mailboxes: 3,
        skipped: 1,
        removed: 4,
        failed: 0
      })
      assert.deepStrictEqual(yield* uids("bob"), [1])
    }).pipe(services))

  it("EXPIRE advertises the shortest retention that applies, NEVER when off", () => {
    assert.strictEqual(Retention.expireCapability({ days: 0, retrievedDays: 0 }), "NEVER")
    assert.strictEqual(Retention.expireCapability({ days: 60, retrievedDays: 7 }), "7")
    assert.strictEqual(Retention.expireCapability({ days: 30, retrievedDays: 0 }), "30")
  })
})
