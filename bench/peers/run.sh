#!/usr/bin/env bash
# Runs spool's benchmark workloads on spool and on its peers (Redis Streams,
# NATS JetStream, PostgreSQL, SQLite) in one run, and prints spool's ratio to
# each. It installs what it needs (Debian packages through apt-get, NATS
# through the Go module proxy), starts private servers on Unix sockets and
# loopback ports in a scratch directory, and stops and removes them at the end.
#
#   bash bench/peers/run.sh                 # the full run (about 15 minutes)
#   bash bench/peers/run.sh --short         # small sizes, to check it works
#   bash bench/peers/run.sh --workload produce-100B,latency
#
# Arguments go to the peers program (see `go run . -h` in bench/peers).
# BENCH_DIR is where the servers' and spool's files go (default: the current
# directory; not tmpfs). BENCH_OUT receives peers.md (the tables), peers.json
# and peers.svg (default: bench/out). A peer that cannot be installed or
# started is skipped with a message saying why; the others still run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${BENCH_OUT:-$root/bench/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
base=${BENCH_DIR:-$PWD}
work=$(mktemp -d "$base/spool-peers-XXXXXX")
chmod 755 "$work"

say() { printf 'run.sh: %s\n' "$*" >&2; }
skip() { say "SKIPPED $1: $2"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else return 1
  fi
}

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    as_root apt-get update -qq >/dev/null 2>&1 || true
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null 2>&1
}

pids=()
pg_bin=
pg_user=
cleanup() {
  set +e
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  if [ -n "$pg_bin" ] && [ -f "$work/pg/postmaster.pid" ]; then
    run_pg "$pg_bin/pg_ctl" -D "$work/pg" -m immediate stop >/dev/null 2>&1
  fi
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for runs a check until it succeeds, for up to 30 seconds.
wait_for() {
  for _ in $(seq 300); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  return 1
}

peer_args=()

# --- Redis Streams -----------------------------------------------------------
start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server || { skip Redis "apt-get install redis-server failed"; return; }
  mkdir -p "$work/redis"
  redis-server --port 0 --unixsocket "$work/redis.sock" --unixsocketperm 700 --dir "$work/redis" \
    --appendonly yes --appendfsync everysec --save '' --daemonize no --logfile "$work/redis.log" &
  pids+=($!)
  if wait_for test -S "$work/redis.sock"; then
    peer_args+=(--redis "$work/redis.sock")
    say "Redis $(redis-server --version | awk '{print $3}') on $work/redis.sock"
  else
    skip Redis "the server did not start: $(tail -3 "$work/redis.log" 2>/dev/null)"
  fi
}

# --- NATS JetStream ----------------------------------------------------------
# Debian's nats-server (2.9) lacks sync_interval, so the server is built from
# its Go module; Debian's is the fallback, without the sync-always variant.
start_nats() {
  local bin="$work/bin/nats-server"
  if ! GOBIN="$work/bin" go install github.com/nats-io/nats-server/v2@latest >"$work/nats-install.log" 2>&1; then
    say "go install nats-server failed ($(tail -1 "$work/nats-install.log")); trying Debian's package"
    bin=$(command -v nats-server || true)
    if [ -z "$bin" ]; then
      apt_install nats-server || { skip NATS "neither go install nor apt-get install nats-server worked"; return; }
      bin=$(command -v nats-server)
    fi
  fi
  cat >"$work/nats-sync.conf" <<EOF
listen: 127.0.0.1:14223
jetstream { store_dir: "$work/nats-sync", sync_interval: always }
EOF
  "$bin" -a 127.0.0.1 -p 14222 -js -sd "$work/nats" >"$work/nats.log" 2>&1 &
  pids+=($!)
  if ! wait_for grep -q "Server is ready" "$work/nats.log"; then
    skip NATS "the server did not start: $(tail -3 "$work/nats.log")"
    return
  fi
  peer_args+=(--nats nats://127.0.0.1:14222)
  "$bin" -c "$work/nats-sync.conf" >"$work/nats-sync.log" 2>&1 &
  pids+=($!)
  if wait_for grep -q "Server is ready" "$work/nats-sync.log"; then
    peer_args+=(--nats-sync nats://127.0.0.1:14223)
  else
    skip "NATS sync always" "the server did not start: $(tail -3 "$work/nats-sync.log")"
  fi
  say "NATS $("$bin" --version) on 127.0.0.1:14222 (default sync) and :14223 (sync always)"
}

# --- PostgreSQL --------------------------------------------------------------
# PostgreSQL refuses to run as root: as root, its cluster belongs to the
# postgres user that Debian's package creates.
run_pg() {
  if [ -n "$pg_user" ]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi
}

start_postgres() {
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$pg_bin" ]; then
    apt_install postgresql || { skip PostgreSQL "apt-get install postgresql failed"; pg_bin=; return; }
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  if [ "$(id -u)" = 0 ]; then
    pg_user=postgres
    id postgres >/dev/null 2>&1 || { skip PostgreSQL "running as root and there is no postgres user"; pg_bin=; return; }
  fi
  mkdir -p "$work/pg" "$work/pgsock"
  [ -n "$pg_user" ] && chown "$pg_user" "$work/pg" "$work/pgsock"
  if ! run_pg "$pg_bin/initdb" -D "$work/pg" -U bench --auth=trust >"$work/pg-init.log" 2>&1; then
    skip PostgreSQL "initdb failed: $(tail -3 "$work/pg-init.log")"
    pg_bin=
    return
  fi
  if ! run_pg "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pgsock/log" -w \
      -o "-k $work/pgsock -p 15432 -c listen_addresses='' -c max_connections=300 -c shared_buffers=512MB" start >/dev/null; then
    skip PostgreSQL "the server did not start: $(tail -3 "$work/pgsock/log")"
    return
  fi
  peer_args+=(--pg "host=$work/pgsock port=15432 user=bench dbname=postgres")
  say "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on $work/pgsock"
}

command -v go >/dev/null || { say "go is needed"; exit 1; }
command -v gcc >/dev/null || apt_install gcc || say "no gcc: SQLite's driver (cgo) will not build"
start_redis
start_nats
start_postgres

say "building the peers program"
(cd "$here" && CGO_ENABLED=1 go build -o "$work/bin/peers" .)
say "running; tables in $out/peers.md"
"$work/bin/peers" "${peer_args[@]}" --dir "$work" --json "$out/peers.json" --svg "$out/peers.svg" "$@" | tee "$out/peers.md"
