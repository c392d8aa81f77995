#!/usr/bin/env bash
# Install (from Debian's packages) and start PostgreSQL on loopback, with a database for the tests.
# Prints the storage URL on stdout; everything else goes to stderr.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
fi
version=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | grep -q "^$version main"; then
  pg_createcluster "$version" main >&2
fi
pg_ctlcluster "$version" main start >&2 || true  # already running is fine
for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
password=pairbench-ci
runuser -u postgres -- psql -q -h 127.0.0.1 -c "SELECT 1" >/dev/null 2>&1 || true
runuser -u postgres -- psql -q -c "DO \$\$ BEGIN CREATE ROLE pairbench LOGIN PASSWORD '$password'; EXCEPTION WHEN duplicate_object THEN NULL; END \$\$;" >&2
runuser -u postgres -- psql -q -tc "SELECT 1 FROM pg_database WHERE datname='pairbench'" | grep -q 1 ||
  runuser -u postgres -- createdb -O pairbench pairbench >&2
echo "postgresql+psycopg2://pairbench:$password@127.0.0.1:5432/pairbench"
