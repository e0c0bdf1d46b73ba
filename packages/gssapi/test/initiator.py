#!/usr/bin/python3
"""A GSS-API initiator driven line by line, for the addon smoke test (run with Debian's /usr/bin/python3).

usage: initiator.py SERVICE@HOST [mutual]
Prints {"token", "complete"} for the first token, then answers one JSON line per command read on stdin:
  step B64          → {"token", "complete", "mutual"}
  unwrap B64        → {"data", "conf"}
  wrap 0|1 B64      → {"token", "conf"}      (1 = seal)
Errors come back as {"error": text}. Kerberos settings (KRB5_CONFIG, KRB5CCNAME) come from the environment.
"""
import base64
import json
import sys

import gssapi


def b64(data: bytes) -> str:
    return base64.b64encode(data or b"").decode()


def reply(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


flags = [gssapi.RequirementFlag.integrity, gssapi.RequirementFlag.confidentiality]
if "mutual" in sys.argv[2:]:
    flags.append(gssapi.RequirementFlag.mutual_authentication)
target = gssapi.Name(sys.argv[1], gssapi.NameType.hostbased_service)
try:
    ctx = gssapi.SecurityContext(name=target, usage="initiate", flags=flags)
    reply({"token": b64(ctx.step()), "complete": ctx.complete})
except gssapi.exceptions.GSSError as e:
    reply({"error": str(e)})
    sys.exit(1)

for line in sys.stdin:
    words = line.split()
    try:
        if words[0] == "step":
            token = ctx.step(base64.b64decode(words[1]))
            mutual = bool(ctx.actual_flags & gssapi.RequirementFlag.mutual_authentication)
            reply({"token": b64(token), "complete": ctx.complete, "mutual": mutual})
        elif words[0] == "unwrap":
            r = ctx.unwrap(base64.b64decode(words[1]))
            reply({"data": b64(r.message), "conf": r.encrypted})
        elif words[0] == "wrap":
            r = ctx.wrap(base64.b64decode(words[2]) if len(words) > 2 else b"", words[1] == "1")
            reply({"token": b64(r.message), "conf": r.encrypted})
        else:
            reply({"error": f"unknown command {words[0]}"})
    except gssapi.exceptions.GSSError as e:
        reply({"error": str(e)})
