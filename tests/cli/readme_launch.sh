#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's TDX launch command and the example profile it names describe
# the same VM: vCPUs, memory and QEMU version (reference values hold only
# for the shape they were computed for), and the firmware is the profile's,
# not Debian 12's non-measuring OVMF.
set -euo pipefail
root=${1:?usage: readme_launch.sh SOURCE_DIR}
python3 - "$root/README.md" "$root/manifests/examples/debian12-uki.yaml" <<'PY'
import re, sys
readme, manifest = open(sys.argv[1]).read(), open(sys.argv[2]).read()
block = re.search(r"```sh\n(\s*qemu-system-x86_64 .*?)```", readme, re.S)
assert block, "README: no qemu-system-x86_64 launch block"
cmd = block.group(1)
smp = re.search(r"-smp (\d+)", cmd).group(1)
mem = re.search(r"-m (\d+[GM])", cmd).group(1)
bios = re.search(r"-bios (\S+)", cmd).group(1)
intro = readme[: block.start()].rsplit("\n4. ", 1)[-1]
qemu = re.search(r"QEMU (\d+\.\d+)", intro).group(1)
profile = re.search(r"^  profile: (\S+)", manifest, re.M).group(1)
body = re.search(r"^    %s:\n((?:      .*\n)+)" % re.escape(profile), manifest, re.M).group(1)
field = lambda k: re.search(r"^      %s: \"?([^\"\n]+)\"?$" % k, body, re.M).group(1)
errors = []
if field("vcpus") != smp: errors.append(f"vcpus {field('vcpus')} vs -smp {smp}")
if field("memory") != mem: errors.append(f"memory {field('memory')} vs -m {mem}")
if field("qemu_version") != qemu: errors.append(f"qemu_version {field('qemu_version')} vs README QEMU {qemu}")
if bios == "/usr/share/ovmf/OVMF.fd": errors.append("README launches Debian 12's OVMF.fd, which measures nothing into the RTMRs")
if field("firmware") != "${CVM_TDX_FIRMWARE}" or bios != '"$CVM_TDX_FIRMWARE"':
    errors.append(f"firmware {field('firmware')} vs -bios {bios}")
if errors:
    print("README launch command and profile '%s' disagree: %s" % (profile, "; ".join(errors)))
    sys.exit(1)
print(f"readme_launch: 1 passed, 0 failed (profile {profile}: -smp {smp} -m {mem}, QEMU {qemu}, -bios {bios})")
PY
