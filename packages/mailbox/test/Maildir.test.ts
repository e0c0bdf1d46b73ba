import { assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as FsSync from "node:fs"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { Cause, Effect, Exit, Fiber, Result, Stream } from "effect"
import { Mailbox, Maildir, UidList } from "../src/index.ts"
import { bytes, readAll, referenceWireSize, tempDir, text } from "./helpers.ts"

const childScript = Path.join(import.meta.dirname, "fixtures", "concurrent-child.ts")

const reasonOf = <A>(exit: Exit.Exit<A, Mailbox.MailboxError>): string | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const error = Cause.findErrorOption(exit.cause)
  return error._tag === "Some" ? error.value.reason : "defect"
}

const ls = (dir: string) => Effect.promise(() => Fs.readdir(dir).then((names) => names.sort()))

/** Writes a message file the way another MTA would, with a chosen mtime (seconds). */
const drop = (dir: string, name: string, content: string | Uint8Array, mtime?: number) =>
  Effect.promise(async () => {
    await Fs.mkdir(dir, { recursive: true })
    const path = Path.join(dir, name)
    await Fs.writeFile(path, content)
    if (mtime !== undefined) await Fs.utimes(path, mtime, mtime)
  })

const uidListText = (root: string, user: string) =>
  Effect.promise(() => Fs.readFile(Path.join(root, user, UidList.fileName), "utf8"))

const contents = (view: Mailbox.MailboxView) =>
  Effect.forEach(view.messages, (_, i) => Effect.map(readAll(view, i), text))

