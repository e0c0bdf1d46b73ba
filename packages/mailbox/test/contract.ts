/**
 * The store contract: one suite every `Mailbox` Layer must pass (memory,
 * Maildir, any future store). Each test builds the Layer afresh, so stores
 * never share state between tests.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Stream } from "effect"
import { Mailbox } from "../src/index.ts"
import { bytes, readAll, referenceWireSize, text } from "./helpers.ts"

const failureOf = <A>(exit: Exit.Exit<A, Mailbox.MailboxError>): Mailbox.MailboxError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
  assert.isTrue(error !== undefined && error._tag === "Some", "expected a typed failure")
  return (error as { value: Mailbox.MailboxError }).value
}

/** Runs the store contract against `layer` under `name`. */
export const contract = (name: string, layer: Layer.Layer<Mailbox.Mailbox>) =>
  describe(`Mailbox contract: ${name}`, () => {
    const test = (title: string, body: Effect.Effect<void, Mailbox.MailboxError, Mailbox.Mailbox>) =>
      it.live(title, () => Effect.provide(body, Layer.fresh(layer)), 30_000)

    test("a mailbox that does not exist opens empty", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      const view = yield* store.open("nobody-yet")
      assert.deepStrictEqual(view.messages, [])
    }))

    test("create is idempotent and leaves the mailbox empty", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      yield* store.create("alice")
      yield* store.create("alice")
      assert.strictEqual((yield* store.open("alice")).messages.length, 0)
    }))

    test("UIDs increase in delivery order; sizes are reported", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      const a = yield* store.deliver("alice", bytes("Subject: a\r\n\r\none\r\n"))
      const b = yield* store.deliver("alice", bytes("Subject: b\n\ntwo\n"))
      const c = yield* store.deliver("alice", bytes("Subject: c\n\nthree"))
      assert.isTrue(a.uid < b.uid && b.uid < c.uid)
      const view = yield* store.open("alice")
      assert.deepStrictEqual(view.messages.map((m) => m.uid), [a.uid, b.uid, c.uid])
      assert.deepStrictEqual(view.messages.map((m) => m.storageSize), [19, 16, 17])
      assert.deepStrictEqual(view.messages.map((m) => m.wireSize), [19, 19, 21])
    }))

    test("mailboxes are separate; each has its own UIDs", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      yield* store.deliver("alice", bytes("a\n"))
      yield* store.deliver("alice", bytes("b\n"))
      const bob = yield* store.deliver("bob", bytes("c\n"))
      assert.strictEqual(bob.uid, 1)
      assert.strictEqual((yield* store.open("bob")).messages.length, 1)
      assert.strictEqual((yield* store.open("alice")).messages.length, 2)
    }))

    test("wireSize is the CRLF-normalised size, whatever the stored line ends", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      const samples = [
        "Subject: lf\n\nline one\nline two\n",
        "Subject: crlf\r\n\r\nline one\r\nline two\r\n",
        "Subject: mixed\r\n\nbare cr\rcrlf\r\nlf\n",
        "Subject: no final newline\n\nlast line",
        "Subject: cr cr lf\r\r\n\r\nx\r",
        ".dots\n..more\n"
      ]
      for (const sample of samples) yield* store.deliver("alice", bytes(sample))
      const view = yield* store.open("alice")
      for (let i = 0; i < samples.length; i++) {
        const stored = bytes(samples[i]!)
        assert.strictEqual(view.messages[i]!.wireSize, referenceWireSize(stored), samples[i])
        assert.strictEqual(view.messages[i]!.storageSize, stored.length)
      }
    }))

    test("read returns the stored bytes unchanged, in chunks of at most 64 KiB", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      const small = bytes("Subject: hi\n\nbody with bare LF\n.leading dot\n")
      const big = new Uint8Array(200_000).map((_, i) => (i % 80 === 79 ? 10 : 65 + (i % 26)))
      yield* store.deliver("alice", small)
      yield* store.deliver("alice", big)
      const view = yield* store.open("alice")
      assert.deepStrictEqual(yield* readAll(view, 0), small)
      const chunks = yield* Stream.runCollect(view.read(1))
      assert.isTrue(chunks.every((c) => c.length > 0 && c.length <= Mailbox.readChunkSize))
      assert.deepStrictEqual(Buffer.concat(chunks), Buffer.from(big))
      // A message can be read more than once.
      assert.strictEqual(text(yield* readAll(view, 0)), text(small))
    }))

    test("the snapshot ignores deliveries after open", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      yield* store.deliver("alice", bytes("first\n"))
      const view = yield* store.open("alice")
      yield* store.deliver("alice", bytes("second\n"))
      assert.strictEqual(view.messages.length, 1)
      assert.strictEqual((yield* store.open("alice")).messages.length, 2)
    }))

    test("a message removed by another session reads as MessageGone", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      yield* store.deliver("alice", bytes("one\n"))
      yield* store.deliver("alice", bytes("two\n"))
      const a = yield* store.open("alice")
      const b = yield* store.open("alice")
      assert.deepStrictEqual(yield* b.commitUpdate([1]), { removed: 1 })
      assert.strictEqual(a.messages.length, 2, "A's snapshot keeps its numbering")
      assert.strictEqual(text(yield* readAll(a, 0)), "one\n")
      const error = failureOf(yield* Effect.exit(readAll(a, 1)))
      assert.strictEqual(error.reason, "MessageGone")
      assert.isTrue(error.message.length > 0)
    }))

    test("commitUpdate removes exactly the marked messages; the others keep their UIDs", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      for (let i = 0; i < 5; i++) yield* store.deliver("alice", bytes(`message ${i}\n`))
      const view = yield* store.open("alice")
      const uids = view.messages.map((m) => m.uid)
      assert.deepStrictEqual(yield* view.commitUpdate([1, 3, 3]), { removed: 2 })
      const after = yield* store.open("alice")
      assert.deepStrictEqual(after.messages.map((m) => m.uid), [uids[0], uids[2], uids[4]])
      assert.deepStrictEqual(
        yield* Effect.forEach([0, 1, 2], (i) => Effect.map(readAll(after, i), text)),
        ["message 0\n", "message 2\n", "message 4\n"]
      )
    }))

    test("commitUpdate with nothing marked removes nothing", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      yield* store.deliver("alice", bytes("keep\n"))
      const view = yield* store.open("alice")
      assert.deepStrictEqual(yield* view.commitUpdate([]), { removed: 0 })
      assert.strictEqual((yield* store.open("alice")).messages.length, 1)
    }))

    test("a marked message already removed by someone else counts as removed", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      yield* store.deliver("alice", bytes("one\n"))
      yield* store.deliver("alice", bytes("two\n"))
      const a = yield* store.open("alice")
      const b = yield* store.open("alice")
      yield* b.commitUpdate([0])
      assert.deepStrictEqual(yield* a.commitUpdate([0, 1]), { removed: 2 })
      assert.strictEqual((yield* store.open("alice")).messages.length, 0)
    }))

    test("UIDs are never reused after deletion", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      for (let i = 0; i < 3; i++) yield* store.deliver("alice", bytes(`m${i}\n`))
      const view = yield* store.open("alice")
      assert.deepStrictEqual(view.messages.map((m) => m.uid), [1, 2, 3])
      yield* view.commitUpdate([2])
      assert.strictEqual((yield* store.deliver("alice", bytes("m3\n"))).uid, 4)
      assert.deepStrictEqual((yield* store.open("alice")).messages.map((m) => m.uid), [1, 2, 4])
      yield* (yield* store.open("alice")).commitUpdate([0, 1, 2])
      assert.strictEqual((yield* store.deliver("alice", bytes("m4\n"))).uid, 5)
    }))

    test("an empty message has size 0 and reads as nothing", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      yield* store.deliver("alice", new Uint8Array(0))
      const view = yield* store.open("alice")
      assert.deepStrictEqual(view.messages.map((m) => [m.wireSize, m.storageSize]), [[0, 0]])
      assert.strictEqual((yield* readAll(view, 0)).length, 0)
    }))

    test("names that cannot name a mailbox are refused with NoSuchMailbox", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      for (const user of ["", ".", "..", "a/b", "../etc", "nul\0byte", "x".repeat(256)]) {
        for (const attempt of [store.open(user), store.create(user), store.deliver(user, bytes("x\n"))]) {
          assert.strictEqual(failureOf(yield* Effect.exit(attempt)).reason, "NoSuchMailbox", JSON.stringify(user))
        }
      }
    }))

    test("an index outside the snapshot is a defect, not a removal", Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      yield* store.deliver("alice", bytes("one\n"))
      const view = yield* store.open("alice")
      const exit = yield* Effect.exit(view.commitUpdate([0, 1]))
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
      assert.strictEqual((yield* store.open("alice")).messages.length, 1, "nothing was removed")
      const read = yield* Effect.exit(readAll(view, 7))
      assert.isTrue(Exit.isFailure(read) && Cause.hasDies(read.cause))
    }))
  })
