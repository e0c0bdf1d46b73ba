// Python's standard poplib against the real server (test/python/poplib_client.py prints JSON). PROFILE: E0001
// (implicit TLS and STLS, the self-signed certificate verified as CA), E0002 (USER/PASS), C0006/V0007 (STAT,
// LIST, UIDL, RETR, TOP, DELE, QUIT), corner "TOP n 0 / TOP n k", V0004/V0005 (STAT), C0007 (UIDL decimal,
// increasing), V0006 (QUIT removes exactly the marked message), RFC 2449 CAPA before/after STLS.
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { poplib, type PoplibAction, type PoplibOutput } from "../helpers/clients.ts"
import { shutdown, startServer, toWire, type Server } from "../helpers/server.ts"

const user = "pyuser"
const password = "py thon pass"
const header = ["From: p@example.org", "To: pyuser@example.org", "Subject: poplib one", "X-Extra: folded", " continuation"]
const body = ["line 1", ".dotted line 2", "line 3", "line 4"]
const messages = [
  [...header, "", ...body, ""].join("\n"),
  "Subject: two\r\n\r\nsecond\r\n",
  "Subject: three\n\nthird\n",
  "Subject: four\n\nfourth\n"
]

let server: Server
let cafile: string
const uids: Array<number> = []

const ssl = (actions: ReadonlyArray<PoplibAction>): Promise<PoplibOutput> =>
  poplib({ port: server.tlsPort, mode: "ssl", cafile, user, password, actions })

const results = (out: PoplibOutput) => {
  expect(out.exception, out.message).toBeUndefined()
  return out.results!.map((r) => {
    expect(r.ok, `${JSON.stringify(r.action)}: ${r.error}`).toBe(true)
    return r.value
  })
}

beforeAll(async () => {
  server = await startServer()
  cafile = Path.join(server.dataDir, "tls", "cert.pem")
  await server.addUser(user, password)
  for (const m of messages) uids.push(await server.deliver(user, m))
}, 90_000)

afterAll(() => shutdown(server), 20_000)

describe("poplib", { timeout: 20_000 }, () => {
  it("POP3_SSL: verified certificate, USER/PASS, stat, list, uidl, retr", async () => {
    const out = await ssl([["stat"], ["list"], ["list", 2], ["uidl"], ["uidl", 3], ["retr", 1], ["retr", 2], ["quit"]])
    expect(out.verified).toBe(true)
    expect(out.welcome).toMatch(/^\+OK/)
    expect(out.welcome).not.toMatch(/<.*>/)
    expect(out.user).toMatch(/^\+OK/)
    expect(out.pass).toMatch(/^\+OK/)
    const [stat, list, list2, uidl, uidl3, retr1, retr2, quit] = results(out)
    const sizes = messages.map((m) => Buffer.byteLength(toWire(m)))
    expect(stat).toEqual([4, sizes.reduce((a, b) => a + b, 0)])
    expect(list.lines).toEqual(sizes.map((s, i) => `${i + 1} ${s}`))
    expect(list2.status).toBe(`+OK 2 ${sizes[1]}`)
    expect(uidl.lines).toEqual(uids.map((u, i) => `${i + 1} ${u}`))
    for (const line of uidl.lines as Array<string>) expect(line).toMatch(/^\d+ \d+$/)
    expect(uidl3.status).toBe(`+OK 3 ${uids[2]}`)
    // poplib un-stuffs and strips line ends; octets counts the un-stuffed lines with their CRLFs.
    expect(retr1.lines).toEqual([...header, "", ...body])
    expect(retr1.octets).toBe(Buffer.byteLength(toWire(messages[0]!)))
    expect(retr2.lines).toEqual(["Subject: two", "", "second"])
    expect(quit).toMatch(/^\+OK/)
  })

  it("top(n, 0) gives the header lines and the blank line, nothing more; top(n, 2) adds two body lines", async () => {
    const [top0, top2, top99] = results(await ssl([["top", 1, 0], ["top", 1, 2], ["top", 1, 99], ["quit"]]))
    expect(top0.lines).toEqual([...header, ""])
    expect(top2.lines).toEqual([...header, "", body[0], body[1]])
    expect(top2.lines[header.length + 2]).toBe(".dotted line 2")
    expect(top99.lines).toEqual([...header, "", ...body])
  })

  it("stls() then login on the plain port; CAPA has STLS and no USER before, USER and no STLS after", async () => {
    const out = await poplib({
      port: server.port,
      mode: "stls",
      cafile,
      user,
      password,
      actions: [["stat"], ["uidl", 1], ["quit"]]
    })
    expect(out.exception, out.message).toBeUndefined()
    expect(out.stls).toMatch(/^\+OK/)
    expect(out.verified).toBe(true)
    expect(Object.keys(out.capa_before_stls!)).toContain("STLS")
    expect(Object.keys(out.capa_before_stls!)).not.toContain("USER")
    expect(Object.keys(out.capa_after_stls!)).toContain("USER")
    expect(Object.keys(out.capa_after_stls!)).not.toContain("STLS")
    const [stat, uidl1] = results(out)
    expect(stat[0]).toBe(4)
    expect(uidl1.status).toBe(`+OK 1 ${uids[0]}`)
  })

  it("plain poplib without TLS: user() is refused under the default tls-only policy", async () => {
    const out = await poplib({ port: server.port, mode: "plain", user, password })
    expect(out.exception).toBe("error_proto")
    expect(out.message).toMatch(/^-ERR/)
  })

  it("wrong password: pass_() fails with -ERR", async () => {
    const out = await poplib({ port: server.tlsPort, mode: "ssl", cafile, user, password: "nope" })
    expect(out.exception).toBe("error_proto")
    expect(out.message).toMatch(/^-ERR/)
  })

  it("dele + quit removes exactly that message (run last)", async () => {
    const [dele, quit] = results(await ssl([["dele", 3], ["quit"]]))
    expect(dele).toMatch(/^\+OK/)
    expect(quit).toMatch(/^\+OK/)
    const [stat, uidl, r1, r2, r3] = results(await ssl([["stat"], ["uidl"], ["retr", 1], ["retr", 2], ["retr", 3], ["quit"]]))
    expect(stat[0]).toBe(3)
    expect(uidl.lines).toEqual([`1 ${uids[0]}`, `2 ${uids[1]}`, `3 ${uids[3]}`])
    expect(r1.lines[2]).toBe("Subject: poplib one")
    expect(r2.lines[0]).toBe("Subject: two")
    expect(r3.lines[0]).toBe("Subject: four")
  })
})
