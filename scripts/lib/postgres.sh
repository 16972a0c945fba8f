# shellcheck shell=bash
# start_postgres: makes sure PostgreSQL binaries exist (Debian packages), starts a throwaway
# cluster on 127.0.0.1 and sets PG_URL to a superuser URL. The cluster is stopped and deleted
# when the calling shell exits. PG_FSYNC=on makes commits durable (tests run with fsync off);
# PG_SHARED_BUFFERS (e.g. 4GB) sizes PostgreSQL's buffer cache (its default is 128MB).

start_postgres() {
  if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
    echo "PostgreSQL not found: installing it from Debian packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local pgbin
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  PG_ROOT=$(mktemp -d /tmp/coverage-proof-pg.XXXXXX)
  local port=${PG_PORT:-$((54000 + RANDOM % 1000))}
  local run=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres:postgres "$PG_ROOT"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$pgbin/initdb" -D "$PG_ROOT/data" -A trust -U postgres -E UTF8 --no-sync >"$PG_ROOT/initdb.log"
  mkdir -p "$PG_ROOT/sock" && [ "$(id -u)" != 0 ] || chown postgres:postgres "$PG_ROOT/sock"
  "${run[@]}" "$pgbin/pg_ctl" -D "$PG_ROOT/data" -l "$PG_ROOT/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_ROOT/sock -c fsync=${PG_FSYNC:-off} -c max_connections=300 ${PG_SHARED_BUFFERS:+-c shared_buffers=$PG_SHARED_BUFFERS}" start >/dev/null
  PG_STOP=("${run[@]}" "$pgbin/pg_ctl" -D "$PG_ROOT/data" -m fast -w stop)
  trap 'stop_postgres' EXIT
  PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

stop_postgres() {
  if [ -n "${PG_ROOT:-}" ] && [ -d "$PG_ROOT" ]; then
    "${PG_STOP[@]}" >/dev/null 2>&1 || true
    rm -rf "$PG_ROOT"
  fi
}
