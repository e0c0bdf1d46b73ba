import * as Fs from "node:fs/promises"
import * as NodePath from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { TestClock } from "effect/testing"
import { Directory } from "../src/Directory.ts"
import * as PasswordScheme from "../src/PasswordScheme.ts"
import * as UsersFile from "../src/UsersFile.ts"
import { captureLogs, fastParams, tempDir } from "./helpers.ts"

const hashOptions = { params: fastParams }

describe("UsersFile.parse / serialise", () => {
  // [input, users as name:password|rest, problems as line:reason, serialised]
  const table: ReadonlyArray<{
    readonly name: string
    readonly input: string
    readonly users: ReadonlyArray<readonly [string, string, string]>
    readonly problems: ReadonlyArray<number>
    readonly output: string
  }> = [
    { name: "empty file", input: "", users: [], problems: [], output: "" },
    {
      name: "two fields",
      input: "alice:{PLAIN}pw\n",
      users: [["alice", "{PLAIN}pw", ""]],
      problems: [],
      output: "alice:{PLAIN}pw\n"
    },
    {
      name: "all Dovecot fields and extra fields kept verbatim",
      input: "bob:{PLAIN}x:1000:1000:Bob B.:/home/bob:/bin/sh:userdb_mail=maildir:~/M quota_rule=*:storage=1G\n",
      users: [["bob", "{PLAIN}x", ":1000:1000:Bob B.:/home/bob:/bin/sh:userdb_mail=maildir:~/M quota_rule=*:storage=1G"]],
      problems: [],
      output: "bob:{PLAIN}x:1000:1000:Bob B.:/home/bob:/bin/sh:userdb_mail=maildir:~/M quota_rule=*:storage=1G\n"
    },
    {
      name: "empty trailing fields kept",
      input: "carol:{PLAIN}y::\n",
      users: [["carol", "{PLAIN}y", "::"]],
      problems: [],
      output: "carol:{PLAIN}y::\n"
    },
    {
      name: "comments, blank lines and order kept",
      input: "# users\n\nalice:{PLAIN}a\n  # indented, so not a comment\n#x:y\nbob:{PLAIN}b\n   \n",
      users: [["alice", "{PLAIN}a", ""], ["bob", "{PLAIN}b", ""]],
      problems: [4],
      output: "# users\n\nalice:{PLAIN}a\n  # indented, so not a comment\n#x:y\nbob:{PLAIN}b\n   \n"
    },
    {
      name: "missing final newline is added",
      input: "alice:{PLAIN}a",
      users: [["alice", "{PLAIN}a", ""]],
      problems: [],
      output: "alice:{PLAIN}a\n"
    },
    {
      name: "CRLF line ends become LF",
      input: "# c\r\nalice:{PLAIN}a:1\r\n",
      users: [["alice", "{PLAIN}a", ":1"]],
      problems: [],
      output: "# c\nalice:{PLAIN}a:1\n"
    },
    {
      name: "empty password field is a disabled account, not malformed",
      input: "dave:\n",
      users: [["dave", "", ""]],
      problems: [],
      output: "dave:\n"
    },
    {
      name: "malformed lines skipped, kept verbatim, reported by number",
      input: [
        "nocolon",
        ":{PLAIN}noname",
        "sp ace:{PLAIN}x",
        "sl/ash:{PLAIN}x",
        "tab\tname:{PLAIN}x",
        "ctl\u0001:{PLAIN}x",
        "ok:{PLAIN}x",
        "ok:{PLAIN}duplicate",
        "x".repeat(256) + ":{PLAIN}long",
        "ünï:{PLAIN}utf8 name is fine"
      ].join("\n") + "\n",
      users: [["ok", "{PLAIN}x", ""], ["ünï", "{PLAIN}utf8 name is fine", ""]],
      problems: [1, 2, 3, 4, 5, 6, 8, 9],
      output: [
        "nocolon",
        ":{PLAIN}noname",
        "sp ace:{PLAIN}x",
        "sl/ash:{PLAIN}x",
        "tab\tname:{PLAIN}x",
        "ctl\u0001:{PLAIN}x",
        "ok:{PLAIN}x",
        "ok:{PLAIN}duplicate",
        "x".repeat(256) + ":{PLAIN}long",
        "ünï:{PLAIN}utf8 name is fine"
      ].join("\n") + "\n"
    }
  ]

  for (const row of table) {
    it(row.name, () => {
      const file = UsersFile.parse(row.input)
      assert.deepStrictEqual(
        UsersFile.users(file).map((u) => [u.name, u.password, u.rest]),
        row.users.map((u) => [...u])
      )
      assert.deepStrictEqual(file.problems.map((p) => p.line), [...row.problems])
      assert.strictEqual(UsersFile.serialise(file), row.output)
      assert.strictEqual(UsersFile.serialise(UsersFile.parse(row.output)), row.output, "serialise is a fixed point")
    })
  }

  it("problem reasons never contain the line", () => {
    const file = UsersFile.parse("secret-looking line\nbad name:{PLAIN}hunter2\n")
    for (const problem of file.problems) {
      assert.notInclude(problem.reason, "secret")
      assert.notInclude(problem.reason, "hunter2")
    }
  })

  it("user names", () => {
    assert.isTrue(UsersFile.isValidName("a"))
    assert.isTrue(UsersFile.isValidName("user@example.org"))
    assert.isTrue(UsersFile.isValidName("x".repeat(255)))
    for (const bad of ["", "x".repeat(256), "a:b", "a b", "a/b", "a\nb", "a\u007fb", "a\u0085b", "a\u00a0b"]) {
      assert.isFalse(UsersFile.isValidName(bad), JSON.stringify(bad))
    }
  })
})

