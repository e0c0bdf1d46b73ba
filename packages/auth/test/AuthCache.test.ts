import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { TestClock } from "effect/testing"
import * as Fs from "node:fs/promises"
import * as NodePath from "node:path"
import * as AuthCache from "../src/AuthCache.ts"
import * as Directory from "../src/Directory.ts"
import * as PasswordScheme from "../src/PasswordScheme.ts"
import * as UsersFile from "../src/UsersFile.ts"
import { countingScrypt, fastParams, tempDir } from "./helpers.ts"

describe("AuthCache", () => {
  it.effect("remembers a success for the same user, password and stored string only", () =>
    Effect.gen(function*() {
      const cache = AuthCache.make()
      yield* cache.remember("alice", "pw", "{X}1")
      assert.isTrue(yield* cache.check("alice", "pw", "{X}1"))
      assert.isFalse(yield* cache.check("alice", "pw2", "{X}1"), "other password")
      assert.isFalse(yield* cache.check("bob", "pw", "{X}1"), "other user")
      assert.isFalse(yield* cache.check("alic", "epw", "{X}1"), "user/password boundary is part of the key")
      assert.isFalse(yield* cache.check("alice", "pw", "{X}2"), "stored string changed")
      assert.isFalse(yield* cache.check("alice", "pw", "{X}1"), "a stale entry is dropped when seen")
      assert.strictEqual(yield* cache.size, 0)
    }))

  it.effect("entries expire after the ttl (test clock)", () =>
    Effect.gen(function*() {
      const cache = AuthCache.make({ ttl: "10 minutes" })
      yield* cache.remember("alice", "pw", "s")
      yield* TestClock.adjust("9 minutes")
      assert.isTrue(yield* cache.check("alice", "pw", "s"))
      yield* TestClock.adjust("1 minute")
      assert.isFalse(yield* cache.check("alice", "pw", "s"), "a hit does not extend the lifetime")
    }))

  it.effect("bounded: the least recently used entry goes first", () =>
    Effect.gen(function*() {
      const cache = AuthCache.make({ maxEntries: 3 })
      for (const user of ["a", "b", "c"]) yield* cache.remember(user, "pw", "s")
      assert.isTrue(yield* cache.check("a", "pw", "s")) // a is now the most recently used
      yield* cache.remember("d", "pw", "s")
      assert.strictEqual(yield* cache.size, 3)
      assert.isFalse(yield* cache.check("b", "pw", "s"), "b was the least recently used")
      assert.isTrue(yield* cache.check("a", "pw", "s"))
      assert.isTrue(yield* cache.check("c", "pw", "s"))
      assert.isTrue(yield* cache.check("d", "pw", "s"))
      for (let i = 0; i < 100; i++) yield* cache.remember(`u${i}`, "pw", "s")
      assert.strictEqual(yield* cache.size, 3)
    }))

  it.effect("clear, the disabled cache, and nothing remembered for empty values", () =>
    Effect.gen(function*() {
      const cache = AuthCache.make()
      yield* cache.remember("alice", "pw", "s")
      yield* cache.clear
      assert.isFalse(yield* cache.check("alice", "pw", "s"))
      yield* cache.remember("alice", "", "s")
      yield* cache.remember("alice", "pw", "")
      assert.strictEqual(yield* cache.size, 0)
      const off = AuthCache.disabled()
      yield* off.remember("alice", "pw", "s")
      assert.isFalse(yield* off.check("alice", "pw", "s"))
    }))
})

describe("Directory with the cache", () => {
  it.effect("a repeated right password skips the hash; wrong passwords and unknown users never do", () =>
    Effect.gen(function*() {
      const { counter, scrypt } = countingScrypt()
      const stored = yield* PasswordScheme.hash("pw", "SCRYPT", { params: fastParams })
      const directory = Directory.make(Effect.succeed(Directory.snapshot([["alice", stored]])), { scrypt })
      const cost = (user: string, password: string) =>
        Effect.gen(function*() {
          const before = counter.calls
          const result = yield* directory.verify(user, password)
          return [Option.isSome(result), counter.calls - before] as const
        })
      assert.deepStrictEqual(yield* cost("alice", "pw"), [true, 1])
      assert.deepStrictEqual(yield* cost("alice", "pw"), [true, 0], "cache hit")
      assert.deepStrictEqual(yield* cost("alice", "wrong"), [false, 1])
      assert.deepStrictEqual(yield* cost("alice", "wrong"), [false, 1], "failures are not cached")
      assert.deepStrictEqual(yield* cost("nobody", "pw"), [false, 1])
      assert.deepStrictEqual(yield* cost("nobody", "pw"), [false, 1])
      assert.deepStrictEqual(yield* cost("alice", "pw"), [true, 0])
      yield* TestClock.adjust("61 minutes")
      assert.deepStrictEqual(yield* cost("alice", "pw"), [true, 1], "default ttl is one hour")
    }))

  it.effect("authCache: { maxEntries: 0 } turns it off", () =>
    Effect.gen(function*() {
      const { counter, scrypt } = countingScrypt()
      const stored = yield* PasswordScheme.hash("pw", "SCRYPT", { params: fastParams })
      const directory = Directory.make(Effect.succeed(Directory.snapshot([["alice", stored]])), {
        scrypt,
        authCache: { maxEntries: 0 }
      })
      yield* directory.verify("alice", "pw")
      yield* directory.verify("alice", "pw")
      assert.strictEqual(counter.calls, 2)
    }))

  it.effect("the users file: a changed password is not served from the cache, and any change empties it", () =>
    Effect.gen(function*() {
      const { counter, scrypt } = countingScrypt()
      const dir = yield* tempDir
      const path = NodePath.join(dir, "users")
      const write = (text: string) => Effect.promise(() => Fs.writeFile(path, text, { mode: 0o600 }))
      const old = yield* PasswordScheme.hash("old", "SCRYPT", { params: fastParams })
      yield* write(`alice:${old}\nbob:{PLAIN}b\n`)
      const directory = yield* UsersFile.make({ path, checkInterval: 0, scrypt })
      assert.deepStrictEqual(yield* directory.verify("alice", "old"), Option.some("alice"))
      const afterFirst = counter.calls
      assert.deepStrictEqual(yield* directory.verify("alice", "old"), Option.some("alice"))
      assert.strictEqual(counter.calls, afterFirst, "hit")

      // Only bob's line changes: alice's stored string is the same, but the reload empties the cache anyway.
      yield* write(`alice:${old}\nbob:{PLAIN}b2\n`)
      assert.deepStrictEqual(yield* directory.verify("alice", "old"), Option.some("alice"))
      assert.strictEqual(counter.calls, afterFirst + 1, "emptied on reload")

      const next = yield* PasswordScheme.hash("new", "SCRYPT", { params: fastParams })
      yield* write(`alice:${next}\nbob:{PLAIN}b2\n`)
      assert.deepStrictEqual(yield* directory.verify("alice", "old"), Option.none())
      assert.deepStrictEqual(yield* directory.verify("alice", "new"), Option.some("alice"))
    }))
})
