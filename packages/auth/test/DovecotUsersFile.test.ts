// A users file written by Dovecot's own tools works unchanged: every crypt scheme, the passwd-file fields after
// the password, and a scheme pop3d does not read (reported by line, never logged with its content).
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Fs from "node:fs/promises"
import * as NodePath from "node:path"
import * as Directory from "../src/Directory.ts"
import * as PasswordScheme from "../src/PasswordScheme.ts"
import * as UsersFile from "../src/UsersFile.ts"
import { captureLogs, tempDir } from "./helpers.ts"

// Every hash below was printed by Dovecot 2.3.19's `doveadm pw -s <SCHEME> [-r rounds] -p <password>`, except
// ivan's (glibc/libxcrypt crypt(3), as Dovecot's {CRYPT} would be given it).
const dovecotFile = [
  "# Dovecot passwd-file: user:password:uid:gid:gecos:home:shell:extra_fields",
  "alice:{SHA512-CRYPT}$6$IeL.tL0Nsec.aL5R$PcufsCa4wgqaghtmMWdFgNLYPsKbYXeJGn.Ma69vd8kEhHmdglPwH9dWshiSf4dK2Agcf1tlyVHK3HQqb8aR71:1000:1000::/home/alice::userdb_mail=maildir:~/Maildir",
  "bob:{SHA256-CRYPT}$5$7gSPBqKj562mUR4N$o.vOMF7F.yxt5JU5p/P3brYjXOfBkQVXCte.djRFFs0:1001:1001:Bob:/home/bob:/bin/false",
  "carol:{BLF-CRYPT}$2y$05$V778H70seE0mjjsVv42ijuUJA4RvSk.1nVMRDxzY8PPhq4OT2n3JO:::",
  "dave:{SHA512-CRYPT}$6$rounds=7000$00XwsXC775zAerbv$chKbdDsP9yGY37sQdJ4UBE7ge3wTsd6TGFzXYQbd0xY/rMiORusoThARlyruBXP/V4y6t3t4eVgnSNT1H6Prl/",
  "erin:{CRYPT}$2y$05$VEeOonySWCchZAhd1tHQl.EeoaT2SErhLD8t6INxcS8m.3NMDI84m",
  "frank:{BLF-CRYPT}$2y$04$vHT6YntQ.3qdSJ4YW0BJ.uomRlx9aSK7e8hzk/imvEzjqMq4YD34e",
  "grace:{PLAIN}grace",
  "heidi:{SSHA}Pvo1c+CzB8K44SHNpkS/gq3UfA+aDeNn",
  "ivan:{CRYPT}$6$abcdefgh$5h9Mm.ecuztnrJC6T7cAtQ4o7FtYpL4tT67zsYdnhVxFZgTNpIjaD6Iwfs7gKwWwyjrO5Eb.hHVDSKewe9tkc/",
  ""
].join("\n")

const passwords: ReadonlyArray<readonly [string, string]> = [
  ["alice", "alice pw"],
  ["bob", "bob-pw"],
  ["carol", "carol: pw"],
  ["dave", "dävé ✓"],
  ["erin", "erin"],
  ["frank", "frank"],
  ["grace", "grace"],
  ["ivan", "ivan"]
]

describe("a Dovecot users file", () => {
  it.effect("every supported scheme logs in with the right password only; the file is left as it was", () => {
    const logs: Array<string> = []
    return Effect.gen(function*() {
      const dir = yield* tempDir
      const path = NodePath.join(dir, "users")
      yield* Effect.promise(() => Fs.writeFile(path, dovecotFile, { mode: 0o600 }))
      const directory = yield* UsersFile.make({ path, checkInterval: 0 })
      for (const [user, password] of passwords) {
        assert.deepStrictEqual(yield* directory.verify(user, password), Option.some(user), user)
        assert.deepStrictEqual(yield* directory.verify(user, password + " "), Option.none(), `${user} wrong`)
      }
      // {SSHA} is not read: heidi cannot log in, and the load says so by name and scheme only.
      assert.deepStrictEqual(yield* directory.verify("heidi", "heidi"), Option.none())
      assert.strictEqual(logs.length, 1, logs.join("\n"))
      assert.include(logs[0]!, "\"heidi\"")
      assert.include(logs[0]!, "SSHA")
      assert.notInclude(logs[0]!, "Pvo1c")
      // Parsing and serialising keeps every line byte for byte.
      assert.strictEqual(UsersFile.serialise(UsersFile.parse(dovecotFile)), dovecotFile)
      assert.strictEqual(yield* Effect.promise(() => Fs.readFile(path, "utf8")), dovecotFile)
      assert.deepStrictEqual((yield* UsersFile.list(path)).map((l) => l.scheme), [
        "SHA512-CRYPT",
        "SHA256-CRYPT",
        "BLF-CRYPT",
        "SHA512-CRYPT",
        "CRYPT",
        "BLF-CRYPT",
        "PLAIN",
        "SSHA",
        "CRYPT"
      ])
    }).pipe(Effect.provide(captureLogs(logs)))
  }, 30_000)

  it("unknown users are checked against the scheme and cost most accounts use", () => {
    const sha = Directory.snapshot(UsersFile.users(UsersFile.parse(dovecotFile)).map((u) => [u.name, u.password]))
    // Two SHA512-CRYPT entries, but at different rounds (5000, 7000); $2y$05$ appears twice (carol, erin).
    assert.strictEqual(sha.dummy._tag, "Bcrypt")
    assert.isTrue(sha.dummy._tag === "Bcrypt" && sha.dummy.value.cost === 5)

    const shaOnly = Directory.snapshot([
      ["a", "{SHA512-CRYPT}$6$IeL.tL0Nsec.aL5R$PcufsCa4wgqaghtmMWdFgNLYPsKbYXeJGn.Ma69vd8kEhHmdglPwH9dWshiSf4dK2Agcf1tlyVHK3HQqb8aR71"],
      ["b", "{PLAIN}x"]
    ])
    assert.isTrue(
      shaOnly.dummy._tag === "ShaCrypt" && shaOnly.dummy.value.variant === "SHA-512" &&
        shaOnly.dummy.value.rounds === 5000 && shaOnly.dummy.value.salt.length === 16
    )
    assert.isTrue(PasswordScheme.isCostly(shaOnly.dummy))
  })

  it.effect("an unknown user costs about what a wrong password costs (SHA512-CRYPT file)", () =>
    Effect.gen(function*() {
      const stored = yield* PasswordScheme.hash("pw", "SHA512-CRYPT")
      const directory = Directory.make(Effect.succeed(Directory.snapshot([["alice", stored], ["bob", stored]])))
      const time = (user: string) =>
        Effect.gen(function*() {
          const start = performance.now()
          assert.deepStrictEqual(yield* directory.verify(user, "wrong"), Option.none())
          return performance.now() - start
        })
      yield* time("alice")
      let wrong = Infinity
      let unknown = Infinity
      for (let i = 0; i < 5; i++) {
        wrong = Math.min(wrong, yield* time("alice"))
        unknown = Math.min(unknown, yield* time("nobody"))
      }
      // Coarse: the same hash runs in both cases (the machine may be busy), so neither is far below the other.
      assert.isAbove(unknown, wrong / 3, `unknown ${unknown.toFixed(1)} ms vs wrong ${wrong.toFixed(1)} ms`)
      assert.isAbove(wrong, unknown / 3, `unknown ${unknown.toFixed(1)} ms vs wrong ${wrong.toFixed(1)} ms`)
    }), 30_000)
})
