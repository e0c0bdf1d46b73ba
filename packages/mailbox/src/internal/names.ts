/**
 * How a Maildir's paths and file names read, without touching the disk: the per-user paths, the base name and info
 * (flags) of a message file, the sizes and delivery time written into names. Plain functions with no Effect, so
 * that the measuring worker (`measureWorker.ts`) loads little; `layout.ts` re-exports all of it.
 */
import * as Path from "node:path"

/** The name of the per-mailbox lock file guarding the UID list. */
export const lockFileName = "pop3d-uidlist.lock"

/** One mailbox's directories and lock file. */
export interface Paths {
  readonly home: string
  readonly new: string
  readonly cur: string
  readonly tmp: string
  readonly lock: string
}

/** The paths of `user`'s Maildir under `root` (the name must have been validated). */
export const pathsOf = (root: string, user: string): Paths => {
  const home = Path.join(root, user)
  return {
    home,
    new: Path.join(home, "new"),
    cur: Path.join(home, "cur"),
    tmp: Path.join(home, "tmp"),
    lock: Path.join(home, lockFileName)
  }
}

/** A message file as found on disk. */
export interface Found {
  readonly dir: "new" | "cur"
  readonly name: string
  readonly base: string
}

/** A message's storage size and exact RFC 822 size. */
export interface Sizes {
  readonly storageSize: number
  readonly wireSize: number
}

/** The Maildir base name: the file name before the `:` that starts the info (flags). */
export const baseName = (name: string): string => {
  const colon = name.indexOf(":")
  return colon === -1 ? name : name.slice(0, colon)
}

/** Sizes written into a name in Dovecot's style (`,S=<storage>,W=<wire>`), trusted only if S matches the file. */
export const sizesFromName = (base: string, storageSize: number): Sizes | undefined => {
  const s = /,S=(\d+)/.exec(base)
  const w = /,W=(\d+)/.exec(base)
  return s && w && Number(s[1]) === storageSize ? { storageSize, wireSize: Number(w[1]) } : undefined
}

/** True when a base name carries both sizes in Dovecot's style (still to be checked against the file). */
export const namesSizes = (base: string): boolean => base.includes(",S=") && base.includes(",W=")

/**
 * When a standard Maildir name says its message was delivered, in ms since the epoch: the name starts with the
 * delivery second (ten digits and a dot), and its unique part may add the microsecond (`M<usecs>`, as Dovecot,
 * Postfix's and pop3d's own names do). `undefined` for other names, which are placed by their file's mtime instead.
 * Dovecot orders new files by the same name time.
 */
export const deliveredFromName = (name: string): number | undefined => {
  // By hand rather than by regular expressions: a first open reads the names of 100,000 files.
  if (name.length < 11 || name.charCodeAt(10) !== 46) return undefined
  let secs = 0
  for (let i = 0; i < 10; i++) {
    const digit = digitAt(name, i)
    if (digit < 0) return undefined
    secs = secs * 10 + digit
  }
  // The unique part ends at the next dot, or at the info (`:2,<flags>`) of a name with no host part.
  const dot = name.indexOf(".", 11)
  const colon = name.indexOf(":", 11)
  const end = Math.min(dot === -1 ? name.length : dot, colon === -1 ? name.length : colon)
  // The first `M` of the unique part followed by one to six digits, and no seventh.
  for (let m = name.indexOf("M", 11); m !== -1 && m < end; m = name.indexOf("M", m + 1)) {
    let usecs = 0
    let at = m + 1
    while (at < end && at - m <= 7 && digitAt(name, at) >= 0) usecs = usecs * 10 + digitAt(name, at++)
    const digits = at - m - 1
    if (digits >= 1 && digits <= 6 && !(at < end && digitAt(name, at) >= 0)) return secs * 1000 + usecs / 1000
  }
  return secs * 1000
}

/** The decimal digit at `index`, or -1. */
const digitAt = (text: string, index: number): number => {
  const digit = text.charCodeAt(index) - 48
  return digit >= 0 && digit <= 9 ? digit : -1
}

/** The size Maildir++ quota counts for a file: the `,S=<n>` in its base name, else its size on disk. */
export const quotaSize = (name: string, statSize: number): number => {
  const s = /,S=(\d+)/.exec(baseName(name))
  return s === null ? statSize : Number(s[1])
}

/** The flags of a name with standard info (`<base>:2,<flags>`); `""` without info. */
export const flagsOf = (name: string): string => {
  const info = name.indexOf(":2,")
  return info === -1 ? "" : name.slice(info + 3)
}

/**
 * The name with `flag` added to its info, flags kept in ASCII order as the Maildir convention asks; the same name
 * if it has the flag already; `undefined` for a name with an info other than `2,` (not ours to touch).
 */
export const withFlag = (name: string, flag: string): string | undefined => {
  const colon = name.indexOf(":")
  if (colon === -1) return `${name}:2,${flag}`
  if (name.slice(colon, colon + 3) !== ":2,") return undefined
  const flags = name.slice(colon + 3)
  if (flags.includes(flag)) return name
  return `${name.slice(0, colon)}:2,${[...flags, flag].sort().join("")}`
}

/** The name a file moved from new/ to cur/ gets: `:2,` added unless it has an info already. */
export const curName = (name: string): string => (name.includes(":") ? name : `${name}:2,`)

/** The path of a found message file (joined by hand: `Path.join` normalises, microseconds a call, once per message). */
export const filePath = (p: Paths, f: Found): string => `${f.dir === "new" ? p.new : p.cur}/${f.name}`
