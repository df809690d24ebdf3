#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Test key broker speaking the Trustee KBS attestation protocol (RCAR 0.4.0).

A TEST TOOL, NOT A PRODUCT. It is an independent implementation of the KBS
side (standard library + python3-cryptography only) used to exercise
cvmforge-agent: /kbs/v0/auth, /kbs/v0/attest, /kbs/v0/resource/<repo>/<type>/<tag>
(any number of resources, several per attested session, each allowed or
denied on its own), session cookies, sample-evidence verification, a TDX quote REPORTDATA check
(NO signature verification), JWE responses (ECDH-ES+A256KW / A256GCM,
flattened JSON), an allow/deny policy, TLS, and fault modes.

Subcommands:
  serve     run the broker (prints "LISTENING <port>" on stdout when ready)
  make-jwe  print a JWE for a given public JWK and plaintext (test fixtures)
"""

import argparse
import base64
import hashlib
import http.server
import json
import os
import signal
import socket
import ssl
import sys
import threading
import time
import uuid

from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

PROTOCOL_VERSION = "0.4.0"
COOKIE = "kbs-session-id"
ERROR_TYPE = "https://github.com/confidential-containers/kbs/errors/"
KEY_ALG = "ECDH-ES+A256KW"
ENC = "A256GCM"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if "=" in text:
        raise ValueError("padding in base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jcs(value) -> bytes:
    """RFC 8785 for the runtime data (strings and objects only)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def public_key_from_jwk(jwk: dict) -> ec.EllipticCurvePublicKey:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("tee-pubkey must be an EC P-256 JWK")
    if jwk.get("alg") != KEY_ALG:
        raise ValueError("tee-pubkey alg must be " + KEY_ALG)
    x = b64url_decode(jwk["x"])
    y = b64url_decode(jwk["y"])
    if len(x) != 32 or len(y) != 32:
        raise ValueError("tee-pubkey coordinates must be 32 bytes")
    return ec.EllipticCurvePublicNumbers(
        int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()).public_key()


def make_jwe(jwk: dict, plaintext: bytes, tamper: str = "none") -> dict:
    """Flattened JWE, ECDH-ES+A256KW with an ephemeral P-256 key, A256GCM."""
    peer = public_key_from_jwk(jwk)
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    z = ephemeral.exchange(ec.ECDH(), peer)
    alg = KEY_ALG.encode("ascii")
    other_info = (len(alg).to_bytes(4, "big") + alg + (0).to_bytes(4, "big")
                  + (0).to_bytes(4, "big") + (256).to_bytes(4, "big"))
    kek = ConcatKDFHash(algorithm=hashes.SHA256(), length=32, otherinfo=other_info).derive(z)
    cek = os.urandom(32)
    wrapped = keywrap.aes_key_wrap(kek, cek)
    numbers = ephemeral.public_key().public_numbers()
    header = {"alg": KEY_ALG, "enc": ENC,
              "epk": {"crv": "P-256", "kty": "EC",
                      "x": b64url(numbers.x.to_bytes(32, "big")),
                      "y": b64url(numbers.y.to_bytes(32, "big"))}}
    protected = b64url(json.dumps(header, separators=(",", ":")).encode("ascii"))
    iv = os.urandom(12)
    sealed = AESGCM(cek).encrypt(iv, plaintext, protected.encode("ascii"))
    ciphertext, tag = sealed[:-16], sealed[-16:]

    def flip(data: bytes) -> bytes:
        return bytes([data[0] ^ 0x01]) + data[1:]

    if tamper == "ciphertext":
        ciphertext = flip(ciphertext)
    elif tamper == "tag":
        tag = flip(tag)
    elif tamper == "iv":
        iv = flip(iv)
    elif tamper == "encrypted_key":
        wrapped = flip(wrapped)
    elif tamper == "header":
        # Same keys, but the authenticated header bytes change.
        header["kid"] = "tampered"
        protected = b64url(json.dumps(header, separators=(",", ":")).encode("ascii"))
    elif tamper == "alg":
        header["alg"] = "ECDH-ES+A128KW"
        protected = b64url(json.dumps(header, separators=(",", ":")).encode("ascii"))
    elif tamper == "enc":
        header["enc"] = "A128GCM"
        protected = b64url(json.dumps(header, separators=(",", ":")).encode("ascii"))
    elif tamper != "none":
        raise ValueError("unknown tamper mode " + tamper)
    return {"protected": protected, "encrypted_key": b64url(wrapped), "iv": b64url(iv),
            "ciphertext": b64url(ciphertext), "tag": b64url(tag)}


