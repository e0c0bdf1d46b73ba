// AUTH GSSAPI end to end: a throwaway Kerberos realm (test/kerberos/realm.sh), the real pop3d with the MIT
// binding, and real clients: curl, fetchmail --auth gssapi, and python3-gssapi (test/kerberos/gss_pop3_client.py)
// with and without mutual authentication. Skipped, saying so, only when the Kerberos packages are absent.
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Clients from "../helpers/clients.ts"
import * as Realm from "../kerberos/realm.ts"
import { makeTempDir, Pop3Client, removeDir, root, shutdown, startServer, type Server } from "../helpers/server.ts"

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a client program (no shell) with extra environment, its output as text; SIGKILL after `timeoutMs`. */
const run = (command: string, args: ReadonlyArray<string>, env: Record<string, string>, timeoutMs = 20_000): Promise<Ran> =>
  Clients.run(command, args, { env, timeoutMs }).then((r) => ({ ...r, stdout: r.stdout.toString("utf8") }))

const skip = Realm.skipReason()
if (skip !== undefined) console.warn(`AUTH GSSAPI end-to-end tests skipped: ${skip}`)

describe.skipIf(skip !== undefined)(`AUTH GSSAPI end to end${skip === undefined ? "" : ` (skipped: ${skip})`}`, () => {
  let realm: Realm.Realm
  let server: Server
  let user1: Record<string, string>
  let work: string

  beforeAll(async () => {
    realm = await Realm.start()
    user1 = realm.kinit("user1")
    work = makeTempDir("pop3d-gss-e2e-")
    // The server gets the realm's krb5.conf and a replay-cache folder, never KRB5_KTNAME: the keytab is a setting.
    server = await startServer({
      args: [
        "--sasl-mechanisms", "PLAIN,GSSAPI",
        "--gssapi-keytab", realm.popKeytab,
        "--gssapi-principal", "pop@localhost",
        "--gssapi-principal-map", "user3@EXAMPLE.TEST=carol"
      ],
      env: { KRB5_CONFIG: realm.env.KRB5_CONFIG!, KRB5RCACHEDIR: realm.env.KRB5RCACHEDIR! }
    })
    await server.addUser("user1", "not used by GSSAPI")
    await server.addUser("carol", "not used by GSSAPI either")
    await server.deliver("user1", "Subject: for user1\r\n\r\nhello user1\r\n")
    await server.deliver("carol", "Subject: for carol\r\n\r\nhello carol\r\n")
    await server.deliver("carol", "Subject: again\r\n\r\nhello again\r\n")
  }, 90_000)

  afterAll(async () => {
    await shutdown(server)
    realm?.stop()
    if (work !== undefined) removeDir(work)
  }, 30_000)

  const python = (args: ReadonlyArray<string>, env = user1) =>
    run(Realm.python, [Path.join(root, "test", "kerberos", "gss_pop3_client.py"), "localhost", String(server.port), ...args], env)
      .then((r) => ({ ...r, result: JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown> }))

  const curl = (args: ReadonlyArray<string>, env = user1) =>
    run("/usr/bin/curl", ["-sS", "-v", "--max-time", "15", "--login-options", "AUTH=GSSAPI", ...args], env)

  it("is offered in CAPA and logged as offered", async () => {
    expect(server.stdout()).toMatch(/message="GSSAPI offered" principal=pop@localhost .*defaultRealm=EXAMPLE.TEST/)
    const client = await Pop3Client.connect(server.port)
    const capa = await client.multi("CAPA")
    expect(capa.lines).toContain("SASL GSSAPI")
    await client.quit()
  })

  describe("curl (no mutual authentication)", () => {
    it("logs in and retrieves the message", async () => {
      const r = await curl(["-u", "user1@EXAMPLE.TEST:", `pop3://localhost:${server.port}/1`])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain("hello user1")
      // The wire: AUTH, the empty challenge, the AP-REQ, the wrapped layer offer, the wrapped reply, +OK.
      expect(r.stderr).toMatch(/> AUTH GSSAPI\r?\n< \+ \r?\n> YII[^\n]+\n< \+ BQQB[^\n]+\n> BQQA[^\n]+\n< \+OK Logged in/)
    })

    it("is refused with an authzid of another user", async () => {
      const r = await curl(["-u", "user1@EXAMPLE.TEST:", "--sasl-authzid", "carol", `pop3://localhost:${server.port}/`])
      expect(r.code).toBe(67)
      expect(r.stderr).toContain("-ERR [AUTH] Authentication failed")
    })

    it("is refused with a ticket for the wrong service (imap/localhost, whose key is in the keytab)", async () => {
      const r = await curl(["-u", "user1@EXAMPLE.TEST:", "--service-name", "imap", `pop3://localhost:${server.port}/`])
      expect(r.code).toBe(67)
      expect(r.stderr).toContain("-ERR [AUTH] Authentication failed")
      expect(server.stdout()).toContain("imap/localhost@EXAMPLE.TEST found in keytab but does not match server principal")
    })

    it("cannot start without a ticket (curl exits 94 before sending a token)", async () => {
      const r = await curl(["-u", "user1@EXAMPLE.TEST:", `pop3://localhost:${server.port}/`], realm.noTickets())
      expect(r.code).toBe(94)
    })
  })

  describe("fetchmail --auth gssapi (mutual authentication)", () => {
    it("logs in and sees the message", async () => {
      const rc = Path.join(work, "fetchmailrc")
      Fs.writeFileSync(rc, "", { mode: 0o600 })
      const r = await run("fetchmail", [
        "-f", rc, "--idfile", Path.join(work, "fetchids"), "--nosyslog", "-c", "-v", "-v",
        "-p", "pop3", "--service", String(server.port), "--auth", "gssapi", "--username", "user1",
        "--sslproto", "", "--nosslcertck", "localhost"
      ], { ...user1, HOME: work })
      const out = r.stdout + r.stderr
      expect(r.code, out).toBe(0)
      expect(out).toContain("POP3< + \n")
      expect(out).toMatch(/POP3< \+ YI[^\n]+\nfetchmail: POP3> \n/) // the AP-REP, then the empty response
      expect(out).toContain("POP3< +OK Logged in")
      expect(out).toContain("1 message for user1 at localhost")
    })
  })

  describe("python3-gssapi", () => {
    it("logs in without mutual authentication", async () => {
      const r = await python(["--stat"])
      expect(r.code, r.stdout + r.stderr).toBe(0)
      expect(r.result).toMatchObject({ mutualRequested: false, mutualEstablished: false, offer: "01000000", offerSealed: false })
      expect(r.result.apRep).toBeUndefined()
      expect(r.result.result).toMatch(/^\+OK Logged in/)
      expect(r.result.stat).toMatch(/^\+OK 1 /)
    })

    it("logs in with mutual authentication (AP-REP, empty response, layer offer)", async () => {
      const r = await python(["--mutual", "--authzid", "user1", "--stat"])
      expect(r.code, r.stdout + r.stderr).toBe(0)
      expect(r.result).toMatchObject({ apRep: true, mutualEstablished: true, challenges: 3, offer: "01000000" })
      expect(r.result.stat).toMatch(/^\+OK 1 /)
    })

    it("logs in with a sealed security-layer reply", async () => {
      const r = await python(["--mutual", "--conf"])
      expect(r.code, r.stdout).toBe(0)
    })

    it("maps a principal through gssapi-principal-map", async () => {
      const r = await python(["--stat"], realm.kinit("user3"))
      expect(r.code, r.stdout).toBe(0)
      expect(r.result.stat).toMatch(/^\+OK 2 /)
    })

    it("refuses a principal that maps to no user in the users file", async () => {
      const r = await python([], realm.kinit("user2"))
      expect(r.code).toBe(1)
      expect(r.result.result).toMatch(/^-ERR \[AUTH\] Authentication failed/)
      expect(server.stdout()).toContain("principal user2@EXAMPLE.TEST maps to unknown user user2")
    })

    it("refuses a security layer that was not offered", async () => {
      const r = await python(["--layer", "2"])
      expect(r.result.result).toMatch(/^-ERR \[AUTH\] Authentication failed/)
    })

    it("refuses an authzid of another user", async () => {
      const r = await python(["--mutual", "--authzid", "carol"])
      expect(r.result.result).toMatch(/^-ERR \[AUTH\] Authentication failed/)
    })

    it("refuses a ticket for the wrong service", async () => {
      const r = await python(["--service", "imap"])
      expect(r.code).toBe(1)
      expect(r.result.result).toMatch(/^-ERR \[AUTH\] Authentication failed/)
    })
  })

  it("a server whose keytab has no key for its principal starts, logs why, and does not offer GSSAPI", async () => {
    const other = await startServer({
      args: ["--sasl-mechanisms", "PLAIN,GSSAPI", "--gssapi-keytab", Path.join(realm.dir, "user1.keytab"), "--gssapi-principal", "pop@localhost"],
      env: { KRB5_CONFIG: realm.env.KRB5_CONFIG! }
    })
    try {
      expect(other.stdout()).toMatch(/GSSAPI is not offered: no key for pop@localhost in .*user1\.keytab/)
      const client = await Pop3Client.connect(other.port)
      const capa = await client.multi("CAPA")
      expect(capa.lines.some((l) => l.includes("GSSAPI"))).toBe(false)
      expect(await client.command("AUTH GSSAPI")).toMatch(/^-ERR/)
      await client.quit()
    } finally {
      await shutdown(other)
    }
  }, 60_000)
}, 30_000)