describe("Maildir", () => {
  it.live("picks up a tree delivered by another MTA, in mtime order, and moves new/ to cur/", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const home = Path.join(root, "alice")
      yield* drop(Path.join(home, "cur"), "1000.seen.host:2,S", "Subject: seen\n\nalready read\n", 500)
      yield* drop(Path.join(home, "new"), "zzz.postfix", "Subject: first\n\nbare LF body\n", 1000)
      yield* drop(Path.join(home, "new"), "aaa.postfix", "Subject: third\r\n\r\nCRLF body\r\n", 3000)
      yield* drop(Path.join(home, "new"), "mmm.procmail", "Subject: second\n\nno final newline", 2000)
      yield* drop(Path.join(home, "new"), ".hidden", "not a message", 10)

      const store = yield* Maildir.make({ root })
      const view = yield* store.open("alice")
      assert.deepStrictEqual(view.messages.map((m) => m.uid), [1, 2, 3, 4])
      const texts = yield* contents(view)
      assert.deepStrictEqual(texts.map((t) => t.split("\n")[0]), [
        "Subject: seen",
        "Subject: first",
        "Subject: second",
        "Subject: third\r"
      ])
      assert.deepStrictEqual(view.messages.map((m) => m.wireSize), texts.map((t) => referenceWireSize(bytes(t))))
      assert.deepStrictEqual(yield* ls(Path.join(home, "new")), [".hidden"])
      assert.deepStrictEqual(yield* ls(Path.join(home, "cur")), [
        "1000.seen.host:2,S",
        "aaa.postfix:2,",
        "mmm.procmail:2,",
        "zzz.postfix:2,"
      ])
      const list = yield* uidListText(root, "alice")
      assert.isTrue(list.startsWith("pop3d-uidlist 1 next=5\n"))
      assert.include(list, "\n2 29 32 zzz.postfix\n")
      assert.notInclude((yield* ls(home)).join(" "), "lock")
    }))

  it.live("orders standard names by the delivery time they carry, as Dovecot does, and other names by mtime", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const home = Path.join(root, "alice")
      // The names' times disagree with the files' mtimes (a copied or restored tree): the names win.
      yield* drop(Path.join(home, "new"), "1700000002.M5P1.mx", "third\n", 100)
      yield* drop(Path.join(home, "new"), "1700000001.M900000P1.mx", "second\n", 300)
      yield* drop(Path.join(home, "new"), "1700000001.M20P1.mx", "first\n", 200)
      // No delivery time in the name: placed by mtime among the others.
      yield* drop(Path.join(home, "new"), "postfix.queue-id", "between\n", 1700000001.95)
      // The same time: by name.
      yield* drop(Path.join(home, "new"), "1700000003.qmail-b.mx", "fifth\n", 1)
      yield* drop(Path.join(home, "new"), "1700000003.qmail-a.mx", "fourth\n", 2)
      const view = yield* (yield* Maildir.make({ root })).open("alice")
      assert.deepStrictEqual(yield* contents(view), ["first\n", "second\n", "between\n", "third\n", "fourth\n", "fifth\n"])
    }))

  it.live("a first open of thousands of new messages answers before moving them; reads and removals wait for the moves", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const count = 4200
      yield* Effect.promise(async () => {
        await Fs.mkdir(Path.join(root, "alice", "new"), { recursive: true })
        for (let i = 0; i < count; i++) {
          await Fs.writeFile(Path.join(root, "alice", "new", `${1700000000 + i}.M1P1.mx`), `message ${i}\n`)
        }
      })
      const store = yield* Maildir.make({ root })
      const view = yield* store.open("alice")
      assert.strictEqual(view.messages.length, count)
      // The lock is still held: the UID list's write and the moves run behind the answer. Another open waits for it.
      assert.isTrue(FsSync.existsSync(Path.join(root, "alice", `${UidList.fileName}.lock`)))
      const concurrent = yield* Effect.forkChild(store.open("alice"))
      // Read at once, whether or not the moves are done yet.
      assert.strictEqual(text(yield* readAll(view, 4100)), "message 4100\n")
      // The UIDs are shown once the list is written.
      const storing = view.uidsStored?.()
      assert.isDefined(storing)
      yield* storing!
      assert.isUndefined(view.uidsStored?.())
      const listed = UidList.parse(yield* uidListText(root, "alice"))
      assert.isTrue(Result.isSuccess(listed))
      if (Result.isSuccess(listed)) {
        assert.deepStrictEqual(listed.success.entries.map((e) => e.uid), view.messages.map((m) => m.uid))
      }
      assert.strictEqual((yield* view.commitUpdate([0, 4199])).removed, 2)
      assert.deepStrictEqual(yield* ls(Path.join(root, "alice", "new")), [])
      const cur = yield* ls(Path.join(root, "alice", "cur"))
      assert.strictEqual(cur.length, count - 2)
      assert.isTrue(cur.every((name) => name.endsWith(":2,")))
      const again = yield* store.open("alice")
      assert.deepStrictEqual(again.messages.map((m) => m.uid), view.messages.slice(1, count - 1).map((m) => m.uid))
      assert.strictEqual(text(yield* readAll(again, 0)), "message 1\n")
      // The open that waited for the lock found the same UIDs, before or after the two removals.
      const other = (yield* Fiber.join(concurrent)).messages.map((m) => m.uid)
      assert.deepStrictEqual(
        other,
        (other.length === count ? view.messages : view.messages.slice(1, count - 1)).map((m) => m.uid)
      )
    }))

  it.live("a first open of a big mailbox measures its files while listing them, a base in both folders counting once as its cur/ file", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const home = Path.join(root, "alice")
      const count = 7000
      const name = (i: number) => `${1700000000 + i}.V801I${100000 + i}M${100000 + i}.mx.example.org`
      const body = (i: number) => (i % 3 === 0 ? `Subject: ${i}\n\n${"y".repeat(i % 50)}\n` : `Subject: ${i}\r\n\r\nbody\r\n`)
      yield* Effect.promise(async () => {
        for (const dir of ["new", "cur", "tmp"]) await Fs.mkdir(Path.join(home, dir), { recursive: true })
        for (let i = 0; i < count; i++) {
          await Fs.writeFile(Path.join(home, i % 2 === 0 ? "new" : "cur", i % 2 === 0 ? name(i) : `${name(i)}:2,S`), body(i))
        }
        // Another tool has copied message 10 to cur/ with a different content (it happens): cur/ wins, as in Dovecot.
        await Fs.writeFile(Path.join(home, "cur", `${name(10)}:2,S`), "Subject: cur copy\n\nlonger than the other\n")
        // And message 13 has a shadow in new/ that cannot be read (a link to a folder): only the cur/ file counts.
        await Fs.symlink(Path.join(home, "tmp"), Path.join(home, "new", name(13)))
      })
      // What makes an open take the big path: folders that look like thousands of entries, and no UID list.
      const folders = FsSync.statSync(Path.join(home, "new")).size + FsSync.statSync(Path.join(home, "cur")).size
      assert.isAtLeast(folders, 256 * 1024)
      const view = yield* (yield* Maildir.make({ root })).open("alice")
      assert.strictEqual(view.messages.length, count)
      const expected = (i: number) => (i === 10 ? "Subject: cur copy\n\nlonger than the other\n" : body(i))
      for (const i of [0, 1, 9, 10, 11, 13, 3000, count - 1]) {
        const m = view.messages[i]!
        assert.strictEqual(m.storageSize, Buffer.byteLength(expected(i)), `message ${i}`)
        assert.strictEqual(m.wireSize, referenceWireSize(bytes(expected(i))), `message ${i}`)
        assert.strictEqual(text(yield* readAll(view, i)), expected(i))
      }
      assert.deepStrictEqual(view.messages.map((m) => m.uid), Array.from({ length: count }, (_, i) => i + 1))
    }))

  it.live("keeps UIDs across re-open, a restart, and flag renames by other tools", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const first = yield* Maildir.make({ root })
      yield* drop(Path.join(root, "alice", "new"), "b.mta", "two\n", 2000)
      yield* drop(Path.join(root, "alice", "new"), "a.mta", "one\n", 1000)
      const before = yield* first.open("alice")
      assert.deepStrictEqual(before.messages.map((m) => m.uid), [1, 2])
      yield* first.deliver("alice", bytes("three\n"))

      // Another tool (an IMAP server) marks a message seen: same base name, new flags.
      const cur = Path.join(root, "alice", "cur")
      yield* Effect.promise(() => Fs.rename(Path.join(cur, "a.mta:2,"), Path.join(cur, "a.mta:2,S")))
      assert.strictEqual(text(yield* readAll(before, 0)), "one\n", "read follows the rename")

      const restarted = yield* Maildir.make({ root })
      const again = yield* restarted.open("alice")
      assert.deepStrictEqual(again.messages.map((m) => m.uid), [1, 2, 3])
      assert.deepStrictEqual(yield* contents(again), ["one\n", "two\n", "three\n"])

      yield* Effect.promise(() => Fs.rename(Path.join(cur, "a.mta:2,S"), Path.join(cur, "a.mta:2,RS")))
      assert.deepStrictEqual(yield* again.commitUpdate([0]), { removed: 1 })
      assert.deepStrictEqual((yield* first.open("alice")).messages.map((m) => m.uid), [2, 3])
    }))

  it.live("delivers like Dovecot LDA: tmp, then new/ with S= and W= in the name, nothing left behind", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const store = yield* Maildir.make({ root })
      const message = bytes("Subject: x\n\nbody\n")
      assert.deepStrictEqual(yield* store.deliver("alice", message), { uid: 1 })
      const home = Path.join(root, "alice")
      assert.deepStrictEqual(yield* ls(Path.join(home, "tmp")), [])
      const [name] = yield* ls(Path.join(home, "new"))
      assert.match(name!, /^\d+\.M\d+P\d+Q\d+\.[^/:]+,S=17,W=20$/)
      assert.deepStrictEqual(
        yield* Effect.promise(() => Fs.readFile(Path.join(home, "new", name!))),
        Buffer.from(message)
      )
      assert.deepStrictEqual(yield* ls(home), ["cur", "new", UidList.fileName, "tmp"])
      yield* store.open("alice")
      assert.deepStrictEqual(yield* ls(Path.join(home, "cur")), [`${name}:2,`])
    }))

  it.live("a delivery gets a UID after messages another MTA dropped before it", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const store = yield* Maildir.make({ root })
      yield* store.deliver("alice", bytes("ours 1\n"))
      yield* drop(Path.join(root, "alice", "new"), "b.postfix", "theirs 2\n", 2000)
      yield* drop(Path.join(root, "alice", "cur"), "a.imap:2,S", "theirs 1\n", 1000)
      assert.deepStrictEqual(yield* store.deliver("alice", bytes("ours 2\n")), { uid: 4 })
      const view = yield* store.open("alice")
      assert.deepStrictEqual(view.messages.map((m) => m.uid), [1, 2, 3, 4])
      assert.deepStrictEqual(yield* contents(view), ["ours 1\n", "theirs 1\n", "theirs 2\n", "ours 2\n"])
    }))

  it.live("trusts sizes in a Dovecot-style name instead of reading the file", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      yield* drop(Path.join(root, "alice", "new"), "1.dovecot,S=5,W=999", "ab\ncd", 1)
      yield* drop(Path.join(root, "alice", "new"), "2.dovecot,S=4,W=999", "ab\ncd", 2) // S= wrong: measured
      const view = yield* (yield* Maildir.make({ root })).open("alice")
      assert.deepStrictEqual(view.messages.map((m) => m.wireSize), [999, 8])
    }))

  it.live("measures messages around its 1 MiB read exactly, a CRLF across the edge included", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const mib = 1024 * 1024
      const messages = [mib - 1, mib, mib + 1, 2 * mib + 3].map((length, i) => {
        const data = Buffer.alloc(length)
        for (let j = 0; j < length; j++) data[j] = j % 61 === 60 ? 10 : j % 97 === 96 ? 13 : 97 + (j % 26)
        if (length > mib) data.set([13, 10], mib - 1)
        if (i === 1) data[length - 1] = 13
        return data
      })
      for (const [i, data] of messages.entries()) yield* drop(Path.join(root, "alice", "new"), `${i}.mta`, data, i + 1)
      const view = yield* (yield* Maildir.make({ root })).open("alice")
      assert.deepStrictEqual(
        view.messages.map((m) => [m.storageSize, m.wireSize]),
        messages.map((data) => [data.length, referenceWireSize(data)])
      )
    }))

  it.live("a crash between removing files and writing the UID list loses no UID and reuses none", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const store = yield* Maildir.make({ root })
      for (const body of ["one\n", "two\n", "three\n"]) yield* store.deliver("alice", bytes(body))
      yield* store.open("alice")
      // Simulate UPDATE dying after unlink: remove files of UIDs 2 and 3 by hand, leave the list.
      const cur = Path.join(root, "alice", "cur")
      for (const name of yield* ls(cur)) {
        const body = yield* Effect.promise(() => Fs.readFile(Path.join(cur, name), "utf8"))
        if (body !== "one\n") yield* Effect.promise(() => Fs.unlink(Path.join(cur, name)))
      }
      assert.strictEqual((yield* uidListText(root, "alice")).split("\n").length - 2, 3)

      const view = yield* store.open("alice")
      assert.deepStrictEqual(view.messages.map((m) => m.uid), [1])
      assert.deepStrictEqual(yield* store.deliver("alice", bytes("four\n")), { uid: 4 })
      const after = yield* store.open("alice")
      assert.deepStrictEqual(after.messages.map((m) => m.uid), [1, 4])
      assert.deepStrictEqual(yield* contents(after), ["one\n", "four\n"])
      assert.isTrue((yield* uidListText(root, "alice")).startsWith("pop3d-uidlist 1 next=5\n"))
    }))

  it.live("a removal that fails part-way says how many went, and never touches unmarked messages", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const store = yield* Maildir.make({ root })
      for (const body of ["one\n", "two\n", "three\n", "unmarked\n"]) yield* store.deliver("alice", bytes(body))
      const view = yield* store.open("alice")
      // Make message 2 impossible to unlink: a directory now sits where its file was.
      const cur = Path.join(root, "alice", "cur")
      for (const name of yield* ls(cur)) {
        if ((yield* Effect.promise(() => Fs.readFile(Path.join(cur, name), "utf8"))) === "two\n") {
          yield* Effect.promise(() => Fs.unlink(Path.join(cur, name)))
          yield* Effect.promise(() => Fs.mkdir(Path.join(cur, name, "blocker"), { recursive: true }))
        }
      }
      const exit = yield* Effect.exit(view.commitUpdate([0, 1, 2]))
      assert.strictEqual(reasonOf(exit), "PartialUpdate")
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
      assert.isTrue(error?._tag === "Some")
      if (error?._tag === "Some") {
        assert.strictEqual(error.value.removed, 2)
        assert.match(error.value.message, /removed 2 of 3/)
      }
      const after = yield* store.open("alice")
      assert.deepStrictEqual(after.messages.map((m) => m.uid), [4])
      assert.deepStrictEqual(yield* contents(after), ["unmarked\n"])
    }))

  it.live("a damaged UID list is kept aside and UIDs restart past the highest it mentions", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const store = yield* Maildir.make({ root })
      for (const body of ["one\n", "two\n", "three\n"]) yield* store.deliver("alice", bytes(body))
      const listPath = Path.join(root, "alice", UidList.fileName)
      const damaged = "pop3d-uidlist 1 next=4\n1 4 5 1.M1P1Q1.h,S=4,W=5\n3 6 7 trunc"
      yield* Effect.promise(() => Fs.writeFile(listPath, damaged))

      const view = yield* store.open("alice")
      assert.deepStrictEqual(view.messages.map((m) => m.uid), [4, 5, 6])
      assert.deepStrictEqual(yield* contents(view), ["one\n", "two\n", "three\n"])
      const kept = (yield* ls(Path.join(root, "alice"))).filter((n) => n.startsWith(`${UidList.fileName}.corrupt-`))
      assert.strictEqual(kept.length, 1)
      assert.strictEqual(yield* Effect.promise(() => Fs.readFile(Path.join(root, "alice", kept[0]!), "utf8")), damaged)
      assert.deepStrictEqual(yield* store.deliver("alice", bytes("four\n")), { uid: 7 })
      assert.deepStrictEqual((yield* store.open("alice")).messages.map((m) => m.uid), [4, 5, 6, 7])
    }))

  it.live("a damaged UID list found at delivery is rebuilt the same way", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const store = yield* Maildir.make({ root })
      yield* store.deliver("alice", bytes("one\n"))
      yield* Effect.promise(() => Fs.writeFile(Path.join(root, "alice", UidList.fileName), "9 garbage\n"))
      assert.deepStrictEqual(yield* store.deliver("alice", bytes("two\n")), { uid: 11 })
      const view = yield* store.open("alice")
      assert.deepStrictEqual(view.messages.map((m) => m.uid), [10, 11])
      assert.deepStrictEqual(yield* contents(view), ["one\n", "two\n"])
    }))

  it.live("streams a 50 MB message in chunks of at most 64 KiB, byte for byte", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const block = Buffer.alloc(1024 * 1024)
      for (let i = 0; i < block.length; i++) block[i] = i % 100 === 99 ? 10 : 97 + (i % 26)
      block[65535] = 13 // a CRLF split across two 64 KiB reads
      block[65536] = 10
      block[block.length - 1] = 10
      const blocks = 50
      const expected = Crypto.createHash("sha256")
      const dir = Path.join(root, "alice", "new")
      yield* Effect.promise(async () => {
        await Fs.mkdir(dir, { recursive: true })
        const handle = await Fs.open(Path.join(dir, "big.mta"), "w")
        for (let i = 0; i < blocks; i++) {
          block[0] = 48 + (i % 10) // vary the blocks a little
          expected.update(block)
          await handle.write(block)
        }
        await handle.close()
      })
      let wire = 0
      for (let i = 0; i < blocks; i++) {
        block[0] = 48 + (i % 10)
        wire += referenceWireSize(block)
      }

      const view = yield* (yield* Maildir.make({ root })).open("alice")
      const { storageSize, uid, wireSize } = view.messages[0]!
      assert.deepStrictEqual({ uid, storageSize, wireSize }, { uid: 1, storageSize: blocks * block.length, wireSize: wire })
      const actual = Crypto.createHash("sha256")
      let total = 0
      let largest = 0
      yield* Stream.runForEach(view.read(0), (chunk) =>
        Effect.sync(() => {
          actual.update(chunk)
          total += chunk.length
          largest = Math.max(largest, chunk.length)
        }))
      assert.strictEqual(total, blocks * block.length)
      assert.isTrue(largest > 0 && largest <= Mailbox.readChunkSize)
      assert.strictEqual(actual.digest("hex"), expected.digest("hex"))
    }), 60_000)

  it.live("fails Unavailable when the store root is missing, and does not create it", () =>
    Effect.gen(function*() {
      const root = Path.join(yield* tempDir, "not-there")
      const store = yield* Maildir.make({ root })
      for (const attempt of [store.open("alice"), store.create("alice"), store.deliver("alice", bytes("x\n"))]) {
        assert.strictEqual(reasonOf(yield* Effect.exit(attempt)), "Unavailable")
      }
      assert.isFalse(yield* Effect.promise(() => Fs.stat(root).then(() => true, () => false)))
    }))
})

