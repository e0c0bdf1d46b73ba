import { assert, describe, it } from "@effect/vitest"
import { Capa } from "../src/index.ts"

describe("Capa.render", () => {
  it("golden: everything offered", () => {
    assert.deepStrictEqual(
      Capa.render({
        user: true,
        stls: true,
        sasl: ["PLAIN", "NTLM", "GSSAPI"],
        implementation: "pop3d 0.1.0",
        expire: "NEVER",
        loginDelay: 0
      }),
      [
        "TOP",
        "UIDL",
        "USER",
        "SASL PLAIN NTLM GSSAPI",
        "RESP-CODES",
        "AUTH-RESP-CODE",
        "PIPELINING",
        "STLS",
        "EXPIRE NEVER",
        "LOGIN-DELAY 0",
        "IMPLEMENTATION pop3d 0.1.0"
      ]
    )
  })

  it("golden: plaintext off, no TLS, no SASL", () => {
    assert.deepStrictEqual(
      Capa.render({ user: false, stls: false, sasl: [], implementation: "pop3d" }),
      ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "IMPLEMENTATION pop3d"]
    )
  })
})
