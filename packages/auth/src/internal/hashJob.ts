/** What the event loop asks a hashing thread (`hashThread.ts`) to compute. */
import type { Input } from "./shaCryptCore.ts"

export type Job =
  /** The SHA-crypt digest (86 or 43 characters) of `password` octets. */
  | { readonly kind: "sha-crypt"; readonly password: Uint8Array; readonly setting: Input }
  /** The 31-character bcrypt digest of `password` under a `$2x$NN$salt` setting. */
  | { readonly kind: "bcrypt"; readonly password: string; readonly setting: string }
