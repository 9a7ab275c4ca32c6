#!/usr/bin/env bash
# The official postgres image's contract, as the compose file and the postgres chart use it:
# POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE, POSTGRES_USER (default postgres), PGDATA, any
# numeric UID (the chart runs 10432 on a read-only root: nss_wrapper gives it a passwd entry, as
# the official entrypoint does), and /docker-entrypoint-initdb.d/*.sh once on an empty data
# directory, against a socket-only server. Then serve. Anything else is not reproduced: refuse.
set -euo pipefail
if [ "$#" -gt 0 ] && [ "$1" != "postgres" ]; then
  echo "postgres stand-in: arguments '$*' are not reproduced (only 'postgres [options]')" >&2
  exit 2
fi
[ "$#" -gt 0 ] && shift
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
  POSTGRES_PASSWORD="$(<"$POSTGRES_PASSWORD_FILE")"
fi
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE must be set}"
export POSTGRES_USER="${POSTGRES_USER:-postgres}"

if ! getent passwd "$(id -u)" >/dev/null; then
  wrapper_dir=$(mktemp -d)
  printf 'postgres:x:%s:%s:PostgreSQL:%s:/bin/false\n' "$(id -u)" "$(id -g)" "$PGDATA" >"$wrapper_dir/passwd"
  printf 'postgres:x:%s:\n' "$(id -g)" >"$wrapper_dir/group"
  export LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libnss_wrapper.so NSS_WRAPPER_PASSWD="$wrapper_dir/passwd" NSS_WRAPPER_GROUP="$wrapper_dir/group"
  [ -e "$LD_PRELOAD" ] || LD_PRELOAD=$(find /usr/lib -name libnss_wrapper.so | head -n 1)
fi

mkdir -p "$PGDATA"
chmod 0700 "$PGDATA" 2>/dev/null || true
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  for script in /docker-entrypoint-initdb.d/*.sh; do
    [ -e "$script" ] && bash "$script"
  done
  pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec postgres -c listen_addresses='*' "$@"
