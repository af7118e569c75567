#!/usr/bin/env bash
# rum input: Debian's chromium is the real browser of test/e2e/rum.test.ts, which
# drives it headless through puppeteer-core (executablePath /usr/bin/chromium;
# nothing is downloaded at run time). Idempotent: nothing is done when the binary exists.
set -euo pipefail

BIN=/usr/bin/chromium

if [ ! -x "$BIN" ]; then
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
test -x "$BIN" || { echo "chromium.sh: $BIN missing after install" >&2; exit 1; }
"$BIN" --version 2>/dev/null
