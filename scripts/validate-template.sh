#!/usr/bin/env bash
# Validates template.yaml offline, with both checkers (each catches what the other misses):
# - `sam validate`: the SAM transform (policy template parameters, event sources, HTTP API auth);
# - `sam validate --lint` (cfn-lint on the transformed template): references, attributes, enum
#   values, property types.
# Uses the project's venv (.venv, created by scripts/test.sh) and sends no telemetry.
set -euo pipefail
cd "$(dirname "$0")/.."

SAM=${SAM:-.venv/bin/sam}
if [ ! -x "$SAM" ]; then
  echo "validate-template: $SAM not found (scripts/test.sh creates .venv with aws-sam-cli and cfn-lint)" >&2
  exit 1
fi
export SAM_CLI_TELEMETRY=0
# sam and cfn-lint must not need credentials or the network for this.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-validate} AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-validate}

echo "validate-template: sam validate"
"$SAM" validate --region us-east-1 --template template.yaml
echo "validate-template: sam validate --lint"
"$SAM" validate --lint --region us-east-1 --template template.yaml
echo "validate-template: template.yaml is valid"
