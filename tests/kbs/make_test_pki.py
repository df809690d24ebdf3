#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Create a throw-away PKI for the test key broker in a directory (test time only).

Writes ca.pem, server.pem, server.key (SAN DNS localhost and IP 127.0.0.1, plus
any --san-ip, signed by ca.pem), expired.pem (the same key and names, valid 2001-2002 only)
and other-ca.pem (an unrelated CA, for wrong-CA tests). Never commit the output.
"""

import argparse
import datetime
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

UTC = datetime.timezone.utc


def name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name, now):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(name(common_name)).issuer_name(name(common_name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_server_cert(key, ca_key, ca_cert, not_before, not_after, ips):
    return (x509.CertificateBuilder()
            .subject_name(name("localhost")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost")] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256()))


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--san-ip", action="append", default=[],
                        help="another IP address for the server certificate (repeatable), "
                             "e.g. the address a QEMU guest reaches the broker at")
    args = parser.parse_args(argv)
    ips = ["127.0.0.1"] + args.san_ip
    now = datetime.datetime.now(UTC)
    ca_key, ca_cert = make_ca("cvmforge test KBS CA", now)
    _, other_cert = make_ca("unrelated test CA", now)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = make_server_cert(key, ca_key, ca_cert, now - datetime.timedelta(days=1),
                            now + datetime.timedelta(days=30), ips)
    expired = make_server_cert(key, ca_key, ca_cert, datetime.datetime(2001, 1, 1, tzinfo=UTC),
                               datetime.datetime(2002, 1, 1, tzinfo=UTC), ips)
    os.makedirs(args.dir, exist_ok=True)
    for file_name, certificate in (("ca.pem", ca_cert), ("other-ca.pem", other_cert),
                                   ("server.pem", cert), ("expired.pem", expired)):
        with open(os.path.join(args.dir, file_name), "wb") as f:
            f.write(pem(certificate))
    fd = os.open(os.path.join(args.dir, "server.key"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
