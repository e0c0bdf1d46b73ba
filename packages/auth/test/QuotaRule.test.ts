// Per-user quota in the users file's extra fields, as Dovecot writes quota_rule, and how it reaches the Directory.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Result } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { QuotaRule, UsersFile } from "../src/index.ts"

const ok = (r: Result.Result<QuotaRule.UserQuota | undefined, string>) => Result.getOrThrow(r)

describe("QuotaRule", () => {
  it("Dovecot's limits: storage in KiB without a suffix, bytes in octets, messages; binary suffixes", () => {
    assert.deepStrictEqual(ok(QuotaRule.parseRule("*:storage=100M")), { storage: 104857600 })
    assert.deepStrictEqual(ok(QuotaRule.parseRule("*:storage=1000")), { storage: 1024000 })
    assert.deepStrictEqual(ok(QuotaRule.parseRule("*:bytes=5000")), { storage: 5000 })
    assert.deepStrictEqual(ok(QuotaRule.parseRule("*:bytes=1G:messages=1k")), { storage: 1024 ** 3, messages: 1024 })
    assert.deepStrictEqual(ok(QuotaRule.parseRule("?:messages=50")), { messages: 50 })
    assert.deepStrictEqual(ok(QuotaRule.parseRule("*:backend=100000S,1000C")), { storage: 100000, messages: 1000 })
    assert.deepStrictEqual(ok(QuotaRule.parseRule("*:ignore")), { storage: 0, messages: 0 })
    assert.deepStrictEqual(ok(QuotaRule.parseRule("*:storage=0")), { storage: 0 })
  })

  it("rules for other mailboxes do not apply; relative, percentage and unknown limits are refused", () => {
    assert.isUndefined(ok(QuotaRule.parseRule("Trash:storage=+100M")))
    for (const bad of ["*", "*:storage=+10M", "*:storage=10%", "*:storage=ten", "*:size=1M", "*:backend=lots"]) {
      assert.isTrue(Result.isFailure(QuotaRule.parseRule(bad)), bad)
    }
  })

  it("extra fields: quota_rule, quota_rule2 … with or without userdb_, in number order", () => {
    assert.isUndefined(ok(QuotaRule.fromExtraFields("nt_hash={NTLM}00 other=1")))
    assert.deepStrictEqual(ok(QuotaRule.fromExtraFields("userdb_quota_rule=*:storage=1G")), { storage: 1024 ** 3 })
    assert.deepStrictEqual(
      ok(QuotaRule.fromExtraFields("quota_rule2=*:messages=10 nt_hash={NTLM}00 quota_rule=*:bytes=100:messages=5")),
      { storage: 100, messages: 10 }
    )
    assert.isTrue(Result.isFailure(QuotaRule.fromExtraFields("quota_rule=*:storage=%")))
  })

  it.effect("the users-file directory gives each user their quota (and none to users without a rule)", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "pop3d-quotarule-"))
      const path = Path.join(dir, "users")
      Fs.writeFileSync(
        path,
        [
          "alice:{PLAIN}a:1000:1000::/home/alice::userdb_quota_rule=*:storage=100M",
          "bob:{PLAIN}b::::::quota_rule=*:messages=20 nt_hash={NTLM}8846f7eaee8fb117ad06bdd830b7586c",
          "carol:{PLAIN}c",
          "dave:{PLAIN}d::::::quota_rule=*:storage=lots"
        ].join("\n") + "\n"
      )
      const directory = yield* UsersFile.make({ path })
      const quotaOf = (user: string) => Effect.map(directory.lookup(user), (r) => Option.getOrUndefined(r)?.quota)
      assert.deepStrictEqual(yield* quotaOf("alice"), { storage: 104857600 })
      assert.deepStrictEqual(yield* quotaOf("bob"), { messages: 20 })
      assert.isUndefined(yield* quotaOf("carol"))
      assert.isUndefined(yield* quotaOf("dave"), "an unusable rule: the default applies (and a warning is logged)")
      assert.isTrue(Option.isSome(yield* directory.verify("bob", "b")), "the rule does not disturb the password")
      Fs.rmSync(dir, { recursive: true, force: true })
    }))
})
