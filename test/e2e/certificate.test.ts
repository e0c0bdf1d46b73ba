// The self-signed certificate pop3d makes on first start (README "Two commands": start on the embedded default).
// The end-to-end suites verify one such certificate per server start (curl --cacert, poplib and the line client
// load it as their CA); a single start cannot show an encoding error that depends on random bytes, so this file
// makes many certificates the way first start does and has OpenSSL load each one, as the TLS listener will.
// PROFILE row: E0001 (implicit TLS and STLS work out of the box).
import * as Crypto from "node:crypto"
import * as Tls from "node:tls"
import { describe, expect, it } from "vitest"
import * as SelfSigned from "../../packages/server/src/SelfSigned.ts"

describe("first-start certificate", { timeout: 60_000 }, () => {
  it("every generated certificate is valid DER that OpenSSL accepts (2000 tries)", () => {
    const rejected: Array<string> = []
    for (let i = 0; i < 2000; i++) {
      const pair = SelfSigned.make()
      try {
        Tls.createSecureContext({ cert: pair.cert, key: pair.key })
      } catch (e) {
        const serial = (() => {
          try {
            return new Crypto.X509Certificate(pair.cert).serialNumber
          } catch {
            return "?"
          }
        })()
        rejected.push(`${(e as Error).message} (serial ${serial})`)
      }
    }
    // A failure here means some first starts die with "asn1 encoding routines::illegal padding" and, since the
    // broken certificate stays in <data>/tls, every later start too.
    expect(rejected, rejected.slice(0, 3).join("; ")).toEqual([])
  })

  it("has SAN localhost and 127.0.0.1 and is a CA for itself", () => {
    const pair = SelfSigned.make()
    const x = new Crypto.X509Certificate(pair.cert)
    expect(x.subjectAltName).toMatch(/DNS:localhost/)
    expect(x.subjectAltName).toMatch(/IP Address:127\.0\.0\.1/)
    expect(x.checkHost("localhost")).toBe("localhost")
    expect(x.checkIP("127.0.0.1")).toBe("127.0.0.1")
    expect(x.verify(x.publicKey)).toBe(true)
  })
})
