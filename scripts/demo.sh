#!/usr/bin/env bash
# The README's demo command: set up .venv, then run a simulated PIR session end to end.
# Extra arguments go to `isofeedback demo` (try --help, --technique met, --fault moved).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
exec .venv/bin/isofeedback demo "$@"
