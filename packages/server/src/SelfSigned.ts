// Makes the self-signed certificate of the embedded default (an ECDSA P-256 key and an X.509 v3 certificate for
// localhost / 127.0.0.1 / ::1), with Node's crypto and a minimal DER writer. Only for first start without a
// configured certificate; never for a production name, and it never overwrites an existing file.
import * as Crypto from "node:crypto"

const der = (tag: number, body: Uint8Array): Buffer => {
  const n = body.length
  const len = n < 0x80
    ? [n]
    : n < 0x100
    ? [0x81, n]
    : n < 0x10000
    ? [0x82, n >> 8, n & 0xff]
    : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]
  return Buffer.concat([Buffer.from([tag, ...len]), body])
}
const seq = (...items: Array<Uint8Array>) => der(0x30, Buffer.concat(items))
const set = (...items: Array<Uint8Array>) => der(0x31, Buffer.concat(items))
const oid = (dotted: string): Buffer => {
  const parts = dotted.split(".").map(Number)
  const bytes: Array<number> = [parts[0]! * 40 + parts[1]!]
  for (const p of parts.slice(2)) {
    const enc: Array<number> = [p & 0x7f]
    for (let v = p >> 7; v > 0; v >>= 7) enc.unshift((v & 0x7f) | 0x80)
    bytes.push(...enc)
  }
  return der(0x06, Buffer.from(bytes))
}
const integer = (bytes: Uint8Array): Buffer => der(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes)
const utf8 = (s: string) => der(0x0c, Buffer.from(s, "utf8"))
const time = (d: Date): Buffer => {
  const iso = d.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z" // YYYYMMDDHHMMSSZ
  return d.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(iso.slice(2), "ascii")) : der(0x18, Buffer.from(iso, "ascii"))
}
const explicit = (n: number, body: Uint8Array) => der(0xa0 + n, body)

/** A PEM certificate and its PEM (PKCS#8) private key. */
export interface CertificatePair {
  readonly cert: string
  readonly key: string
}

/** Makes a self-signed certificate valid for `days` days for localhost and the loopback addresses. */
export const make = (options: { readonly commonName?: string; readonly days?: number } = {}): CertificatePair => {
  const { privateKey, publicKey } = Crypto.generateKeyPairSync("ec", { namedCurve: "prime256v1" })
  const cn = options.commonName ?? "localhost"
  const now = new Date()
  const notAfter = new Date(now.getTime() + (options.days ?? 3650) * 86_400_000)
  const name = seq(set(seq(oid("2.5.4.3"), utf8(cn))))
  const ecdsaWithSha256 = seq(oid("1.2.840.10045.4.3.2"))
  const san = seq(
    der(0x82, Buffer.from("localhost", "ascii")),
    der(0x87, Buffer.from([127, 0, 0, 1])),
    der(0x87, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]))
  )
  const extensions = explicit(
    3,
    seq(
      seq(oid("2.5.29.17"), der(0x04, san)),
      seq(oid("2.5.29.19"), der(0x04, seq()))
    )
  )
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    // A positive serial with a non-zero first octet, so its DER INTEGER is minimal (OpenSSL refuses padding).
    integer(Crypto.randomBytes(16).map((b, i) => (i === 0 ? (b & 0x7f) || 1 : b))),
    ecdsaWithSha256,
    name,
    seq(time(now), time(notAfter)),
    name,
    publicKey.export({ type: "spki", format: "der" }),
    extensions
  )
  const signature = Crypto.sign("sha256", tbs, { key: privateKey, dsaEncoding: "der" })
  const certDer = seq(tbs, ecdsaWithSha256, der(0x03, Buffer.concat([Buffer.from([0]), signature])))
  const b64 = certDer.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "")
  return {
    cert: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
    key: privateKey.export({ type: "pkcs8", format: "pem" }).toString()
  }
}
