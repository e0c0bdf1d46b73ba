// Retention and quota details particular to the Maildir store: the S (seen) flag RETR leaves in the file name as
// Dovecot does, ages taken from the files' modification times, the UID list after an expiry, and the "warned"
// state kept in the Maildir so that separate processes send one warning per crossing.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs/promises"
import * as Path from "node:path"
import { Maildir, Quota, UidList } from "../src/index.ts"
import { bytes, tempDir } from "./helpers.ts"

const ls = (dir: string) => Effect.promise(() => Fs.readdir(dir).then((names) => names.sort()))
const day = 86_400_000

/** Sets a file's modification time to `ageMs` ago. */
const age = (path: string, ageMs: number) =>
  Effect.promise(() => Fs.utimes(path, (Date.now() - ageMs) / 1000, (Date.now() - ageMs) / 1000))

describe("Maildir retention", () => {
  it.live("markRetrieved adds S to the info, keeping other flags in ASCII order; the UID stays", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const cur = Path.join(root, "alice", "cur")
      yield* Effect.promise(async () => {
        for (const d of ["new", "cur", "tmp"]) await Fs.mkdir(Path.join(root, "alice", d), { recursive: true })
        await Fs.writeFile(Path.join(cur, "100.a.host:2,FT"), "Subject: flagged\n\nx\n")
        await Fs.writeFile(Path.join(cur, "101.b.host:2,"), "Subject: plain\n\ny\n")
      })
      const store = yield* Maildir.make({ root })
      const view = yield* store.open("alice")
      const uids = view.messages.map((m) => m.uid)
      yield* view.markRetrieved(0)
      yield* view.markRetrieved(1)
      assert.deepStrictEqual(yield* ls(cur), ["100.a.host:2,FST", "101.b.host:2,S"])
      assert.deepStrictEqual((yield* store.open("alice")).messages.map((m) => m.uid), uids)
    }))

  it.live("expire goes by the files' modification times and the S flag; the UID list forgets what it removed", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const store = yield* Maildir.make({ root })
      for (const s of ["old-read", "old-unread", "new-read", "ancient"]) {
        yield* store.deliver("alice", bytes(`Subject: ${s}\n\n${s}\n`))
      }
      const view = yield* store.open("alice")
      yield* view.markRetrieved(0)
      yield* view.markRetrieved(2)
      const cur = Path.join(root, "alice", "cur")
      const bySubject = new Map<string, string>()
      for (const name of yield* ls(cur)) {
        const content = yield* Effect.promise(() => Fs.readFile(Path.join(cur, name), "utf8"))
        bySubject.set(/^Subject: (.*)$/m.exec(content)![1]!, name)
      }
      yield* age(Path.join(cur, bySubject.get("old-read")!), 10 * day)
      yield* age(Path.join(cur, bySubject.get("old-unread")!), 10 * day)
      yield* age(Path.join(cur, bySubject.get("ancient")!), 70 * day)
      const now = Date.now()
      // "read after 7 days, unread after 60"
      const removed = yield* store.expire("alice", { deliveredBefore: now - 60 * day, retrievedBefore: now - 7 * day })
      assert.deepStrictEqual(removed, { removed: 2 })
      const left = yield* store.open("alice")
      assert.deepStrictEqual(left.messages.map((m) => m.uid), [2, 3])
      const list = yield* Effect.promise(() => Fs.readFile(Path.join(root, "alice", UidList.fileName), "utf8"))
      assert.deepStrictEqual(list.trim().split("\n").slice(1).map((l) => Number(l.split(" ")[0])), [2, 3])
      assert.isTrue(list.startsWith("pop3d-uidlist 1 next=5\n"), "next never goes down")
      const stats = yield* store.stats("alice")
      assert.isTrue(stats.oldest! < now - 9 * day && stats.oldest! > now - 11 * day, "oldest is old-unread")
    }))

  it.live("mailboxes are the directories with a cur/ folder; other files and dot-folders are not mailboxes", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const store = yield* Maildir.make({ root })
      yield* store.create("alice")
      yield* store.create("bob")
      yield* Effect.promise(async () => {
        await Fs.mkdir(Path.join(root, "not-a-maildir"))
        await Fs.mkdir(Path.join(root, ".hidden", "cur"), { recursive: true })
        await Fs.writeFile(Path.join(root, "stray-file"), "x")
      })
      assert.deepStrictEqual(yield* store.mailboxes, ["alice", "bob"])
    }))
})

describe("Maildir quota warnings", () => {
  const policy = (asked: Array<Quota.WarningInfo>): Quota.Policy => ({
    limit: () => Effect.succeed({ storage: 1000, messages: 0 }),
    warningPercent: 80,
    warning: (info) => Effect.sync(() => (asked.push(info), bytes("Subject: warning\n\nfull\n")))
  })

  it.live("the warned state lives in the Maildir: another process (store) does not warn again", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const asked: Array<Quota.WarningInfo> = []
      const a = yield* Maildir.make({ root, quota: policy(asked) })
      const b = yield* Maildir.make({ root, quota: policy(asked) })
      yield* a.deliver("alice", bytes("Subject: 1\n\n" + "x".repeat(800) + "\n"))
      assert.strictEqual(asked.length, 1)
      yield* b.deliver("alice", bytes("Subject: 2\n\nsmall\n"))
      assert.strictEqual(asked.length, 1, "the second store sees the warned state")
      const warned = Path.join(root, "alice", "pop3d-quota-warned")
      assert.match(yield* Effect.promise(() => Fs.readFile(warned, "utf8")), /^80 \d+\n$/)
      // Below the threshold after a removal: the file goes, and the next crossing warns again.
      const view = yield* b.open("alice")
      yield* view.commitUpdate([0])
      assert.isFalse(yield* Effect.promise(() => Fs.access(warned).then(() => true, () => false)))
      yield* a.deliver("alice", bytes("Subject: 3\n\n" + "x".repeat(800) + "\n"))
      assert.strictEqual(asked.length, 2)
    }))

  it.live("deliveries racing across the threshold from two stores give exactly one warning", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      const asked: Array<Quota.WarningInfo> = []
      const stores = [yield* Maildir.make({ root, quota: policy(asked) }), yield* Maildir.make({ root, quota: policy(asked) })]
      yield* stores[0]!.deliver("alice", bytes("Subject: base\n\n" + "x".repeat(700) + "\n"))
      yield* Effect.all(
        Array.from({ length: 6 }, (_, i) => stores[i % 2]!.deliver("alice", bytes(`Subject: ${i}\n\n${"y".repeat(20)}\n`))),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(asked.length, 1)
    }))
})
