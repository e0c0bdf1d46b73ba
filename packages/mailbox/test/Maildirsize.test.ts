// Maildir++ quota usage (`maildirsize`) as other Maildir tools read it: the file pop3d writes must pass a strict
// reading of Courier's README.maildirquota (written here from the format's rules, independent of the module's own
// parser), agree with a recount of the folders, and be recalculated exactly when the rules say.
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Result } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Mailbox, Maildir, Maildirsize, Quota } from "../src/index.ts"
import { bytes, tempDir } from "./helpers.ts"

/**
 * The format's rules, strictly: LF-terminated lines; the first is the quota definition, one or two
 * comma-separated `<digits>S` / `<digits>C` (each letter at most once); every other line is two integers
 * (optionally negative) separated by whitespace. The usage is the sum of those lines.
 */
const strictRead = (text: string) => {
  assert.isTrue(text.endsWith("\n"), "every line ends with LF")
  const lines = text.slice(0, -1).split("\n")
  const header = lines[0]!
  assert.match(header, /^\d+[SC](,\d+[SC])?$/, `definition line "${header}"`)
  const parts = header.split(",")
  assert.isTrue(new Set(parts.map((p) => p.slice(-1))).size === parts.length, "S and C at most once each")
  const limit = { storage: 0, messages: 0 }
  for (const p of parts) limit[p.endsWith("S") ? "storage" : "messages"] = Number(p.slice(0, -1))
  let storage = 0
  let messages = 0
  for (const line of lines.slice(1)) {
    const m = /^[ \t]*(-?\d+)[ \t]+(-?\d+)[ \t]*$/.exec(line)
    assert.isNotNull(m, `usage line "${line}"`)
    storage += Number(m![1])
    messages += Number(m![2])
  }
  return { limit, usage: { storage, messages }, lines: lines.length - 1, size: text.length }
}

/** Counts a Maildir the way Maildir++ does: cur/ and new/ of the Maildir and of each .Folder, S= or file size. */
const recount = async (home: string) => {
  let storage = 0
  let messages = 0
  const folders = (await Fs.readdir(home, { withFileTypes: true })).filter((e) => e.isDirectory() && e.name.startsWith("."))
  for (const dir of [home, ...folders.map((f) => Path.join(home, f.name))]) {
    for (const sub of ["cur", "new"]) {
      const names = await Fs.readdir(Path.join(dir, sub)).catch(() => [] as Array<string>)
      for (const name of names) {
        const s = /,S=(\d+)/.exec(name)
        storage += s ? Number(s[1]) : (await Fs.stat(Path.join(dir, sub, name))).size
        messages++
      }
    }
  }
  return { storage, messages }
}

const fileOf = (root: string, user = "alice") => Path.join(root, user, Maildirsize.fileName)
const readText = (path: string) => Effect.promise(() => Fs.readFile(path, "latin1"))
const exists = (path: string) => Effect.promise(() => Fs.access(path).then(() => true, () => false))

const reasonOf = <A>(exit: Exit.Exit<A, Mailbox.MailboxError>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const error = Cause.findErrorOption(exit.cause)
  return error._tag === "Some" ? error.value.reason : "defect"
}

const message = (size: number) => bytes("Subject: q\n\n" + "x".repeat(size - 13) + "\n")

