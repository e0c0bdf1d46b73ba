// The NTLM settings (the four names the CHALLENGE announces) and Mechanisms offering NTLM only when listed.
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Mechanisms from "../src/Mechanisms.ts"
import * as Settings from "../src/Settings.ts"
import { tempDirs } from "./tempDirs.ts"

// Temporary data folders of these tests, removed after them.
const tmp = tempDirs("pop3d-ntlm-settings-")

const load = (flags: Record<string, string>, env: Record<string, string> = {}) =>
  Settings.load({ flags: { data: tmp(), ...flags }, env, isRoot: false })

describe("NTLM settings", () => {
  it.effect("defaults, and values from flags and the environment", () =>
    Effect.gen(function*() {
      const s = yield* load({})
      assert.deepStrictEqual(s.ntlm, {
        netbiosDomain: "POP3D",
        netbiosComputer: "POP3D",
        dnsDomain: "localdomain",
        dnsComputer: "pop3d.localdomain"
      })
      assert.deepStrictEqual(s.saslMechanisms, ["PLAIN"], "NTLM is not offered by default")
      const t = yield* load(
        { "ntlm-netbios-domain": "EXAMPLE", "ntlm-dns-computer": "mail.example.org" },
        { POP3D_NTLM_DNS_DOMAIN: "example.org", POP3D_NTLM_NETBIOS_COMPUTER: "MAIL1" }
      )
      assert.deepStrictEqual(t.ntlm, {
        netbiosDomain: "EXAMPLE",
        netbiosComputer: "MAIL1",
        dnsDomain: "example.org",
        dnsComputer: "mail.example.org"
      })
    }))

  it.effect("invalid names stop start-up with a message naming the setting", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [string, string]> = [
        ["ntlm-netbios-domain", "MUCH-TOO-LONG-NAME"],
        ["ntlm-netbios-computer", "has space"],
        ["ntlm-dns-domain", "bad..name"],
        ["ntlm-dns-computer", "-leading.dash"]
      ]
      for (const [flag, value] of cases) {
        const error = yield* Effect.flip(load({ [flag]: value }))
        assert.include(error.message, `--${flag}`)
      }
    }))

  it.effect("Mechanisms offers NTLM, in the order listed, only when sasl-mechanisms names it", () =>
    Effect.gen(function*() {
      const names = (list: string) =>
        Effect.map(
          Effect.flatMap(load({ "sasl-mechanisms": list }), Mechanisms.fromSettings),
          (ms) => ms.map((m) => m.name)
        )
      assert.deepStrictEqual(yield* names("PLAIN"), ["PLAIN"])
      assert.deepStrictEqual(yield* names("ntlm,plain"), ["NTLM", "PLAIN"])
      const [ntlm] = yield* Effect.flatMap(load({ "sasl-mechanisms": "NTLM" }), Mechanisms.fromSettings)
      assert.isFalse(ntlm!.plaintext)
    }))
})
