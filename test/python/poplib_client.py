#!/usr/bin/env python3
"""Drives pop3d with Python's standard poplib and prints the results as one JSON object.

Usage: poplib_client.py '<json config>'

config = {
  "host": "127.0.0.1", "port": 1110,
  "mode": "ssl" | "stls" | "plain",       # POP3_SSL, POP3 + stls(), or plain POP3
  "cafile": "/path/cert.pem" | null,       # verify the server against this CA; null: CERT_NONE
  "user": "...", "password": "...",
  "auth": "userpass" | "none",
  "actions": [["stat"], ["list"], ["list", 1], ["uidl"], ["uidl", 1], ["retr", 1], ["top", 1, 0],
              ["dele", 1], ["rset"], ["noop"], ["capa"], ["quit"]]
}

Every action's result goes into "results" in order: {"action": [...], "ok": true, "value": ...} or
{"action": [...], "ok": false, "error": "..."}. Bytes are decoded latin-1. Standard library only.
"""
import json
import poplib
import ssl
import sys


def make_context(cafile):
    if cafile:
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def text(b):
    return b.decode("latin-1") if isinstance(b, (bytes, bytearray)) else b


def run(cfg):
    out = {"results": []}
    timeout = cfg.get("timeout", 15)
    mode = cfg.get("mode", "ssl")
    ctx = make_context(cfg.get("cafile"))
    host = cfg.get("host", "127.0.0.1")
    if mode == "ssl":
        # server_hostname defaults to host; the self-signed cert carries SAN IP 127.0.0.1 and DNS localhost.
        client = poplib.POP3_SSL(host, cfg["port"], timeout=timeout, context=ctx)
    else:
        client = poplib.POP3(host, cfg["port"], timeout=timeout)
    out["welcome"] = text(client.getwelcome())
    if mode == "stls":
        out["capa_before_stls"] = {k: v for k, v in client.capa().items()}
        out["stls"] = text(client.stls(context=ctx))
        out["capa_after_stls"] = {k: v for k, v in client.capa().items()}
    if mode in ("ssl", "stls"):
        sock = client.sock
        out["tls_version"] = sock.version() if hasattr(sock, "version") else None
        out["verified"] = ctx.verify_mode == ssl.CERT_REQUIRED
    if cfg.get("auth", "userpass") == "userpass":
        out["user"] = text(client.user(cfg["user"]))
        out["pass"] = text(client.pass_(cfg["password"]))
    for action in cfg.get("actions", []):
        name, args = action[0], action[1:]
        try:
            if name == "stat":
                value = list(client.stat())
            elif name in ("list", "uidl"):
                r = getattr(client, name)(*args)
                if isinstance(r, tuple):
                    value = {"status": text(r[0]), "lines": [text(x) for x in r[1]]}
                else:
                    value = {"status": text(r)}
            elif name in ("retr", "top"):
                r = getattr(client, name)(*args)
                value = {"status": text(r[0]), "lines": [text(x) for x in r[1]], "octets": r[2]}
            elif name == "capa":
                value = client.capa()
            elif name == "quit":
                value = text(client.quit())
            else:
                value = text(getattr(client, name)(*args))
            out["results"].append({"action": action, "ok": True, "value": value})
        except poplib.error_proto as e:
            out["results"].append({"action": action, "ok": False, "error": text(e.args[0]) if e.args else str(e)})
    return out


def main():
    cfg = json.loads(sys.argv[1])
    try:
        out = run(cfg)
    except Exception as e:  # reported to the test as data, not a traceback
        detail = e.args[0] if len(e.args) == 1 else str(e)
        out = {"exception": type(e).__name__, "message": text(detail) if isinstance(detail, (bytes, str)) else str(e)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
