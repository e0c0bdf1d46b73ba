// The quota decisions every store shares: what fits, when a warning threshold is reached, sizes as Dovecot writes
// them, and the retention cutoffs and EXPIRE days.
import { assert, describe, it } from "@effect/vitest"
import { Quota, Retention } from "../src/index.ts"

describe("Quota", () => {
  const limit = { storage: 1000, messages: 10 }

  it("fits: up to and at the limit; over by one octet or one message is Over; larger than the limit is TooLarge", () => {
    assert.strictEqual(Quota.fits({ storage: 0, messages: 0 }, 1000, limit), "Fits")
    assert.strictEqual(Quota.fits({ storage: 900, messages: 9 }, 100, limit), "Fits")
    assert.strictEqual(Quota.fits({ storage: 901, messages: 1 }, 100, limit), "Over")
    assert.strictEqual(Quota.fits({ storage: 0, messages: 10 }, 1, limit), "Over")
    assert.strictEqual(Quota.fits({ storage: 0, messages: 0 }, 1001, limit), "TooLarge")
    assert.strictEqual(Quota.fits({ storage: 10 ** 12, messages: 10 ** 6 }, 10 ** 9, Quota.unlimited), "Fits")
  })

  it("reached: either resource at or over the threshold; 0 is off; no limit never reaches", () => {
    assert.isFalse(Quota.reached({ storage: 899, messages: 0 }, limit, 90))
    assert.isTrue(Quota.reached({ storage: 900, messages: 0 }, limit, 90))
    assert.isTrue(Quota.reached({ storage: 0, messages: 9 }, limit, 90))
    assert.isFalse(Quota.reached({ storage: 1000, messages: 10 }, limit, 0))
    assert.isFalse(Quota.reached({ storage: 10 ** 9, messages: 0 }, Quota.unlimited, 90))
    assert.strictEqual(Quota.percent({ storage: 455, messages: 9 }, limit), 90)
  })

  it("sizes: digits with b/k/M/G/T binary suffixes, any case", () => {
    assert.deepStrictEqual(
      ["0", "512", "1k", "1K", "100M", "2G", "1T", "10b", "5kb"].map(Quota.parseSize),
      [0, 512, 1024, 1024, 104857600, 2 * 1024 ** 3, 1024 ** 4, 10, 5120]
    )
    for (const bad of ["", "-1", "1.5M", "10X", "M", "99999999999999999T"]) assert.isUndefined(Quota.parseSize(bad), bad)
    assert.deepStrictEqual([512, 1536, 104857600].map(Quota.formatSize), ["512 B", "1.5 KiB", "100 MiB"])
  })
})

describe("Retention", () => {
  const now = 100 * 86_400_000
  const day = 86_400_000

  it("cutoffs: days for all, retrieved days for retrieved ones (0 = the same as days), 0 = keep", () => {
    assert.deepStrictEqual(Retention.cutoffs(now, 0, 0), {})
    assert.deepStrictEqual(Retention.cutoffs(now, 60, 7), { deliveredBefore: now - 60 * day, retrievedBefore: now - 7 * day })
    assert.deepStrictEqual(Retention.cutoffs(now, 30, 0), { deliveredBefore: now - 30 * day, retrievedBefore: now - 30 * day })
    assert.deepStrictEqual(Retention.cutoffs(now, 0, 7), { retrievedBefore: now - 7 * day })
  })

  it("isExpired applies whichever rule comes first", () => {
    const c = Retention.cutoffs(now, 60, 7)
    assert.isFalse(Retention.isExpired({ delivered: now - 8 * day, retrieved: false }, c))
    assert.isTrue(Retention.isExpired({ delivered: now - 8 * day, retrieved: true }, c))
    assert.isFalse(Retention.isExpired({ delivered: now - 6 * day, retrieved: true }, c))
    assert.isTrue(Retention.isExpired({ delivered: now - 61 * day, retrieved: false }, c))
  })

  it("EXPIRE days: the smaller of those that apply, NEVER when none", () => {
    assert.strictEqual(Retention.minimumDays(0, 0), "NEVER")
    assert.strictEqual(Retention.minimumDays(60, 7), 7)
    assert.strictEqual(Retention.minimumDays(30, 0), 30)
    assert.strictEqual(Retention.minimumDays(0, 7), 7)
  })
})
