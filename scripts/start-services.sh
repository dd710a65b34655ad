#!/usr/bin/env bash
# Start PostgreSQL, Redis and RabbitMQ on their standard local ports unless already running.
set -euo pipefail

wait_until() { # wait_until SECONDS DESCRIPTION CMD...
  local limit=$1 what=$2; shift 2
  for ((i = 0; i < limit * 4; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "$what did not come up within ${limit}s" >&2
  return 1
}

if pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "postgresql: running"
else
  echo "postgresql: starting"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  wait_until 30 postgresql pg_isready -q -h 127.0.0.1 -p 5432
fi

if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "redis: running"
else
  echo "redis: starting"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_until 15 redis redis-cli -h 127.0.0.1 -p 6379 ping
fi

if rabbitmq-diagnostics -q check_running >/dev/null 2>&1; then
  echo "rabbitmq: running"
else
  echo "rabbitmq: starting"
  rabbitmq-server -detached
  wait_until 60 rabbitmq rabbitmq-diagnostics -q check_running
fi
