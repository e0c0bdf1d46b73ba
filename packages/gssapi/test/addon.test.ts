// Smoke test of the native addon: it loads, reports MIT's error texts, reads the default realm, and (when the
// Kerberos packages are installed) establishes real contexts with Debian's python3-gssapi as the initiator and
// wraps/unwraps both ways, sealed and unsealed.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { Result } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Realm from "../../../test/kerberos/realm.ts"
import * as Gss from "../src/index.ts"

const hasKrb5Dev = (() => {
  try {
    execFileSync("krb5-config", ["--version"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

const b64 = (data: Uint8Array) => Buffer.from(data).toString("base64")
const unb64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"))
const ok = <A, E>(r: Result.Result<A, E>): A => {
  if (Result.isFailure(r)) throw new Error(`expected success, got ${JSON.stringify(r.failure)}`)
  return r.success
}
const err = <A, E>(r: Result.Result<A, E>): E => {
  if (Result.isSuccess(r)) throw new Error("expected a failure")
  return r.failure
}

describe.skipIf(!hasKrb5Dev)("the addon", () => {
  it("loads (built by pnpm install)", () => {
    const loaded = Gss.load()
    expect(Result.isSuccess(loaded) ? "loaded" : loaded.failure).toBe("loaded")
  })

  it("reads the default realm of the Kerberos configuration named by KRB5_CONFIG", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "pop3d-gss-"))
    const conf = Path.join(dir, "krb5.conf")
    Fs.writeFileSync(conf, "[libdefaults]\n  default_realm = SMOKE.TEST\n")
    const before = process.env.KRB5_CONFIG
    process.env.KRB5_CONFIG = conf
    try {
      expect(ok(ok(Gss.load()).defaultRealm())).toBe("SMOKE.TEST")
    } finally {
      if (before === undefined) delete process.env.KRB5_CONFIG
      else process.env.KRB5_CONFIG = before
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("reports a missing keytab with MIT's text", () => {
    const failure = err(ok(Gss.load()).acceptor({ keytab: "/nonexistent/pop.keytab", principal: "pop@localhost" }))
    expect(failure._tag).toBe("GssError")
    expect(failure.operation).toBe("gss_acquire_cred_from")
    expect(failure.message).toContain("Key table file '/nonexistent/pop.keytab' not found")
    expect(failure.major).toBeGreaterThan(0)
  })
})

/** A python3-gssapi initiator process (initiator.py) answering one JSON line per command. */
const initiator = (target: string, mutual: boolean, env: Record<string, string>) => {
  const child: ChildProcessWithoutNullStreams = spawn(
    Realm.python,
    [Path.join(import.meta.dirname, "initiator.py"), target, ...(mutual ? ["mutual"] : [])],
    { env: { ...process.env, ...env } }
  )
  let stderr = ""
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d))
  const lines = Readline.createInterface({ input: child.stdout })
  const waiting: Array<(line: string) => void> = []
  const buffered: Array<string> = []
  lines.on("line", (line) => {
    const w = waiting.shift()
    if (w !== undefined) w(line)
    else buffered.push(line)
  })
  const next = () =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`initiator timed out; stderr: ${stderr}`)), 10_000)
      const take = (line: string) => {
        clearTimeout(timer)
        resolve(JSON.parse(line) as Record<string, unknown>)
      }
      const line = buffered.shift()
      if (line !== undefined) take(line)
      else waiting.push(take)
    })
  return {
    first: next(),
    ask: (command: string) => {
      child.stdin.write(command + "\n")
      return next()
    },
    close: () => child.kill()
  }
}

const realmSkip = hasKrb5Dev ? Realm.skipReason() : "libkrb5-dev absent"
if (realmSkip !== undefined) console.warn(`addon round-trip tests skipped: ${realmSkip}`)

