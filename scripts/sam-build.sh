#!/usr/bin/env bash
# Builds every function of template.yaml as a deployment does (`sam build`: cargo lambda build
# --release per function, cross-linked with Zig), then checks that each function has its
# `bootstrap`, for the architecture built, within 15 MB, and prints the sizes.
#
# arm64 (the template's default) needs Rust's aarch64-unknown-linux-gnu target: it is added
# with rustup when missing; where that download is not possible the same template is built
# for x86_64 through its Architecture parameter, and the script says so.
#
# Usage: bash scripts/sam-build.sh [BUILD_DIR]   (default target/sam; needs the venv of
# scripts/test.sh: aws-sam-cli, cargo-lambda, ziglang)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-target/sam}
export PATH="$PWD/.venv/bin:$PATH" SAM_CLI_TELEMETRY=0

ARCH=arm64
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  if ! rustup target add aarch64-unknown-linux-gnu; then
    ARCH=x86_64
    echo "sam-build: the aarch64 Rust target could not be installed: building the template for x86_64 (Architecture=x86_64)" >&2
  fi
fi

start=$(date +%s)
# The eight binaries in one cargo invocation first (shared compilation, links in parallel); each
# function's own `cargo lambda build` inside `sam build` then finds its binary fresh. No `-p`:
# sam build runs at the workspace root without one, and the features cargo unifies (hence the
# artifacts) must be the same.
bins=$(sed -n 's/^name = "\(.*\)"$/\1/p' crates/lambdas/Cargo.toml | grep -v '^stepwise-lambdas$' | sed 's/^/--bin /' | tr '\n' ' ')
if [ "$ARCH" = arm64 ]; then arch_flag=--arm64; else arch_flag=; fi
# shellcheck disable=SC2086
cargo lambda build --release $arch_flag $bins
sam build --build-dir "$OUT" --parameter-overrides "Architecture=$ARCH"
echo "sam-build: sam build ($ARCH) took $(( $(date +%s) - start )) s"

python3 - "$OUT" "$ARCH" <<'EOF'
import os
import re
import sys

out, arch = sys.argv[1], sys.argv[2]
LIMIT = 15_000_000
# ELF e_machine of each architecture.
MACHINE = {"arm64": 0xB7, "x86_64": 0x3E}[arch]

text = open("template.yaml").read()
functions = re.findall(r"^  (\w+):\n    Type: AWS::Serverless::Function", text, re.M)
if len(functions) < 8:
    sys.exit(f"sam-build: expected the template's eight functions, found {functions}")
failed = []
for name in functions:
    path = os.path.join(out, name, "bootstrap")
    if not os.path.isfile(path):
        failed.append(f"{name}: no bootstrap at {path}")
        continue
    with open(path, "rb") as f:
        head = f.read(20)
    machine = int.from_bytes(head[18:20], "little")
    size = os.path.getsize(path)
    print(f"sam-build: {name:40} {size:>12,} bytes  {arch}")
    if head[:4] != b"\x7fELF" or machine != MACHINE:
        failed.append(f"{name}: bootstrap is not an {arch} ELF executable (e_machine {machine:#x})")
    if size > LIMIT:
        failed.append(f"{name}: bootstrap is {size:,} bytes, over the {LIMIT:,} budget")
if failed:
    sys.exit("sam-build: " + "; ".join(failed))
print(f"sam-build: {len(functions)} functions built for {arch}, each within {LIMIT:,} bytes")
EOF
