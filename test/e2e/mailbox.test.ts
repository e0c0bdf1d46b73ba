// Mailbox semantics seen on the wire: UIDL, snapshots, deletion and UPDATE. PROFILE rows: C0007/C0008/C0009 (UIDL
// ids decimal, increasing in delivery order, kept across sessions and restarts, never reused, unique under
// concurrent delivery and concurrent opening), 2.1.3/C0004 (no exclusive lock, snapshot at login: later deliveries
// and other sessions' deletions are not seen, RETR/TOP of a message removed meanwhile -ERR), V0006 (QUIT removes
// exactly the marked messages; a dropped connection removes nothing), corners "LIST and UIDL never renumber" and
// "RSET only unmarks deletions".
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loginPlain, Pop3Client, shutdown, startServer, type Server } from "../helpers/server.ts"

const password = "mbox-pass"
let server: Server
const open: Array<Pop3Client> = []

const login = async (user: string) => {
  const c = await loginPlain(server.port, user, password)
  open.push(c)
  return c
}

/** UIDL as a map number → uid. */
const uidl = async (c: Pop3Client): Promise<Map<number, number>> => {
  const r = await c.multi("UIDL")
  expect(r.status).toMatch(/^\+OK/)
  const m = new Map<number, number>()
  for (const l of r.lines) {
    const x = /^(\d+) (\d+)$/.exec(l)
    expect(x, l).not.toBeNull()
    m.set(Number(x![1]), Number(x![2]))
  }
  return m
}

const listNumbers = async (c: Pop3Client): Promise<Array<number>> =>
  (await c.multi("LIST")).lines.map((l) => Number(l.split(" ")[0]))

const stat = async (c: Pop3Client): Promise<[number, number]> => {
  const r = await c.command("STAT")
  const m = /^\+OK (\d+) (\d+)$/.exec(r)
  expect(m, r).not.toBeNull()
  return [Number(m![1]), Number(m![2])]
}

/** Every test's mailbox, made in beforeAll: user → number of messages. */
const mailboxes: Record<string, number> = {
  alice: 4,
  concur: 0,
  parallel: 0,
  reuse: 3,
  rsetter: 2,
  dropper: 3,
  quitter: 5,
  shared: 3,
  shared2: 3,
  late: 2,
  external: 0
}
/** The UIDs deliver printed for each user's messages, in delivery order. */
const delivered: Record<string, Array<number>> = {}

/** The mailbox made for `user` in beforeAll: the UIDs of its messages ("Subject: <user> <i>"). */
const mailbox = (user: string): Array<number> => delivered[user]!

let aliceUids: Array<number> = []
let first: Server | undefined

beforeAll(async () => {
  server = await startServer({ args: ["--plaintext", "allowed"] })
  first = server
  // Users one after the other (the CLI rewrites one users file); messages per user in order, users in parallel.
  for (const user of Object.keys(mailboxes)) await server.addUser(user, password)
  await Promise.all(Object.entries(mailboxes).map(async ([user, count]) => {
    const uids: Array<number> = []
    for (let i = 1; i <= count; i++) uids.push(await server.deliver(user, `Subject: ${user} ${i}\n\nbody ${i}\n`))
    delivered[user] = uids
  }))
  aliceUids = mailbox("alice")
}, 240_000)

afterAll(async () => {
  for (const c of open) c.destroy()
  await shutdown(server)
  await shutdown(first) // after a restart `server` is the second process on the first one's folder
}, 30_000)

describe("UIDL (C0007, C0008, C0009)", { timeout: 60_000 }, () => {
  it("ids are decimal, increasing in delivery order, and match what deliver printed", async () => {
    for (let i = 1; i < aliceUids.length; i++) expect(aliceUids[i]!).toBeGreaterThan(aliceUids[i - 1]!)
    const c = await login("alice")
    const ids = await uidl(c)
    expect([...ids.entries()]).toEqual(aliceUids.map((u, i) => [i + 1, u]))
    for (let n = 1; n <= aliceUids.length; n++) expect(await c.command(`UIDL ${n}`)).toBe(`+OK ${n} ${aliceUids[n - 1]}`)
  })

  it("ids are the same in every session", async () => {
    const a = await login("alice")
    const b = await login("alice")
    expect(await uidl(a)).toEqual(await uidl(b))
  })

  it("sessions opened at the same moment see the same ids (concurrent open of new mail)", async () => {
    for (let i = 0; i < 3; i++) await server.deliver("concur", `Subject: c${i}\n\nc\n`)
    // One login (as another user) first, so that the users file is re-read before the concurrent ones; see
    // auth.test.ts for what happens to concurrent logins right after the users file changed. The new mail stays
    // in new/ until the concurrent sessions open it.
    await (await login("alice")).quit()
    const sessions = await Promise.all([0, 1, 2, 3].map(() => login("concur")))
    const maps = await Promise.all(sessions.map(uidl))
    for (const m of maps) expect(m).toEqual(maps[0])
    expect(new Set(maps[0]!.values()).size).toBe(3)
  })

  it("concurrent deliveries get distinct ids", async () => {
    const uids = await Promise.all([1, 2, 3, 4].map((i) => server.deliver("parallel", `Subject: p${i}\n\np\n`)))
    expect(new Set(uids).size).toBe(4)
    const c = await login("parallel")
    const ids = await uidl(c)
    expect([...ids.values()].sort((x, y) => x - y)).toEqual([...uids].sort((x, y) => x - y))
  }, 90_000)

  it("ids are never reused after DELE + QUIT of the newest message and a new delivery", async () => {
    const uids = mailbox("reuse")
    const c = await login("reuse")
    expect(await c.command("DELE 3")).toMatch(/^\+OK/)
    expect(await c.command("QUIT")).toMatch(/^\+OK/)
    const fresh = await server.deliver("reuse", "Subject: after\n\nnew\n")
    expect(fresh).toBeGreaterThan(Math.max(...uids))
    const d = await login("reuse")
    const ids = await uidl(d)
    expect([...ids.values()]).toEqual([uids[0], uids[1], fresh])
    expect([...ids.values()]).not.toContain(uids[2])
  })
})

