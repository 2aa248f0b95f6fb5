#!/usr/bin/env bash
# Runs every test of the project. Installs what the tests need first (a Python venv with moto for
# the local AWS endpoint, cfn-lint and the SAM CLI for the template, cargo-lambda and Zig for
# `sam build`, Selenium for the console's browser test; Debian's chromium and chromedriver), starts moto server on loopback for the AWS adapter tests, and stops it at the
# end. CI runs this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v python3 >/dev/null || { echo "python3 is required (the conformance corpus runs its Lambda handlers with it)" >&2; exit 1; }
if [ ! -d ../shared/conformance ] && [ -z "${STEPWISE_CORPUS:-}" ]; then
  echo "the conformance corpus (../shared/conformance) is missing; set STEPWISE_CORPUS to its directory" >&2
  exit 1
fi

# --- the Python test environment -----------------------------------------------------------
VENV=.venv
if [ ! -x "$VENV/bin/moto_server" ] || [ ! -x "$VENV/bin/cfn-lint" ] || [ ! -x "$VENV/bin/sam" ] || [ ! -x "$VENV/bin/aws" ] \
  || [ ! -x "$VENV/bin/cargo-lambda" ] || ! "$VENV/bin/python" -c "import ziglang, selenium" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.2.5" "cfn-lint==1.58.0" "aws-sam-cli==1.170.0" "boto3==1.43.108" "awscli==1.46.3" \
    "cargo-lambda==1.9.2" "ziglang==0.17.1" "selenium==4.27.1"
fi

# --- a browser for the console's tests ----------------------------------------------------------
# Debian's Chromium and its chromedriver (Selenium is pointed at both: nothing is downloaded).
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

# --- a local AWS endpoint ----------------------------------------------------------------------
mkdir -p target
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
# moto with DynamoDB requests serialised, so conditional writes are atomic as on DynamoDB.
"$VENV/bin/python" scripts/moto_server.py -H 127.0.0.1 -p "$PORT" > target/moto.log 2>&1 &
MOTO_PID=$!
trap 'kill $MOTO_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$PORT/moto-api/reset', data=b'')" 2>/dev/null; then
    break
  fi
  sleep 0.5
done
python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/moto-api/reset', data=b'')" \
  || { echo "moto server did not start (see target/moto.log)" >&2; exit 1; }
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export SAM_CLI_TELEMETRY=0

# --- the template ------------------------------------------------------------------------------
if [ -f scripts/validate-template.sh ]; then
  bash scripts/validate-template.sh
fi

# --- Rust ---------------------------------------------------------------------------------------
# Format and lints first: a finding fails the run (the lints are Cargo.toml's [workspace.lints]).
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# --- the Lambda packages ---------------------------------------------------------------------------
# `sam build` of every function as a deployment builds it (release, arm64 or x86_64), each
# bootstrap checked (scripts/sam-build.sh). Before the tests: nextest's summary must be the
# closing line CI reads.
bash scripts/sam-build.sh target/sam

if command -v cargo-nextest >/dev/null 2>&1; then
  # doc tests first: nextest's summary must be the closing line CI reads
  cargo test --workspace --doc
  cargo nextest run --workspace --no-fail-fast
else
  cargo test --workspace --no-fail-fast
fi