class Problem(Exception):
    def __init__(self, status: int, kind: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail


def check_tdx_quote(quote: bytes, expected: bytes, initial_rtmr3: bool = False) -> None:
    """REPORTDATA check (and optionally RTMR3 == its boot value, 48 zero
    bytes). Signatures are NOT verified."""
    if len(quote) < 636:
        raise Problem(401, "AttestationError", "TDX quote too short (%d bytes)" % len(quote))
    version = int.from_bytes(quote[0:2], "little")
    tee_type = int.from_bytes(quote[4:8], "little")
    if version != 4 or tee_type != 0x81:
        raise Problem(401, "AttestationError",
                      "not a TDX v4 quote (version %d, tee_type %#x)" % (version, tee_type))
    if quote[568:632] != expected.ljust(64, b"\0"):
        raise Problem(401, "AttestationError", "TDX REPORTDATA does not match the runtime data")
    # TD report body at 48: RTMR3 at body offset 472.
    if initial_rtmr3 and quote[520:568] != bytes(48):
        raise Problem(401, "PolicyDeny", "TDX RTMR3 is not its boot value (the TD left the initramfs)")


class Broker:
    def __init__(self, args):
        self.args = args
        self.sessions = {}
        self.lock = threading.Lock()
        # path -> bytes: the primary resource and every --resource PATH=FILE.
        self.resources = {}
        with open(args.resource_file, "rb") as f:
            self.resources[args.resource_path] = f.read()
        for spec in args.resource or []:
            path, _, file_name = spec.partition("=")
            if not path or not file_name:
                raise SystemExit("--resource wants PATH=FILE, got " + spec)
            with open(file_name, "rb") as f:
                self.resources[path] = f.read()
        self.denied = set(args.deny_resource or [])
        self.accept_tee = set(args.accept_tee.split(","))

    def log(self, message: str) -> None:
        print("kbs_broker: " + message, file=sys.stderr, flush=True)

    def new_session(self, tee: str) -> tuple:
        session_id = uuid.uuid4().hex
        nonce = base64.b64encode(os.urandom(32)).decode("ascii")
        with self.lock:
            self.sessions[session_id] = {"tee": tee, "nonce": nonce, "created": time.time(),
                                         "attested": False, "pubkey": None}
        return session_id, nonce

    def session(self, session_id):
        with self.lock:
            s = self.sessions.get(session_id) if session_id else None
        if s is None:
            raise Problem(401, "UnAuthenticated", "no valid kbs-session-id cookie")
        if time.time() - s["created"] > self.args.session_ttl:
            raise Problem(401, "ExpiredCookie", "session expired")
        return s

    def auth(self, body: dict) -> tuple:
        if body.get("version") != PROTOCOL_VERSION:
            raise Problem(401, "ProtocolVersion", "KBS Client Protocol Version Mismatch: "
                          + str(body.get("version")))
        tee = body.get("tee")
        if tee not in self.accept_tee:
            raise Problem(401, "UnsupportedTee", "tee %r not accepted" % (tee,))
        if "extra-params" not in body:
            raise Problem(400, "InvalidRequest", "missing extra-params")
        return self.new_session(tee)

    def attest(self, s: dict, body: dict) -> dict:
        runtime = body.get("runtime-data")
        evidence = body.get("tee-evidence")
        if not isinstance(runtime, dict) or not isinstance(evidence, dict):
            raise Problem(400, "InvalidRequest", "runtime-data and tee-evidence are required")
        pubkey = runtime.get("tee-pubkey")
        try:
            public_key_from_jwk(pubkey)
        except (ValueError, KeyError, TypeError) as e:
            raise Problem(401, "AttestationError", "bad tee-pubkey: %s" % e)
        if set(pubkey.keys()) != {"kty", "crv", "alg", "x", "y"}:
            raise Problem(401, "AttestationError", "tee-pubkey has unexpected members")
        session_nonce = s["nonce"]
        if self.args.fault == "wrong-nonce":
            # Simulates a KBS holding another session's nonce.
            session_nonce = base64.b64encode(os.urandom(32)).decode("ascii")
        if runtime.get("nonce") != session_nonce:
            raise Problem(401, "AttestationError", "nonce does not match the session's challenge")
        additional = evidence.get("additional_evidence", "")
        rebuilt = {"tee-pubkey": pubkey, "nonce": session_nonce, "additional-evidence": additional}
        digest = hashlib.sha384(jcs(rebuilt)).digest()
        primary = evidence.get("primary_evidence")
        if not isinstance(primary, dict):
            raise Problem(400, "InvalidRequest", "primary_evidence must be an object")
        if s["tee"] == "sample":
            if primary.get("svn") != "1" or \
                    primary.get("report_data") != base64.b64encode(digest).decode("ascii"):
                raise Problem(401, "AttestationError", "sample report_data does not match")
        elif s["tee"] == "tdx":
            try:
                quote = base64.b64decode(primary.get("quote", ""), validate=True)
                if primary.get("cc_eventlog") is not None:
                    base64.b64decode(primary["cc_eventlog"], validate=True)
            except (ValueError, TypeError):
                raise Problem(400, "InvalidRequest", "tdx evidence is not base64")
            check_tdx_quote(quote, digest, self.args.require_initial_rtmr3)
            self.log("WARNING: TDX quote signature NOT verified (test broker)")
        else:
            raise Problem(401, "UnsupportedTee", "no verifier for tee %r" % s["tee"])
        if self.args.fault == "deny" or self.args.policy == "deny":
            raise Problem(401, "PolicyDeny", "attestation policy denied the evidence")
        s["attested"] = True
        s["pubkey"] = pubkey
        return {"token": "test-broker-token." + uuid.uuid4().hex}

    def resource_jwe(self, s: dict, path: str) -> dict:
        if not s["attested"]:
            raise Problem(401, "UnAuthenticated", "session is not attested")
        if path not in self.resources:
            raise Problem(404, "ResourceNotFound", "no resource at " + path)
        if self.args.fault == "deny-resource" or path in self.denied:
            raise Problem(401, "PolicyDeny", "resource policy denied " + path)
        tamper = "tag" if self.args.fault == "tampered-jwe" else "none"
        self.log("releasing " + path)
        return make_jwe(s["pubkey"], self.resources[path], tamper)


def make_handler(broker: Broker):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "cvmforge-test-kbs/1"

        def log_message(self, fmt, *args):  # noqa: N802 (stdlib API)
            broker.log("%s %s" % (self.address_string(), fmt % args))

        def cookie(self):
            header = self.headers.get("Cookie", "")
            for part in header.split(";"):
                name, _, value = part.strip().partition("=")
                if name == COOKIE:
                    return value
            return None

        def send_json(self, status, payload, content_type="application/json", cookie=None):
            data = json.dumps(payload).encode("utf-8")
            if broker.args.fault == "slow":
                time.sleep(broker.args.slow_seconds)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            if cookie:
                self.send_header("Set-Cookie", "%s=%s; Path=/; HttpOnly" % (COOKIE, cookie))
            self.end_headers()
            self.wfile.write(data)

        def send_problem(self, p: Problem):
            broker.log("problem %d %s: %s" % (p.status, p.kind, p.detail))
            self.send_json(p.status, {"type": ERROR_TYPE + p.kind, "detail": p.detail},
                           content_type="application/problem+json")

        def read_json(self):
            length = int(self.headers.get("Content-Length", "0"))
            if length > 4 * 1024 * 1024:
                raise Problem(413, "InvalidRequest", "request too large")
            try:
                body = json.loads(self.rfile.read(length))
            except ValueError:
                raise Problem(400, "InvalidRequest", "body is not JSON")
            if not isinstance(body, dict):
                raise Problem(400, "InvalidRequest", "body is not a JSON object")
            return body

        def do_POST(self):  # noqa: N802
            try:
                if self.path == "/kbs/v0/auth":
                    session_id, nonce = broker.auth(self.read_json())
                    self.send_json(200, {"nonce": nonce, "extra-params": ""}, cookie=session_id)
                elif self.path == "/kbs/v0/attest":
                    session_id = self.cookie()
                    s = broker.session(session_id)
                    token = broker.attest(s, self.read_json())
                    self.send_json(200, token, cookie=session_id)
                else:
                    raise Problem(404, "InvalidRequest", "no such endpoint")
            except Problem as p:
                self.send_problem(p)

        def do_GET(self):  # noqa: N802
            try:
                prefix = "/kbs/v0/resource/"
                if not self.path.startswith(prefix):
                    raise Problem(404, "InvalidRequest", "no such endpoint")
                s = broker.session(self.cookie())
                jwe = broker.resource_jwe(s, self.path[len(prefix):])
                self.send_json(200, jwe)
            except Problem as p:
                self.send_problem(p)

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    refuse = False

    def verify_request(self, request, client_address):
        # Fault "refuse": accept the TCP connection, then drop it unanswered.
        return not self.refuse


def serve(args) -> int:
    broker = Broker(args)
    server = Server((args.host, args.port), make_handler(broker))
    server.refuse = args.fault == "refuse"
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    broker.log("test broker (NOT a product): TDX quote signatures are NOT verified; "
               "fault=%s policy=%s tls=%s" % (args.fault, args.policy, bool(args.tls_cert)))

    def stop(_signum, _frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("LISTENING %d" % port, flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
    broker.log("stopped")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the broker on 127.0.0.1")
    s.add_argument("--port", type=int, default=0, help="0 = ephemeral (default)")
    s.add_argument("--host", default="127.0.0.1", help="a loopback address (127.x.y.z)")
    s.add_argument("--resource-file", required=True)
    s.add_argument("--resource-path", default="cvmforge/test/luks")
    s.add_argument("--resource", action="append", metavar="PATH=FILE",
                   help="a further resource (repeatable); one attested session may GET each")
    s.add_argument("--deny-resource", action="append", metavar="PATH",
                   help="the resource policy refuses PATH (repeatable)")
    s.add_argument("--tls-cert")
    s.add_argument("--tls-key")
    s.add_argument("--policy", choices=["allow", "deny"], default="allow")
    s.add_argument("--accept-tee", default="sample,tdx")
    s.add_argument("--require-initial-rtmr3", action="store_true",
                   help="deny TDX quotes whose RTMR3 is not 48 zero bytes (as a policy pinning it would)")
    s.add_argument("--session-ttl", type=float, default=300.0)
    s.add_argument("--fault", default="none",
                   choices=["none", "deny", "deny-resource", "tampered-jwe", "wrong-nonce",
                            "slow", "refuse"])
    s.add_argument("--slow-seconds", type=float, default=30.0)

    j = sub.add_parser("make-jwe", help="print a JWE for a public JWK")
    j.add_argument("--jwk", required=True, help="public JWK (JSON)")
    j.add_argument("--plaintext-hex", required=True)
    j.add_argument("--tamper", default="none",
                   choices=["none", "ciphertext", "tag", "iv", "encrypted_key", "header",
                            "alg", "enc"])

    args = parser.parse_args(argv)
    if args.command == "serve":
        if not args.host.startswith("127."):
            parser.error("--host must be a loopback address")
        if bool(args.tls_cert) != bool(args.tls_key):
            parser.error("--tls-cert and --tls-key go together")
        return serve(args)
    jwe = make_jwe(json.loads(args.jwk), bytes.fromhex(args.plaintext_hex), args.tamper)
    print(json.dumps(jwe))
    return 0


if __name__ == "__main__":
    sys.exit(main())
