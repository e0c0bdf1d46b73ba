// Settings: defaults, precedence (config file < environment < flags), and errors that name the setting.
import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Settings from "../src/Settings.ts"
import { tempDirs } from "./tempDirs.ts"

// Temporary folders of these tests, removed after them.
const tmp = tempDirs("pop3d-settings-")

const load = (flags: Record<string, string>, env: Record<string, string> = {}, isRoot = false) =>
  Settings.load({ flags, env, isRoot })

describe("Settings.load", () => {
  it.effect("defaults: Exchange's values, unprivileged ports when not root", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const s = yield* load({ data: dir })
      assert.strictEqual(s.port, 1110)
      assert.strictEqual(s.tlsPort, 1995)
      assert.strictEqual(s.listen, "127.0.0.1")
      assert.strictEqual(s.unauthenticatedTimeout, 60)
      assert.strictEqual(s.authenticatedTimeout, 1800)
      assert.strictEqual(s.maxCommandSize, 512)
      assert.strictEqual(s.maxSaslResponse, 65536)
      assert.isTrue(s.exactRfc822Size)
      assert.strictEqual(s.plaintext, "tls-only")
      assert.strictEqual(s.maxAuthFailures, 3)
      assert.strictEqual(s.usersFile, Path.join(dir, "users"))
      assert.strictEqual(s.maildirRoot, Path.join(dir, "maildir"))
      assert.strictEqual(s.tlsCert, Path.join(dir, "tls", "cert.pem"))
      assert.isTrue(s.tlsCertIsDefault)
      const root = yield* load({ data: dir }, {}, true)
      assert.strictEqual(root.port, 110)
      assert.strictEqual(root.tlsPort, 995)
    }))

  it.effect("config file < environment < flags", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const conf = Path.join(dir, "my.conf")
      Fs.writeFileSync(conf, "# comment\nport = 2110\ntls-port = 2995\nplaintext = never  # trailing comment\n")
      const fromFile = yield* load({ data: dir, config: conf })
      assert.strictEqual(fromFile.port, 2110)
      assert.strictEqual(fromFile.plaintext, "never")
      const fromEnv = yield* load({ data: dir, config: conf }, { POP3D_PORT: "3110" })
      assert.strictEqual(fromEnv.port, 3110)
      assert.strictEqual(fromEnv.tlsPort, 2995)
      const fromFlag = yield* load({ data: dir, config: conf, port: "4110" }, { POP3D_PORT: "3110" })
      assert.strictEqual(fromFlag.port, 4110)
    }))

  it.effect("<data>/pop3d.conf is read when present", () =>
    Effect.gen(function*() {
      const dir = tmp()
      Fs.writeFileSync(Path.join(dir, "pop3d.conf"), "max-command-size = 1024\n")
      assert.strictEqual((yield* load({ data: dir })).maxCommandSize, 1024)
    }))

  const refused: ReadonlyArray<readonly [Record<string, string>, Record<string, string>, RegExp]> = [
    [{ "max-command-size": "39" }, {}, /--max-command-size = "39"/],
    [{ "max-command-size": "1025" }, {}, /--max-command-size/],
    [{ "max-command-size": "abc" }, {}, /--max-command-size.*whole number/],
    [{}, { POP3D_PORT: "70000" }, /POP3D_PORT = "70000"/],
    [{ plaintext: "sometimes" }, {}, /--plaintext/],
    [{ "exact-rfc822-size": "maybe" }, {}, /--exact-rfc822-size/],
    [{ "unauthenticated-timeout": "0" }, {}, /--unauthenticated-timeout/]
  ]
  for (const [flags, env, message] of refused) {
    it.effect(`refuses ${JSON.stringify({ ...flags, ...env })}`, () =>
      Effect.gen(function*() {
        const e = yield* Effect.flip(load({ data: tmp(), ...flags }, env))
        assert.match(e.message, message)
      }))
  }

  it.effect("an unknown key in the config file names the file and line", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const conf = Path.join(dir, "bad.conf")
      Fs.writeFileSync(conf, "port = 1\nmax-comand-size = 100\n")
      const e = yield* Effect.flip(load({ data: dir, config: conf }))
      assert.match(e.message, /bad\.conf:2: unknown setting "max-comand-size"/)
    }))

  it.effect("warns below the 255 octets RFC 2449 needs", () =>
    Effect.gen(function*() {
      const s = yield* load({ data: tmp(), "max-command-size": "100" })
      assert.strictEqual(Settings.warnings(s).length, 1)
      assert.match(Settings.warnings(s)[0]!, /255/)
      assert.strictEqual(Settings.warnings(yield* load({ data: tmp() })).length, 0)
    }))
})

describe("Settings.parseConfigFile", () => {
  it("golden", () => {
    assert.deepStrictEqual(Settings.parseConfigFile("a = b", "f"), Result.fail(`f:1: unknown setting "a"`))
    assert.deepStrictEqual(
      Settings.parseConfigFile("listen = \"::1\"\n\n# x\nport=0\n", "f"),
      Result.succeed({ listen: "::1", port: "0" })
    )
    assert.deepStrictEqual(Settings.parseConfigFile("port", "f"), Result.fail(`f:1: expected "key = value"`))
  })
})

describe("README", () => {
  it("documents every setting with its flag, environment variable and default", () => {
    const readme = Fs.readFileSync(new URL("../../../README.md", import.meta.url), "utf8")
    for (const s of Settings.specs) {
      const row = readme.split("\n").find((l) => l.startsWith(`| \`--${s.flag}\` |`))
      assert.isDefined(row, `README has no row for --${s.flag}`)
      assert.include(row!, `\`${s.env}\``, `README row for --${s.flag} names ${s.env}`)
      if (s.default !== "") assert.include(row!, `\`${s.default}\``, `README row for --${s.flag} gives the default`)
    }
  })
})