describe("Maildir locking", () => {
  const lockContent = (pid: number, time: number, instance = "someone") => `${pid} ${time} ${Os.hostname()} ${instance}\n`

  const withLockFile = (content: string) =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const store = yield* Maildir.make({ root, lock: { timeout: "300 millis" } })
      yield* store.create("alice")
      const lock = Path.join(root, "alice", Maildir.lockFileName)
      yield* Effect.promise(() => Fs.writeFile(lock, content))
      return { root, store, lock }
    })

  const deadPid = Effect.promise(() =>
    new Promise<number>((resolve) => {
      const child = ChildProcess.spawn(process.execPath, ["-e", ""])
      child.on("exit", () => resolve(child.pid!))
    })
  )

  it.live("takes over a lock whose holder process is dead", () =>
    Effect.gen(function*() {
      const { lock, root, store } = yield* withLockFile(lockContent(yield* deadPid, Date.now()))
      assert.deepStrictEqual(yield* store.deliver("alice", bytes("x\n")), { uid: 1 })
      assert.deepStrictEqual(yield* ls(Path.join(root, "alice")), ["cur", "new", UidList.fileName, "tmp"])
      assert.isFalse(yield* Effect.promise(() => Fs.stat(lock).then(() => true, () => false)))
    }))

  it.live("takes over a lock older than 60 s even if its holder lives", () =>
    Effect.gen(function*() {
      const { store } = yield* withLockFile(lockContent(process.ppid, Date.now() - 120_000))
      assert.deepStrictEqual(yield* store.deliver("alice", bytes("x\n")), { uid: 1 })
    }))

  it.live("takes over a lock left by an earlier process that had this same pid", () =>
    Effect.gen(function*() {
      const { store } = yield* withLockFile(lockContent(process.pid, Date.now(), "earlier-life"))
      assert.deepStrictEqual((yield* store.open("alice")).messages, [])
      assert.deepStrictEqual(yield* store.deliver("alice", bytes("x\n")), { uid: 1 })
    }))

  it.live("waits for a live lock, and gives up with Unavailable after the timeout, leaving nothing behind", () =>
    Effect.gen(function*() {
      const { lock, root, store } = yield* withLockFile(lockContent(process.ppid, Date.now()))
      assert.strictEqual(reasonOf(yield* Effect.exit(store.deliver("alice", bytes("x\n")))), "Unavailable")
      assert.deepStrictEqual(yield* ls(Path.join(root, "alice", "tmp")), [])
      assert.deepStrictEqual(yield* ls(Path.join(root, "alice", "new")), [])

      // Released while we wait: the delivery goes through.
      const patient = yield* Maildir.make({ root, lock: { timeout: "5 seconds" } })
      const [result] = yield* Effect.all([
        patient.deliver("alice", bytes("y\n")),
        Effect.delay(Effect.promise(() => Fs.unlink(lock)), "200 millis")
      ], { concurrency: "unbounded" })
      assert.deepStrictEqual(result, { uid: 1 })
    }))
})

