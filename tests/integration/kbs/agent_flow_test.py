#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Integration tests: cvmforge-agent(-test) against the Python test broker.

One case per invocation (ctest runs each as its own test). Exit 0 = pass,
1 = fail, 77 = skipped (with the reason on stdout).

Each case starts tests/kbs/kbs_broker.py on 127.0.0.1 (ephemeral port; HTTPS
with a throw-away PKI made by tests/kbs/make_test_pki.py in a temp dir), runs
the agent with --key-stdout into a pipe and checks the key, or - for negative
cases - a non-zero exit, empty stdout, one "error:" line naming the reason,
and that no form of the key appears in any output.
"""

import argparse
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    def __init__(self, script, workdir, key_file, tls, extra, cert="server.pem"):
        cmd = [sys.executable, script, "serve", "--resource-file", key_file] + extra
        if tls:
            cmd += ["--tls-cert", os.path.join(workdir, "pki", cert),
                    "--tls-key", os.path.join(workdir, "pki", "server.key")]
        self.log_path = os.path.join(workdir, "broker-%d.log" % time.monotonic_ns())
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            self.stop()
            raise Failure("broker did not start: %r\n%s" % (line, self.read_log()))
        self.port = int(line.split()[1])

    def read_log(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise Failure("broker did not exit on SIGTERM")
            if rc != 0:
                raise Failure("broker exited with %d on SIGTERM" % rc)
        self.log.close()


class Context:
    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.key = os.urandom(64)
        self.key_file = os.path.join(workdir, "key.bin")
        with open(self.key_file, "wb") as f:
            f.write(self.key)
        subprocess.run([sys.executable, args.pki_helper, "--dir", os.path.join(workdir, "pki")],
                       check=True)
        self.ca = os.path.join(workdir, "pki", "ca.pem")
        self.other_ca = os.path.join(workdir, "pki", "other-ca.pem")
        self.brokers = []
        self.fakes = []

    def broker(self, tls=True, extra=(), cert="server.pem"):
        b = Broker(self.args.broker, self.workdir, self.key_file, tls, list(extra), cert)
        self.brokers.append(b)
        return b

    def config(self, urls, ca=None, tee="sample", retries=2, io_ms=5000, **extra):
        cfg = {"kbs_urls": urls, "resource": "cvmforge/test/luks", "tee": tee,
               "timeouts": {"connect_ms": 2000, "io_ms": io_ms},
               "retries": {"attempts": retries, "initial_backoff_ms": 100, "max_backoff_ms": 200}}
        if ca:
            cfg["ca_cert"] = ca
        cfg.update(extra)
        path = os.path.join(self.workdir, "agent-%d.json" % time.monotonic_ns())
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def run_agent(self, config, agent=None, extra_args=(), prefix=()):
        cmd = list(prefix) + [agent or self.args.agent, "--config", config, "--key-stdout"]
        cmd += list(extra_args)
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")

    def no_key_leak(self, *outputs):
        forms = [self.key, self.key.hex().encode(), self.key.hex().upper().encode(),
                 base64.b64encode(self.key), base64.urlsafe_b64encode(self.key).rstrip(b"=")]
        for out in outputs:
            data = out.encode() if isinstance(out, str) else out
            for form in forms:
                if form in data:
                    raise Failure("key material appears in the agent's output")
            # No 8-byte window of the key either.
            for i in range(0, len(self.key) - 8):
                if self.key[i:i + 8] in data:
                    raise Failure("part of the key appears in the agent's output")

    def expect_key(self, rc, out, err):
        if rc != 0:
            raise Failure("agent failed (rc %d):\n%s" % (rc, err))
        if out != self.key:
            raise Failure("agent wrote %d bytes that are not the key" % len(out))
        self.no_key_leak(err)

    def expect_failure(self, rc, out, err, reason, rc_expected=1):
        if rc != rc_expected:
            raise Failure("expected exit %d, got %d:\n%s" % (rc_expected, rc, err))
        if out:
            raise Failure("agent wrote %d bytes to stdout on failure" % len(out))
        lines = [l for l in err.splitlines() if l]
        errors = [l for l in lines if l.startswith("cvmforge-agent: error: ")]
        if len(errors) != 1 or lines[-1] != errors[0]:
            raise Failure("expected exactly one final error line, got:\n%s" % err)
        if reason not in errors[0]:
            raise Failure("error line lacks %r:\n%s" % (reason, errors[0]))
        self.no_key_leak(err)
        print("ok: " + errors[0])

    def expect_broker_failure(self, broker_args, reason):
        """The test agent fails with `reason` against a TLS broker run with `broker_args`."""
        b = self.broker(extra=broker_args)
        self.expect_failure(*self.run_agent(self.config(["https://127.0.0.1:%d" % b.port], ca=self.ca)),
                            reason=reason)

    def cleanup(self):
        for f in self.fakes:
            f.stop()
        self.fakes = []
        for b in self.brokers:
            b.stop()
        self.brokers = []


# --- cases -----------------------------------------------------------------

def case_http_sample_ok(c):
    b = c.broker(tls=False)
    c.expect_key(*c.run_agent(c.config(["http://127.0.0.1:%d" % b.port])))


def case_https_sample_ok(c):
    b = c.broker()
    c.expect_key(*c.run_agent(c.config(["https://127.0.0.1:%d" % b.port], ca=c.ca)))
    log = b.read_log()
    for step in ("POST /kbs/v0/auth", "POST /kbs/v0/attest", "GET /kbs/v0/resource/cvmforge/test/luks"):
        if step not in log:
            raise Failure("broker did not see %s" % step)


def case_https_hostname_ok(c):
    b = c.broker()
    c.expect_key(*c.run_agent(c.config(["https://localhost:%d" % b.port], ca=c.ca)))


def case_expired_cert_accepted_clock_untrusted(c):
    # The host controls the TD's clock, so validity periods are not checked;
    # the pinned CA and the host name still are.
    b = c.broker(cert="expired.pem")
    c.expect_key(*c.run_agent(c.config(["https://127.0.0.1:%d" % b.port], ca=c.ca)))


def case_hostname_mismatch(c):
    b = c.broker(extra=["--host", "127.0.0.2"])
    # The certificate names localhost and 127.0.0.1, not 127.0.0.2.
    c.expect_failure(*c.run_agent(c.config(["https://127.0.0.2:%d" % b.port], ca=c.ca)),
                     reason="TLS server certificate not trusted")


def case_second_url_after_dead_first(c):
    b = c.broker()
    dead = free_port()
    c.expect_key(*c.run_agent(c.config(["https://127.0.0.1:%d" % dead,
                                        "https://127.0.0.1:%d" % b.port], ca=c.ca)))


def case_deny(c):
    c.expect_broker_failure(["--fault", "deny"], "HTTP 401 PolicyDeny")


def case_deny_resource(c):
    c.expect_broker_failure(["--fault", "deny-resource"], "KBS resource cvmforge/test/luks: HTTP 401 PolicyDeny")


def case_unknown_resource(c):
    c.expect_broker_failure(["--resource-path", "cvmforge/other/luks"], "HTTP 404 ResourceNotFound")


def case_tampered_jwe(c):
    c.expect_broker_failure(["--fault", "tampered-jwe"], "resource JWE rejected: AES-GCM authentication failed")


def case_wrong_nonce(c):
    c.expect_broker_failure(["--fault", "wrong-nonce"], "nonce does not match")


def case_wrong_ca(c):
    b = c.broker()
    c.expect_failure(*c.run_agent(c.config(["https://127.0.0.1:%d" % b.port], ca=c.other_ca)),
                     reason="TLS server certificate not trusted")
    # TLS fails before any HTTP request, so no evidence ever left the agent.
    if "/kbs/v0/" in b.read_log():
        raise Failure("the broker saw a request although the CA was wrong")


def case_broker_down(c):
    port = free_port()
    c.expect_failure(*c.run_agent(c.config(["https://127.0.0.1:%d" % port], ca=c.ca)),
                     reason="could not connect (refused or unreachable)")


def case_broker_refuses(c):
    b = c.broker(extra=["--fault", "refuse"])
    c.expect_failure(*c.run_agent(c.config(["https://127.0.0.1:%d" % b.port], ca=c.ca)),
                     reason="https://127.0.0.1:%d/kbs/v0/auth" % b.port)


def case_slow_broker_times_out(c):
    b = c.broker(extra=["--fault", "slow", "--slow-seconds", "5"])
    start = time.monotonic()
    c.expect_failure(*c.run_agent(c.config(["https://127.0.0.1:%d" % b.port], ca=c.ca,
                                           retries=1, io_ms=1000)),
                     reason="no response (read failed or timed out)")
    if time.monotonic() - start > 4.5:
        raise Failure("the read timeout did not cut the slow request short")


def case_production_refuses_sample(c):
    b = c.broker()
    c.expect_failure(*c.run_agent(c.config(["https://127.0.0.1:%d" % b.port], ca=c.ca),
                                  agent=c.args.production_agent),
                     reason="tee 'sample' is not available in the production agent", rc_expected=2)


def case_production_refuses_http(c):
    b = c.broker(tls=False)
    c.expect_failure(*c.run_agent(c.config(["http://127.0.0.1:%d" % b.port], tee="tdx"),
                                  agent=c.args.production_agent),
                     reason="plain http is not allowed", rc_expected=2)


def production_luks(c):
    """A luks section with a header policy, as the production agent requires."""
    return {"device": os.path.join(c.workdir, "no-such-device"), "name": "cvmroot",
            "header_policy": os.path.join(c.workdir, "no-such-policy.json"),
            "header_copy": os.path.join(c.workdir, "header.luks2")}


def case_production_requires_header_policy(c):
    b = c.broker()
    for luks in (None, {"device": "/dev/vda3", "name": "cvmroot"}):
        extra = {"luks": luks} if luks else {}
        c.expect_failure(*c.run_agent(c.config(["https://127.0.0.1:%d" % b.port], ca=c.ca, tee="tdx",
                                               **extra),
                                      agent=c.args.production_agent),
                         reason="the production agent requires luks.header_policy", rc_expected=2)
    if "/kbs/v0/" in b.read_log():
        raise Failure("the production agent contacted the KBS without a header policy")


def case_production_without_tdx(c):
    b = c.broker()
    # On a build host there is no configfs-tsm tdx_guest provider.
    if os.path.isdir("/sys/kernel/config/tsm/report"):
        print("skipped: this host has configfs-tsm")
        sys.exit(SKIP)
    rc, out, err = c.run_agent(c.config(["https://127.0.0.1:%d" % b.port], ca=c.ca, tee="tdx",
                                        luks=production_luks(c)),
                               agent=c.args.production_agent)
    c.expect_failure(rc, out, err, reason="configfs-tsm")
    if "/kbs/v0/" in b.read_log():
        raise Failure("the production agent contacted the KBS without TDX evidence")


def case_key_fd_must_be_pipe(c):
    b = c.broker()
    path = os.path.join(c.workdir, "must-not-exist.bin")
    with open(path, "wb") as f:
        proc = subprocess.run([c.args.agent, "--config",
                               c.config(["https://127.0.0.1:%d" % b.port], ca=c.ca),
                               "--key-fd", str(f.fileno())],
                              pass_fds=[f.fileno()], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=60)
    c.expect_failure(proc.returncode, proc.stdout, proc.stderr.decode(),
                     reason="not a pipe or socket", rc_expected=2)
    if os.path.getsize(path) != 0:
        raise Failure("key bytes reached a regular file")
    if "/kbs/v0/" in b.read_log():
        raise Failure("the agent attested although it could not deliver the key")


def case_test_fault_kill(c):
    # The test flavour's fault injection (used by the e2e "agent_killed"
    # boots): killed after the key was released, it must write nothing.
    b = c.broker(tls=False)
    cmdline = os.path.join(c.workdir, "cmdline")
    with open(cmdline, "w") as f:
        f.write("root=/dev/mapper/cvmroot cvmforge.test_fault=key-received:kill ro\n")
    rc, out, err = c.run_agent(c.config(["http://127.0.0.1:%d" % b.port], test={"cmdline": cmdline}))
    if rc != -signal.SIGKILL:
        raise Failure("expected death by SIGKILL, got rc %d:\n%s" % (rc, err))
    if out:
        raise Failure("a killed agent wrote %d bytes" % len(out))
    if "TEST FAULT" not in err:
        raise Failure("no TEST FAULT line:\n%s" % err)
    c.no_key_leak(err)
    # A malformed fault is a configuration error, not a silent pass.
    with open(cmdline, "w") as f:
        f.write("cvmforge.test_fault=key-received:term\n")
    c.expect_failure(*c.run_agent(c.config(["http://127.0.0.1:%d" % b.port], test={"cmdline": cmdline})),
                     "unknown signal 'term'", rc_expected=2)


def case_production_has_no_test_code(c):
    markers = [b"SampleEvidence", b"TEST FLAVOUR", b"sample evidence", b"cvmforge.test_fault", b"TEST FAULT"]
    production = [c.args.production_agent,
                  os.path.join(c.args.production_bundle, os.path.basename(c.args.production_agent))]
    for path in production:
        with open(path, "rb") as f:
            data = f.read()
        for marker in markers:
            if marker in data:
                raise Failure("%s contains %r" % (path, marker))
    # Sanity check of the method: the test flavour does contain them.
    with open(c.args.agent, "rb") as f:
        if b"SampleEvidence" not in f.read():
            raise Failure("marker scan is broken: not found in the test flavour")


class TsmFake:
    """The FUSE configfs-tsm fake (tests/kbs/tsm_fake), mounted in the work dir."""

    def __init__(self, c, fault):
        if not c.args.tsm_fake or not os.path.exists(c.args.tsm_fake):
            print("skipped: tsm_fake not built (needs libfuse3-dev)")
            sys.exit(SKIP)
        if not os.path.exists("/dev/fuse"):
            print("skipped: no /dev/fuse")
            sys.exit(SKIP)
        self.mnt = os.path.join(c.workdir, "tsm")
        os.makedirs(self.mnt)
        self.proc = subprocess.Popen([c.args.tsm_fake, "--fault", fault, self.mnt],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not os.path.isdir(os.path.join(self.mnt, "report")):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.proc.stderr.read().decode() if self.proc.poll() is not None else ""
                self.stop()
                print("skipped: cannot mount the FUSE fake here: " + err.strip())
                sys.exit(SKIP)
            time.sleep(0.05)
        c.fakes.append(self)
        self.root = os.path.join(self.mnt, "report")
        self.measurements = os.path.join(self.mnt, "measurements")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        subprocess.run(["umount", "-l", self.mnt], stderr=subprocess.DEVNULL)


def synthetic_ccel(path):
    """A small TCG2 crypto-agile log as a TD's CCEL starts: a Spec ID event
    (TCG_PCR_EVENT, EV_NO_ACTION, "Spec ID Event03" declaring SHA-384), two
    SHA-384 events, then the unused part of the log area (0xff)."""
    def u32(v):
        return v.to_bytes(4, "little")

    def u16(v):
        return v.to_bytes(2, "little")
    spec_id = (b"Spec ID Event03\0" + u32(0)  # platformClass
               + bytes([0, 2, 0, 2])  # specVersionMinor, specVersionMajor, specErrata, uintnSize
               + u32(1) + u16(0x000c) + u16(48)  # one algorithm: SHA-384, 48 bytes
               + bytes([0]))  # vendorInfoSize
    log = u32(0) + u32(3) + bytes(20) + u32(len(spec_id)) + spec_id
    for _ in range(2):
        log += u32(1) + u32(0x80000001) + u32(1) + (0x000c).to_bytes(2, "little")
        log += bytes([0xaa]) * 48 + u32(3) + b"abc"
    with open(path, "wb") as f:
        f.write(log + b"\xff" * 4096)


def tdx_config(c, fake, broker, measurements=False):
    ccel = os.path.join(c.workdir, "CCEL")
    synthetic_ccel(ccel)
    test = {"tsm_report_root": fake.root, "ccel": ccel}
    if measurements:
        test["measurements"] = fake.measurements
    return c.config(["https://127.0.0.1:%d" % broker.port], ca=c.ca, tee="tdx", test=test)


def case_tdx_fake_tsm_ok(c):
    fake = TsmFake(c, "none")
    b = c.broker()
    c.expect_key(*c.run_agent(tdx_config(c, fake, b)))
    if "TDX quote signature NOT verified" not in b.read_log():
        raise Failure("the broker did not verify a TDX quote")
    if os.listdir(fake.root):
        raise Failure("the agent left report directories behind: %s" % os.listdir(fake.root))


RTMR3_MARKER = hashlib.sha384(b"cvmforge: disk key released, leaving the initramfs").digest()


def case_tdx_fake_rtmr3_closes_release_window(c):
    # Once the key is released the agent extends RTMR3 (cmd/agent/README.md), so
    # a second attestation of the same TD (code in the root filesystem) is
    # refused by a policy that pins RTMR3 to its boot value.
    fake = TsmFake(c, "none")
    b = c.broker(extra=["--require-initial-rtmr3"])
    config = tdx_config(c, fake, b, measurements=True)
    rc, out, err = c.run_agent(config, extra_args=["-v"])
    c.expect_key(rc, out, err)
    if "RTMR3 extended" not in err:
        raise Failure("the agent did not report the RTMR3 extension:\n%s" % err)
    with open(os.path.join(fake.measurements, "rtmr3:sha384"), "rb") as f:
        rtmr3 = f.read()
    expected = hashlib.sha384(bytes(48) + RTMR3_MARKER).digest()
    if rtmr3 != expected:
        raise Failure("RTMR3 is %s, expected %s" % (rtmr3.hex(), expected.hex()))
    c.expect_failure(*c.run_agent(config), reason="RTMR3 is not its boot value")


def case_tdx_fake_rtmr3_stuck(c):
    # A register that accepts the write but does not change: the agent must
    # notice and hand over nothing, though the broker released the key.
    fake = TsmFake(c, "rtmr3-stuck")
    b = c.broker(extra=["--require-initial-rtmr3"])
    c.expect_failure(*c.run_agent(tdx_config(c, fake, b, measurements=True)), reason="did not extend")


def expect_tsm_fault(c, fault, reason, unreached=None, why=None):
    """The agent fails with `reason` on the configfs-tsm fake with `fault`; if
    `unreached` is given, the broker's log must not contain it (`why` says
    what that would mean)."""
    fake = TsmFake(c, fault)
    b = c.broker()
    c.expect_failure(*c.run_agent(tdx_config(c, fake, b)), reason=reason)
    if unreached is not None and unreached in b.read_log():
        raise Failure(why)


def case_tdx_fake_empty_quote(c):
    expect_tsm_fault(c, "empty", "configfs-tsm returned an empty quote",
                     "/kbs/v0/attest", "the agent sent an attestation without a quote")


def case_tdx_fake_wrong_provider(c):
    expect_tsm_fault(c, "wrong-provider", "configfs-tsm provider is 'sev_guest', not tdx_guest",
                     "/kbs/v0/", "the agent contacted the KBS although the TSM provider is wrong")


def case_tdx_fake_generation_race(c):
    expect_tsm_fault(c, "race", "another writer raced")


def case_tdx_fake_wrong_reportdata(c):
    expect_tsm_fault(c, "wrong-reportdata", "REPORTDATA differs from the one requested",
                     "/kbs/v0/attest", "the agent sent a quote that does not bind its key")


def bundle_binary(c):
    binary = os.path.join(c.args.bundle, os.path.basename(c.args.agent))
    loader = os.path.join(c.args.bundle, "lib", "ld-linux-x86-64.so.2")
    if not os.path.exists(binary) or not os.path.exists(loader):
        raise Failure("bundle incomplete at %s" % c.args.bundle)
    return binary, loader


def case_bundle_via_loader(c):
    binary, loader = bundle_binary(c)
    b = c.broker()
    # Empty environment: nothing from the host's library path may be needed.
    proc = subprocess.run(["env", "-i", loader, binary, "--config",
                           c.config(["https://127.0.0.1:%d" % b.port], ca=c.ca), "--key-stdout"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    c.expect_key(proc.returncode, proc.stdout, proc.stderr.decode())
    listing = subprocess.run([loader, "--list", binary], stdout=subprocess.PIPE, text=True).stdout
    for line in listing.splitlines():
        if "=>" in line and c.args.bundle not in line.split("=>")[1] and "vdso" not in line:
            raise Failure("library resolved outside the bundle: " + line.strip())


def case_bundle_in_empty_chroot(c):
    if os.geteuid() != 0:
        print("skipped: chroot needs root")
        sys.exit(SKIP)
    _, _ = bundle_binary(c)
    root = os.path.join(c.workdir, "root")
    prefix = c.args.bundle_prefix.lstrip("/")
    target = os.path.join(root, prefix, os.path.basename(c.args.bundle))
    shutil.copytree(c.args.bundle, target, symlinks=True)
    os.makedirs(os.path.join(root, "etc"))
    shutil.copy(c.ca, os.path.join(root, "etc", "ca.pem"))
    b = c.broker()
    cfg = c.config(["https://127.0.0.1:%d" % b.port], ca="/etc/ca.pem")
    shutil.copy(cfg, os.path.join(root, "etc", "agent.json"))
    inner = "/" + os.path.relpath(os.path.join(target, os.path.basename(c.args.agent)), root)
    # No /proc, no /lib, no /usr/lib except the bundle: only the bundle can satisfy it.
    proc = subprocess.run(["chroot", root, inner, "--config", "/etc/agent.json", "--key-stdout"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    c.expect_key(proc.returncode, proc.stdout, proc.stderr.decode())


CASES = {name[len("case_"):]: fn for name, fn in globals().items() if name.startswith("case_")}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", required=True, choices=sorted(CASES))
    parser.add_argument("--agent", required=True, help="test-flavour agent")
    parser.add_argument("--production-agent", required=True)
    parser.add_argument("--bundle", required=True, help="test-flavour bundle directory")
    parser.add_argument("--production-bundle", required=True)
    parser.add_argument("--bundle-prefix", default="/usr/lib/cvmforge-agent")
    parser.add_argument("--broker", required=True)
    parser.add_argument("--pki-helper", required=True)
    parser.add_argument("--tsm-fake", default="", help="tests/kbs/tsm_fake binary, if built")
    args = parser.parse_args()
    try:
        import cryptography  # noqa: F401
    except ImportError:
        print("skipped: python3-cryptography is not installed")
        return SKIP
    workdir = tempfile.mkdtemp(prefix="cvm-kbs-it-")
    ctx = None
    try:
        ctx = Context(args, workdir)
        CASES[args.case](ctx)
        ctx.cleanup()
        ctx = None
        print("PASS " + args.case)
        return 0
    except Failure as e:
        print("FAIL %s: %s" % (args.case, e))
        if ctx:
            for b in ctx.brokers:
                print("--- broker log ---\n" + b.read_log())
        return 1
    finally:
        if ctx:
            try:
                ctx.cleanup()
            except Failure:
                pass
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
