// AUTH NTLM end to end against the real server started with `--sasl-mechanisms PLAIN,NTLM --plaintext allowed`, with
// real clients: curl 7.88 (NTLMv2 without MIC, with and without --sasl-ir), Debian's python3-ntlm-auth (NTLMv2 with
// MIC and KEY_EXCH, as Windows sends it), fetchmail --auth ntlm (NTLMv1 only: must be refused), and a raw client for
// the wire details. PROFILE: E0002 (AUTH NTLM, CAPA's SASL line), V0009 (unknown user and wrong password answer alike).
// Needs the Debian packages python3-ntlm-auth and fetchmail; each group skips, saying so, when its package is absent.
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as NtlmClient from "../../packages/auth/test/ntlmClient.ts"
import { curl, run } from "../helpers/clients.ts"
import { Pop3Client, root, shutdown, startServer, type Server } from "../helpers/server.ts"

const python = "/usr/bin/python3"
const pythonClient = Path.join(root, "test", "python", "ntlm_client.py")
const legacyOpenSsl = Path.join(root, "test", "python", "openssl-legacy.cnf")
const fetchmailBin = "/usr/bin/fetchmail"

const pythonSkip = ((): string | undefined => {
  if (!Fs.existsSync(python)) return "no /usr/bin/python3 (Debian package python3)"
  const probe = spawnSync(python, ["-c", "import ntlm_auth"], { encoding: "utf8" })
  return probe.status === 0 ? undefined : "python3-ntlm-auth is not installed (apt-get install python3-ntlm-auth)"
})()
const fetchmailSkip = Fs.existsSync(fetchmailBin) ? undefined : "fetchmail is not installed (apt-get install fetchmail)"
if (pythonSkip !== undefined) console.warn(`AUTH NTLM python3-ntlm-auth tests skipped: ${pythonSkip}`)
if (fetchmailSkip !== undefined) console.warn(`AUTH NTLM fetchmail test skipped: ${fetchmailSkip}`)

/** Runs a program with extra environment variables; SIGKILL after `timeoutMs`. */
const runWith = (command: string, args: ReadonlyArray<string>, env: Record<string, string>, timeoutMs = 20_000) =>
  run(command, args, { env, timeoutMs })

const users = {
  alice: "ntlm pass 1", // ASCII: curl hashes UTF-8 octets, not UTF-16 (see ../shared/notes/auth.md 1.5)
  bob: "pässwörd",
  carol: "no ntlm here" // added without NTLM: no NT hash stored
} as const

const message = "From: a@example.org\r\nSubject: ntlm\r\n\r\nHello over NTLM.\r\n"

let server: Server
const addOutput: Record<string, string> = {}

beforeAll(async () => {
  server = await startServer({ args: ["--sasl-mechanisms", "PLAIN,NTLM", "--plaintext", "allowed"] })
  for (const name of ["alice", "bob"] as const) {
    const r = await server.cli(["user", "add", name, "--password-stdin", "--sasl-mechanisms", "PLAIN,NTLM"], users[name])
    if (r.code !== 0) throw new Error(`user add ${name}: ${r.stdout}${r.stderr}`)
    addOutput[name] = r.stdout
  }
  await server.addUser("carol", users.carol)
  for (const name of ["alice", "bob", "carol"]) await server.deliver(name, message)
}, 120_000)

afterAll(() => shutdown(server), 20_000)

const pop3 = () => `pop3://127.0.0.1:${server.port}/`
const usersFile = () => Fs.readFileSync(Path.join(server.dataDir, "users"), "utf8")

describe("NTLM: storing the NT hash", { timeout: 60_000 }, () => {
  it("user add writes nt_hash={NTLM}… only when NTLM is configured, notes that it is password-equivalent", () => {
    const lines = usersFile().split("\n")
    expect(lines.find((l) => l.startsWith("alice:"))).toMatch(/^alice:\{SCRYPT\}[^:]+::::::nt_hash=\{NTLM\}[0-9a-f]{32}$/)
    expect(lines.find((l) => l.startsWith("bob:"))).toMatch(/::::::nt_hash=\{NTLM\}[0-9a-f]{32}$/)
    expect(lines.find((l) => l.startsWith("carol:"))).toMatch(/^carol:\{SCRYPT\}[^:]+$/)
    expect(addOutput["alice"]).toMatch(/^added alice\nnote: NTLM is enabled.*password-equivalent.*0600\n$/)
    expect(Fs.statSync(Path.join(server.dataDir, "users")).mode & 0o777).toBe(0o600)
  })

  it("user passwd without NTLM drops the NT hash; with NTLM writes the new one", async () => {
    const r1 = await server.cli(["user", "add", "dave", "--password-stdin", "--sasl-mechanisms", "NTLM"], "first")
    expect(r1.code, r1.stderr).toBe(0)
    const before = usersFile().split("\n").find((l) => l.startsWith("dave:"))!
    const r2 = await server.cli(["user", "passwd", "dave", "--password-stdin"], "second")
    expect(r2.code, r2.stderr).toBe(0)
    expect(r2.stdout).toBe("password changed for dave\n")
    expect(usersFile().split("\n").find((l) => l.startsWith("dave:"))).toMatch(/^dave:\{SCRYPT\}[^:]+$/)
    const r3 = await server.cli(["user", "passwd", "dave", "--password-stdin", "--sasl-mechanisms", "PLAIN,NTLM"], "third")
    expect(r3.code, r3.stderr).toBe(0)
    const after = usersFile().split("\n").find((l) => l.startsWith("dave:"))!
    expect(after).toMatch(/nt_hash=\{NTLM\}[0-9a-f]{32}$/)
    expect(after.slice(after.indexOf("nt_hash"))).not.toBe(before.slice(before.indexOf("nt_hash")))
  })
})

