// Unknown users and wrong passwords must cost the same: count the HMAC computations and constant-time
// comparisons the NTLM mechanism makes for each outcome (node:crypto is wrapped for this file only).
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { vi } from "vitest"
import * as Directory from "../src/Directory.ts"
import * as Ntlm from "../src/Ntlm.ts"
import * as Sasl from "../src/Sasl.ts"
import * as Client from "./ntlmClient.ts"

const counts = vi.hoisted(() => ({ hmac: 0, compare: 0 }))

vi.mock("node:crypto", async (importOriginal) => {
  const original = await importOriginal<typeof import("node:crypto")>()
  return {
    ...original,
    createHmac: (...args: Parameters<typeof original.createHmac>) => {
      counts.hmac++
      return original.createHmac(...args)
    },
    timingSafeEqual: (...args: Parameters<typeof original.timingSafeEqual>) => {
      counts.compare++
      return original.timingSafeEqual(...args)
    }
  }
})

const options: Ntlm.Options = { netbiosDomain: "POP3D", netbiosComputer: "POP3D", dnsDomain: "localdomain", dnsComputer: "pop3d.localdomain" }
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

describe("Ntlm: work done", () => {
  it.effect("success, wrong password, unknown user and an account without an NT hash do the same crypto", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 10, 27, 12))
      const measure = (user: string, password: string, mic: boolean) =>
        Effect.gen(function*() {
          const negotiate = Client.negotiate(mic ? Client.windowsFlags : Client.curlFlags)
          const exchange = yield* Ntlm.make(options).start()
          const first = yield* exchange.step(negotiate)
          if (first._tag !== "Challenge") return assert.fail("no challenge")
          // Build the client's message before counting: only the server's work is measured.
          const message = Client.authenticate({ negotiate, challenge: first.data, user, password, mic })
          const before = { ...counts }
          const step = yield* exchange.step(message)
          return { step, hmac: counts.hmac - before.hmac, compare: counts.compare - before.compare }
        })
      for (const mic of [true, false]) {
        const right = yield* measure("alice", "pw", mic)
        const wrong = yield* measure("alice", "not pw", mic)
        const unknown = yield* measure("nobody", "pw", mic)
        const noHash = yield* measure("carol", "pw", mic)
        assert.deepStrictEqual(right.step, Sasl.success("alice"))
        for (const other of [wrong, unknown, noHash]) {
          assert.deepStrictEqual(other.step, Sasl.failure(Sasl.authenticationFailed))
          assert.deepStrictEqual([other.hmac, other.compare], [right.hmac, right.compare], `mic ${mic}`)
        }
        assert.isAbove(right.hmac, 0)
      }
    }).pipe(Effect.provide(Directory.layerMemory({
      alice: { password: "{PLAIN}pw", ntHash: `{NTLM}${hex(Client.ntHash("pw"))}` },
      carol: "{SCRYPT}$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    }))))
})
