import { assert, describe, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import { UidList } from "../src/index.ts"

const list: UidList.UidList = {
  next: 10,
  entries: [
    { uid: 1, storageSize: 100, wireSize: 104, base: "1700000000.M1P2Q3.host,S=100,W=104" },
    { uid: 4, storageSize: 0, wireSize: 0, base: "odd name with spaces %41 and\nnewline\r" },
    { uid: 9, storageSize: 5, wireSize: 7, base: "x" }
  ]
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

const reason = (text: string) => {
  const parsed = UidList.parse(text)
  return Result.isFailure(parsed) ? parsed.failure : undefined
}

describe("UidList", () => {
  it("renders the documented text format", () => {
    assert.strictEqual(
      UidList.render(list),
      "pop3d-uidlist 1 next=10\n" +
        "1 100 104 1700000000.M1P2Q3.host,S=100,W=104\n" +
        "4 0 0 odd name with spaces %2541 and%0Anewline%0D\n" +
        "9 5 7 x\n"
    )
    assert.strictEqual(UidList.render(UidList.empty), "pop3d-uidlist 1 next=1\n")
  })

  it("parses what it renders", () => {
    assert.deepStrictEqual(UidList.parse(UidList.render(list)), Result.succeed(list))
    assert.deepStrictEqual(UidList.parse(UidList.render(UidList.empty)), Result.succeed(UidList.empty))
  })

  it.prop(
    "encodes byte for byte as the lines the format describes, and parses back, for any names and sizes",
    [
      Schema.Array(
        Schema.Tuple([
          Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
          Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
          Schema.String
        ])
      ),
      Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 }))
    ],
    ([rows, gap]) => {
      // Bases as a store would have them: well-formed (as Node decodes a file name), not empty, no ':' or '/', and
      // unique (suffixed with their row).
      const entries = rows.map(([storageSize, wireSize, name], i) => ({
        uid: i * gap + 1,
        storageSize,
        wireSize,
        base: `${name.replace(loneSurrogate, "\uFFFD").replace(/[:/]/g, "_")}#${i}`
      }))
      const generated: UidList.UidList = { next: entries.length * gap + 1, entries }
      const escape = (base: string) => base.replace(/%/g, "%25").replace(/\r/g, "%0D").replace(/\n/g, "%0A")
      const reference = `pop3d-uidlist 1 next=${generated.next}\n` +
        entries.map((e) => `${e.uid} ${e.storageSize} ${e.wireSize} ${escape(e.base)}\n`).join("")
      assert.strictEqual(UidList.encode(generated).toString("utf8"), reference)
      assert.isTrue(UidList.encode(generated).equals(Buffer.from(reference, "utf8")))
      assert.deepStrictEqual(UidList.parse(reference), Result.succeed(generated))
    },
    { arbitrary: { runs: 300 } }
  )

  it.effect("encodes the widest entries exactly, and the same in slices as at once", () =>
    Effect.gen(function*() {
      // The largest numbers, and names of the characters that take the most octets per UTF-16 unit: `%` (escaped
      // to 3), a 3-octet character, a lone surrogate (written as U+FFFD, 3 octets), a 4-octet pair.
      const wide = "%\u20AC\uD800\u{1F600}"
      const max = Number.MAX_SAFE_INTEGER
      const entries = Array.from({ length: 3000 }, (_, i) => ({
        uid: max - 3000 + i,
        storageSize: max,
        wireSize: i,
        base: `${wide.repeat(i % 7)}${i}`
      }))
      const list: UidList.UidList = { next: max, entries }
      const at = UidList.encode(list)
      const reference = `pop3d-uidlist 1 next=${max}\n` + entries.map((e) =>
        `${e.uid} ${e.storageSize} ${e.wireSize} ${e.base.replace(/%/g, "%25").replace(/\uD800(?![\uDC00-\uDFFF])/g, "\uFFFD")}\n`
      ).join("")
      assert.isTrue(at.equals(Buffer.from(reference, "utf8")))
      // Slices of 0 ms: the encoding stops and resumes every 256 entries.
      assert.isTrue((yield* UidList.encodeInSlices(list, 0)).equals(at))
      assert.isTrue((yield* UidList.encodeInSlices(list)).equals(at))
    }))

  it("refuses anything it would not have written", () => {
    const good = UidList.render(list)
    assert.match(reason(good.slice(0, -1))!, /truncated/)
    assert.match(reason("")!, /truncated/)
    assert.match(reason("pop3d-uidlist 2 next=3\n")!, /version/)
    assert.match(reason("pop3d-uidlist 1 next=0\n")!, /next/)
    assert.match(reason("hello\n")!, /header/)
    assert.match(reason("pop3d-uidlist 1 next=3\n3 1 1 a\n")!, /not below next/)
    assert.match(reason("pop3d-uidlist 1 next=9\n2 1 1 a\n1 1 1 b\n")!, /out of order/)
    assert.match(reason("pop3d-uidlist 1 next=9\n1 1 1 a\n2 1 1 a\n")!, /repeated/)
    assert.match(reason("pop3d-uidlist 1 next=9\n0 1 1 a\n")!, /bad entry/)
    assert.match(reason("pop3d-uidlist 1 next=9\n1 1 a\n")!, /bad entry/)
    assert.match(reason("pop3d-uidlist 1 next=9\n1 1 1 a:2,S\n")!, /base name/)
    assert.match(reason("pop3d-uidlist 1 next=9\n1 1 1 a\n\n")!, /bad entry/)
  })

  it("finds the highest UID a damaged file mentions", () => {
    assert.strictEqual(UidList.highestMentioned("pop3d-uidlist 1 next=42\n3 1 1 a\n"), 41)
    assert.strictEqual(UidList.highestMentioned("garbage\n77 x\n12 1 1 b"), 77)
    assert.strictEqual(UidList.highestMentioned("no numbers at all"), 0)
  })
})
