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
  const stamp = /^(\d{10})\.([^.]*)/.exec(name)
  if (stamp === null) return undefined
  const usecs = /M(\d{1,6})(?!\d)/.exec(stamp[2]!)
  return Number(stamp[1]) * 1000 + (usecs === null ? 0 : Number(usecs[1]) / 1000)
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