describe("UsersFile CLI operations", () => {
  it.effect("add / setPassword / remove / list round trip, mode 0600, other lines kept", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = NodePath.join(dir, "users")
      assert.deepStrictEqual(yield* UsersFile.list(path), [])

      yield* UsersFile.add(path, "alice", "pw-a", hashOptions)
      assert.strictEqual((yield* Effect.promise(() => Fs.stat(path))).mode & 0o777, 0o600)
      yield* Effect.promise(() =>
        Fs.appendFile(path, "# a comment\nbob:{PLAIN}pw-b:1000:1000::/home/bob::userdb_quota_rule=*:storage=1G\n")
      )
      yield* UsersFile.add(path, "carol", "pw-c", { scheme: "PLAIN" })
      assert.deepStrictEqual(yield* UsersFile.list(path), [
        { name: "alice", scheme: "SCRYPT" },
        { name: "bob", scheme: "PLAIN" },
        { name: "carol", scheme: "PLAIN" }
      ])

      const exists = yield* Effect.flip(UsersFile.add(path, "alice", "again", hashOptions))
      assert.strictEqual(exists.reason, "UserExists")

      yield* UsersFile.setPassword(path, "bob", "new-b", hashOptions)
      const text = yield* Effect.promise(() => Fs.readFile(path, "utf8"))
      const lines = text.split("\n")
      assert.strictEqual(lines[1], "# a comment")
      assert.match(lines[2]!, /^bob:\{SCRYPT\}\$scrypt\$ln=10,r=8,p=1\$[^:]+:1000:1000::\/home\/bob::userdb_quota_rule=\*:storage=1G$/)
      const bob = UsersFile.users(UsersFile.parse(text)).find((u) => u.name === "bob")!
      assert.isTrue(yield* PasswordScheme.verify(bob.password, "new-b"))
      assert.isFalse(yield* PasswordScheme.verify(bob.password, "pw-b"))
      assert.strictEqual((yield* Effect.promise(() => Fs.stat(path))).mode & 0o777, 0o600)

      yield* UsersFile.remove(path, "alice")
      assert.deepStrictEqual((yield* UsersFile.list(path)).map((l) => l.name), ["bob", "carol"])
      assert.strictEqual((yield* Effect.flip(UsersFile.remove(path, "alice"))).reason, "NoSuchUser")
      assert.strictEqual((yield* Effect.flip(UsersFile.setPassword(path, "alice", "x"))).reason, "NoSuchUser")

      const leftovers = (yield* Effect.promise(() => Fs.readdir(dir))).filter((f) => f !== "users")
      assert.deepStrictEqual(leftovers, [], "no temporary files left behind")
    }))

  it.effect("rejects bad names and passwords without writing", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = NodePath.join(dir, "users")
      assert.strictEqual((yield* Effect.flip(UsersFile.add(path, "a:b", "pw", hashOptions))).reason, "InvalidName")
      assert.strictEqual((yield* Effect.flip(UsersFile.add(path, "a b", "pw", hashOptions))).reason, "InvalidName")
      assert.strictEqual((yield* Effect.flip(UsersFile.add(path, "ok", "", hashOptions))).reason, "InvalidPassword")
      const colon = yield* Effect.flip(UsersFile.add(path, "ok", "top:secret", { scheme: "PLAIN" }))
      assert.strictEqual(colon.reason, "InvalidPassword")
      assert.notInclude(colon.message, "top:secret")
      assert.deepStrictEqual(yield* UsersFile.list(path), [])
      yield* UsersFile.add(path, "ok", "top:secret", hashOptions) // hashed, so a ':' is fine
      assert.deepStrictEqual((yield* UsersFile.list(path)).map((l) => l.name), ["ok"])
    }))

  it.effect("a missing directory is created (mode 0700); an impossible one is an Io error", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* UsersFile.add(NodePath.join(dir, "new", "users"), "a", "pw", hashOptions)
      assert.strictEqual((yield* Effect.promise(() => Fs.stat(NodePath.join(dir, "new")))).mode & 0o777, 0o700)
      yield* Effect.promise(() => Fs.writeFile(NodePath.join(dir, "plain-file"), "x"))
      const error = yield* Effect.flip(UsersFile.add(NodePath.join(dir, "plain-file", "users"), "a", "pw", hashOptions))
      assert.strictEqual(error.reason, "Io")
    }))
})

