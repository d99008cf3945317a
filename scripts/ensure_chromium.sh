#!/usr/bin/env bash
# Make sure a Chromium for the browser check (tests/browser_check.py) is on PATH: install Debian's
# package with apt-get as root or through sudo; where that cannot be done, fail naming the command that fixes it.
set -euo pipefail

have_browser() {
  if [ -n "${CHROMIUM:-}" ] && command -v "$CHROMIUM" >/dev/null; then return 0; fi
  command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null
}

cannot() {  # why, fix
  echo "make test: the browser check needs Chromium, and $1." >&2
  echo "Fix: $2, then run make test again." >&2
  exit 1
}

have_browser && exit 0
command -v apt-get >/dev/null \
  || cannot "this system has no apt-get to install it" \
            "install Chromium with the system's package manager so that 'chromium' is on PATH (or set CHROMIUM=/path/to/chrome)"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null; then
  SUDO="sudo "
else
  cannot "this user is not root and has no sudo to install it" "as root, run  apt-get install -y chromium"
fi

echo "make test: installing Debian's chromium (${SUDO}apt-get install chromium) for the browser check" >&2
export DEBIAN_FRONTEND=noninteractive
${SUDO}apt-get install -y -q chromium >/dev/null \
  || { ${SUDO}apt-get update -q >/dev/null && ${SUDO}apt-get install -y -q chromium >/dev/null; } \
  || cannot "apt-get could not install it (see its messages above)" \
            "run  ${SUDO}apt-get update && ${SUDO}apt-get install -y chromium"
have_browser || cannot "the chromium package installed no 'chromium' on PATH" "run  ${SUDO}apt-get install -y --reinstall chromium"