describe("Maildirsize codec", () => {
  it("definitions: S and C, either alone, 0S for no limit", () => {
    assert.strictEqual(Maildirsize.renderDefinition({ storage: 104857600, messages: 1000 }), "104857600S,1000C")
    assert.strictEqual(Maildirsize.renderDefinition({ storage: 5000, messages: 0 }), "5000S")
    assert.strictEqual(Maildirsize.renderDefinition({ storage: 0, messages: 10 }), "10C")
    assert.strictEqual(Maildirsize.renderDefinition(Quota.unlimited), "0S")
    for (const line of ["104857600S,1000C", "1000C,104857600S", "5000S", "10C"]) {
      const parsed = Maildirsize.parseDefinition(line)
      assert.isTrue(Result.isSuccess(parsed), line)
    }
    for (const bad of ["", "5000", "S", "5000X", "5000S,6000S", "-5S", "5S,,2C"]) {
      assert.isTrue(Result.isFailure(Maildirsize.parseDefinition(bad)), JSON.stringify(bad))
    }
  })

  it("parse sums the lines, negative ones and padded ones (as Courier writes them) included", () => {
    const parsed = Maildirsize.parse("1000S,10C\n  300     2\n-100 -1\n   50      1\n")
    assert.deepStrictEqual(Result.getOrThrow(parsed), {
      definition: { storage: 1000, messages: 10 },
      usage: { storage: 250, messages: 2 },
      lines: 3
    })
    assert.isTrue(Result.isFailure(Maildirsize.parse("1000S\n300 2\n12")), "a last line still being written")
    assert.isTrue(Result.isFailure(Maildirsize.parse("1000S\n300\n")), "one number")
    assert.isTrue(Result.isFailure(Maildirsize.parse("1000S\nabc def\n")))
  })

  it("render is read back by the strict rules", () => {
    const text = Maildirsize.render({ storage: 2048, messages: 7 }, { storage: 1500, messages: 3 })
    assert.strictEqual(text, "2048S,7C\n1500 3\n")
    assert.deepStrictEqual(strictRead(text).usage, { storage: 1500, messages: 3 })
  })
})

