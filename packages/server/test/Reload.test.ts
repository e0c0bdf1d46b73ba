import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import * as Limits from "../src/Limits.ts"
import * as LiveServices from "../src/LiveServices.ts"
import * as LiveSettings from "../src/LiveSettings.ts"
import * as Reload from "../src/Reload.ts"
import * as Settings from "../src/Settings.ts"

const load = (flags: Record<string, string>) =>
  Settings.load({ flags: { data: "/tmp/pop3d-reload-test", ...flags }, env: {}, isRoot: false })

describe("Reload", () => {
  it("names each settings field by its flag", () => {
    assert.strictEqual(Reload.flagOf("maxCommandSize"), "max-command-size")
    assert.strictEqual(Reload.flagOf("exactRfc822Size"), "exact-rfc822-size")
    assert.strictEqual(Reload.flagOf("dataDir"), "data")
    assert.strictEqual(Reload.flagOf("ntlm"), "ntlm-*")
    // Every live field is a real settings field, and maps to a flag in the settings table (or a group of them).
    const flags = new Set(Settings.specs.map((s) => s.flag))
    for (const field of Reload.liveSettings) {
      if (field === "tlsCertIsDefault") continue
      const flag = Reload.flagOf(field)
      assert.isTrue(flag.endsWith("-*") || flags.has(flag), `${field} → ${flag}`)
    }
  })

  it.effect("diff says what changed and whether it is live; effective keeps the restart-only values", () =>
    Effect.gen(function*() {
      const before = yield* load({ port: "1110", "max-command-size": "512", plaintext: "tls-only" })
      const after = yield* load({ port: "2110", "max-command-size": "300", plaintext: "allowed", "log-level": "debug" })
      const changes = Reload.diff(before, after)
      assert.deepStrictEqual(
        changes.map((c) => [c.flag, c.from, c.to, c.live]).sort(),
        [
          ["log-level", "info", "debug", true],
          ["max-command-size", "512", "300", true],
          ["plaintext", "tls-only", "allowed", true],
          ["port", "1110", "2110", false]
        ]
      )
      const effective = Reload.effective(before, after)
      assert.strictEqual(effective.port, 1110)
      assert.strictEqual(effective.maxCommandSize, 300)
      assert.strictEqual(effective.plaintext, "allowed")
      assert.deepStrictEqual(Reload.diff(before, before), [])
    }))

  it.effect("live limits: a reload changes the maxima and keeps the counts of open connections", () =>
    Effect.gen(function*() {
      const settings = yield* load({ "max-connections-per-address": "1", "max-sessions-per-user": "1" })
      const live = yield* LiveSettings.make({ settings, mechanisms: [], tls: undefined })
      const limits = yield* Limits.Limits.pipe(
        Effect.provide(LiveServices.limits.pipe(Layer.provide(Layer.succeed(LiveSettings.LiveSettings)(live))))
      )
      const scope = yield* Scope.make()
      yield* limits.connection("192.0.2.1").pipe(Scope.provide(scope))
      const refused = yield* Effect.exit(limits.connection("192.0.2.1").pipe(Effect.scoped))
      assert.isTrue(Exit.isFailure(refused))
      yield* live.apply({ ...live.now(), settings: yield* load({ "max-connections-per-address": "2" }) })
      yield* limits.connection("192.0.2.1").pipe(Scope.provide(scope))
      assert.strictEqual(yield* limits.connectionsFrom("192.0.2.1"), 2)
      const third = yield* Effect.exit(limits.connection("192.0.2.1").pipe(Effect.scoped))
      assert.isTrue(Exit.isFailure(third))
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(yield* limits.connectionsFrom("192.0.2.1"), 0)
    }))
})