describe("two server processes on one Maildir (C0009)", { timeout: 90_000 }, () => {
  it("mail dropped into new/ by an outside MTA, opened by two processes at once: one id per message, the same in both", async () => {
    const second = await startServer({ dataDir: server.dataDir, args: ["--plaintext", "allowed"] })
    try {
      // Deliver the way Postfix or procmail would: write in tmp/, rename into new/.
      const dir = Path.join(server.dataDir, "maildir", "external")
      for (let i = 0; i < 6; i++) {
        const name = `${Math.floor(Date.now() / 1000)}.M${i}P${process.pid}.e2e-mta`
        Fs.writeFileSync(Path.join(dir, "tmp", name), `Subject: external ${i}\n\nfrom outside\n`)
        Fs.renameSync(Path.join(dir, "tmp", name), Path.join(dir, "new", name))
      }
      const sessions = await Promise.all([server, second, server, second].map(async (s) => {
        const c = await loginPlain(s.port, "external", password)
        open.push(c)
        return c
      }))
      const maps = await Promise.all(sessions.map(uidl))
      for (const m of maps) expect(m.size).toBe(6)
      for (const m of maps) expect([...m.values()]).toEqual([...maps[0]!.values()])
      expect(new Set(maps[0]!.values()).size).toBe(6)
      for (const c of sessions) await c.quit()
      // And they stay the same afterwards.
      const later = await login("external")
      expect([...(await uidl(later)).values()]).toEqual([...maps[0]!.values()])
    } finally {
      await shutdown(second)
    }
  })
})

describe("numbering and RSET", { timeout: 60_000 }, () => {
  it("message numbers never shift after DELE; deleted messages are left out of LIST and UIDL", async () => {
    const c = await login("alice")
    const [count, octets] = await stat(c)
    expect(await c.command("DELE 1")).toMatch(/^\+OK/)
    expect(await listNumbers(c)).toEqual([2, 3, 4])
    expect([...(await uidl(c)).keys()]).toEqual([2, 3, 4])
    expect(await c.command("LIST 2")).toMatch(/^\+OK 2 \d+$/)
    expect(await c.command("UIDL 2")).toBe(`+OK 2 ${aliceUids[1]}`)
    expect((await c.multi("RETR 2")).lines).toContain("Subject: alice 2")
    expect(await c.command("LIST 1")).toMatch(/^-ERR \S/)
    expect(await c.command("UIDL 1")).toMatch(/^-ERR \S/)
    expect(await c.command("RETR 1")).toMatch(/^-ERR \S/)
    expect(await c.command("TOP 1 0")).toMatch(/^-ERR \S/)
    expect(await c.command("DELE 1")).toMatch(/^-ERR \S/)
    const [count2, octets2] = await stat(c)
    expect(count2).toBe(count - 1)
    expect(octets2).toBeLessThan(octets)
    expect(await c.command("DELE 3")).toMatch(/^\+OK/)
    expect(await listNumbers(c)).toEqual([2, 4])
    expect((await c.multi("RETR 4")).lines).toContain("Subject: alice 4")
    // RSET unmarks both; nothing was re-read: the numbers are the same.
    const rset = await c.command("RSET")
    expect(rset).toMatch(/^\+OK/)
    expect(await listNumbers(c)).toEqual([1, 2, 3, 4])
    expect(await stat(c)).toEqual([count, octets])
    expect((await c.multi("RETR 1")).lines).toContain("Subject: alice 1")
    expect(await c.command("QUIT")).toMatch(/^\+OK/)
    const d = await login("alice")
    expect([...(await uidl(d)).values()]).toEqual(aliceUids)
  })

  it("RSET does not re-read the mailbox: a delivery made meanwhile stays invisible", async () => {
    const c = await login("rsetter")
    const before = await uidl(c)
    await server.deliver("rsetter", "Subject: late\n\nlate\n")
    expect(await c.command("DELE 1")).toMatch(/^\+OK/)
    expect(await c.command("RSET")).toMatch(/^\+OK/)
    expect(await uidl(c)).toEqual(before)
    expect((await stat(c))[0]).toBe(2)
  })
})

