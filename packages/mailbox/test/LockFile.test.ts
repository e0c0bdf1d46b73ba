import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { Effect } from "effect"
import { LockFile } from "../src/index.ts"
import { tempDir } from "./helpers.ts"

describe("LockFile", () => {
  it.live("serialises critical sections between fibers", () =>
    Effect.gen(function*() {
      const lock = Path.join(yield* tempDir, "test.lock")
      let inside = 0
      let most = 0
      let count = 0
      const section = Effect.gen(function*() {
        inside++
        most = Math.max(most, inside)
        const seen = count
        yield* Effect.sleep("2 millis")
        count = seen + 1
        inside--
      })
      yield* Effect.all(Array.from({ length: 20 }, () => LockFile.withLock(lock, section)), {
        concurrency: "unbounded"
      })
      assert.strictEqual(count, 20)
      assert.strictEqual(most, 1)
      assert.isFalse(yield* Effect.promise(() => Fs.stat(lock).then(() => true, () => false)))
    }))

  it.live("releases the lock when the section fails", () =>
    Effect.gen(function*() {
      const lock = Path.join(yield* tempDir, "test.lock")
      const exit = yield* Effect.exit(LockFile.withLock(lock, Effect.fail("boom")))
      assert.isTrue(exit._tag === "Failure")
      assert.isFalse(yield* Effect.promise(() => Fs.stat(lock).then(() => true, () => false)))
    }))

  it.live("does not remove a lock that someone else took over meanwhile", () =>
    Effect.gen(function*() {
      const lock = Path.join(yield* tempDir, "test.lock")
      const other = `1 ${Date.now()} elsewhere x\n`
      yield* LockFile.withLock(lock, Effect.promise(() => Fs.writeFile(lock, other)))
      assert.strictEqual(yield* Effect.promise(() => Fs.readFile(lock, "utf8")), other)
    }))

  it("judges holders stale by age, dead process, or an earlier life of this pid", () => {
    const host = Os.hostname()
    const now = 1_000_000
    const holder = (raw: string, mtime = now) => LockFile.parseHolder(raw, mtime)
    assert.isFalse(LockFile.isStale(holder(`${process.ppid} ${now} ${host} x`), now, 60_000))
    assert.isTrue(LockFile.isStale(holder(`${process.ppid} ${now - 61_000} ${host} x`), now, 60_000))
    assert.isTrue(LockFile.isStale(holder(`${process.pid} ${now} ${host} other-life`), now, 60_000))
    assert.isFalse(LockFile.isStale(holder(`${process.pid} ${now} elsewhere other-life`), now, 60_000))
    assert.isFalse(LockFile.isStale(holder("", now - 1000), now, 60_000), "a holder caught mid-write")
    assert.isTrue(LockFile.isStale(holder("", now - 61_000), now, 60_000))
  })
})
