#!/usr/bin/env bash
# What the test suite needs beyond Python packages, installed or started if missing:
# Debian's chromium (browser tests) and the local PostgreSQL cluster.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests..."
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi

if ! (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "Starting the local PostgreSQL cluster..."
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi

# axe-core for the console's accessibility test (tests/e2e/_console.py), from npm into the
# git-ignored var/test-deps; pinned so a new release cannot change the verdict unseen.
AXE_VERSION=4.10.2
if ! grep -qs "\"version\": \"$AXE_VERSION\"" var/test-deps/node_modules/axe-core/package.json; then
  if ! command -v npm >/dev/null 2>&1; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq npm >/dev/null || true
  fi
  if command -v npm >/dev/null 2>&1; then
    echo "Installing axe-core $AXE_VERSION for the accessibility test..."
    mkdir -p var/test-deps
    npm install --prefix var/test-deps --no-save --no-audit --no-fund --silent "axe-core@$AXE_VERSION"
  else
    echo "npm is missing: the accessibility test will fail under CI (apt-get install npm)" >&2
  fi
fi
