import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect } from "effect"
import * as Files from "../src/internal/files.ts"

/** Keeps the CPU busy for `ms` milliseconds, as a synchronous fs call does for a few microseconds. */
const busy = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until);
}

describe("files", () => {
  it.live("inSlices: calls f on every item in order and hands the event loop back between slices", () =>
    Effect.gen(function*() {
      let turns = 0
      const tick = setInterval(() => turns++, 0)
      const out = yield* Files.inSlices(Array.from({ length: 40 }, (_, i) => i), (i) => {
        busy(1)
        return i * 2
      }).pipe(Effect.ensuring(Effect.sync(() => clearInterval(tick))))
      assert.deepStrictEqual(out, Array.from({ length: 40 }, (_, i) => i * 2))
      // 40 ms of work in slices of `sliceMs`: timers ran in between, not only once it was all done
      assert.isAtLeast(turns, 2)
    }))

  it.live("inSlices: an errno error thrown by f fails the run with it, and stops it", () =>
    Effect.gen(function*() {
      const seen: Array<number> = []
      const exit = yield* Effect.exit(Files.inSlices([1, 2, 3], (i) => {
        seen.push(i)
        if (i === 2) throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" })
        return i
      }))
      const error = exit._tag === "Failure" ? Cause.findErrorOption(exit.cause) : undefined
      assert.strictEqual(error?._tag === "Some" ? error.value.code : undefined, "EACCES")
      assert.deepStrictEqual(seen, [1, 2])
    }))

  it("absentSync: ENOENT is undefined, any other error is thrown on", () => {
    const enoent = Object.assign(new Error("gone"), { code: "ENOENT" })
    const eacces = Object.assign(new Error("denied"), { code: "EACCES" })
    assert.strictEqual(Files.absentSync(() => 7), 7)
    assert.strictEqual(Files.absentSync(() => {
      throw enoent
    }), undefined)
    assert.throws(() =>
      Files.absentSync(() => {
        throw eacces
      }), "denied")
  })
})
