#!/usr/bin/env bash
# Debian packages the terminal and its tests need on a fresh machine:
#   chromium  — the browser the end-to-end tests drive (Playwright with executablePath)
#   socat     — a real pseudo-terminal pair for the serial-reader tests
#   udev      — udevadm, which serialport uses to list ports
#   libudev-dev, libusb-1.0-0-dev — node-hid builds against them
#   sqlite3   — the shell the tamper tests use on a ledger file
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v socat >/dev/null || need+=(socat)
command -v udevadm >/dev/null || need+=(udev)
command -v sqlite3 >/dev/null || need+=(sqlite3)
dpkg -s libudev-dev >/dev/null 2>&1 || need+=(libudev-dev)
dpkg -s libusb-1.0-0-dev >/dev/null 2>&1 || need+=(libusb-1.0-0-dev)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