describe("Maildir concurrency", () => {
  /** Every (uid, content) pair seen anywhere must be a bijection: no message with two UIDs, no UID on two messages. */
  const assertBijection = (pairs: ReadonlyArray<readonly [number, string]>) => {
    const byUid = new Map<number, string>()
    const byContent = new Map<string, number>()
    for (const [uid, content] of pairs) {
      assert.strictEqual(byUid.get(uid) ?? content, content, `UID ${uid} names two messages`)
      assert.strictEqual(byContent.get(content) ?? uid, uid, `message ${JSON.stringify(content)} has two UIDs`)
      byUid.set(uid, content)
      byContent.set(content, uid)
    }
  }

  const dropBacklog = (root: string, count: number) =>
    Effect.forEach(
      Array.from({ length: count }, (_, i) => i),
      (i) => drop(Path.join(root, "alice", "new"), `${1000 + i}.postfix.m${i}`, `backlog ${i}\n`, 1000 + i),
      { discard: true }
    )

  /** One "process": deliver, then open and read everything, `count` times; returns every pair it saw. */
  const worker = (store: Mailbox.Mailbox["Service"], tag: string, count: number) =>
    Effect.gen(function*() {
      const seen: Array<[number, string]> = []
      for (let i = 0; i < count; i++) {
        const body = `${tag} ${i}\n`
        seen.push([(yield* store.deliver("alice", bytes(body))).uid, body])
        const view = yield* store.open("alice")
        const texts = yield* contents(view)
        view.messages.forEach((m, j) => seen.push([m.uid, texts[j]!]))
      }
      return seen
    })

  it.live("two store instances on one root, opening and delivering at once, agree on every UID", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      yield* dropBacklog(root, 20)
      const a = yield* Maildir.make({ root })
      const b = yield* Maildir.make({ root })
      const opens = yield* Effect.all([a.open("alice"), b.open("alice"), a.open("alice"), b.open("alice")], {
        concurrency: "unbounded"
      })
      const pairs: Array<readonly [number, string]> = []
      for (const view of opens) {
        const texts = yield* contents(view)
        view.messages.forEach((m, i) => pairs.push([m.uid, texts[i]!]))
      }
      const work = yield* Effect.all([worker(a, "a", 10), worker(b, "b", 10), worker(a, "c", 10)], {
        concurrency: "unbounded"
      })
      for (const seen of work) pairs.push(...seen)
      assertBijection(pairs)
      const final = yield* a.open("alice")
      assert.strictEqual(final.messages.length, 50)
      assert.strictEqual(new Set(final.messages.map((m) => m.uid)).size, 50)
      // The backlog got UIDs 1..20 in mtime order, whoever assigned them.
      assert.deepStrictEqual(
        (yield* contents(final)).slice(0, 20),
        Array.from({ length: 20 }, (_, i) => `backlog ${i}\n`)
      )
      assert.deepStrictEqual(final.messages.slice(0, 20).map((m) => m.uid), Array.from({ length: 20 }, (_, i) => i + 1))
    }), 60_000)

  interface ChildReport {
    readonly delivered: Array<[number, string]>
    readonly seen: Array<[number, string]>
  }

  /** Starts the child "process" script; it loads, says ready, and starts work on `go()`. Killed with the scope. */
  const spawnChild = (args: ReadonlyArray<string>) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const proc = ChildProcess.spawn(process.execPath, args, { stdio: ["pipe", "pipe", "pipe"] })
        let stdout = ""
        let stderr = ""
        proc.stderr.on("data", (data) => (stderr += data))
        const ready = new Promise<void>((resolve, reject) => {
          proc.stdout.on("data", (data) => {
            stdout += data
            if (stdout.startsWith("ready\n")) resolve()
          })
          proc.on("error", reject)
          proc.on("close", (code) => reject(new Error(`child exited early (${code}): ${stderr}`)))
        })
        const result = new Promise<ChildReport>((resolve, reject) => {
          proc.on("close", (code) =>
            code === 0
              ? resolve(JSON.parse(stdout.slice("ready\n".length)))
              : reject(new Error(`child failed (${code}): ${stderr}`)))
        })
        // Handled here so that a test that fails early leaves no unhandled rejection behind.
        ready.catch(() => undefined)
        result.catch(() => undefined)
        return { proc, ready, result, go: () => proc.stdin.end("go\n") }
      }),
      ({ proc }) => Effect.sync(() => proc.exitCode === null && proc.kill())
    )

  it.live("a second OS process using the store at the same time never disagrees on a UID", () =>
    Effect.gen(function*() {
      const rounds = 15
      const root = yield* tempDir
      yield* dropBacklog(root, 20)
      const store = yield* Maildir.make({ root })
      const child = yield* spawnChild([childScript, root, "alice", "child", String(rounds)])
      yield* Effect.promise(() => child.ready)
      child.go()
      const [fromChild, fromParent] = yield* Effect.all(
        [Effect.promise(() => child.result), worker(store, "parent", rounds)],
        { concurrency: "unbounded" }
      )
      assertBijection([...fromChild.delivered, ...fromChild.seen, ...fromParent])
      const final = yield* store.open("alice")
      assert.strictEqual(final.messages.length, 50)
      assert.strictEqual(new Set(final.messages.map((m) => m.uid)).size, 50)
      const finalPairs = (yield* contents(final)).map((content, i) => [final.messages[i]!.uid, content] as const)
      assert.deepStrictEqual(
        finalPairs.slice(0, 20),
        Array.from({ length: 20 }, (_, i) => [i + 1, `backlog ${i}\n`] as const),
        "the backlog got UIDs 1..20 in mtime order"
      )
      assertBijection([...finalPairs, ...fromChild.delivered, ...fromChild.seen, ...fromParent])
    }), 60_000)
})

