// Deterministic Maildir generator for the benchmark. Same parameters, same bytes: every message is built from a
// PRNG seeded by (seed, user, index). Messages are RFC 5322 with LF line ends (as MTAs store them in Maildir),
// 2–100 KiB, with body lines that need dot-stuffing on the wire. A manifest records per user its password, the
// message count, the totals and per message [Message-ID, stored octets, wire octets (CRLF), SHA-256 of the wire
// form], so that the load generator can verify every LIST, STAT and RETR reply.
//
//   node bench/generate.ts --out DIR [--seed 1] [--users 1000] [--retr-users 4] [--retr-messages 1000] [--big 100000]
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"

export interface GenParams {
  readonly seed: number
  /** users with small mailboxes, for the sessions and idle-memory workloads */
  readonly users: number
  readonly userMessagesMin: number
  readonly userMessagesMax: number
  /** users for the RETR workload, one per concurrent client */
  readonly retrUsers: number
  readonly retrMessages: number
  /** messages in the one large mailbox */
  readonly big: number
  /** share of messages already in cur/ (seen by an earlier client) rather than new/ */
  readonly curShare: number
}

export const defaultParams: GenParams = {
  seed: 1,
  users: 1000,
  userMessagesMin: 5,
  userMessagesMax: 25,
  retrUsers: 4,
  retrMessages: 1000,
  big: 100_000,
  curShare: 0.8
}

/** [Message-ID, stored octets, wire octets, SHA-256 of the wire form (hex)] */
export type MessageEntry = readonly [string, number, number, string]

export interface UserEntry {
  readonly role: "session" | "retr" | "big"
  readonly password: string
  readonly count: number
  /** sum of wire sizes: what STAT must report */
  readonly octets: number
  readonly stored: number
  readonly messages: ReadonlyArray<MessageEntry>
}

export interface Manifest {
  readonly version: 1
  readonly params: GenParams
  readonly users: Record<string, UserEntry>
}

export const bigUser = "bigbox"
export const userName = (i: number): string => `user${String(i + 1).padStart(5, "0")}`
export const retrName = (i: number): string => `retr${i + 1}`

// ---------------------------------------------------------------------------------------------------------------
// PRNG

