#!/usr/bin/env bash
# Installs what Tartine's demo and tests need on a Debian machine:
# PostgreSQL server binaries, Chromium (browser tests), zbar-tools (QR
# decoding in tests), poppler-utils (pdftotext, pdftoppm: statement PDFs
# in tests), libxml2-utils (xmllint: the Belcotax XML against the official
# XSD when TARTINE_BELCOTAX_XSD names it) and stripe-mock (Stripe API double, pinned to the
# version matching stripe-go v76's API 2023-10-16); with "failover", also
# pg_auto_failover for the PostgreSQL installed (make test-failover).
# Usage: scripts/install-deps.sh [demo|test|failover]
set -euo pipefail
what=${1:-test}

need=()
have_pg=false
if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then have_pg=true; fi
$have_pg || need+=(postgresql postgresql-contrib)
if [ "$what" = failover ]; then
  command -v pg_autoctl >/dev/null 2>&1 || need+=(pg-auto-failover-cli)
  if $have_pg; then
    ver=$(ls -d /usr/lib/postgresql/*/bin/initdb | sed 's|/usr/lib/postgresql/\([0-9]*\)/.*|\1|' | sort -n | tail -1)
    [ -e "/usr/lib/postgresql/$ver/lib/pgautofailover.so" ] || need+=("postgresql-$ver-auto-failover")
  else
    need+=(postgresql-15-auto-failover)
  fi
  what=test
fi
if [ "$what" = test ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v zbarimg >/dev/null 2>&1 || need+=(zbar-tools)
  command -v pdftotext >/dev/null 2>&1 || need+=(poppler-utils)
  command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if [ "$what" = test ]; then
  gobin=$(go env GOPATH)/bin
  if [ ! -x "$gobin/stripe-mock" ]; then
    echo "installing stripe-mock v0.180.0"
    GOFLAGS=-mod=mod go install github.com/stripe/stripe-mock@v0.180.0
  fi
fi
