/**
 * The store contract for quota, retention and stats (PROFILE E0003-E0005): what every `Mailbox` Layer must do when
 * given a quota policy, asked to expire messages or to describe a mailbox. Each test builds its Layer afresh from
 * the policy it needs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Effect, Exit, Layer } from "effect"
import { Mailbox, Quota } from "../src/index.ts"
import { bytes, readAll, text } from "./helpers.ts"

const failureOf = <A>(exit: Exit.Exit<A, Mailbox.MailboxError>): Mailbox.MailboxError => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
  assert.isTrue(error !== undefined && error._tag === "Some", "expected a typed failure")
  return (error as { value: Mailbox.MailboxError }).value
}

/** A message of exactly `size` octets. */
const sized = (size: number, tag = "x"): Uint8Array => {
  const head = `Subject: ${tag}\n\n`
  return bytes(head + "b".repeat(size - head.length - 1) + "\n")
}

/** A warning policy that records what it was asked to write. */
const recording = (limit: Quota.Limit, warningPercent: number) => {
  const asked: Array<Quota.WarningInfo> = []
  const policy: Quota.Policy = {
    limit: () => Effect.succeed(limit),
    warningPercent,
    warning: (info) => Effect.sync(() => (asked.push(info), bytes(`Subject: WARNING ${info.percent}\n\nquota\n`)))
  }
  return { asked, policy }
}

const subjects = (view: Mailbox.MailboxView) =>
  Effect.forEach(view.messages, (_, i) => Effect.map(readAll(view, i), (b) => /^Subject: (.*)$/m.exec(text(b))?.[1] ?? ""))

