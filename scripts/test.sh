#!/usr/bin/env bash
# Install everything the tests need on a fresh Debian machine, then run the whole suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

# Real peers of the integration tests: DCMTK, and Orthanc with its DICOMweb plugin (its own
# service stopped: the tests start their own); chromium for the browser tests (Playwright drives
# it: no browser download).
if ! command -v dcm2json >/dev/null 2>&1 || ! command -v Orthanc >/dev/null 2>&1 \
  || [ ! -e /usr/share/orthanc/plugins/libOrthancDicomWeb.so ] || ! command -v chromium >/dev/null 2>&1 \
  || ! command -v dciodvfy >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq dcmtk orthanc orthanc-dicomweb chromium dicom3tools >/dev/null
    service orthanc stop >/dev/null 2>&1 || true
  else
    echo "note: DCMTK, Orthanc, chromium or dicom3tools is missing and this is not root: install" \
      "dcmtk, orthanc, orthanc-dicomweb, chromium and dicom3tools, or the tests that need them" \
      "fail or skip" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# The OHIF viewer the browser tests open (npm registry, sha512-checked; kept when installed).
.venv/bin/openvna viewer install
.venv/bin/python -m ruff check src tests bench
.venv/bin/python -m mypy
.venv/bin/python -m pytest -n 2 "$@"
