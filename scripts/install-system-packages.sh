#!/usr/bin/env bash
# Install the Debian packages ecoeco's tests and gates need, only those missing.
set -euo pipefail
PACKAGES=(
  make
  git  # .ci/run runs the test suite in a fresh clone
  postgresql postgresql-15-postgis-3
  redis-server
  rabbitmq-server
  prometheus  # promtool: checks and unit-tests deploy/ alert rules (make deploy-check)
  prometheus-alertmanager  # amtool: checks deploy/monitoring/alertmanager.yaml and routes every alert rule
  prometheus-postgres-exporter prometheus-redis-exporter  # tests/deploy: the metric names the rules use exist
  pgbackrest  # tests/deploy: back up, drop and restore a PostgreSQL of the test's own (deploy/k8s/base/storage)
  python3-apt  # ansible's apt module in the check-mode run of deploy/ansible (make deploy-check)
  hey  # load generator of benchmarks/bench_auth.py
  wrk  # load generator of benchmarks/bench_locations.py (a Lua script varies the query points)
  chromium  # the browser the web app's tests drive (Playwright; its own browser download is not used)
  fonts-noto-cjk  # Korean glyphs in the browser tests' screenshots
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "all system packages present"
fi
