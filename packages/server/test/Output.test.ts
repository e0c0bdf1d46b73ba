// The connection's output queue: bytes come out in the order queued, pool buffers go back only once the socket has
// drained them, a buffer the socket may still hold is never handed out again, and a detached queue leaves the pool
// alone.
import { assert, describe, it } from "@effect/vitest"
import { DotStuffer } from "@pop3d/protocol"
import * as Output from "../src/Output.ts"

const text = (chunks: ReadonlyArray<Uint8Array> | undefined) => Buffer.concat(chunks ?? []).toString("latin1")

/** A pool that records what it hands out and gets back. */
const recordingPool = (bufferSize = 1024) => {
  const inner = Output.makePool(bufferSize, 8)
  const taken: Array<Buffer> = []
  const given: Array<Buffer> = []
  const pool: Output.BufferPool = {
    bufferSize,
    take: () => {
      const b = inner.take()
      taken.push(b)
      return b
    },
    give: (b) => {
      given.push(b)
      inner.give(b)
    }
  }
  return { pool, taken, given }
}

describe("Output", () => {
  it("replies and encoded message chunks come out in order, as one write", () => {
    const { pool } = recordingPool()
    const out = Output.make(pool)
    const stuffer = DotStuffer.make()
    out.text("+OK 9 octets\r\n")
    out.encode(stuffer, Buffer.from("a\n.b\n"))
    out.copy(stuffer.end())
    out.text("+OK\r\n")
    assert.strictEqual(out.length, "+OK 9 octets\r\na\r\n..b\r\n.\r\n+OK\r\n".length)
    const batch = out.take()
    assert.strictEqual(text(batch), "+OK 9 octets\r\na\r\n..b\r\n.\r\n+OK\r\n")
    assert.strictEqual(batch!.length, 1, "one contiguous write")
    assert.strictEqual(out.length, 0)
    assert.isUndefined(out.take())
  })

  it("a chunk larger than a pool buffer is encoded in steps across buffers", () => {
    const { pool, taken } = recordingPool(1024)
    const out = Output.make(pool)
    const body = "x".repeat(100) + "\n"
    const chunk = Buffer.from(body.repeat(30))
    out.encode(DotStuffer.make(), chunk)
    assert.strictEqual(text(out.take()), (body.slice(0, -1) + "\r\n").repeat(30))
    assert.isAbove(taken.length, 1)
  })

  it("buffers go back to the pool only when the socket drained them, and are then reused", () => {
    const { pool, taken, given } = recordingPool()
    const out = Output.make(pool)
    out.text("+OK first\r\n")
    out.take()
    out.written(false)
    assert.strictEqual(given.length, 0, "the socket may still hold it")
    out.text("+OK second\r\n")
    const second = out.take()!
    assert.notStrictEqual(taken[1], taken[0], "an undrained buffer is not handed out again")
    out.written(true)
    assert.deepStrictEqual(given, [taken[1]])
    assert.strictEqual(text(second), "+OK second\r\n")
    out.text("+OK third\r\n")
    assert.strictEqual(taken[2], taken[1], "a drained buffer is reused")
  })

  it("a detached queue never takes from the pool", () => {
    const { pool, taken } = recordingPool()
    const out = Output.make(pool)
    out.detach()
    const stuffer = DotStuffer.make()
    out.text("+OK\r\n")
    out.encode(stuffer, Buffer.from(".x\n"))
    out.bytes(stuffer.end())
    assert.strictEqual(text(out.take()), "+OK\r\n..x\r\n.\r\n")
    out.written(true)
    assert.strictEqual(taken.length, 0)
  })

  it("a long text is queued as its own buffer", () => {
    const { pool, taken } = recordingPool()
    const out = Output.make(pool)
    const long = "1 2\r\n".repeat(10_000)
    out.text(long)
    assert.strictEqual(text(out.take()), long)
    assert.strictEqual(taken.length, 0)
  })
})