describe("maildirsize kept by the Maildir store", () => {
  const limit = { storage: 10_000, messages: 100 }

  it.live("deliveries and QUIT removals append one line each; the file always agrees with a recount", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const store = yield* Maildir.make({ root, quota: Quota.fixed(limit) })
      const home = Path.join(root, "alice")
      for (const size of [100, 250, 400]) yield* store.deliver("alice", message(size))
      let file = strictRead(yield* readText(fileOf(root)))
      assert.deepStrictEqual(file.limit, limit)
      assert.deepStrictEqual(file.usage, { storage: 750, messages: 3 })
      assert.strictEqual(file.lines, 4, "the totals line of its creation, then one line per delivery")
      assert.deepStrictEqual(file.usage, yield* Effect.promise(() => recount(home)))
      const view = yield* store.open("alice")
      yield* view.commitUpdate([0, 2])
      const text = yield* readText(fileOf(root))
      assert.isTrue(text.endsWith("-500 -2\n"), "one line for the whole QUIT")
      file = strictRead(text)
      assert.deepStrictEqual(file.usage, { storage: 250, messages: 1 })
      assert.deepStrictEqual(file.usage, yield* Effect.promise(() => recount(home)))
      assert.deepStrictEqual((yield* store.stats("alice")).quota.usage, file.usage)
    }))

  it.live("recalculated when it reaches 5120 octets: two lines again, with the right totals", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const store = yield* Maildir.make({ root, quota: Quota.fixed(limit) })
      yield* store.deliver("alice", message(100))
      // Another tool appended many lines that cancel out: the file grows to the limit.
      // Another tool appended "0 0" lines, up to just short of the limit: the next delivery line reaches it.
      const length = (yield* readText(fileOf(root))).length
      const padding = Math.ceil((Maildirsize.recalculateAtSize - "150 1\n".length - length) / 4)
      yield* Effect.promise(() => Fs.appendFile(fileOf(root), "0 0\n".repeat(padding)))
      const before = yield* readText(fileOf(root))
      assert.isBelow(before.length, Maildirsize.recalculateAtSize)
      yield* store.deliver("alice", message(150))
      const grown = strictRead(yield* readText(fileOf(root)))
      assert.isAbove(grown.lines, 2, "below 5120 octets the file is appended to")
      assert.isAtLeast(grown.size, Maildirsize.recalculateAtSize)
      yield* store.deliver("alice", message(50))
      const file = strictRead(yield* readText(fileOf(root)))
      assert.strictEqual(file.lines, 2, "the totals, then this delivery")
      assert.deepStrictEqual(file.usage, { storage: 300, messages: 3 })
    }))

  it.live("recalculated when missing, damaged, or its definition is not the configured quota", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const first = yield* Maildir.make({ root, quota: Quota.fixed(limit) })
      yield* first.deliver("alice", message(100))
      yield* Effect.promise(() => Fs.unlink(fileOf(root)))
      yield* first.deliver("alice", message(100))
      assert.deepStrictEqual(strictRead(yield* readText(fileOf(root))).usage, { storage: 200, messages: 2 })
      yield* Effect.promise(() => Fs.writeFile(fileOf(root), "10000S,100C\ngarbage\n"))
      yield* first.deliver("alice", message(100))
      assert.deepStrictEqual(strictRead(yield* readText(fileOf(root))).usage, { storage: 300, messages: 3 })
      const raised = yield* Maildir.make({ root, quota: Quota.fixed({ storage: 50_000, messages: 0 }) })
      yield* raised.deliver("alice", message(100))
      const file = strictRead(yield* readText(fileOf(root)))
      assert.deepStrictEqual(file.limit, { storage: 50_000, messages: 0 })
      assert.deepStrictEqual(file.usage, { storage: 400, messages: 4 })
    }))

  it.live("an over-quota sum is trusted while fresh and recalculated once older than 15 minutes", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const store = yield* Maildir.make({ root, quota: Quota.fixed({ storage: 1000, messages: 0 }) })
      yield* store.deliver("alice", message(100))
      // A wrong line (say, a crash between another tool's append and its unlink) claims the mailbox is full.
      yield* Effect.promise(() => Fs.appendFile(fileOf(root), "900 0\n"))
      assert.strictEqual(reasonOf(yield* Effect.exit(store.deliver("alice", message(100)))), "OverQuota")
      const old = (Date.now() - 16 * 60 * 1000) / 1000
      yield* Effect.promise(() => Fs.utimes(fileOf(root), old, old))
      yield* store.deliver("alice", message(100))
      assert.deepStrictEqual(strictRead(yield* readText(fileOf(root))).usage, { storage: 200, messages: 2 })
    }))

  it.live("counts files other MTAs dropped and Maildir++ folders at recalculation", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const home = Path.join(root, "alice")
      yield* Effect.promise(async () => {
        for (const dir of ["new", "cur", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp"]) {
          await Fs.mkdir(Path.join(home, dir), { recursive: true })
        }
        await Fs.writeFile(Path.join(home, "new", "1.other.host"), "x".repeat(500))
        await Fs.writeFile(Path.join(home, ".Sent", "cur", "2.other.host,S=700:2,S"), "y".repeat(10))
      })
      const store = yield* Maildir.make({ root, quota: Quota.fixed(limit) })
      yield* store.deliver("alice", message(100))
      const file = strictRead(yield* readText(fileOf(root)))
      assert.deepStrictEqual(file.usage, { storage: 1300, messages: 3 })
      assert.deepStrictEqual(file.usage, yield* Effect.promise(() => recount(home)))
    }))

  it.live("without a quota no file is made, but one another tool made is kept up to date", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const store = yield* Maildir.make({ root })
      yield* store.deliver("alice", message(100))
      assert.isFalse(yield* exists(fileOf(root)))
      yield* Effect.promise(() => Fs.writeFile(fileOf(root), "5000S\n100 1\n"))
      yield* store.deliver("alice", message(200))
      yield* (yield* store.open("alice")).commitUpdate([0])
      const file = strictRead(yield* readText(fileOf(root)))
      assert.deepStrictEqual(file.limit, { storage: 5000, messages: 0 }, "its definition is left alone")
      assert.deepStrictEqual(file.usage, { storage: 200, messages: 1 })
    }))
})
