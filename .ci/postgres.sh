#!/usr/bin/env bash
# PostgreSQL for the store tests and CI, from Debian's package.
#   .ci/postgres.sh            install the server if missing (root: apt-get), print its bin dir
#   .ci/postgres.sh start DIR  start a throwaway cluster in DIR (unix socket in DIR, a free
#                              loopback port, trust auth for user 'signaal'); print its DSN
#   .ci/postgres.sh stop DIR   stop it (immediate) and remove DIR
# Postgres refuses to run as root: as root the cluster runs as the 'postgres' system user.
set -euo pipefail

find_bin() {
  local d best=""
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && best="$d"; done
  if [ -z "$best" ] && command -v pg_ctl >/dev/null 2>&1; then best=$(dirname "$(readlink -f "$(command -v pg_ctl)")"); fi
  echo "$best"
}

BIN=$(find_bin)
if [ -z "$BIN" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "postgres.sh: PostgreSQL server not installed and not root (apt-get install postgresql)" >&2
    exit 3
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends postgresql >&2
  BIN=$(find_bin)
  [ -n "$BIN" ] || { echo "postgres.sh: installing postgresql gave no initdb" >&2; exit 3; }
fi

as_pg() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
    if command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
  else
    "$@"
  fi
}

case "${1:-install}" in
  install)
    echo "$BIN"
    ;;
  start)
    DIR=${2:?usage: postgres.sh start DIR}
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    [ "$(id -u)" = 0 ] && { id postgres >/dev/null 2>&1 || as_pg true; chown -R postgres "$DIR"; }
    as_pg "$BIN/initdb" -D "$DIR/data" -A trust -U signaal -E UTF8 --no-sync >"$DIR/initdb.log" 2>&1 \
      || { cat "$DIR/initdb.log" >&2; exit 1; }
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DIR -c max_connections=50" start >/dev/null \
      || { cat "$DIR/server.log" >&2; exit 1; }
    echo "postgresql://signaal@127.0.0.1:$PORT/postgres"
    ;;
  stop)
    DIR=${2:?usage: postgres.sh stop DIR}
    [ -d "$DIR/data" ] && as_pg "$BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    ;;
  *)
    echo "usage: postgres.sh [install | start DIR | stop DIR]" >&2
    exit 2
    ;;
esac