describe("Maildir warm opens", () => {
  /** Ages the UID list and both folders so the store may reuse its last state. */
  const settle = (home: string) =>
    Effect.promise(async () => {
      const old = Date.now() / 1000 - 60
      for (const p of [Path.join(home, UidList.fileName), Path.join(home, "new"), Path.join(home, "cur")]) {
        await Fs.utimes(p, old, old)
      }
    })

  it.live("a settled mailbox is reused, and any delivery, removal or rename is still seen at the next open", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const home = Path.join(root, "alice")
      const store = yield* Maildir.make({ root })
      yield* store.deliver("alice", bytes("Subject: 1\n\none\n"))
      yield* store.deliver("alice", bytes("Subject: 2\n\ntwo\n"))
      yield* store.open("alice")
      yield* settle(home)
      const first = yield* store.open("alice")
      const again = yield* store.open("alice")
      assert.deepStrictEqual(again.messages, first.messages)
      // Another MTA drops a message into new/: the folder's mtime moves, the next open sees it.
      yield* drop(Path.join(home, "new"), "1700000000.M1P1.other", "Subject: 3\n\nthree\n")
      const third = yield* store.open("alice")
      assert.deepStrictEqual(third.messages.map((m) => m.uid), [1, 2, 3])
      // A removal by another session, after settling again.
      yield* settle(home)
      yield* store.open("alice")
      yield* (yield* store.open("alice")).commitUpdate([0])
      assert.deepStrictEqual((yield* store.open("alice")).messages.map((m) => m.uid), [2, 3])
      // A flag rename by another tool: the message stays readable under its new name.
      yield* settle(home)
      const before = yield* store.open("alice")
      const [name] = (yield* ls(Path.join(home, "cur"))).filter((n) => n.includes("other"))
      yield* Effect.promise(() => Fs.rename(Path.join(home, "cur", name!), Path.join(home, "cur", name!.replace(/:2,.*$/, ":2,S"))))
      const after = yield* store.open("alice")
      assert.deepStrictEqual(after.messages, before.messages)
      assert.strictEqual(text(yield* readAll(after, 1)), "Subject: 3\n\nthree\n")
    }))

  it.live("after an open that reconciled, the state kept in the background misses nothing delivered meanwhile", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const home = Path.join(root, "alice")
      const store = yield* Maildir.make({ root })
      yield* drop(Path.join(home, "new"), "1700000000.M1P1.other", "Subject: 1\n\none\n")
      yield* drop(Path.join(home, "cur"), "1700000001.M1P1.other:2,", "Subject: 2\n\ntwo\n")
      yield* drop(Path.join(home, "tmp"), ".keep", "")
      assert.deepStrictEqual((yield* store.open("alice")).messages.map((m) => m.uid), [1, 2])
      // Delivered right after the reconcile, within the same timestamp tick as its writes or not.
      yield* drop(Path.join(home, "new"), "1700000002.M1P1.other", "Subject: 3\n\nthree\n")
      yield* Effect.sleep("1500 millis")
      assert.deepStrictEqual((yield* store.open("alice")).messages.map((m) => m.uid), [1, 2, 3])
      // Once settled and kept, a later delivery is seen too.
      yield* Effect.sleep("1500 millis")
      yield* store.open("alice")
      yield* drop(Path.join(home, "new"), "1700000003.M1P1.other", "Subject: 4\n\nfour\n")
      assert.deepStrictEqual((yield* store.open("alice")).messages.map((m) => m.uid), [1, 2, 3, 4])
    }))
})