/** Runs the quota, retention and stats contract against stores built by `make(policy)`. */
export const policyContract = (name: string, make: (quota: Quota.Policy) => Layer.Layer<Mailbox.Mailbox>) =>
  describe(`Mailbox policy contract: ${name}`, () => {
    const test = (
      title: string,
      quota: Quota.Policy,
      body: Effect.Effect<void, Mailbox.MailboxError, Mailbox.Mailbox>
    ) => it.live(title, () => Effect.provide(body, Layer.fresh(make(quota))), 30_000)

    test(
      "deliveries up to and exactly at the storage limit are accepted; one more octet is refused OverQuota",
      Quota.fixed({ storage: 1000, messages: 0 }),
      Effect.gen(function*() {
        const store = yield* Mailbox.Mailbox
        yield* store.deliver("alice", sized(400, "a"))
        yield* store.deliver("alice", sized(600, "b")) // exactly at the limit
        const over = failureOf(yield* Effect.exit(store.deliver("alice", sized(20, "c"))))
        assert.strictEqual(over.reason, "OverQuota")
        assert.notStrictEqual(over.tooLarge, true)
        assert.match(over.message, /over quota: 1000 of 1000 octets/)
        const view = yield* store.open("alice")
        assert.deepStrictEqual(yield* subjects(view), ["a", "b"], "nothing of the refused message is left")
        // Removing one makes room again.
        yield* view.commitUpdate([0])
        yield* store.deliver("alice", sized(20, "c"))
        assert.deepStrictEqual(yield* subjects(yield* store.open("alice")), ["b", "c"])
      })
    )

    test(
      "a message larger than the whole quota is refused as tooLarge, even in an empty mailbox",
      Quota.fixed({ storage: 1000, messages: 0 }),
      Effect.gen(function*() {
        const store = yield* Mailbox.Mailbox
        const e = failureOf(yield* Effect.exit(store.deliver("alice", sized(1001))))
        assert.strictEqual(e.reason, "OverQuota")
        assert.isTrue(e.tooLarge)
        assert.strictEqual((yield* store.open("alice")).messages.length, 0)
      })
    )

    test(
      "the message-count limit: up to it accepted, beyond refused",
      Quota.fixed({ storage: 0, messages: 2 }),
      Effect.gen(function*() {
        const store = yield* Mailbox.Mailbox
        yield* store.deliver("alice", sized(100))
        yield* store.deliver("alice", sized(100))
        assert.strictEqual(failureOf(yield* Effect.exit(store.deliver("alice", sized(20)))).reason, "OverQuota")
        assert.strictEqual((yield* store.open("alice")).messages.length, 2)
      })
    )

    {
      const { asked, policy } = recording({ storage: 1000, messages: 0 }, 50)
      test(
        "crossing the warning threshold puts one warning into the mailbox; going back under re-arms it",
        policy,
        Effect.gen(function*() {
          const store = yield* Mailbox.Mailbox
          yield* store.deliver("alice", sized(200, "m1"))
          yield* store.deliver("alice", sized(200, "m2"))
          assert.strictEqual(asked.length, 0, "40%: no warning")
          yield* store.deliver("alice", sized(200, "m3")) // 60%: crosses 50%
          yield* store.deliver("alice", sized(100, "m4")) // still over: no second warning
          assert.strictEqual(asked.length, 1)
          assert.deepStrictEqual(
            { ...asked[0]!, usage: { ...asked[0]!.usage } },
            { user: "alice", threshold: 50, percent: 60, usage: { storage: 600, messages: 3 }, limit: { storage: 1000, messages: 0 } }
          )
          const view = yield* store.open("alice")
          assert.deepStrictEqual(yield* subjects(view), ["m1", "m2", "m3", "WARNING 60", "m4"])
          // Back under 50% (QUIT removes m1, m2, m3): re-armed.
          yield* view.commitUpdate([0, 1, 2])
          yield* store.deliver("alice", sized(200, "m5"))
          assert.strictEqual(asked.length, 1, "under the threshold again: no warning yet")
          yield* store.deliver("alice", sized(200, "m6"))
          assert.strictEqual(asked.length, 2, "the second crossing warns again")
          assert.deepStrictEqual(
            (yield* subjects(yield* store.open("alice"))).filter((s) => s.startsWith("WARNING")),
            ["WARNING 60", `WARNING ${asked[1]!.percent}`]
          )
        })
      )
    }

    test(
      "stats: messages, octets, oldest delivery, next UID, and quota use that follows deliveries and removals",
      Quota.fixed({ storage: 10_000, messages: 50 }),
      Effect.gen(function*() {
        const store = yield* Mailbox.Mailbox
        assert.strictEqual(failureOf(yield* Effect.exit(store.stats("nobody"))).reason, "NoSuchMailbox")
        const before = yield* Clock.currentTimeMillis
        yield* store.deliver("alice", bytes("Subject: a\n\none\n"))
        yield* store.deliver("alice", bytes("Subject: b\n\ntwo\n"))
        yield* store.deliver("alice", bytes("Subject: c\n\nthree\n"))
        const after = yield* Clock.currentTimeMillis
        const s = yield* store.stats("alice")
        assert.strictEqual(s.messages, 3)
        assert.strictEqual(s.storageOctets, 16 + 16 + 18)
        assert.strictEqual(s.wireOctets, 19 + 19 + 21)
        assert.strictEqual(s.nextUid, 4)
        assert.isTrue(s.oldest !== undefined && s.oldest >= before - 1000 && s.oldest <= after + 1000)
        assert.deepStrictEqual(s.quota, { limit: { storage: 10_000, messages: 50 }, usage: { storage: 50, messages: 3 } })
        yield* (yield* store.open("alice")).commitUpdate([1])
        const s2 = yield* store.stats("alice")
        assert.deepStrictEqual([s2.messages, s2.nextUid], [2, 4])
        assert.deepStrictEqual(s2.quota.usage, { storage: 34, messages: 2 })
        yield* store.create("empty")
        const e = yield* store.stats("empty")
        assert.deepStrictEqual([e.messages, e.storageOctets, e.oldest, e.nextUid], [0, 0, undefined, 1])
      })
    )

    test("mailboxes lists every mailbox in the store", Quota.noPolicy, Effect.gen(function*() {
      const store = yield* Mailbox.Mailbox
      yield* store.create("bob")
      yield* store.deliver("alice", bytes("x\n"))
      assert.deepStrictEqual([...(yield* store.mailboxes)].sort(), ["alice", "bob"])
    }))

    test(
      "expire removes messages delivered before the cutoff, retrieved ones before the retrieved cutoff, no other",
      Quota.noPolicy,
      Effect.gen(function*() {
        const store = yield* Mailbox.Mailbox
        for (const s of ["one", "two", "three"]) yield* store.deliver("alice", bytes(`Subject: ${s}\n\n${s}\n`))
        const view = yield* store.open("alice")
        yield* view.markRetrieved(1)
        yield* view.markRetrieved(1) // twice is the same as once
        const now = yield* Clock.currentTimeMillis
        const hour = 3_600_000
        assert.deepStrictEqual(yield* store.expire("alice", {}), { removed: 0 }, "no cutoffs remove nothing")
        assert.deepStrictEqual(yield* store.expire("alice", { deliveredBefore: now - hour, retrievedBefore: now - hour }), {
          removed: 0
        })
        assert.deepStrictEqual(yield* store.expire("alice", { retrievedBefore: now + hour }), { removed: 1 })
        assert.deepStrictEqual(yield* subjects(yield* store.open("alice")), ["one", "three"])
        // The snapshot taken before still reads the others, and says the removed one is gone.
        assert.strictEqual(text(yield* readAll(view, 0)), "Subject: one\n\none\n")
        assert.strictEqual(failureOf(yield* Effect.exit(readAll(view, 1))).reason, "MessageGone")
        yield* view.markRetrieved(1) // gone meanwhile: no error
        assert.deepStrictEqual(yield* store.expire("alice", { deliveredBefore: now + hour }), { removed: 2 })
        assert.strictEqual((yield* store.open("alice")).messages.length, 0)
        assert.deepStrictEqual(yield* store.expire("nobody", { deliveredBefore: now + hour }), { removed: 0 })
        // UIDs are still never reused.
        assert.strictEqual((yield* store.deliver("alice", bytes("new\n"))).uid, 4)
      })
    )

    {
      const { asked, policy } = recording({ storage: 100, messages: 0 }, 50)
      test("expiry counts as a removal for the quota and re-arms the warning", policy, Effect.gen(function*() {
        const store = yield* Mailbox.Mailbox
        yield* store.deliver("alice", sized(60, "a")) // 60%: warned
        assert.strictEqual(asked.length, 1)
        const now = yield* Clock.currentTimeMillis
        yield* store.expire("alice", { deliveredBefore: now + 60_000 })
        assert.deepStrictEqual((yield* store.stats("alice")).quota.usage, { storage: 0, messages: 0 })
        yield* store.deliver("alice", sized(60, "b"))
        assert.strictEqual(asked.length, 2)
      }))
    }
  })
