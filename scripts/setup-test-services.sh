#!/usr/bin/env bash
# Makes sure what the test suite needs is installed and running; does nothing when it already is.
# Safe to run again and again (CI runs it on every clean clone).
set -euo pipefail

PGURL="${TEST_DATABASE_URL:-${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/tollgate_test}}"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }

if ! command -v pg_isready >/dev/null 2>&1 || ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
  if ! pg_up 2>/dev/null; then
    echo "setup: installing PostgreSQL (Debian package)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
  fi
fi

if ! pg_up; then
  echo "setup: starting PostgreSQL"
  for v in $(ls /etc/postgresql); do
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
  done
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
pg_up || { echo "setup: PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }

# A password for the postgres role makes the default URL work under md5/scram auth as well as trust.
if ! psql "$PGURL" -Atc 'select 1' >/dev/null 2>&1; then
  admin_psql() { if [ "$(id -u)" = 0 ]; then su postgres -c "psql -q -Atc \"$1\""; else $SUDO -u postgres psql -q -Atc "$1"; fi; }
  admin_psql "ALTER USER postgres PASSWORD 'postgres'" >/dev/null 2>&1 || true
  db=$(basename "${PGURL%%\?*}")
  admin_psql "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 || admin_psql "CREATE DATABASE \"$db\"" >/dev/null
fi
psql "$PGURL" -Atc 'select 1' >/dev/null || { echo "setup: cannot connect to $PGURL" >&2; exit 1; }
echo "setup: PostgreSQL ready on 127.0.0.1:5432"

# The dashboard's browser tests drive Debian's Chromium through playwright-core (never a downloaded browser).
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing Chromium (Debian package) for the dashboard's browser tests"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
[ -x /usr/bin/chromium ] && echo "setup: Chromium ready at /usr/bin/chromium"
