/**
 * `@pop3d/mailbox`: the mailbox store seam and its stores. Re-exports each
 * module as a namespace (`Mailbox.Mailbox`, `Mailbox.layerMemory`,
 * `Maildir.layer`, ...); nothing here has behaviour of its own.
 */

/** The `Mailbox` service, its error and snapshot types, and the in-memory store. */
export * as Mailbox from "./Mailbox.ts"

/** The Maildir store (`make`, `layer`). */
export * as Maildir from "./Maildir.ts"

/** The per-mailbox UID list codec used by the Maildir store. */
export * as UidList from "./UidList.ts"

/** The lock file that serialises UID-list updates between processes. */
export * as LockFile from "./LockFile.ts"

/** Quota limits, usage and the decisions every store shares (what fits, when to warn). */
export * as Quota from "./Quota.ts"

/** Retention cutoffs: which messages an expiry run removes. */
export * as Retention from "./Retention.ts"

/** Maildir++'s `maildirsize` quota file: codec, recalculation, appends. */
export * as Maildirsize from "./Maildirsize.ts"