describe("UsersFile.layer", () => {
  const write = (path: string, text: string) => Effect.promise(() => Fs.writeFile(path, text, { mode: 0o600 }))

  it.effect("re-reads the file when it changes (checkInterval 0)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = NodePath.join(dir, "users")
      yield* write(path, `alice:${yield* PasswordScheme.hash("old", "SCRYPT", hashOptions)}\n`)
      const directory = yield* UsersFile.make({ path, checkInterval: 0 })
      assert.deepStrictEqual(yield* directory.verify("alice", "old"), Option.some("alice"))

      yield* write(path, `alice:${yield* PasswordScheme.hash("new", "SCRYPT", hashOptions)}\nbob:{PLAIN}b\n`)
      assert.deepStrictEqual(yield* directory.verify("alice", "new"), Option.some("alice"))
      assert.deepStrictEqual(yield* directory.verify("alice", "old"), Option.none())
      assert.deepStrictEqual(yield* directory.verify("bob", "b"), Option.some("bob"))
    }))

  it.effect("stats at most once per interval (test clock)", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = NodePath.join(dir, "users")
      yield* write(path, "alice:{PLAIN}old\n")
      const directory = yield* UsersFile.make({ path, checkInterval: "1 second" })
      yield* write(path, "alice:{PLAIN}new\n")
      assert.deepStrictEqual(yield* directory.verify("alice", "old"), Option.some("alice"), "not re-read yet")
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(yield* directory.verify("alice", "new"), Option.some("alice"))
      assert.deepStrictEqual(yield* directory.verify("alice", "old"), Option.none())
    }))

  it.effect("a missing file means no users and one warning; creating it later adds them", () => {
    const logs: Array<string> = []
    return Effect.gen(function*() {
      const dir = yield* tempDir
      const path = NodePath.join(dir, "users")
      const directory = yield* UsersFile.make({ path, checkInterval: 0 })
      assert.deepStrictEqual(yield* directory.verify("alice", "pw"), Option.none())
      assert.deepStrictEqual(yield* directory.lookup("alice"), Option.none())
      assert.deepStrictEqual(yield* directory.verify("alice", "pw"), Option.none())
      assert.strictEqual(logs.filter((l) => l.includes("does not exist")).length, 1)

      yield* UsersFile.add(path, "alice", "pw", hashOptions)
      assert.deepStrictEqual(yield* directory.verify("alice", "pw"), Option.some("alice"))
      const record = yield* directory.lookup("alice")
      assert.isTrue(Option.isSome(record) && record.value.mailbox === "alice")

      yield* Effect.promise(() => Fs.rm(path))
      assert.deepStrictEqual(yield* directory.verify("alice", "pw"), Option.none())
      assert.strictEqual(logs.filter((l) => l.includes("does not exist")).length, 2)
    }).pipe(Effect.provide(captureLogs(logs)))
  })

  it.effect("malformed lines and unusable secrets are warned about once per load, by line number, no content", () => {
    const logs: Array<string> = []
    return Effect.gen(function*() {
      const dir = yield* tempDir
      const path = NodePath.join(dir, "users")
      yield* write(path, "# c\nbad line hunter2\nalice:{PLAIN}pw\nmallory:{MD5}hunter3\neve:hunter4\n")
      const directory = yield* UsersFile.make({ path, checkInterval: 0 })
      for (let i = 0; i < 3; i++) {
        assert.deepStrictEqual(yield* directory.verify("mallory", "hunter3"), Option.none())
        assert.deepStrictEqual(yield* directory.verify("eve", "hunter4"), Option.none())
        assert.deepStrictEqual(yield* directory.verify("alice", "pw"), Option.some("alice"))
      }
      assert.strictEqual(logs.length, 3, logs.join("\n"))
      assert.isTrue(logs.some((l) => l.includes("line 2")))
      assert.isTrue(logs.some((l) => l.includes("\"mallory\"") && l.includes("MD5")))
      assert.isTrue(logs.some((l) => l.includes("\"eve\"")))
      for (const line of logs) assert.notMatch(line, /hunter/)
    }).pipe(Effect.provide(captureLogs(logs)))
  })

  it.effect("an unreadable file keeps the previous users and warns once", () => {
    const logs: Array<string> = []
    return Effect.gen(function*() {
      const dir = yield* tempDir
      const path = NodePath.join(dir, "users")
      yield* write(path, "alice:{PLAIN}pw\n")
      const directory = yield* UsersFile.make({ path, checkInterval: 0 })
      yield* Effect.promise(() => Fs.rm(path))
      yield* Effect.promise(() => Fs.mkdir(path)) // reading a directory fails with EISDIR
      assert.deepStrictEqual(yield* directory.verify("alice", "pw"), Option.some("alice"))
      assert.deepStrictEqual(yield* directory.verify("alice", "pw"), Option.some("alice"))
      assert.strictEqual(logs.filter((l) => l.includes("keeping the previous users")).length, 1, logs.join("\n"))
      yield* Effect.promise(() => Fs.rmdir(path))
      yield* write(path, "alice:{PLAIN}new\n")
      assert.deepStrictEqual(yield* directory.verify("alice", "new"), Option.some("alice"))
    }).pipe(Effect.provide(captureLogs(logs)))
  })

  it.effect("an unreadable file at start fails the layer", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const error = yield* Effect.flip(UsersFile.make({ path: dir }))
      assert.strictEqual(error.reason, "Io")
    }))

  it.effect("the layer provides Directory", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = NodePath.join(dir, "users")
      yield* write(path, "alice:{PLAIN}pw\n")
      const result = yield* Directory.use((d) => d.verify("alice", "pw")).pipe(
        Effect.provide(UsersFile.layer({ path }))
      )
      assert.deepStrictEqual(result, Option.some("alice"))
    }))
})
