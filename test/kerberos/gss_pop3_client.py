#!/usr/bin/python3
"""AUTH GSSAPI (RFC 4752) POP3 client over Debian's python3-gssapi, for pop3d's end-to-end tests.

Run it with /usr/bin/python3 (Debian's; a pyenv python3 does not see python3-gssapi). The Kerberos environment
(KRB5_CONFIG, KRB5CCNAME) comes from the caller. It prints one JSON object on stdout describing what happened and
exits 0 when the server answered +OK to the authentication, 1 when it answered -ERR, 2 on a client-side error.

usage: gss_pop3_client.py HOST PORT [--mutual] [--service pop] [--authzid ID] [--layer 1] [--conf] [--stat]
"""
import argparse
import base64
import json
import socket
import sys

import gssapi


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--mutual", action="store_true", help="request mutual authentication (the server sends an AP-REP)")
    p.add_argument("--service", default="pop", help="service name of the target (pop@HOST)")
    p.add_argument("--authzid", default="", help="authorization identity sent in the security-layer reply")
    p.add_argument("--layer", type=int, default=1, help="security layer byte the client selects")
    p.add_argument("--conf", action="store_true", help="seal the security-layer reply (conf_req=True)")
    p.add_argument("--stat", action="store_true", help="send STAT after a successful login")
    a = p.parse_args()
    out = {"mutualRequested": a.mutual, "challenges": 0}

    sock = socket.create_connection((a.host, a.port), timeout=10)
    f = sock.makefile("rb")

    def line() -> str:
        text = f.readline().decode("latin1")
        if not text:
            raise EOFError("connection closed")
        return text.rstrip("\r\n")

    def send(text: str) -> None:
        sock.sendall(text.encode("latin1") + b"\r\n")

    def challenge() -> bytes | None:
        """The next server line: the decoded data of a `+ ` challenge, or None (with out["result"] set)."""
        reply = line()
        if reply.startswith("+ ") or reply == "+":
            out["challenges"] += 1
            return base64.b64decode(reply[2:])
        out["result"] = reply
        return None

    out["greeting"] = line()
    flags = [gssapi.RequirementFlag.integrity]
    if a.mutual:
        flags.append(gssapi.RequirementFlag.mutual_authentication)
    target = gssapi.Name(f"{a.service}@{a.host}", gssapi.NameType.hostbased_service)
    ctx = gssapi.SecurityContext(name=target, usage="initiate", flags=flags)
    token = ctx.step()
    send("AUTH GSSAPI")
    if challenge() is None:
        return finish(out, sock)
    send(base64.b64encode(token).decode())
    data = challenge()
    if data is None:
        return finish(out, sock)
    if not ctx.complete:
        # Mutual authentication: this challenge is the AP-REP; RFC 4752 wants an empty response to it.
        out["apRep"] = True
        ctx.step(data)
        send("")
        data = challenge()
        if data is None:
            return finish(out, sock)
    out["mutualEstablished"] = bool(ctx.actual_flags & gssapi.RequirementFlag.mutual_authentication)
    offer = ctx.unwrap(data)
    out["offer"] = offer.message.hex()
    out["offerSealed"] = offer.encrypted
    reply = bytes([a.layer, 0, 0, 0]) + a.authzid.encode("utf-8")
    send(base64.b64encode(ctx.wrap(reply, a.conf).message).decode())
    reply_line = line()
    out["result"] = reply_line
    if reply_line.startswith("+OK") and a.stat:
        send("STAT")
        out["stat"] = line()
    return finish(out, sock)


def finish(out: dict, sock: socket.socket) -> int:
    try:
        sock.sendall(b"QUIT\r\n")
        sock.close()
    except OSError:
        pass
    print(json.dumps(out))
    return 0 if out.get("result", "").startswith("+OK") else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except gssapi.exceptions.GSSError as e:
        print(json.dumps({"error": f"GSSError: {e}"}))
        sys.exit(2)
    except (OSError, EOFError, ValueError) as e:
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        sys.exit(2)
