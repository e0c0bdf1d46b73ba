import { Reply } from "@pop3d/protocol"
const msgs = Array.from({ length: 100000 }, (_, i) => ({ uid: i + 1, wireSize: 10000 + i, storageSize: 9000 + i }))
for (let r = 0; r < 3; r++) {
  let t = performance.now()
  const live: number[] = []; for (let i = 0; i < msgs.length; i++) live.push(i)
  const lines = live.map((i) => `${i + 1} ${msgs[i]!.wireSize}`)
  const t1 = performance.now()
  const text = Reply.multiline(lines)
  const t2 = performance.now()
  const b = Buffer.from(text, "latin1")
  const t3 = performance.now()
  console.log("lines", (t1 - t).toFixed(1), "multiline", (t2 - t1).toFixed(1), "Buffer.from", (t3 - t2).toFixed(1), b.length)
}
