import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as Throttle from "../src/Throttle.ts"

const seconds = (d: Duration.Duration) => Duration.toMillis(d) / 1000

/** The delay (in seconds) for the next attempt from `address` (for `user`). */
const next = (t: Throttle.Shape, address: string, user?: string) => Effect.map(t.delayFor(address, user), seconds)

describe("Throttle", () => {
  it("the schedule: 2 → 4 → 8 → 15, capped", () => {
    assert.deepStrictEqual([0, 1, 2, 3, 4, 5, 40].map((n) => Throttle.delayAfter(n, 2000, 15_000)), [
      0,
      2000,
      4000,
      8000,
      15_000,
      15_000,
      15_000
    ])
  })

  it.effect("failures from one address escalate the delay up to the cap; a new address is not delayed", () =>
    Effect.gen(function*() {
      const t = Throttle.make()
      const seen: Array<number> = []
      for (let i = 0; i < 6; i++) {
        seen.push(yield* next(t, "192.0.2.1"))
        yield* t.recordFailure("192.0.2.1")
      }
      assert.deepStrictEqual(seen, [0, 2, 4, 8, 15, 15])
      assert.strictEqual(yield* next(t, "192.0.2.2"), 0)
    }))

  it.effect("unknown users and wrong passwords count the same (the user name does not matter to the address)", () =>
    Effect.gen(function*() {
      const t = Throttle.make()
      yield* t.recordFailure("192.0.2.1", "alice")
      yield* t.recordFailure("192.0.2.1", "no-such-user")
      assert.strictEqual(yield* next(t, "192.0.2.1"), 4)
      assert.strictEqual(yield* next(t, "192.0.2.1", "anyone"), 4)
    }))

  it.effect("quiet periods forgive one step each; after enough quiet the entry is gone", () =>
    Effect.gen(function*() {
      const t = Throttle.make({ decayAfter: "1 minute" })
      for (let i = 0; i < 10; i++) yield* t.recordFailure("192.0.2.1")
      assert.strictEqual(yield* next(t, "192.0.2.1"), 15)
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual(yield* next(t, "192.0.2.1"), 15, "not yet a full quiet period")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* next(t, "192.0.2.1"), 8, "steps are capped at the cap's step, so decay starts at once")
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(yield* next(t, "192.0.2.1"), 4)
      yield* TestClock.adjust("2 minutes")
      assert.strictEqual(yield* next(t, "192.0.2.1"), 0)
      assert.strictEqual((yield* t.sizes).addresses, 0, "a forgiven entry is dropped")
      // A failure after a partial decay continues from where the decay left it.
      for (let i = 0; i < 3; i++) yield* t.recordFailure("192.0.2.1")
      yield* TestClock.adjust("1 minute")
      yield* t.recordFailure("192.0.2.1")
      assert.strictEqual(yield* next(t, "192.0.2.1"), 8)
    }))

  it.effect("a success is not delayed by its own address and clears it", () =>
    Effect.gen(function*() {
      const t = Throttle.make()
      for (let i = 0; i < 3; i++) yield* t.recordFailure("192.0.2.1", "alice")
      assert.strictEqual(yield* next(t, "192.0.2.1"), 8)
      yield* t.recordSuccess("192.0.2.1", "alice")
      assert.strictEqual(yield* next(t, "192.0.2.1"), 0)
      assert.strictEqual(yield* next(t, "192.0.2.1", "alice"), 0, "known-good pair skips the account penalty")
      assert.strictEqual(yield* next(t, "192.0.2.1", "bob"), 0)
    }))

  it.effect("failures against one account from many addresses delay the next attempt on it from anywhere new", () =>
    Effect.gen(function*() {
      const t = Throttle.make()
      for (let i = 1; i <= 5; i++) {
        assert.strictEqual(yield* next(t, `198.51.100.${i}`), 0, "each address is fresh")
        yield* t.recordFailure(`198.51.100.${i}`, "alice")
      }
      assert.strictEqual(yield* next(t, "203.0.113.9", "alice"), 15, "spreading across addresses does not help")
      assert.strictEqual(yield* next(t, "203.0.113.9", "bob"), 0, "other accounts are not affected")
      assert.strictEqual(yield* next(t, "203.0.113.9"), 0, "before the user is known, only the address counts")
    }))

  it.effect("the account's owner is not slowed by an attack on the account, and her logins do not lift it", () =>
    Effect.gen(function*() {
      const t = Throttle.make()
      yield* t.recordSuccess("192.0.2.50", "alice") // alice's usual client
      for (let i = 1; i <= 4; i++) yield* t.recordFailure(`198.51.100.${i}`, "alice")
      assert.strictEqual(yield* next(t, "192.0.2.50", "alice"), 0, "known-good address")
      yield* t.recordSuccess("192.0.2.50", "alice")
      assert.strictEqual(yield* next(t, "203.0.113.9", "alice"), 15, "the attacker stays slowed")
      yield* TestClock.adjust("1 day")
      assert.strictEqual(yield* next(t, "192.0.2.50", "alice"), 0, "account penalty long forgiven")
    }))

  it.effect("wait sleeps on the Clock for the delay (test clock)", () =>
    Effect.gen(function*() {
      const t = Throttle.make()
      yield* t.recordFailure("192.0.2.1")
      yield* t.recordFailure("192.0.2.1")
      const fiber = yield* Effect.forkChild(t.wait("192.0.2.1"))
      yield* TestClock.adjust("3999 millis")
      assert.isUndefined(fiber.pollUnsafe(), "still waiting")
      yield* TestClock.adjust("1 millis")
      const slept = yield* Fiber.join(fiber)
      assert.strictEqual(seconds(slept), 4)
      assert.strictEqual(seconds(yield* t.wait("192.0.2.99")), 0, "no penalty: no sleep")
    }))

  it.effect("IPv6 clients are grouped by /64; IPv4-mapped addresses are IPv4", () =>
    Effect.gen(function*() {
      const t = Throttle.make()
      yield* t.recordFailure("2001:db8:1:2::1")
      assert.strictEqual(yield* next(t, "2001:db8:1:2:ffff:eeee:dddd:cccc"), 2)
      assert.strictEqual(yield* next(t, "2001:db8:1:3::1"), 0)
      yield* t.recordFailure("::ffff:192.0.2.7")
      assert.strictEqual(yield* next(t, "192.0.2.7"), 2)
    }))

  it.effect("bounded memory: at most maxEntries per table, oldest evicted first", () =>
    Effect.gen(function*() {
      const t = Throttle.make({ maxEntries: 10 })
      for (let i = 0; i < 1000; i++) {
        yield* t.recordFailure(`10.0.${i >> 8}.${i & 255}`, `user${i}`)
        yield* t.recordSuccess(`10.1.${i >> 8}.${i & 255}`, `user${i}`)
      }
      const sizes = yield* t.sizes
      assert.isAtMost(sizes.addresses, 10)
      assert.isAtMost(sizes.accounts, 10)
      assert.isAtMost(sizes.knownGood, 10)
      assert.strictEqual(yield* next(t, "10.0.3.231"), 2, "the most recent entries are kept")
      assert.strictEqual(yield* next(t, "10.0.0.0"), 0, "the oldest were evicted")
    }))

  it.effect("entries expire: after long quiet, all tables empty out as they are touched", () =>
    Effect.gen(function*() {
      const t = Throttle.make({ knownGoodFor: "1 hour" })
      for (let i = 0; i < 50; i++) yield* t.recordFailure(`10.0.0.${i}`, `u${i}`)
      yield* t.recordSuccess("10.9.9.9", "x")
      yield* TestClock.adjust("2 hours")
      yield* t.recordFailure("10.0.1.1", "late") // a new failure trims forgiven entries from the old end
      yield* t.recordSuccess("10.9.9.8", "y")
      const sizes = yield* t.sizes
      assert.deepStrictEqual(sizes, { addresses: 1, accounts: 1, knownGood: 1 })
    }))

  it.effect("maxDelay 0 (and the disabled throttle) never delays", () =>
    Effect.gen(function*() {
      for (const t of [Throttle.make({ maxDelay: 0 }), Throttle.disabled]) {
        for (let i = 0; i < 5; i++) yield* t.recordFailure("192.0.2.1", "alice")
        assert.strictEqual(yield* next(t, "192.0.2.1", "alice"), 0)
        assert.deepStrictEqual(yield* t.sizes, { addresses: 0, accounts: 0, knownGood: 0 })
      }
    }))

  it.effect("the layer provides one shared throttle", () =>
    Effect.gen(function*() {
      yield* Throttle.Throttle.use((t) => t.recordFailure("192.0.2.1"))
      const d = yield* Throttle.Throttle.use((t) => t.delayFor("192.0.2.1"))
      assert.strictEqual(seconds(d), 2)
    }).pipe(Effect.provide(Throttle.layer())))
})
