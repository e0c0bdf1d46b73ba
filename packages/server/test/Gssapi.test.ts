// The GSSAPI settings (defaults, the principal map, errors naming the setting) and how Mechanisms.fromSettings
// leaves GSSAPI out, with the reason logged, when it cannot run.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Mechanisms from "../src/Mechanisms.ts"
import * as Settings from "../src/Settings.ts"
import { tempDirs } from "./tempDirs.ts"

const tmp = tempDirs("pop3d-gssapi-settings-")

const load = (flags: Record<string, string>, env: Record<string, string> = {}) =>
  Settings.load({ flags: { data: tmp(), ...flags }, env, isRoot: false })

/** Runs `effect` and returns what it logged, one string per message. */
const logged = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const value = yield* effect.pipe(
      Effect.provide(Logger.layer([
        Logger.make((o) => {
          lines.push((Array.isArray(o.message) ? o.message : [o.message]).map(String).join(" "))
        })
      ]))
    )
    return { value, lines }
  })

describe("GSSAPI settings", () => {
  it.effect("defaults: no keytab, pop@<hostname>, the Kerberos default realm, no map", () =>
    Effect.gen(function*() {
      const s = yield* load({})
      assert.strictEqual(s.gssapi.keytab, "")
      assert.strictEqual(s.gssapi.principal, `pop@${Os.hostname()}`)
      assert.strictEqual(s.gssapi.defaultRealm, "")
      assert.strictEqual(s.gssapi.principalMap.size, 0)
    }))

  it.effect("flags, environment and a relative keytab path", () =>
    Effect.gen(function*() {
      const s = yield* load(
        { "gssapi-keytab": "pop.keytab", "gssapi-principal": "pop/mail.example.com@EXAMPLE.COM" },
        { POP3D_GSSAPI_DEFAULT_REALM: "EXAMPLE.COM", POP3D_GSSAPI_PRINCIPAL_MAP: "u@OTHER.ORG=alice, v@OTHER.ORG=bob" }
      )
      assert.strictEqual(s.gssapi.keytab, Path.resolve("pop.keytab"))
      assert.strictEqual(s.gssapi.principal, "pop/mail.example.com@EXAMPLE.COM")
      assert.strictEqual(s.gssapi.defaultRealm, "EXAMPLE.COM")
      assert.deepStrictEqual([...s.gssapi.principalMap], [["u@OTHER.ORG", "alice"], ["v@OTHER.ORG", "bob"]])
      assert.strictEqual((yield* load({ "gssapi-keytab": "FILE:/etc/pop.keytab" })).gssapi.keytab, "FILE:/etc/pop.keytab")
    }))

  const refused: ReadonlyArray<readonly [Record<string, string>, RegExp]> = [
    [{ "gssapi-principal": "pop" }, /--gssapi-principal = "pop": expected service@host/],
    [{ "gssapi-principal": "pop@a b" }, /--gssapi-principal/],
    [{ "gssapi-default-realm": "A@B" }, /--gssapi-default-realm = "A@B": expected a realm name/],
    [{ "gssapi-principal-map": "alice" }, /--gssapi-principal-map = "alice": expected principal@REALM=user/],
    [{ "gssapi-principal-map": "a@X=b,a@X=c" }, /--gssapi-principal-map .*a@X is mapped twice/]
  ]
  for (const [flags, message] of refused) {
    it.effect(`refuses ${JSON.stringify(flags)}`, () =>
      Effect.gen(function*() {
        const e = yield* Effect.flip(load(flags))
        assert.match(e.message, message)
      }))
  }
})

describe("Mechanisms.fromSettings with GSSAPI", () => {
  it.effect("not listed in sasl-mechanisms: not offered, nothing said", () =>
    Effect.gen(function*() {
      const s = yield* load({ "gssapi-keytab": "/nonexistent.keytab" })
      const { lines, value } = yield* logged(Mechanisms.fromSettings(s))
      assert.deepStrictEqual(value.map((m) => m.name), ["PLAIN"])
      assert.isFalse(lines.some((l) => l.includes("GSSAPI")))
    }))

  it.effect("listed but no keytab: not offered, and the log says so", () =>
    Effect.gen(function*() {
      const s = yield* load({ "sasl-mechanisms": "PLAIN,GSSAPI" })
      const { lines, value } = yield* logged(Mechanisms.fromSettings(s))
      assert.deepStrictEqual(value.map((m) => m.name), ["PLAIN"])
      assert.include(lines.join("\n"), "GSSAPI is not offered: no keytab (setting gssapi-keytab)")
    }))

  it.effect("listed with a keytab that cannot be used: not offered, and the log says why", () =>
    Effect.gen(function*() {
      const s = yield* load({ "sasl-mechanisms": "GSSAPI,PLAIN", "gssapi-keytab": "/nonexistent/pop.keytab" })
      const { lines, value } = yield* logged(Mechanisms.fromSettings(s))
      assert.deepStrictEqual(value.map((m) => m.name), ["PLAIN"])
      // Either the addon loaded and MIT names the keytab, or the addon is missing and the log says how to build it.
      assert.match(lines.join("\n"), /GSSAPI is not offered: (no key for .*Key table file '\/nonexistent\/pop.keytab' not found|the GSSAPI addon)/)
    }))
})