describe("NTLM: the wire", { timeout: 20_000 }, () => {
  it("CAPA lists NTLM on the SASL line; bare AUTH lists it", async () => {
    const c = await Pop3Client.connect(server.port)
    const capa = await c.multi("CAPA")
    expect(capa.lines).toContain("SASL PLAIN NTLM")
    const list = await c.multi("AUTH")
    expect(list.lines).toContain("NTLM")
    await c.quit()
  })

  it("AUTH NTLM → '+ ' → NEGOTIATE → '+ CHALLENGE' → AUTHENTICATE → +OK, and the session goes on", async () => {
    const c = await Pop3Client.connect(server.port)
    expect(await c.command("AUTH NTLM")).toBe("+ ")
    const negotiate = NtlmClient.negotiate()
    const challenge = await c.command(Buffer.from(negotiate).toString("base64"))
    expect(challenge).toMatch(/^\+ TlRMTVNTUAACAAAA[A-Za-z0-9+/=]+$/)
    const challengeBytes = new Uint8Array(Buffer.from(challenge.slice(2), "base64"))
    const names = NtlmClient.readChallenge(challengeBytes).targetInfo.filter((p) => p.id !== 7)
      .map((p) => Buffer.from(p.value).toString("utf16le"))
    expect(names).toEqual(["POP3D", "POP3D", "localdomain", "pop3d.localdomain"])
    const authenticate = NtlmClient.authenticate({
      negotiate,
      challenge: challengeBytes,
      user: "alice",
      password: users.alice,
      mic: true
    })
    expect(await c.command(Buffer.from(authenticate).toString("base64"))).toMatch(/^\+OK /)
    expect(await c.command("STAT")).toMatch(/^\+OK 1 \d+$/)
    await c.quit()
  })

  it("NTLMv1 is refused with -ERR; malformed and cancelled exchanges answer -ERR and the session goes on", async () => {
    const c = await Pop3Client.connect(server.port)
    expect(await c.command("AUTH NTLM")).toBe("+ ")
    const negotiate = NtlmClient.negotiate(NtlmClient.curlFlags)
    const challenge = await c.command(Buffer.from(negotiate).toString("base64"))
    const v1 = NtlmClient.authenticate({
      negotiate,
      challenge: new Uint8Array(Buffer.from(challenge.slice(2), "base64")),
      user: "alice",
      ntlmV1: true
    })
    expect(await c.command(Buffer.from(v1).toString("base64"))).toMatch(/^-ERR /)
    expect(await c.command(`AUTH NTLM ${Buffer.from("garbage").toString("base64")}`)).toMatch(/^-ERR /)
    expect(await c.command("AUTH NTLM")).toBe("+ ")
    expect(await c.command("*")).toMatch(/^-ERR /)
    expect(await c.command("NOOP")).toBe("+OK")
    await c.quit()
  })
})

describe("NTLM: curl 7.88 (NTLMv2, no MIC)", { timeout: 20_000 }, () => {
  const ntlm = (credentials: string, ...extra: Array<string>) =>
    curl(["--login-options", "AUTH=NTLM", "-u", credentials, ...extra, pop3()])

  it("logs in after '+ ' and lists the message", async () => {
    const r = await ntlm(`alice:${users.alice}`, "-v")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.toString("latin1")).toMatch(/^1 \d+\r?\n$/)
    expect(r.stderr).toMatch(/> AUTH NTLM\r?\n< \+ \r?\n> TlRMTVNTUAAB/)
    expect(r.stderr).toMatch(/< \+ TlRMTVNTUAAC/)
    expect(r.stderr).toMatch(/> TlRMTVNTUAAD[A-Za-z0-9+/=]+\r?\n< \+OK /)
  })

  it("logs in with the NEGOTIATE as initial response (--sasl-ir)", async () => {
    const r = await ntlm(`alice:${users.alice}`, "--sasl-ir", "-v")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/> AUTH NTLM TlRMTVNTUAAB[A-Za-z0-9+/=]+\r?\n< \+ TlRMTVNTUAAC/)
    expect(r.stdout.toString("latin1")).toMatch(/^1 \d+\r?\n$/)
  })

  it("accepts this server's domain, refuses a foreign one", async () => {
    expect((await ntlm(`POP3D\\alice:${users.alice}`)).code).toBe(0)
    expect((await ntlm(`localdomain\\alice:${users.alice}`)).code).toBe(0)
    expect((await ntlm(`EVIL\\alice:${users.alice}`)).code).toBe(67)
  })

  it("wrong password, unknown user and a user without an NT hash: exit 67 (login denied), the same -ERR", async () => {
    const replies: Array<string> = []
    for (const credentials of ["alice:wrong", `nobody:${users.alice}`, `carol:${users.carol}`]) {
      const r = await ntlm(credentials, "-v")
      expect(r.code, credentials).toBe(67)
      replies.push(/< (-ERR .*)/.exec(r.stderr)?.[1] ?? r.stderr)
    }
    expect(new Set(replies).size).toBe(1)
    expect(replies[0]).toBe("-ERR [AUTH] Authentication failed")
  })
})

