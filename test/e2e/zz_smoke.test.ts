import { describe, it, expect, afterAll } from "vitest"
import { startServer, shutdown, Pop3Client, loginTls, type Server } from "../helpers/server.ts"
let s: Server | undefined
afterAll(() => shutdown(s), 20000)
describe("smoke", () => {
  it("starts", async () => {
    const t0 = Date.now()
    s = await startServer()
    console.log("start ms", Date.now() - t0, s.demoPassword)
    const t1 = Date.now()
    await s.addUser("carol", "pass word")
    console.log("adduser ms", Date.now() - t1)
    const t2 = Date.now()
    const uid = await s.deliver("carol", "Subject: x\n\nhello\n")
    console.log("deliver ms", Date.now() - t2, uid)
    const c = await loginTls(s.tlsPort, "carol", "pass word", s.certPem)
    console.log(c.greeting, await c.command("STAT"), await c.multi("RETR 1"))
    await c.quit()
    const r = await s.stop()
    console.log(r)
    expect(r.code).toBe(0)
  }, 60000)
})
