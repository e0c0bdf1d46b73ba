import { assert, describe, it } from "@effect/vitest"
import { availableParallelism } from "node:os"
import { Effect, Fiber } from "effect"
import * as Bcrypt from "../src/Bcrypt.ts"
import * as HashThreads from "../src/HashThreads.ts"
import * as PasswordScheme from "../src/PasswordScheme.ts"
import * as ShaCrypt from "../src/ShaCrypt.ts"

// Drepper's first SHA-512 vector and the OpenBSD bcrypt vector for "abcdefghijklmnopqrstuvwxyz" at cost 6.
const sha512 = "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
const bcrypt = "$2a$06$.rCVZVOThsIa97pEDOxvGuRRgzG64bvtJ0938xuqzv18d3ZpQhstC"
const bcryptPassword = "abcdefghijklmnopqrstuvwxyz"

const shaJob = (password: string, stored: string): HashThreads.Job => {
  const { rounds, salt, variant } = ShaCrypt.parseStored(stored)!
  return { kind: "sha-crypt", password: new TextEncoder().encode(password), setting: { rounds, salt, variant } }
}
const bcryptJob = (password: string, stored: string): HashThreads.Job => ({
  kind: "bcrypt",
  password,
  setting: Bcrypt.settingText(Bcrypt.parse(stored)!)
})
// Stands in for the event loop's own computation, to tell which side answered.
const onLoop = Effect.succeed("computed on the event loop")

// This machine (and CI's) has two CPUs; on one, the process starts no thread and every digest is computed inline.
const threaded = availableParallelism() >= 2

describe("HashThreads", () => {
  it.effect("a thread computes the same SHA-crypt and bcrypt digests as the event loop", () =>
    Effect.gen(function*() {
      HashThreads.start()
      assert.strictEqual(HashThreads.status().threads, threaded ? Math.min(HashThreads.maxThreads, availableParallelism() - 1) : 0)
      const viaThread = yield* HashThreads.digest(shaJob("Hello world!", sha512), onLoop)
      const viaBcrypt = yield* HashThreads.digest(bcryptJob(bcryptPassword, bcrypt), onLoop)
      if (threaded) {
        assert.strictEqual(viaThread, sha512.slice(-86))
        assert.strictEqual(viaBcrypt, bcrypt.slice(-31))
      } else {
        assert.strictEqual(viaThread, "computed on the event loop")
      }
      // And through PasswordScheme, which routes every SHA-crypt and bcrypt check here.
      assert.isTrue(yield* PasswordScheme.verify(`{SHA512-CRYPT}${sha512}`, "Hello world!"))
      assert.isFalse(yield* PasswordScheme.verify(`{SHA512-CRYPT}${sha512}`, "Hello world?"))
      assert.isTrue(yield* PasswordScheme.verify(`{BLF-CRYPT}${bcrypt}`, bcryptPassword))
      assert.isFalse(yield* PasswordScheme.verify(`{BLF-CRYPT}${bcrypt}`, bcryptPassword.toUpperCase()))
      assert.strictEqual(HashThreads.status().waiting, 0)
    }))

  it.effect("a digest the thread cannot compute is computed on the event loop", () =>
    Effect.gen(function*() {
      // bcryptjs throws on a malformed setting; the caller's own computation answers instead.
      const answer = yield* HashThreads.digest({ kind: "bcrypt", password: "x", setting: "$2b$99$malformed" }, onLoop)
      assert.strictEqual(answer, "computed on the event loop")
    }))

  it.effect.skipIf(!threaded)("beyond queueLimit waiting on every thread, digests are computed on the event loop", () =>
    Effect.gen(function*() {
      HashThreads.start()
      const room = HashThreads.status().threads * HashThreads.queueLimit
      const job = shaJob("pw", "$6$rounds=20000$queue$" + "x".repeat(86))
      const answers = yield* Effect.all(Array.from({ length: room + 5 }, () => HashThreads.digest(job, onLoop)), {
        concurrency: "unbounded"
      })
      assert.strictEqual(answers.filter((a) => a === "computed on the event loop").length, 5)
      assert.strictEqual(new Set(answers.filter((a) => a !== "computed on the event loop")).size, 1)
    }))

  it.live.skipIf(!threaded)("an interrupted caller leaves nothing waiting; a stopped thread's digests fall back", () =>
    Effect.gen(function*() {
      HashThreads.start()
      const slow = shaJob("pw", "$6$rounds=400000$slow$" + "x".repeat(86))
      const fiber = yield* Effect.forkChild(HashThreads.digest(slow, onLoop))
      yield* Effect.sleep("20 millis")
      assert.strictEqual(HashThreads.status().waiting, 1)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(HashThreads.status().waiting, 0)
      // A digest waiting on a thread that stops is computed on the event loop: the caller still gets an answer.
      const waiting = yield* Effect.forkChild(HashThreads.digest(slow, onLoop))
      yield* Effect.sleep("20 millis")
      yield* Effect.promise(() => HashThreads.stop())
      assert.strictEqual(yield* Fiber.join(waiting), "computed on the event loop")
      assert.strictEqual(HashThreads.status().threads, 0)
      // The next digest starts the threads again.
      assert.strictEqual(yield* HashThreads.digest(shaJob("Hello world!", sha512), onLoop), sha512.slice(-86))
    }), 20_000)
})