describe.skipIf(pythonSkip !== undefined)(
  `NTLM: python3-ntlm-auth (NTLMv2 with MIC and KEY_EXCH)${pythonSkip === undefined ? "" : ` (skipped: ${pythonSkip})`}`,
  { timeout: 30_000 },
  () => {
    interface PythonOutput {
      readonly greeting: string
      readonly replies: ReadonlyArray<string>
      readonly mic?: boolean
      readonly flags?: number
      readonly nt_response_length?: number
      readonly stat?: string
      readonly quit: string
      readonly replay?: ReadonlyArray<string>
    }
    const client = async (user: string, password: string, ...extra: Array<string>): Promise<PythonOutput> => {
      const r = await runWith(python, [pythonClient, "127.0.0.1", String(server.port), user, password, ...extra], {
        OPENSSL_CONF: legacyOpenSsl
      })
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout.toString("utf8")) as PythonOutput
    }

    it("logs in with a MIC and KEY_EXCH, and STAT works", async () => {
      const out = await client("alice", users.alice)
      expect(out.replies[0]).toBe("+ ")
      expect(out.replies[1]).toMatch(/^\+ TlRMTVNTUAAC/)
      expect(out.replies[2]).toMatch(/^\+OK /)
      expect(out.mic).toBe(true)
      expect((out.flags ?? 0) & 0x40000000).not.toBe(0) // NEGOTIATE_KEY_EXCH
      expect((out.flags ?? 0) & 0x00080000).not.toBe(0) // ESS
      expect(out.stat).toMatch(/^\+OK 1 \d+$/)
    })

    it("a non-ASCII password (UTF-16LE NT hash), with the NEGOTIATE as initial response and a domain", async () => {
      const out = await client("bob", users.bob, "--initial-response", "--domain", "POP3D")
      expect(out.replies[0]).toMatch(/^\+ TlRMTVNTUAAC/)
      expect(out.replies[1]).toMatch(/^\+OK /)
      expect(out.mic).toBe(true)
    })

    it("wrong password and unknown user get the same -ERR", async () => {
      const wrong = await client("alice", "wrong")
      const unknown = await client("nobody", users.alice)
      expect(wrong.replies.at(-1)).toBe("-ERR [AUTH] Authentication failed")
      expect(unknown.replies.at(-1)).toBe(wrong.replies.at(-1))
    })

    it("an AUTHENTICATE replayed into a new session (new server challenge) is refused", async () => {
      const out = await client("alice", users.alice, "--replay-into-new-session")
      expect(out.replies.at(-1)).toMatch(/^\+OK /)
      expect(out.replay?.[0]).toBe("+ ")
      expect(out.replay?.[1]).toMatch(/^\+ TlRMTVNTUAAC/)
      expect(out.replay?.[2]).toBe("-ERR [AUTH] Authentication failed")
    })
  }
)

describe.skipIf(fetchmailSkip !== undefined)(
  `NTLM: fetchmail --auth ntlm (NTLMv1 only)${fetchmailSkip === undefined ? "" : ` (skipped: ${fetchmailSkip})`}`,
  { timeout: 30_000 },
  () => {
    it("is refused with -ERR (fetchmail exits 3, authentication failed)", async () => {
      const home = Path.join(Path.dirname(server.dataDir), "fetchmail-home")
      Fs.mkdirSync(home, { recursive: true })
      const rc = Path.join(home, "fetchmailrc")
      Fs.writeFileSync(
        rc,
        `poll 127.0.0.1 proto pop3 port ${server.port} auth ntlm user "alice" password "${users.alice}" sslproto "" no sslcertck\n`,
        { mode: 0o600 }
      )
      const r = await runWith(fetchmailBin, ["-f", rc, "-c", "-v", "-v", "--nosyslog", "-i", Path.join(home, "ids")], {
        HOME: home,
        FETCHMAILHOME: home
      })
      const output = r.stdout.toString("latin1") + r.stderr
      expect(output).toMatch(/POP3> AUTH NTLM/)
      expect(output).toMatch(/NTResp = 24 bytes|NTLMv1|ntResp/i)
      expect(output).toMatch(/POP3< -ERR /)
      expect(r.code, output).toBe(3)
    })
  }
)
