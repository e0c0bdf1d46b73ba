/**
 * RC4 (ARCFOUR), in pure TypeScript, because Node's OpenSSL 3 refuses `rc4`
 * without the process-wide legacy provider. NTLM needs it for one thing: to
 * decrypt the client's EncryptedRandomSessionKey (KEY_EXCH) so the MIC can be
 * checked. RC4 is broken as a cipher; never use it for anything new. Pure.
 */

/** XORs `data` with the RC4 keystream for `key` (1–256 octets): encrypts and decrypts alike. */
export const transform = (key: Uint8Array, data: Uint8Array): Uint8Array => {
  if (key.length < 1 || key.length > 256) throw new RangeError("Rc4.transform: key must be 1-256 octets")
  const s = new Uint8Array(256)
  for (let i = 0; i < 256; i++) s[i] = i
  // Key scheduling.
  for (let i = 0, j = 0; i < 256; i++) {
    j = (j + s[i]! + key[i % key.length]!) & 0xff
    const t = s[i]!
    s[i] = s[j]!
    s[j] = t
  }
  // Keystream generation.
  const out = new Uint8Array(data.length)
  for (let n = 0, i = 0, j = 0; n < data.length; n++) {
    i = (i + 1) & 0xff
    j = (j + s[i]!) & 0xff
    const t = s[i]!
    s[i] = s[j]!
    s[j] = t
    out[n] = data[n]! ^ s[(s[i]! + s[j]!) & 0xff]!
  }
  return out
}
