import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Limits from "../src/Limits.ts"

/** Holds a connection slot in its own fiber until interrupted; resolves `ready` with whether it got one. */
const holdConnection = (limits: Limits.Shape, address: string) =>
  Effect.gen(function*() {
    const ready = yield* Deferred.make<Exit.Exit<void, Limits.LimitExceeded>>()
    const fiber = yield* Effect.forkChild(
      Effect.scoped(
        Effect.exit(limits.connection(address)).pipe(
          Effect.tap((exit) => Deferred.succeed(ready, exit)),
          Effect.flatMap((exit) => (Exit.isSuccess(exit) ? Effect.never : Effect.void))
        )
      )
    )
    return { fiber, exit: yield* Deferred.await(ready) }
  })

describe("Limits", () => {
  it("defaults are MaxConnections 2000, MaxConnectionFromSingleIP 20, MaxConnectionsPerUser 16", () => {
    assert.deepStrictEqual(Limits.defaults, { maxConnections: 2000, maxConnectionsPerAddress: 20, maxSessionsPerUser: 16 })
  })

  it.effect("per address: the 21st connection from one address is refused with SYS/TEMP; others still get in", () =>
    Effect.gen(function*() {
      const limits = Limits.make()
      const held = []
      for (let i = 0; i < 20; i++) {
        const h = yield* holdConnection(limits, "192.0.2.1")
        assert.isTrue(Exit.isSuccess(h.exit))
        held.push(h.fiber)
      }
      const refused = yield* holdConnection(limits, "192.0.2.1")
      assert.isTrue(Exit.isFailure(refused.exit))
      const error = yield* Effect.flip(Effect.scoped(limits.connection("::ffff:192.0.2.1")))
      assert.strictEqual(error.reason, "ConnectionsFromAddress", "IPv4-mapped form counts as the same address")
      assert.strictEqual(Limits.responseCode(error), "SYS/TEMP")
      assert.notInclude(error.message, "192.0.2.1")
      assert.isTrue(Exit.isSuccess((yield* holdConnection(limits, "192.0.2.2")).exit))
      assert.strictEqual(yield* limits.connectionsFrom("192.0.2.1"), 20)
      // One leaves: one more may come in.
      yield* Fiber.interrupt(held[0]!)
      assert.isTrue(Exit.isSuccess((yield* holdConnection(limits, "192.0.2.1")).exit))
    }))

  it.effect("total: beyond maxConnections every address is refused", () =>
    Effect.gen(function*() {
      const limits = Limits.make({ maxConnections: 3 })
      const held = []
      for (let i = 0; i < 3; i++) held.push((yield* holdConnection(limits, `198.51.100.${i}`)).fiber)
      const error = yield* Effect.flip(Effect.scoped(limits.connection("203.0.113.1")))
      assert.strictEqual(error.reason, "Connections")
      assert.strictEqual(error.message, Limits.texts.Connections)
      assert.strictEqual((yield* limits.counts).connections, 3)
      yield* Fiber.interrupt(held[1]!)
      assert.strictEqual((yield* limits.counts).connections, 2)
      assert.isTrue(Exit.isSuccess((yield* holdConnection(limits, "203.0.113.1")).exit))
    }))

  it.effect("per user: the 17th session is refused with IN-USE; ending a session frees its slot", () =>
    Effect.gen(function*() {
      const limits = Limits.make()
      const scopes: Array<Scope.Closeable> = []
      for (let i = 0; i < 16; i++) {
        const scope = yield* Scope.make()
        yield* Scope.provide(limits.session("alice"), scope)
        scopes.push(scope)
      }
      const error = yield* Effect.flip(Effect.scoped(limits.session("alice")))
      assert.strictEqual(error.reason, "SessionsForUser")
      assert.strictEqual(Limits.responseCode(error), "IN-USE")
      yield* Effect.scoped(limits.session("bob"))
      assert.strictEqual(yield* limits.sessionsOf("alice"), 16)
      yield* Scope.close(scopes[3]!, Exit.fail("session failed"))
      assert.strictEqual(yield* limits.sessionsOf("alice"), 15, "released however the scope closed")
      yield* Effect.scoped(limits.session("alice"))
      for (const scope of scopes) yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* limits.counts, { connections: 0, addresses: 0, sessions: 0, users: 0 })
    }))

  it.effect("slots are released when the holding fiber is interrupted (shutdown, idle timeout)", () =>
    Effect.gen(function*() {
      const limits = Limits.make({ maxConnectionsPerAddress: 2, maxSessionsPerUser: 1 })
      // A connection that logs in, then is interrupted by a timer while it holds both slots.
      const connection = Effect.scoped(
        Effect.gen(function*() {
          yield* limits.connection("192.0.2.1")
          yield* limits.session("alice")
          yield* Effect.never
        })
      )
      const fiber = yield* Effect.forkChild(connection.pipe(Effect.timeout("30 minutes")))
      yield* Effect.yieldNow
      assert.deepStrictEqual(yield* limits.counts, { connections: 1, addresses: 1, sessions: 1, users: 1 })
      const second = yield* Effect.flip(Effect.scoped(limits.session("alice")))
      assert.strictEqual(second.reason, "SessionsForUser")
      yield* TestClock.adjust("30 minutes")
      yield* Fiber.await(fiber)
      assert.deepStrictEqual(yield* limits.counts, { connections: 0, addresses: 0, sessions: 0, users: 0 })

      // And by a plain interrupt while parked.
      const parked = yield* Effect.forkChild(connection)
      yield* Effect.yieldNow
      assert.strictEqual((yield* limits.counts).sessions, 1)
      yield* Fiber.interrupt(parked)
      assert.deepStrictEqual(yield* limits.counts, { connections: 0, addresses: 0, sessions: 0, users: 0 })
    }))

  it.effect("a refused acquire holds nothing; 0 means no limit", () =>
    Effect.gen(function*() {
      const limits = Limits.make({ maxConnections: 1 })
      const scope = yield* Scope.make()
      yield* Scope.provide(limits.connection("192.0.2.1"), scope)
      for (let i = 0; i < 5; i++) yield* Effect.flip(Effect.scoped(limits.connection("192.0.2.2")))
      assert.deepStrictEqual(yield* limits.counts, { connections: 1, addresses: 1, sessions: 0, users: 0 })
      yield* Scope.close(scope, Exit.void)
      const open = Limits.make({ maxConnections: 0, maxConnectionsPerAddress: 0, maxSessionsPerUser: 0 })
      yield* Effect.scoped(Effect.gen(function*() {
        for (let i = 0; i < 100; i++) {
          yield* open.connection("192.0.2.1")
          yield* open.session("alice")
        }
        assert.strictEqual((yield* open.counts).sessions, 100)
      }))
    }))

  it("addressKey: canonical IPv6, prefixes, mapped IPv4, zones", () => {
    assert.strictEqual(Limits.addressKey("192.0.2.1"), "192.0.2.1")
    assert.strictEqual(Limits.addressKey("::ffff:192.0.2.1"), "192.0.2.1")
    assert.strictEqual(Limits.addressKey("::FFFF:192.0.2.1"), "192.0.2.1")
    assert.strictEqual(Limits.addressKey("2001:DB8::1"), "2001:db8:0:0:0:0:0:1")
    assert.strictEqual(Limits.addressKey("2001:db8:0:0:0:0:0:1"), "2001:db8:0:0:0:0:0:1")
    assert.strictEqual(Limits.addressKey("fe80::1%eth0"), "fe80:0:0:0:0:0:0:1")
    assert.strictEqual(Limits.addressKey("2001:db8:aa:bb:1:2:3:4", 64), "2001:db8:aa:bb:0:0:0:0/64")
    assert.strictEqual(Limits.addressKey("2001:db8:aa:bb:1:2:3:4", 48), "2001:db8:aa:0:0:0:0:0/48")
    assert.strictEqual(Limits.addressKey("2001:db8:aaff::", 44), "2001:db8:aaf0:0:0:0:0:0/44")
    assert.strictEqual(Limits.addressKey("::1"), "0:0:0:0:0:0:0:1")
    assert.strictEqual(Limits.addressKey("64:ff9b::192.0.2.33"), "64:ff9b:0:0:0:0:c000:221")
    assert.strictEqual(Limits.addressKey("unknown"), "unknown")
  })

  it.effect("the layer provides one shared set of counters", () =>
    Effect.gen(function*() {
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Limits.Limits.use((l) => l.connection("192.0.2.1"))
        const counts = yield* Limits.Limits.use((l) => l.counts)
        assert.strictEqual(counts.connections, 1)
      }))
      assert.strictEqual((yield* Limits.Limits.use((l) => l.counts)).connections, 0)
    }).pipe(Effect.provide(Limits.layer())))
})
