// Where the NT hash AUTH NTLM needs is kept: the {NTLM} scheme, the users file's nt_hash extra field, and what the
// Directory hands mechanisms. The NT hash is password-equivalent, so a stale one must never outlive its password.
import * as Fs from "node:fs/promises"
import * as NodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Redacted, Result } from "effect"
import * as Directory from "../src/Directory.ts"
import * as PasswordScheme from "../src/PasswordScheme.ts"
import * as UsersFile from "../src/UsersFile.ts"
import { captureLogs, fastParams, tempDir } from "./helpers.ts"

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")
// NT("password"), the hash every NTLM write-up uses; NT("Password") is MS-NLMP 4.2.2.1.2's.
const ntPassword = "8846f7eaee8fb117ad06bdd830b7586c"

describe("PasswordScheme {NTLM}", () => {
  it("ntHash is MD4 of the UTF-16LE password", () => {
    assert.strictEqual(hex(PasswordScheme.ntHash("password")), ntPassword)
    assert.strictEqual(hex(PasswordScheme.ntHash("Password")), "a4f49c406510bdcab6824ee7c30fd852")
  })

  it.effect("hash, parse, format and verify (hex in either case)", () =>
    Effect.gen(function*() {
      const stored = yield* PasswordScheme.hash("password", "NTLM")
      assert.strictEqual(stored, `{NTLM}${ntPassword}`)
      const parsed = Result.getOrThrow(PasswordScheme.parse(`{ntlm}${ntPassword.toUpperCase()}`))
      assert.strictEqual(PasswordScheme.format(parsed), stored)
      assert.isTrue(yield* PasswordScheme.verify(stored, "password"))
      assert.isFalse(yield* PasswordScheme.verify(stored, "Password"))
      assert.isFalse(yield* PasswordScheme.verify("{NTLM}31d6cfe0d16ae931b73c59d7e0c089c0", ""), "the empty password never verifies")
    }))

  it("malformed {NTLM} values are refused, naming the scheme only", () => {
    for (const bad of ["{NTLM}", "{NTLM}abc", `{NTLM}${ntPassword}00`, `{NTLM}${"z".repeat(32)}`]) {
      const result = PasswordScheme.parse(bad)
      assert.isTrue(Result.isFailure(result), bad)
      if (Result.isFailure(result)) {
        assert.strictEqual(result.failure.scheme, "NTLM")
        assert.notInclude(result.failure.message, ntPassword)
      }
    }
  })

  it("ntHashOf: the {NTLM} hash, derived from {PLAIN}, nothing from a one-way scheme", () => {
    const of = (stored: string) => {
      const h = PasswordScheme.ntHashOf(Result.getOrThrow(PasswordScheme.parse(stored)))
      return h === undefined ? undefined : hex(h)
    }
    assert.strictEqual(of(`{NTLM}${ntPassword}`), ntPassword)
    assert.strictEqual(of("{PLAIN}password"), ntPassword)
    assert.strictEqual(of("{PLAIN}"), undefined)
    assert.strictEqual(of("{SCRYPT}$scrypt$ln=10,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), undefined)
  })
})

describe("UsersFile nt_hash extra field", () => {
  it("reads the field from the eighth position, among other extra fields", () => {
    assert.strictEqual(UsersFile.ntHashField(`::::::nt_hash={NTLM}${ntPassword}`), `{NTLM}${ntPassword}`)
    assert.strictEqual(
      UsersFile.ntHashField(`:1000:1000:Bob:/home/bob:/bin/sh:userdb_mail=maildir:~/M nt_hash={NTLM}${ntPassword} x=y`),
      `{NTLM}${ntPassword}`
    )
    assert.strictEqual(UsersFile.ntHashField(""), undefined)
    assert.strictEqual(UsersFile.ntHashField(":::::nt_hash=x"), undefined, "the shell field is not an extra field")
  })

  it("withNtHashField adds, replaces and removes it, keeping everything else", () => {
    const nt = `{NTLM}${ntPassword}`
    assert.strictEqual(UsersFile.withNtHashField("", nt), `::::::nt_hash=${nt}`)
    assert.strictEqual(UsersFile.withNtHashField("", undefined), "")
    assert.strictEqual(UsersFile.withNtHashField("::", undefined), "::", "untouched when there is nothing to do")
    assert.strictEqual(UsersFile.withNtHashField(`::::::nt_hash=${nt}`, undefined), "")
    assert.strictEqual(UsersFile.withNtHashField(`::::::nt_hash={NTLM}${"0".repeat(32)}`, nt), `::::::nt_hash=${nt}`)
    assert.strictEqual(
      UsersFile.withNtHashField(":1000:1000:Bob:/home/bob:/bin/sh:userdb_mail=maildir:~/M nt_hash=old", nt),
      `:1000:1000:Bob:/home/bob:/bin/sh:userdb_mail=maildir:~/M nt_hash=${nt}`
    )
    assert.strictEqual(
      UsersFile.withNtHashField(":1000:1000:Bob:/home/bob:/bin/sh:nt_hash=old", undefined),
      ":1000:1000:Bob:/home/bob:/bin/sh"
    )
    assert.strictEqual(UsersFile.withNtHashField(":1000", nt), `:1000:::::nt_hash=${nt}`)
  })

  it.effect("add and setPassword write the NT hash only when asked, and never leave a stale one", () =>
    Effect.gen(function*() {
      const path = NodePath.join(yield* tempDir, "users")
      const read = () => Effect.promise(() => Fs.readFile(path, "utf8"))
      const options = { params: fastParams }
      yield* UsersFile.add(path, "alice", "password", { ...options, ntHash: true })
      yield* UsersFile.add(path, "bob", "password", options)
      let text = yield* read()
      assert.match(text, new RegExp(`^alice:\\{SCRYPT\\}[^:]+::::::nt_hash=\\{NTLM\\}${ntPassword}\\n`, "m"))
      assert.match(text, /^bob:\{SCRYPT\}[^:]+\n/m)
      assert.notInclude(text, "password\n", "never the password")
      yield* UsersFile.setPassword(path, "alice", "Password", { ...options, ntHash: true })
      text = yield* read()
      assert.include(text, "nt_hash={NTLM}a4f49c406510bdcab6824ee7c30fd852")
      assert.notInclude(text, ntPassword, "the old NT hash is gone")
      yield* UsersFile.setPassword(path, "alice", "third", options)
      text = yield* read()
      assert.notInclude(text, "nt_hash", "a password set without NTLM drops the NT hash")
      assert.match(text, /^alice:\{SCRYPT\}[^:]+\n/m)
      assert.strictEqual(((yield* Effect.promise(() => Fs.stat(path))).mode & 0o777).toString(8), "600")
    }))

  it.effect("the Directory gives mechanisms the NT hash; verify (PASS) still uses the main hash", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = NodePath.join(dir, "users")
      const scrypt = yield* PasswordScheme.hash("main pw", "SCRYPT", { params: fastParams })
      yield* Effect.promise(() =>
        Fs.writeFile(path, [
          `alice:${scrypt}::::::nt_hash={NTLM}${ntPassword}`,
          `bob:{PLAIN}password`,
          `carol:${scrypt}`,
          `dave:::::::nt_hash={NTLM}${ntPassword}`,
          `eve:${scrypt}::::::nt_hash={NTLM}nothex`,
          `frank:${scrypt}::::::nt_hash={PLAIN}password`
        ].join("\n") + "\n", { mode: 0o600 })
      )
      const logs: Array<string> = []
      const directory = yield* UsersFile.make({ path, checkInterval: 0 }).pipe(Effect.provide(captureLogs(logs)))
      const ntOf = (user: string) =>
        Effect.map(directory.lookup(user), (record) =>
          Option.isNone(record) || record.value.ntHash === undefined ? undefined : hex(Redacted.value(record.value.ntHash)))
      assert.strictEqual(yield* ntOf("alice"), ntPassword)
      assert.strictEqual(yield* ntOf("bob"), ntPassword, "derived from {PLAIN}")
      assert.strictEqual(yield* ntOf("carol"), undefined)
      assert.strictEqual(yield* ntOf("dave"), undefined, "a disabled account has no NT hash")
      assert.strictEqual(yield* ntOf("eve"), undefined)
      assert.strictEqual(yield* ntOf("frank"), undefined, "nt_hash must be {NTLM}")
      assert.deepStrictEqual(yield* directory.verify("alice", "main pw"), Option.some("alice"))
      assert.deepStrictEqual(yield* directory.verify("alice", "password"), Option.none(), "the NT hash is not a PASS password")
      assert.isTrue(logs.some((l) => /user "eve" cannot use NTLM/.test(l)), logs.join("\n"))
      assert.isTrue(logs.some((l) => /user "frank" cannot use NTLM/.test(l)), logs.join("\n"))
      assert.isFalse(logs.some((l) => l.includes("nothex") || l.includes(ntPassword)), "logs never carry the value")
    }))

  it.effect("layerMemory accepts an NT hash beside the password", () =>
    Effect.gen(function*() {
      const directory = yield* Directory.Directory.useSync((d) => d).pipe(
        Effect.provide(Directory.layerMemory({ alice: { password: "{PLAIN}x", ntHash: `{NTLM}${ntPassword}` } }))
      )
      const record = yield* directory.lookup("alice")
      assert.isTrue(Option.isSome(record))
      if (Option.isSome(record)) assert.strictEqual(hex(Redacted.value(record.value.ntHash!)), ntPassword)
    }))
})
