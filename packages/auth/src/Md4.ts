/**
 * MD4 (RFC 1320), in pure TypeScript, because Node's OpenSSL 3 refuses `md4`
 * without the process-wide legacy provider. It exists for one purpose: the NT
 * hash NTLM is built on (MD4 of the UTF-16LE password). MD4 is broken as a
 * hash; never use it for anything new. Pure: bytes in, 16 bytes out.
 */

/** Octets in an MD4 digest. */
export const digestLength = 16

const rotl = (x: number, s: number): number => (x << s) | (x >>> (32 - s))

// RFC 1320 3.4: per round, the message word each of the 16 steps adds, the rotations, and the added constant.
const order = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15],
  [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15]
] as const
const shifts = [[3, 7, 11, 19], [3, 5, 9, 13], [3, 9, 11, 15]] as const
const constants = [0, 0x5a827999, 0x6ed9eba1] as const
// The word (0 = a, 1 = b, 2 = c, 3 = d) that steps 0, 1, 2, 3 (mod 4) update.
const stepTarget = [0, 3, 2, 1] as const

/** The MD4 digest of `data`. */
export const digest = (data: Uint8Array): Uint8Array => {
  // Padding (RFC 1320 3.1-3.2): 0x80, zeros to 56 mod 64, then the bit length as 64-bit little-endian.
  const padded = new Uint8Array((((data.length + 8) >>> 6) + 1) << 6)
  padded.set(data)
  padded[data.length] = 0x80
  const view = new DataView(padded.buffer)
  const bits = data.length * 8
  view.setUint32(padded.length - 8, bits >>> 0, true)
  view.setUint32(padded.length - 4, Math.floor(bits / 0x1_0000_0000) >>> 0, true)

  const h = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476)
  const w = new Int32Array(4)
  const x = new Int32Array(16)
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let i = 0; i < 16; i++) x[i] = view.getInt32(offset + 4 * i, true)
    w.set(h)
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 16; i++) {
        // Step i updates a, d, c, b in turn; the other three words follow it in a b c d order.
        const t = stepTarget[i & 3]!
        const p = w[(t + 1) & 3]!, q = w[(t + 2) & 3]!, r = w[(t + 3) & 3]!
        const f = round === 0 ? (p & q) | (~p & r) : round === 1 ? (p & q) | (p & r) | (q & r) : p ^ q ^ r
        w[t] = rotl(w[t]! + f + x[order[round]![i]!]! + constants[round]!, shifts[round]![i & 3]!)
      }
    }
    for (let i = 0; i < 4; i++) h[i] = h[i]! + w[i]!
  }
  const out = new Uint8Array(digestLength)
  const outView = new DataView(out.buffer)
  for (let i = 0; i < 4; i++) outView.setInt32(4 * i, h[i]!, true)
  return out
}
