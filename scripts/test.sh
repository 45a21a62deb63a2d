#!/usr/bin/env bash
# The README's test command (CI runs exactly this): install what the tests need on a fresh
# Debian machine (mosquitto, dbus, systemd), set up .venv with the test extras, lint,
# type-check, test.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto mosquitto-clients)
command -v mosquitto_passwd >/dev/null 2>&1 || need+=(mosquitto)
command -v dbus-daemon >/dev/null 2>&1 || need+=(dbus)
# systemd-analyze verify checks the shipped service unit (tests/gateway)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# the patient page's browser tests, the speaker sink, the clinician report printed to PDF
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
command -v sox >/dev/null 2>&1 || need+=(sox)
if [ ${#need[@]} -gt 0 ]; then
    echo "Installing Debian packages: ${need[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}" >/dev/null
fi
bash scripts/setup-venv.sh test
echo "== ruff"; .venv/bin/ruff check src tests benchmarks
echo "== mypy"; .venv/bin/mypy src
# three workers, one file each at a time: most tests wait on real time (simulated sessions
# at N x real time, brokers, browsers), so on 2 cores the suite takes ~5.5 min instead of ~14
echo "== pytest"; .venv/bin/python -m pytest -n 3 --dist loadfile "$@"