describe.skipIf(realmSkip !== undefined)("the addon against python3-gssapi in a throwaway realm", () => {
  let realm: Realm.Realm
  let client: Record<string, string>
  let acceptor: Gss.GssAcceptor

  beforeAll(async () => {
    realm = await Realm.start()
    client = realm.kinit("user1")
    // The acceptor reads nothing from the environment but the krb5.conf and the replay cache folder.
    process.env.KRB5_CONFIG = realm.env.KRB5_CONFIG
    process.env.KRB5RCACHEDIR = realm.env.KRB5RCACHEDIR
    acceptor = ok(ok(Gss.load()).acceptor({ keytab: realm.popKeytab, principal: "pop@localhost" }))
  }, 60_000)

  afterAll(() => {
    delete process.env.KRB5_CONFIG
    delete process.env.KRB5RCACHEDIR
    realm?.stop()
  })

  it("establishes a context without mutual authentication, then wraps and unwraps both ways", async () => {
    const peer = initiator("pop@localhost", false, client)
    try {
      const first = await peer.first
      const context = acceptor.newContext()
      const accepted = ok(context.accept(unb64(first.token as string)))
      expect(accepted.complete).toBe(true)
      expect(accepted.token.length).toBe(0)
      expect(accepted.name).toBe("user1@EXAMPLE.TEST")
      expect(accepted.flags & 32).toBe(32) // GSS_C_INTEG_FLAG
      expect(accepted.flags & 2).toBe(0) // no GSS_C_MUTUAL_FLAG

      const offer = ok(context.wrap(Uint8Array.of(1, 0, 0, 0), false))
      expect(await peer.ask(`unwrap ${b64(offer)}`)).toEqual({ data: b64(Uint8Array.of(1, 0, 0, 0)), conf: false })
      const sealed = ok(context.wrap(Buffer.from("sealed"), true))
      expect(await peer.ask(`unwrap ${b64(sealed)}`)).toEqual({ data: b64(Buffer.from("sealed")), conf: true })

      for (const conf of [false, true]) {
        const reply = await peer.ask(`wrap ${conf ? 1 : 0} ${b64(Buffer.from("\x01\0\0\0user1"))}`)
        const unwrapped = ok(context.unwrap(unb64(reply.token as string)))
        expect(Buffer.from(unwrapped.data).toString("latin1")).toBe("\x01\0\0\0user1")
        expect(unwrapped.conf).toBe(conf)
      }

      const tampered = unb64((await peer.ask(`wrap 0 ${b64(Buffer.from("x"))}`)).token as string)
      tampered[tampered.length - 1]! ^= 1
      expect(err(context.unwrap(tampered)).operation).toBe("gss_unwrap")

      context.dispose()
      context.dispose()
      expect(err(context.wrap(Uint8Array.of(1), false)).message).toContain("disposed")
    } finally {
      peer.close()
    }
  })

  it("establishes a context with mutual authentication (AP-REP back to the client)", async () => {
    const peer = initiator("pop@localhost", true, client)
    try {
      const first = await peer.first
      expect(first.complete).toBe(false)
      const context = acceptor.newContext()
      const accepted = ok(context.accept(unb64(first.token as string)))
      expect(accepted.complete).toBe(true)
      expect(accepted.token.length).toBeGreaterThan(0)
      expect(accepted.flags & 2).toBe(2)
      expect(await peer.ask(`step ${b64(accepted.token)}`)).toEqual({ token: "", complete: true, mutual: true })
      const offer = ok(context.wrap(Uint8Array.of(1, 0, 0, 0), false))
      expect((await peer.ask(`unwrap ${b64(offer)}`)).data).toBe(b64(Uint8Array.of(1, 0, 0, 0)))
    } finally {
      peer.close()
    }
  })

  it("refuses a ticket for another service, even one whose key is in the keytab", async () => {
    const peer = initiator("imap@localhost", false, client)
    try {
      const first = await peer.first
      const context = acceptor.newContext()
      const failure = err(context.accept(unb64(first.token as string)))
      expect(failure.operation).toBe("gss_accept_sec_context")
      expect(failure.message).toContain("imap/localhost@EXAMPLE.TEST")
      expect(err(context.accept(unb64(first.token as string))).message).toContain("failed or was disposed")
    } finally {
      peer.close()
    }
  })

  it("refuses garbage and a replayed AP-REQ", async () => {
    expect(err(acceptor.newContext().accept(Buffer.from("not a token"))).operation).toBe("gss_accept_sec_context")
    const peer = initiator("pop@localhost", false, client)
    try {
      const token = unb64((await peer.first).token as string)
      expect(ok(acceptor.newContext().accept(token)).complete).toBe(true)
      expect(err(acceptor.newContext().accept(token)).message).toMatch(/replay/i)
    } finally {
      peer.close()
    }
  })
})
