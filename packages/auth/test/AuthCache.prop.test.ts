// Property test: whatever happens to the accounts (password changes, removals, reloads, time passing), the
// directory with its cache accepts exactly the current password of an existing account, and a repeated right
// password is served from the cache. The stored strings are cheap ({PLAIN} in three spellings, so a password can
// stay the same while its stored string changes) and the unknown-user scrypt is a counting stub.
import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Effect, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as AuthCache from "../src/AuthCache.ts"
import * as Directory from "../src/Directory.ts"
import type * as PasswordScheme from "../src/PasswordScheme.ts"

const User = Schema.Literals(["alice", "bob", "carol"])
const Password = Schema.Literals(["p1", "p2", "p3", "P1", "p1 ", ""])
const Form = Schema.Literals(["{PLAIN}", "{CLEARTEXT}", "{plain}"])

const Op = Schema.Union([
  Schema.TaggedStruct("Verify", { user: User, password: Password }),
  Schema.TaggedStruct("Set", { user: User, password: Password, form: Form }),
  Schema.TaggedStruct("Remove", { user: User }),
  // The source swaps its snapshot without emptying the cache (a directory that does not know to), or reloads
  // as the users file does (snapshot swapped and cache emptied).
  Schema.TaggedStruct("Reload", { clear: Schema.Boolean }),
  Schema.TaggedStruct("Tick", { minutes: Schema.Literals([1, 30, 59, 61]) })
])
type Op = typeof Op.Type

const run = (ops: ReadonlyArray<Op>) =>
  Effect.gen(function*() {
    let calls = 0
    const scrypt: PasswordScheme.ScryptFn = (_password, _salt, keyLength) =>
      Effect.sync(() => {
        calls++
        return new Uint8Array(keyLength) // never equal to the dummy's random hash
      })
    // The model: each account's stored string and current password ("" = none verifies).
    const accounts = new Map<string, { stored: string; password: string }>([["alice", {
      stored: "{PLAIN}p1",
      password: "p1"
    }]])
    const build = () => Directory.snapshot([...accounts].map(([name, a]) => [name, a.stored] as const))
    let snap = build()
    const cache = AuthCache.make({ maxEntries: 4, ttl: "1 hour" })
    const directory = Directory.make(Effect.sync(() => snap), { scrypt }, cache)

    for (const op of ops) {
      switch (op._tag) {
        case "Verify": {
          const account = accounts.get(op.user)
          const expected = account !== undefined && account.password !== "" && account.password === op.password
          const got = yield* directory.verify(op.user, op.password)
          assert.strictEqual(Option.isSome(got), expected, `${op.user}/${JSON.stringify(op.password)}`)
          if (expected) {
            const before = calls
            assert.isTrue(Option.isSome(yield* directory.verify(op.user, op.password)))
            assert.strictEqual(calls, before, "a repeated right password is a cache hit")
          }
          break
        }
        case "Set":
          accounts.set(op.user, { stored: op.form + op.password, password: op.password })
          snap = build()
          break
        case "Remove":
          accounts.delete(op.user)
          snap = build()
          break
        case "Reload":
          snap = build()
          if (op.clear) yield* cache.clear
          break
        case "Tick":
          yield* TestClock.adjust(`${op.minutes} minutes`)
          break
      }
    }
  })

describe("AuthCache property", () => {
  it.effect.prop(
    "the cache never accepts a wrong password, across password changes, removals, reloads and expiry",
    [Arbitrary.array(Arbitrary.schema(Op), { maxLength: 40 })],
    ([ops]) => run(ops),
    { timeout: 60_000, arbitrary: { runs: 400 } }
  )

  it.effect("a known tricky sequence: same password, new stored string, no reload", () =>
    run([
      { _tag: "Verify", user: "alice", password: "p1" },
      { _tag: "Set", user: "alice", password: "p2", form: "{PLAIN}" },
      { _tag: "Verify", user: "alice", password: "p1" },
      { _tag: "Set", user: "alice", password: "p1", form: "{CLEARTEXT}" },
      { _tag: "Verify", user: "alice", password: "p1" },
      { _tag: "Remove", user: "alice" },
      { _tag: "Verify", user: "alice", password: "p1" },
      { _tag: "Set", user: "bob", password: "p1", form: "{PLAIN}" },
      { _tag: "Verify", user: "bob", password: "p1" },
      { _tag: "Verify", user: "alice", password: "p1" }
    ]))
})
