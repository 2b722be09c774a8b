#!/usr/bin/env bash
# Makes sure the headless browser of the reviewer-page tests is present: Debian's chromium at
# /usr/bin/chromium (Playwright drives it through executable_path; `playwright install` is
# never run). Installs it with apt-get when missing and the machine allows it.
set -uo pipefail
if [ -x /usr/bin/chromium ]; then
    echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "chromium missing and cannot be installed here (needs root and apt-get);" \
         "the browser tests will fail" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q chromium >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } \
    || { echo "apt-get could not install chromium; the browser tests will fail" >&2; exit 1; }
echo "installed $(/usr/bin/chromium --version 2>/dev/null)"
