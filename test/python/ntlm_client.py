#!/usr/bin/python3
"""AUTH NTLM as Windows does it (NTLMv2 with MIC and KEY_EXCH), with Debian's python3-ntlm-auth.

Run with /usr/bin/python3 (Debian's, which sees python3-ntlm-auth) and OPENSSL_CONF pointing at
openssl-legacy.cnf (python3-ntlm-auth needs MD4 and RC4 from OpenSSL's legacy provider). Prints one JSON
object: the server's replies, whether a MIC was sent, the AUTHENTICATE flags, and STAT after login.
Usage: ntlm_client.py HOST PORT USER PASSWORD [--domain D] [--initial-response] [--replay-into-new-session]
"""
import argparse
import base64
import json
import socket
import struct
import sys

from ntlm_auth.ntlm import NtlmContext


class Lines:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def read(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin1")

    def send(self, line):
        self.sock.sendall(line.encode("latin1") + b"\r\n")


def connect(host, port):
    sock = socket.create_connection((host, port), timeout=10)
    lines = Lines(sock)
    greeting = lines.read()
    return sock, lines, greeting


def login(lines, context, initial_response):
    """Runs the exchange; returns (replies, authenticate bytes)."""
    replies = []
    negotiate = base64.b64encode(context.step()).decode()
    if initial_response:
        lines.send("AUTH NTLM " + negotiate)
    else:
        lines.send("AUTH NTLM")
        reply = lines.read()
        replies.append(reply)
        if reply != "+ ":
            return replies, None
        lines.send(negotiate)
    reply = lines.read()
    replies.append(reply)
    if not reply.startswith("+ "):
        return replies, None
    authenticate = context.step(base64.b64decode(reply[2:]))
    lines.send(base64.b64encode(authenticate).decode())
    replies.append(lines.read())
    return replies, authenticate


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("user")
    parser.add_argument("password")
    parser.add_argument("--domain", default="")
    parser.add_argument("--initial-response", action="store_true")
    parser.add_argument("--replay-into-new-session", action="store_true")
    args = parser.parse_args()

    out = {}
    sock, lines, out["greeting"] = connect(args.host, args.port)
    context = NtlmContext(args.user, args.password, domain=args.domain, workstation="PYCLIENT", ntlm_compatibility=3)
    out["replies"], authenticate = login(lines, context, args.initial_response)
    if authenticate is not None:
        message = context._authenticate_message
        out["mic"] = message.mic is not None and message.mic != b"\0" * 16
        out["flags"] = struct.unpack("<I", message.negotiate_flags)[0]
        out["nt_response_length"] = len(message.nt_challenge_response)
    if out["replies"] and out["replies"][-1].startswith("+OK"):
        lines.send("STAT")
        out["stat"] = lines.read()
    lines.send("QUIT")
    out["quit"] = lines.read()
    sock.close()

    if args.replay_into_new_session and authenticate is not None:
        # A new connection, a new NEGOTIATE (hence a new server challenge), then the old AUTHENTICATE.
        sock, lines, _ = connect(args.host, args.port)
        fresh = NtlmContext(args.user, args.password, domain=args.domain, workstation="PYCLIENT", ntlm_compatibility=3)
        lines.send("AUTH NTLM")
        replay = [lines.read()]
        lines.send(base64.b64encode(fresh.step()).decode())
        replay.append(lines.read())
        lines.send(base64.b64encode(authenticate).decode())
        replay.append(lines.read())
        out["replay"] = replay
        lines.send("QUIT")
        lines.read()
        sock.close()

    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