describe("UPDATE (V0006)", { timeout: 30_000 }, () => {
  it("DELE then a dropped connection (no QUIT) removes nothing", async () => {
    const uids = mailbox("dropper")
    const c = await login("dropper")
    expect(await c.command("DELE 1")).toMatch(/^\+OK/)
    expect(await c.command("DELE 3")).toMatch(/^\+OK/)
    c.destroy()
    await new Promise((r) => setTimeout(r, 300))
    const d = await login("dropper")
    expect([...(await uidl(d)).values()]).toEqual(uids)
  })

  it("QUIT removes exactly the marked messages and says how many", async () => {
    const uids = mailbox("quitter")
    const c = await login("quitter")
    expect(await c.command("DELE 2")).toMatch(/^\+OK/)
    expect(await c.command("DELE 4")).toMatch(/^\+OK/)
    const q = await c.command("QUIT")
    expect(q).toMatch(/^\+OK/)
    expect(q).toMatch(/\b2\b/)
    expect(await c.readToEnd(5_000)).toBe("")
    const d = await login("quitter")
    expect([...(await uidl(d)).values()]).toEqual([uids[0], uids[2], uids[4]])
    expect((await d.multi("RETR 2")).lines).toContain("Subject: quitter 3")
  })
})

describe("snapshots (2.1.3, C0004)", { timeout: 60_000 }, () => {
  it("a message another session removed: RETR/TOP -ERR with a reason, numbering unchanged", async () => {
    const uids = mailbox("shared")
    const a = await login("shared")
    const before = await uidl(a)
    const b = await login("shared")
    expect(await b.command("DELE 1")).toMatch(/^\+OK/)
    expect(await b.command("QUIT")).toMatch(/^\+OK/)
    const retr = await a.command("RETR 1")
    expect(retr).toMatch(/^-ERR \S/)
    expect(await a.command("TOP 1 0")).toMatch(/^-ERR \S/)
    expect(await a.command("NOOP")).toBe("+OK")
    // The other messages keep their numbers and ids.
    const after = await uidl(a)
    expect(after.get(2)).toBe(before.get(2))
    expect(after.get(3)).toBe(before.get(3))
    const list = await listNumbers(a)
    expect(list).toContain(2)
    expect(list).toContain(3)
    expect((await a.multi("RETR 2")).lines).toContain("Subject: shared 2")
    expect((await a.multi("RETR 3")).lines).toContain("Subject: shared 3")
    // A's QUIT with nothing marked removes nothing more.
    expect(await a.command("QUIT")).toMatch(/^\+OK/)
    const c = await login("shared")
    expect([...(await uidl(c)).values()]).toEqual([uids[1], uids[2]])
  })

  it("a message removed by another session and also DELE'd here: QUIT still succeeds and removes the rest", async () => {
    const uids = mailbox("shared2")
    const a = await login("shared2")
    const b = await login("shared2")
    expect(await b.command("DELE 1")).toMatch(/^\+OK/)
    expect(await b.command("QUIT")).toMatch(/^\+OK/)
    expect(await a.command("DELE 1")).toMatch(/^(\+OK|-ERR)/)
    expect(await a.command("DELE 2")).toMatch(/^\+OK/)
    expect(await a.command("QUIT")).toMatch(/^(\+OK|-ERR)/)
    const c = await login("shared2")
    expect([...(await uidl(c)).values()]).toEqual([uids[2]])
  })

  it("a delivery during a session is not visible in it, and is in the next one", async () => {
    const a = await login("late")
    const [count, octets] = await stat(a)
    const before = await uidl(a)
    const fresh = await server.deliver("late", "Subject: late\n\nnew\n")
    expect(await stat(a)).toEqual([count, octets])
    expect(await uidl(a)).toEqual(before)
    expect(await listNumbers(a)).toEqual([1, 2])
    expect(await a.command("RETR 3")).toMatch(/^-ERR \S/)
    const b = await login("late")
    expect((await uidl(b)).get(3)).toBe(fresh)
  })
})

describe("restart (C0008)", { timeout: 90_000 }, () => {
  it("UIDL ids survive a server restart, and new ids continue above the old ones", async () => {
    const c = await login("alice")
    const before = await uidl(c)
    await c.quit()
    const exit = await server.stop("SIGTERM")
    expect(exit.code).toBe(0)
    server = await startServer({ dataDir: server.dataDir, args: ["--plaintext", "allowed"] })
    const d = await login("alice")
    expect(await uidl(d)).toEqual(before)
    await d.quit()
    const fresh = await server.deliver("alice", "Subject: after restart\n\nx\n")
    expect(fresh).toBeGreaterThan(Math.max(...before.values()))
  })
})
