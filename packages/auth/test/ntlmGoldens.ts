/**
 * Recorded NTLM exchanges from real clients, kept as golden inputs. Source:
 * ../shared/notes/auth.md section 1.5 (curl 7.88.1 against the NTLM
 * proof-of-concept on this machine, 2026-11-27): `curl --login-options
 * AUTH=NTLM -u 'user1:Secret123!'`. The server's TargetInfo names were EXAMPLE,
 * POPSRV, example.test and popsrv.example.test; its challenge d4723a7adbc971c0.
 */
const b64 = (text: string) => new Uint8Array(Buffer.from(text, "base64"))

/** curl's exchange: its NEGOTIATE, the server's CHALLENGE, curl's AUTHENTICATE, and what the server knew. */
export const curl = {
  user: "user1",
  password: "Secret123!",
  serverChallenge: new Uint8Array(Buffer.from("d4723a7adbc971c0", "hex")),
  /** When the server checked it: within the blob's timestamp (2026-11-27T08:47:01Z). */
  checkedAtMillis: Date.UTC(2026, 10, 27, 8, 47, 1),
  negotiate: b64("TlRMTVNTUAABAAAABoIIAAAAAAAAAAAAAAAAAAAAAAA="),
  challenge: b64(
    "TlRMTVNTUAACAAAABwAHADgAAAAGgokC1HI6etvJccAAAAAAAAAAAHgAeAA/AAAACgB8TwAAAA9FWEFNUExFAgAOAEUAWABBAE0AUABMAEUAAQAMAFAATwBQAFMAUgBWAAQAGABlAHgAYQBtAHAAbABlAC4AdABlAHMAdAADACYAcABvAHAAcwByAHYALgBlAHgAYQBtAHAAbABlAC4AdABlAHMAdAAHAAgA8CXB3kt+3QEAAAAA"
  ),
  authenticate: b64(
    "TlRMTVNTUAADAAAAGAAYAEAAAACoAKgAWAAAAAAAAAAAAQAABQAFAAABAAALAAsABQEAAAAAAAAAAAAABoKJAnxV3ufg6BSuB6o7w+LZdIDHcEA3RpmsXa77TTyus5MtSS96HZcF/wsBAQAAAAAAAIAwaN5Lft0Bx3BAN0aZrF0AAAAAAgAOAEUAWABBAE0AUABMAEUAAQAMAFAATwBQAFMAUgBWAAQAGABlAHgAYQBtAHAAbABlAC4AdABlAHMAdAADACYAcABvAHAAcwByAHYALgBlAHgAYQBtAHAAbABlAC4AdABlAHMAdAAHAAgA8CXB3kt+3QEAAAAAAAAAAHVzZXIxV09SS1NUQVRJT04="
  ),
  /** The options that server ran with (its domain is EXAMPLE). */
  options: {
    netbiosDomain: "EXAMPLE",
    netbiosComputer: "POPSRV",
    dnsDomain: "example.test",
    dnsComputer: "popsrv.example.test"
  }
} as const