const fnv1a = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** sfc32: small, fast, good enough for test data. */
export class Rng {
  private a: number
  private b: number
  private c: number
  private d: number
  constructor(key: string) {
    this.a = fnv1a(`a${key}`)
    this.b = fnv1a(`b${key}`)
    this.c = fnv1a(`c${key}`)
    this.d = 1
    for (let i = 0; i < 12; i++) this.next()
  }
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return (t >>> 0) / 4294967296
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }
  pick<T>(list: ReadonlyArray<T>): T {
    return list[Math.floor(this.next() * list.length)]!
  }
  /** log-uniform in [min, max] */
  logUniform(min: number, max: number): number {
    return Math.round(min * Math.exp(this.next() * Math.log(max / min)))
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Text material

const words = (
  "the of and to in is that for it as was with be by on not he this are or his from at which but have an they you " +
  "were her she there one all we their been has when who will more no if out so said what up its about into than " +
  "them can only other new some could time these two may then do first any my now such like our over man me even " +
  "most made after also did many before must through back years where much your way well down should because each " +
  "just those people how too little state good very make world still own see men work long get here between both " +
  "life being under never day same another know while last might us great old year off come since against go came " +
  "right used take three meeting invoice report project budget quarterly review attached please thanks regards " +
  "schedule deadline server mailbox delivery customer order shipment account password update release version " +
  "Grüße Straße café naïve résumé Zürich Ångström façade"
).split(" ")

const firstNames = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Zoë"]
const lastNames = ["Smith", "Jones", "Müller", "García", "Rossi", "Novak", "Kowalski", "Nguyen", "Tanaka", "Olsen", "Dubois", "Silva", "Kim", "Martin", "Brown"]
const domains = ["example.net", "example.org", "mail.example.com", "lists.example.org", "corp.example"]
const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

/** Body lines that start with '.', so the server has to dot-stuff them; "." alone is the dangerous one. */
const dotLines = [".", "..", "...", ". leading dot", ".hidden-file", "..double dot", ".\tdot then tab", ". ", ".signature follows"]

interface Pool {
  readonly lines: ReadonlyArray<string>
  readonly bytes: ReadonlyArray<number>
}

const makePool = (rng: Rng, n: number, make: () => string): Pool => {
  const lines: Array<string> = []
  const bytes: Array<number> = []
  for (let i = 0; i < n; i++) {
    const l = make()
    lines.push(l)
    bytes.push(Buffer.byteLength(l, "utf8") + 1)
  }
  void rng
  return { lines, bytes }
}

const sentenceLine = (rng: Rng, maxLen: number): string => {
  let s = ""
  const target = rng.int(20, maxLen)
  while (s.length < target) {
    const w = rng.pick(words)
    s = s.length === 0 ? w[0]!.toUpperCase() + w.slice(1) : `${s} ${w}`
    if (rng.next() < 0.08) s += rng.next() < 0.5 ? "," : "."
  }
  return s
}

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

interface Pools {
  readonly text: Pool
  readonly quoted: Pool
  readonly html: Pool
  readonly b64: Pool
}

const makePools = (seed: number): Pools => {
  const rng = new Rng(`pools/${seed}`)
  return {
    text: makePool(rng, 4096, () => sentenceLine(rng, 76)),
    quoted: makePool(rng, 1024, () => `> ${sentenceLine(rng, 70)}`),
    html: makePool(rng, 2048, () => `<p style="margin:0 0 8px 0;font-family:Arial,sans-serif">${sentenceLine(rng, 60)}</p>`),
    b64: makePool(rng, 4096, () => {
      let s = ""
      for (let i = 0; i < 76; i++) s += b64Alphabet[Math.floor(rng.next() * 64)]
      return s
    })
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Messages

const rfc5322Date = (t: Date): string => {
  const p = (n: number) => String(n).padStart(2, "0")
  return `${days[t.getUTCDay()]}, ${t.getUTCDate()} ${months[t.getUTCMonth()]} ${t.getUTCFullYear()} ${p(t.getUTCHours())}:${p(t.getUTCMinutes())}:${p(t.getUTCSeconds())} +0000`
}

const hex = (rng: Rng, n: number): string => {
  let s = ""
  for (let i = 0; i < n; i++) s += "0123456789abcdef"[Math.floor(rng.next() * 16)]
  return s
}

/** Target stored size: 70 % plain text 2–12 KiB, 25 % text+HTML 12–40 KiB, 5 % with an attachment 40–100 KiB. */
const pickShape = (rng: Rng): { kind: "text" | "alternative" | "mixed"; size: number } => {
  const r = rng.next()
  if (r < 0.70) return { kind: "text", size: rng.logUniform(2048, 12 * 1024) }
  if (r < 0.95) return { kind: "alternative", size: rng.logUniform(12 * 1024, 40 * 1024) }
  return { kind: "mixed", size: rng.logUniform(40 * 1024, 100 * 1024) }
}

/** Appends pool lines until `budget` octets (LF counted) are used up; returns octets added. */
const fill = (out: Array<string>, rng: Rng, pool: Pool, budget: number): number => {
  let used = 0
  while (used < budget) {
    const k = Math.floor(rng.next() * pool.lines.length)
    out.push(pool.lines[k]!)
    used += pool.bytes[k]!
  }
  return used
}

/** Text paragraphs with quoted blocks and 1–3 lines that start with a dot. */
const textBody = (out: Array<string>, rng: Rng, pools: Pools, budget: number): void => {
  const start = out.length
  let used = 0
  while (used < budget) {
    const para = rng.int(2, 8)
    const pool = rng.next() < 0.15 ? pools.quoted : pools.text
    used += fill(out, rng, pool, Math.min(budget - used, para * 60))
    out.push("")
    used += 1
  }
  const dots = rng.int(1, 3)
  for (let i = 0; i < dots; i++) {
    const at = start + Math.floor(rng.next() * (out.length - start))
    out.splice(at, 0, rng.next() < 0.25 ? "." : rng.pick(dotLines))
  }
  if (rng.next() < 0.3) out.push("-- ", `${rng.pick(firstNames)} ${rng.pick(lastNames)}`, ".sig: lines starting with dots survive")
}

export interface Built {
  readonly stored: Buffer
  readonly wire: Buffer
  readonly messageId: string
}

/** Builds message `index` of `user`, delivered at `t`. */
export const buildMessage = (seed: number, pools: Pools, user: string, index: number, t: Date): Built => {
  const rng = new Rng(`${seed}/${user}/${index}`)
  const shape = pickShape(rng)
  const fromFirst = rng.pick(firstNames)
  const fromLast = rng.pick(lastNames)
  const fromDomain = rng.pick(domains)
  const fromAddr = `${fromFirst.toLowerCase().replace(/[^a-z]/g, "")}.${fromLast.toLowerCase().replace(/[^a-z]/g, "")}@${fromDomain}`
  const messageId = `<${user}.${index}.${hex(rng, 12)}@bench.example>`
  const date = rfc5322Date(t)
  const relay = rng.int(1, 250)
  const out: Array<string> = [
    `Return-Path: <${fromAddr}>`,
    `Delivered-To: ${user}@bench.example`,
    `Received: from mail${relay}.${fromDomain} (mail${relay}.${fromDomain} [198.51.100.${relay}])`,
    `\tby mx.bench.example (Postfix) with ESMTPS id ${hex(rng, 10).toUpperCase()}`,
    `\tfor <${user}@bench.example>; ${date}`
  ]
  if (rng.next() < 0.4) {
    out.push(
      `DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=${fromDomain}; s=sel${relay};`,
      `\th=from:to:subject:date:message-id; bh=${hex(rng, 43)}=;`,
      `\tb=${hex(rng, 70)}`,
      `\t${hex(rng, 70)}`
    )
  }
  const subject = sentenceLine(rng, 60)
  out.push(
    `Message-ID: ${messageId}`,
    `Date: ${date}`,
    `From: "${fromFirst} ${fromLast}" <${fromAddr}>`,
    `To: ${user} <${user}@bench.example>`,
    `Subject: ${rng.next() < 0.3 ? "Re: " : ""}${subject}`,
    "MIME-Version: 1.0"
  )
  const headerBytes = out.reduce((n, l) => n + Buffer.byteLength(l, "utf8") + 1, 0)
  const budget = Math.max(512, shape.size - headerBytes - 200)
  const boundary = `=_bench_${hex(rng, 16)}`
  if (shape.kind === "text") {
    out.push("Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "")
    textBody(out, rng, pools, budget)
  } else if (shape.kind === "alternative") {
    out.push(`Content-Type: multipart/alternative; boundary="${boundary}"`, "", "This is a multi-part message in MIME format.", "")
    out.push(`--${boundary}`, "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "")
    textBody(out, rng, pools, Math.floor(budget * 0.35))
    out.push(`--${boundary}`, "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: 8bit", "", "<html><body>")
    fill(out, rng, pools.html, Math.floor(budget * 0.65))
    out.push("</body></html>", `--${boundary}--`, "")
  } else {
    out.push(`Content-Type: multipart/mixed; boundary="${boundary}"`, "", "This is a multi-part message in MIME format.", "")
    out.push(`--${boundary}`, "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "")
    textBody(out, rng, pools, Math.min(6000, Math.floor(budget * 0.15)))
    const name = `${rng.pick(["report", "invoice", "scan", "slides"])}-${rng.int(1, 999)}.pdf`
    out.push(
      `--${boundary}`,
      `Content-Type: application/pdf; name="${name}"`,
      "Content-Transfer-Encoding: base64",
      `Content-Disposition: attachment; filename="${name}"`,
      ""
    )
    fill(out, rng, pools.b64, Math.floor(budget * 0.85))
    out.push(`--${boundary}--`, "")
  }
  let stored = Buffer.from(`${out.join("\n")}\n`, "utf8")
  // keep every message inside 2–100 KiB
  if (stored.length < 2048) {
    while (out.length > 0 && stored.length < 2048) {
      out.push(pools.text.lines[Math.floor(rng.next() * pools.text.lines.length)]!)
      stored = Buffer.from(`${out.join("\n")}\n`, "utf8")
    }
  }
  while (stored.length > 100 * 1024) {
    out.splice(out.length - 3, 1)
    stored = Buffer.from(`${out.join("\n")}\n`, "utf8")
  }
  const wire = Buffer.from(`${out.join("\r\n")}\r\n`, "utf8")
  return { stored, wire, messageId }
}

// ---------------------------------------------------------------------------------------------------------------
// Mailboxes

const password = (seed: number, user: string): string => `pw-${new Rng(`pw/${seed}/${user}`).next().toString(36).slice(2, 12)}`

/** Writes one mailbox; messages are spread over `span` seconds before 2026-10-01, in delivery order. */
const writeMailbox = (
  root: string,
  params: GenParams,
  pools: Pools,
  user: string,
  role: UserEntry["role"],
  count: number,
  spanSeconds: number
): UserEntry => {
  const home = Path.join(root, user)
  for (const d of ["new", "cur", "tmp"]) Fs.mkdirSync(Path.join(home, d), { recursive: true })
  const end = Date.UTC(2026, 9, 1) / 1000
  const start = end - spanSeconds
  const step = spanSeconds / Math.max(1, count)
  const rng = new Rng(`names/${params.seed}/${user}`)
  const messages: Array<MessageEntry> = []
  let octets = 0
  let stored = 0
  const firstNew = Math.floor(count * params.curShare)
  for (let i = 0; i < count; i++) {
    const secs = Math.floor(start + i * step)
    const usec = rng.int(0, 999_999)
    const t = new Date(secs * 1000 + Math.floor(usec / 1000))
    const built = buildMessage(params.seed, pools, user, i, t)
    // Postfix's naming: <secs>.V<dev>I<inode>M<usecs>.<host>; cur/ files carry Dovecot-style ":2,S" (seen)
    const base = `${secs}.V803I${(0x10000 + i).toString(16)}M${usec}.mx.bench.example`
    const file = i < firstNew ? Path.join(home, "cur", `${base}:2,S`) : Path.join(home, "new", base)
    Fs.writeFileSync(file, built.stored)
    Fs.utimesSync(file, t, t)
    const sha = Crypto.createHash("sha256").update(built.wire).digest("hex")
    messages.push([built.messageId, built.stored.length, built.wire.length, sha])
    octets += built.wire.length
    stored += built.stored.length
  }
  return { role, password: password(params.seed, user), count, octets, stored, messages }
}

const sameParams = (a: GenParams, b: GenParams): boolean => JSON.stringify(a) === JSON.stringify(b)

/**
 * Generates `<out>/maildir/…` and `<out>/manifest.json`. If `out` already holds a complete data set made with the
 * same parameters (manifest written last), it is reused as it is.
 */
export const generate = (out: string, params: GenParams, log: (s: string) => void = () => {}): Manifest => {
  const manifestPath = Path.join(out, "manifest.json")
  if (Fs.existsSync(manifestPath)) {
    const old = JSON.parse(Fs.readFileSync(manifestPath, "utf8")) as Manifest
    if (old.version === 1 && sameParams(old.params, params)) {
      log(`data: reusing ${out}`)
      return old
    }
  }
  if (Fs.existsSync(out) && Fs.readdirSync(out).length > 0 && !Fs.existsSync(manifestPath) && !Fs.existsSync(Path.join(out, "maildir"))) {
    throw new Error(`refusing to generate into ${out}: it is not empty and holds no benchmark data`)
  }
  Fs.rmSync(out, { recursive: true, force: true })
  const root = Path.join(out, "maildir")
  Fs.mkdirSync(root, { recursive: true })
  const pools = makePools(params.seed)
  const users: Record<string, UserEntry> = {}
  const t0 = Date.now()
  const countRng = new Rng(`counts/${params.seed}`)
  for (let i = 0; i < params.users; i++) {
    const name = userName(i)
    users[name] = writeMailbox(root, params, pools, name, "session", countRng.int(params.userMessagesMin, params.userMessagesMax), 90 * 86400)
  }
  for (let i = 0; i < params.retrUsers; i++) {
    const name = retrName(i)
    users[name] = writeMailbox(root, params, pools, name, "retr", params.retrMessages, 365 * 86400)
  }
  log(`data: ${params.users} + ${params.retrUsers} mailboxes in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  if (params.big > 0) {
    const t1 = Date.now()
    users[bigUser] = writeMailbox(root, params, pools, bigUser, "big", params.big, 5 * 365 * 86400)
    log(`data: ${bigUser} (${params.big} messages, ${(users[bigUser].stored / 1e6).toFixed(0)} MB) in ${((Date.now() - t1) / 1000).toFixed(1)} s`)
  }
  const manifest: Manifest = { version: 1, params, users }
  Fs.writeFileSync(manifestPath, JSON.stringify(manifest))
  return manifest
}

// ---------------------------------------------------------------------------------------------------------------

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  const get = (name: string): string | undefined => {
    const i = args.indexOf(`--${name}`)
    return i === -1 ? undefined : args[i + 1]
  }
  const out = get("out")
  if (out === undefined) {
    console.error("usage: node bench/generate.ts --out DIR [--seed N] [--users N] [--retr-users N] [--retr-messages N] [--big N]")
    process.exit(64)
  }
  const num = (name: string, d: number) => (get(name) === undefined ? d : Number(get(name)))
  const params: GenParams = {
    ...defaultParams,
    seed: num("seed", defaultParams.seed),
    users: num("users", defaultParams.users),
    retrUsers: num("retr-users", defaultParams.retrUsers),
    retrMessages: num("retr-messages", defaultParams.retrMessages),
    big: num("big", defaultParams.big)
  }
  const m = generate(Path.resolve(out), params, (s) => console.log(s))
  const n = Object.values(m.users).reduce((a, u) => a + u.count, 0)
  const bytes = Object.values(m.users).reduce((a, u) => a + u.stored, 0)
  console.log(`${Object.keys(m.users).length} users, ${n} messages, ${(bytes / 1e6).toFixed(1)} MB stored`)
}
