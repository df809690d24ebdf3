#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The straightforward way to encrypt a Debian cloud image's root, as a
reference for ci/bench (issue 18): ONE libguestfs appliance that repartitions
a new disk, runs the appliance's `cryptsetup luksFormat`, `mkfs`, `cp -a` of
the base's tree, then the guest's own initramfs generator and GRUB tools.

It is what a careful person would write in an afternoon, no less: the same
steps a passphrase-unlocked image needs. Only its timing and its size are
used (it is not a test oracle, and its image is not boot-tested). Usage:

  ci/naive_build.py BASE.qcow2 OUT.qcow2 [--json]

Prints the wall time of each step (and JSON with --json). Needs the Python
bindings of libguestfs (python3-guestfs), honours LIBGUESTFS_* and CVM_ACCEL
the way cvmforge does (TCG unless CVM_ACCEL=kvm).
"""

import argparse
import json
import os
import secrets
import sys
import time

import guestfs

ESP_SIZE = 512 << 20
BOOT_SIZE = 1 << 30
SECTOR = 512


class Steps:
    def __init__(self):
        self.t0 = time.monotonic()
        self.last = self.t0
        self.steps = []

    def done(self, name):
        now = time.monotonic()
        self.steps.append({"name": name, "seconds": round(now - self.last, 1)})
        print(f"  {name:<22} {now - self.last:7.1f} s", file=sys.stderr, flush=True)
        self.last = now

    def total(self):
        return round(time.monotonic() - self.t0, 1)


def guest_tool(g, *candidates):
    for c in candidates:
        if g.exists(c):
            return c
    return candidates[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base")
    ap.add_argument("out")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if os.path.exists(args.out):
        sys.exit(f"naive_build: {args.out} exists")

    steps = Steps()
    g = guestfs.GuestFS(python_return_dict=True)
    if os.environ.get("CVM_ACCEL", "tcg") != "kvm" and "LIBGUESTFS_BACKEND_SETTINGS" not in os.environ:
        g.set_backend_settings(["force_tcg"])
        # The same CPU model cvmforge's appliance gets under TCG (see
        # lib/guestfs/backend_settings.hpp): like for like.
        g.config("-cpu", os.environ.get("CVM_NAIVE_CPU", "max,la57=off,cx16=off"))
    g.set_smp(max(1, min(os.cpu_count() or 1, 4)))
    g.set_memsize(1536)
    base_size = g.disk_virtual_size(args.base)
    g.disk_create(args.out, "qcow2", base_size + ESP_SIZE + BOOT_SIZE)
    try:
        g.add_drive_opts(args.base, format="qcow2", readonly=1)
        g.add_drive_opts(args.out, format="qcow2", readonly=0, cachemode="unsafe", discard="besteffort")
        g.launch()
        steps.done("launch")

        root = g.inspect_os()[0]
        mps = g.inspect_get_mountpoints(root)
        base_root = mps["/"]
        base_esp = mps.get("/boot/efi")
        if not base_esp:
            sys.exit("naive_build: the base has no ESP at /boot/efi")
        out = g.list_devices()[1]
        steps.done("inspect")

        g.part_init(out, "gpt")
        esp_end = 2048 + ESP_SIZE // SECTOR - 1
        boot_end = esp_end + BOOT_SIZE // SECTOR
        g.part_add(out, "p", 2048, esp_end)
        g.part_add(out, "p", esp_end + 1, boot_end)
        g.part_add(out, "p", boot_end + 1, -34)
        g.part_set_gpt_type(out, 1, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B")
        esp, boot, luks = (p for p in g.list_partitions() if g.part_to_dev(p) == out)
        g.mkfs("vfat", esp)
        g.mkfs("ext4", boot)
        passphrase = secrets.token_urlsafe(24)
        g.luks_format(luks, passphrase, 0)
        g.cryptsetup_open(luks, passphrase, "root")
        g.mkfs("ext4", "/dev/mapper/root")
        steps.done("format")

        # Side by side: the base at /src (read-only), the new tree at /dst.
        g.mkmountpoint("/src")
        g.mkmountpoint("/dst")
        g.mount_ro(base_root, "/src")
        g.mount("/dev/mapper/root", "/dst")
        g.mkdir_p("/dst/boot")
        g.mount(boot, "/dst/boot")
        g.mkdir_p("/dst/boot/efi")
        g.mount(esp, "/dst/boot/efi")
        g.mount_ro(base_esp, "/src/boot/efi")
        for entry in g.ls("/src"):
            if entry == "boot":
                for b in g.ls("/src/boot"):
                    if b != "efi":
                        g.cp_a("/src/boot/" + b, "/dst/boot/")
                for e in g.ls("/src/boot/efi"):
                    g.cp_a("/src/boot/efi/" + e, "/dst/boot/efi/")
            else:
                g.cp_a("/src/" + entry, "/dst/")
        steps.done("copy")

        luks_uuid = g.vfs_uuid(luks)
        g.write("/dst/etc/crypttab", f"root UUID={luks_uuid} none luks,discard\n")
        g.write(
            "/dst/etc/fstab",
            f"/dev/mapper/root / ext4 errors=remount-ro 0 1\n"
            f"UUID={g.vfs_uuid(boot)} /boot ext4 defaults 0 2\n"
            f"UUID={g.vfs_uuid(esp)} /boot/efi vfat umask=0077 0 1\n",
        )
        g.umount_all()
        steps.done("configure")

        # The guest's own tools, chrooted into the new tree.
        g.mount("/dev/mapper/root", "/")
        g.mount(boot, "/boot")
        g.mount(esp, "/boot/efi")
        g.sh("mount -n -t tmpfs tmpfs /run; mount -n -t tmpfs tmpfs /var/tmp")
        if g.exists("/usr/bin/dracut"):
            for k in g.ls("/lib/modules"):
                g.command(["/usr/bin/dracut", "--force", f"/boot/initrd.img-{k}", k])
        else:
            g.command([guest_tool(g, "/usr/sbin/update-initramfs", "/sbin/update-initramfs"), "-u", "-k", "all"])
        steps.done("initramfs")
        grub_install = guest_tool(g, "/usr/sbin/grub-install", "/sbin/grub-install")
        g.command([grub_install, "--target=x86_64-efi", "--efi-directory=/boot/efi", "--no-nvram", "--removable"])
        g.command(["/usr/sbin/update-grub"])
        g.sh("umount -n /var/tmp; umount -n /run")
        steps.done("grub")

        g.umount_all()
        g.cryptsetup_close("/dev/mapper/root")
        g.shutdown()
        g.close()
        steps.done("close")
    except BaseException:
        g.close()
        os.unlink(args.out)
        raise
    st = os.stat(args.out)
    result = {"seconds": steps.total(), "steps": steps.steps, "allocated_bytes": st.st_blocks * 512}
    print(f"  {'total':<22} {result['seconds']:7.1f} s", file=sys.stderr)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
