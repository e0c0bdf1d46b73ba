import * as Fs from "node:fs/promises"
import { availableParallelism } from "node:os"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect } from "effect"
import type { FsError } from "../src/internal/files.ts"
import type { Table } from "../src/internal/measure.ts"
import { gone, measureFile, moved, pending } from "../src/internal/measure.ts"
import { deliveredFromName } from "../src/internal/names.ts"
import { batchSize, doAll, measureFeed } from "../src/internal/parallel.ts"
import { tempDir } from "./helpers.ts"

/** A mailbox with `count` messages in new/ (odd ones with bare LFs, every tenth with a name giving sizes). */
const mailbox = (count: number) =>
  Effect.gen(function*() {
    const home = yield* tempDir
    yield* Effect.promise(async () => {
      for (const dir of ["new", "cur", "tmp"]) await Fs.mkdir(Path.join(home, dir))
      for (let i = 0; i < count; i++) {
        const body = i % 2 === 0 ? `Subject: ${i}\r\n\r\n${"x".repeat(i % 97)}\r\n` : `Subject: ${i}\n\n.dot\n${"y".repeat(i)}`
        const size = Buffer.byteLength(body)
        const name = i % 10 === 0 ? `${1700000000 + i}.M${i}P1.host,S=${size},W=${size + 9}` : `${1700000000 + i}.M${i}P1.host`
        await Fs.writeFile(Path.join(home, "new", name), body)
      }
    })
    const names = yield* Effect.promise(() => Fs.readdir(Path.join(home, "new")))
    return { home, items: names.map((n) => `new/${n}`) }
  })

const rows = (cells: Float64Array, count: number) =>
  Array.from({ length: count }, (_, i) => [cells[3 * i]!, cells[3 * i + 1]!, cells[3 * i + 2]!])

/**
 * Three rounds (the first may pass before the worker has booted) of `measure` over a fresh mailbox of `count`
 * messages: its rows must be what measuring each file in turn gives, and the worker must have taken part where
 * there are two CPUs, and not where there is one.
 */
const measuresAsOneThread = (
  count: number,
  measure: (home: string, items: ReadonlyArray<string>) => Effect.Effect<Table, FsError>
) =>
  Effect.gen(function*() {
    let workerDid = 0
    for (let round = 0; round < 3; round++) {
      const { home, items } = yield* mailbox(count)
      const table = yield* measure(home, items)
      const expected = items.map((item) => {
        const m = measureFile(Path.join(home, item), item.slice(4))!
        return [m.storageSize, m.wireSize, m.deliveredMs]
      })
      assert.deepStrictEqual(rows(table.cells, items.length), expected)
      workerDid += table.claim[1]!
    }
    if (availableParallelism() > 1) assert.isAbove(workerDid, 0, "the worker measured some files")
    else assert.strictEqual(workerDid, 0, "no worker on one CPU")
  })

describe("deliveredFromName", () => {
  it("reads the delivery second and microsecond of standard names, and nothing else", () => {
    const table: Array<[string, number | undefined]> = [
      ["1700000000.M123456P1Q2.host,S=10,W=12", 1700000000123.456],
      ["1642875847.V803I11823M102875.mx.example:2,S", 1642875847102.875],
      ["1700000000.12345.host", 1700000000000],
      ["1700000000.M1P1.other", 1700000000000.001],
      ["1000.seen.host:2,S", undefined],
      ["zzz.postfix", undefined],
      ["17000000001.M1.host", undefined],
      ["1700000000", undefined],
      ["1700000000.M1234567P1.host", 1700000000000],
      ["1700000000.XM12Q3M4.host", 1700000000000.012],
      ["1700000000.P1.M5", 1700000000000],
      ["1700000000.M42", 1700000000000.042],
      ["170000000a.M1.host", undefined],
      ["1700000000.host:2,M12", 1700000000000]
    ]
    for (const [name, expected] of table) assert.strictEqual(deliveredFromName(name), expected, name)
  })
})

describe("doAll", () => {
  it.live("measures every file as one thread would, with the worker taking part where there are two CPUs", () =>
    measuresAsOneThread(3000, (home, items) => doAll("measure", home, items, 1)))

  it.live("moves files from new/ to cur/, a file already gone being an outcome, not an error", () =>
    Effect.gen(function*() {
      const { home, items } = yield* mailbox(300)
      yield* Effect.promise(() => Fs.unlink(Path.join(home, items[7]!)))
      const table = yield* doAll("move", home, items, 1)
      for (let i = 0; i < items.length; i++) assert.strictEqual(table.cells[3 * i], i === 7 ? gone : moved)
      const cur = yield* Effect.promise(() => Fs.readdir(Path.join(home, "cur")))
      assert.strictEqual(cur.length, 299)
      assert.isTrue(cur.every((name) => name.endsWith(":2,")))
      assert.deepStrictEqual(yield* Effect.promise(() => Fs.readdir(Path.join(home, "new"))), [])
    }))

  it.live("fails with the errno error of a file neither thread could measure, leaving nothing pending", () =>
    Effect.gen(function*() {
      const { home, items } = yield* mailbox(200)
      yield* Effect.promise(() => Fs.mkdir(Path.join(home, "new", "a-folder")))
      const exit = yield* Effect.exit(doAll("measure", home, [...items, "new/a-folder"], 1))
      const error = exit._tag === "Failure" ? Cause.findErrorOption(exit.cause) : undefined
      assert.strictEqual(error?._tag === "Some" ? error.value.code : undefined, "EISDIR")
      // The worker finishes its chunk and is free for the next job.
      const again = yield* doAll("measure", home, items, 1)
      for (let i = 0; i < items.length; i++) assert.notStrictEqual(again.cells[3 * i], pending)
    }))
})

describe("measureFeed", () => {
  it.live("measures every item fed, in the order fed, as one thread would, the worker taking batches where there are two CPUs", () =>
    measuresAsOneThread(2 * batchSize + 300, (home, items) => {
      const feed = measureFeed(home)
      for (const item of items) feed.add("new", item.slice(4))
      return feed.done
    }))

  it.live("a file gone meanwhile is an outcome; one that cannot be measured fails the feed with its errno error", () =>
    Effect.gen(function*() {
      const { home, items } = yield* mailbox(batchSize + 10)
      yield* Effect.promise(() => Fs.unlink(Path.join(home, items[3]!)))
      const feed = measureFeed(home)
      for (const item of items) feed.add("new", item.slice(4))
      const table = yield* feed.done
      for (let i = 0; i < items.length; i++) {
        if (i === 3) assert.strictEqual(table.cells[3 * i], gone)
        else assert.isAbove(table.cells[3 * i]!, 0)
      }
      yield* Effect.promise(() => Fs.mkdir(Path.join(home, "new", "a-folder")))
      const failing = measureFeed(home)
      for (const item of [...items.slice(4), "new/a-folder", ...items.slice(0, 3)]) failing.add("new", item.slice(4))
      const exit = yield* Effect.exit(failing.done)
      const error = exit._tag === "Failure" ? Cause.findErrorOption(exit.cause) : undefined
      assert.strictEqual(error?._tag === "Some" ? error.value.code : undefined, "EISDIR")
    }))
})
