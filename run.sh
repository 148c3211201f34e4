#!/usr/bin/env bash
# The two commands of the README:
#   ./run.sh demo   set up everything that is missing, load the generated demo, serve it
#   ./run.sh test   the same set-up, then the whole test suite
#   ./run.sh serve  serve what is set up (gunicorn + the supervised job worker), no set-up
#   ./run.sh secret-key   create the session key file if missing and print its path
#   ./run.sh cluster [--size full|tiny|city] [--restore BACKUP_DIR]
#                   the read side grown sideways, on this machine: a private PostgreSQL
#                   primary (WAL archived) and a streaming replica (under var/cluster, own
#                   ports), two app nodes, the job worker, nginx with a tile cache in front
#                   (README: Cluster); the primary holds the demo of that size, or the backup
# Every step checks before it acts, so a second run is fast and duplicates nothing.
set -euo pipefail
CALLER_DIR=$PWD  # relative paths given on the command line are the caller's
cd "$(dirname "$0")"
ROOT=$(pwd)

export PLANNING_DB_NAME=${PLANNING_DB_NAME:-planning}
export PLANNING_DB_USER=${PLANNING_DB_USER:-planning}
export PLANNING_DB_PASSWORD=${PLANNING_DB_PASSWORD:-planning}
export PLANNING_DB_HOST=${PLANNING_DB_HOST:-127.0.0.1}
export PLANNING_DB_PORT=${PLANNING_DB_PORT:-5432}
export PLANNING_DATABASE_URL=${PLANNING_DATABASE_URL:-postgresql+psycopg://$PLANNING_DB_USER:$PLANNING_DB_PASSWORD@$PLANNING_DB_HOST:$PLANNING_DB_PORT/$PLANNING_DB_NAME}
export PLANNING_DATA_DIR=${PLANNING_DATA_DIR:-$ROOT/var}
PORT=${PORT:-8000}
VENV=${PLANNING_VENV:-$ROOT/.venv}
PY=$VENV/bin/python
# Started as root, the service runs as this unprivileged system user (created if missing).
SERVICE_USER=${PLANNING_SERVICE_USER:-planning}

APT_PACKAGES=(postgresql-15 postgresql-15-postgis-3 postgresql-contrib gdal-bin chromium
  fonts-dejavu-core tesseract-ocr tesseract-ocr-vie poppler-utils wrk nghttp2-client nodejs npm
  python3-venv
  python3-qgis qgis-providers nginx-light)

log() { printf '\033[1m[run.sh]\033[0m %s\n' "$*"; }
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else sudo -u postgres sh -c "$*"; fi; }

setup_system() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # nodejs/npm may come from elsewhere on a developer's machine: a working npm is enough.
  if command -v npm >/dev/null 2>&1; then
    missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
  fi
  if command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' 2>/dev/null; then
    missing=("${missing[@]/python3-venv}")
  fi
  local want=()
  for p in "${missing[@]}"; do [ -n "$p" ] && want+=("$p"); done
  if [ ${#want[@]} -gt 0 ]; then
    log "installing Debian packages: ${want[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${want[@]}" >/dev/null
  fi
}

start_db() {
  if ! pg_lsclusters -h 2>/dev/null | grep -q '^15 *main'; then
    log "creating PostgreSQL cluster 15/main"
    pg_createcluster 15 main >/dev/null
  fi
  if ! pg_lsclusters -h | awk '$1==15 && $2=="main" {print $4}' | grep -q online; then
    log "starting PostgreSQL 15"
    pg_ctlcluster 15 main start
  fi
  for _ in $(seq 1 30); do
    pg_isready -q -h "$PLANNING_DB_HOST" -p "$PLANNING_DB_PORT" && return 0
    sleep 0.5
  done
  echo "PostgreSQL did not become ready on $PLANNING_DB_HOST:$PLANNING_DB_PORT" >&2
  exit 1
}

setup_db() {
  # The service's role may create databases (the tests make their own) but is no superuser;
  # the extensions are created once by postgres in template1 and in the service database.
  as_postgres "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='$PLANNING_DB_USER'\"" | grep -q 1 ||
    as_postgres "psql -qc \"CREATE ROLE $PLANNING_DB_USER LOGIN CREATEDB PASSWORD '$PLANNING_DB_PASSWORD'\""
  as_postgres "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='$PLANNING_DB_NAME'\"" | grep -q 1 ||
    as_postgres "createdb -O $PLANNING_DB_USER $PLANNING_DB_NAME"
  for db in template1 "$PLANNING_DB_NAME"; do
    as_postgres "psql -q -d $db -c 'CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS unaccent; CREATE EXTENSION IF NOT EXISTS pg_trgm;'" 2>&1 | grep -v 'already exists' || true
  done
}

setup_python() {
  local stamp_src stamp
  stamp_src=$(cat pyproject.toml; echo "$(python3 --version 2>&1)")
  stamp=$(printf '%s' "$stamp_src" | sha256sum | cut -c1-16)
  if [ ! -x "$PY" ]; then
    log "creating the virtual environment $VENV"
    python3 -m venv "$VENV"
  fi
  if [ ! -f "$VENV/.installed-$stamp" ]; then
    log "installing Python packages"
    "$PY" -m pip install -q --upgrade pip >/dev/null
    "$PY" -m pip install -q -e '.[test]'
    rm -f "$VENV"/.installed-*
    touch "$VENV/.installed-$stamp"
  fi
}

setup_frontend() {
  local stamp
  stamp=$(cat frontend/package.json frontend/package-lock.json frontend/build.sh 2>/dev/null | sha256sum | cut -c1-16)
  if [ ! -f "planning_gis/static/vendor/.built-$stamp" ]; then
    log "installing front-end assets from npm"
    (cd frontend && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    rm -rf planning_gis/static/vendor
    bash frontend/build.sh "$ROOT/planning_gis/static/vendor"
    touch "planning_gis/static/vendor/.built-$stamp"
  fi
}

setup() {
  setup_system
  start_db
  setup_db
  setup_python
  setup_frontend
  "$PY" import_maps.py db upgrade
}

ensure_secret_key() {
  # The key that signs session cookies: generated once, kept in the data folder (mode 0600,
  # git-ignored with var/), never in the code: whoever knows it can forge an admin session.
  # An operator's PLANNING_SECRET_KEY or PLANNING_SECRET_KEY_FILE is used as given.
  if [ -n "${PLANNING_SECRET_KEY:-}" ] || [ -n "${PLANNING_SECRET_KEY_FILE:-}" ]; then
    return 0
  fi
  local file="$PLANNING_DATA_DIR/secret_key"
  mkdir -p "$PLANNING_DATA_DIR"
  if [ ! -s "$file" ]; then
    log "generating the session key in $file"
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >"$file.new.$$")
    mv "$file.new.$$" "$file"
  fi
  chmod 600 "$file"
  export PLANNING_SECRET_KEY_FILE="$file"
}

# The command prefix that runs a program as the service user (empty unless we are root).
AS_SERVICE=()
SPY=$PY

service_python() {
  # The interpreter the service user runs. A virtual environment made from an interpreter
  # under a private folder (pyenv in /root) cannot be run by another user: then a small
  # environment on the system's Python of the same version reads the packages of $VENV.
  if "${AS_SERVICE[@]}" "$PY" -c '' 2>/dev/null; then
    SPY=$PY
    return 0
  fi
  local want sys_py=/usr/bin/python3 shim=$ROOT/.venv-service
  want=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  local site
  site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  if [ ! -x "$sys_py" ] || [ "$("$sys_py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$want" ]; then
    echo "error: user $SERVICE_USER cannot run $PY (its interpreter is in a folder only root can read) and there is no system Python $want; recreate the environment with a system Python: rm -rf $VENV && ./run.sh setup" >&2
    exit 2
  fi
  if [ ! -x "$shim/bin/python" ] || [ "$(cat "$shim/.site" 2>/dev/null)" != "$site" ]; then
    log "making $shim: Python $want for user $SERVICE_USER, with the packages of $VENV"
    rm -rf "$shim"
    "$sys_py" -m venv --without-pip "$shim"
    "$shim/bin/python" -c 'import sysconfig, sys; print(sysconfig.get_paths()["purelib"])' >"$shim/.purelib"
    echo "$site" >"$(cat "$shim/.purelib")/planning-venv.pth"
    echo "$site" >"$shim/.site"
  fi
  SPY=$shim/bin/python
  if ! "${AS_SERVICE[@]}" "$SPY" -c 'import flask, gunicorn, rasterio' 2>/dev/null; then
    echo "error: user $SERVICE_USER cannot import the packages of $VENV through $SPY" >&2
    exit 2
  fi
}

prepare_service_user() {
  # Started as root, gunicorn and the worker run as an unprivileged system user that owns the
  # data folder and only reads the code and the virtual environment.
  if [ "$(id -u)" != 0 ]; then
    return 0
  fi
  if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    log "creating the system user $SERVICE_USER"
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  mkdir -p "$PLANNING_DATA_DIR"
  chown -R "$SERVICE_USER:$SERVICE_USER" "$PLANNING_DATA_DIR"
  # setpriv execs the program itself (no process in between): signals reach it directly.
  AS_SERVICE=(setpriv "--reuid=$SERVICE_USER" "--regid=$SERVICE_USER" --init-groups
    env "HOME=$PLANNING_DATA_DIR" "USER=$SERVICE_USER" "LOGNAME=$SERVICE_USER")
  if ! "${AS_SERVICE[@]}" test -r "$ROOT/server.py"; then
    echo "error: user $SERVICE_USER cannot read $ROOT (make it readable: chmod o+rX on it and its parents)" >&2
    exit 2
  fi
}

supervise_worker() {
  # The job worker, started again whenever it exits (1 s, doubling up to 60 s; back to 1 s
  # after a minute of running), until gunicorn stops or we are told to stop. The worker itself
  # rides out a database restart; this is for anything else that ends it (a kill, OOM).
  set +e  # this runs in a subshell of its own: a failed kill must not end the supervision
  local delay=1 started status child='' pause='' stopping=0
  trap 'stopping=1; [ -z "$child" ] || kill -TERM "$child" 2>/dev/null; [ -z "$pause" ] || kill "$pause" 2>/dev/null' TERM INT
  while [ "$stopping" = 0 ] && kill -0 "$GUNICORN_PID" 2>/dev/null; do
    started=$SECONDS
    "${AS_SERVICE[@]}" "$SPY" import_maps.py jobs run &
    child=$!
    status=0
    wait "$child" || status=$?
    while kill -0 "$child" 2>/dev/null; do wait "$child" || status=$?; done  # a trap interrupted wait
    child=''
    if [ "$stopping" != 0 ] || ! kill -0 "$GUNICORN_PID" 2>/dev/null; then
      break
    fi
    if [ $((SECONDS - started)) -ge 60 ]; then delay=1; fi
    log "job worker exited (status $status); starting it again in ${delay} s"
    sleep "$delay" &
    pause=$!
    wait "$pause" || true
    pause=''
    delay=$((delay * 2 > 60 ? 60 : delay * 2))
  done
}

serve() {
  ensure_secret_key
  prepare_service_user
  service_python
  # Publishing runs in the job worker, a process of its own beside gunicorn (a request would
  # be killed after 30 s). gunicorn does not depend on it: a worker that dies is started
  # again; when gunicorn stops, so does the worker.
  log "serving on http://127.0.0.1:$PORT/${AS_SERVICE[*]:+ as user $SERVICE_USER}"
  "${AS_SERVICE[@]}" "$SPY" -m gunicorn -c python:planning_gis.web.gunicorn_config \
    --workers "${WORKERS:-4}" --threads "${THREADS:-4}" \
    --bind "127.0.0.1:$PORT" --access-logfile - "server:create_app()" &
  GUNICORN_PID=$!
  log "starting the job worker (import_maps.py jobs run), restarted if it stops"
  supervise_worker &
  SUPERVISOR_PID=$!
  stop_all() {
    kill -TERM "$GUNICORN_PID" "$SUPERVISOR_PID" 2>/dev/null || true
    wait "$GUNICORN_PID" 2>/dev/null || true
    wait "$SUPERVISOR_PID" 2>/dev/null || true
  }
  trap 'stop_all; exit 130' INT
  trap 'stop_all; exit 143' TERM
  local status=0
  wait "$GUNICORN_PID" || status=$?
  trap - INT TERM
  stop_all
  exit "$status"
}

PG_BIN=${PLANNING_PG_BIN:-/usr/lib/postgresql/15/bin}
CLUSTER_DIR=${PLANNING_CLUSTER_DIR:-$PLANNING_DATA_DIR/cluster}
CLUSTER_PG_PORT=${CLUSTER_PG_PORT:-55432}
CLUSTER_REPLICA_PORT=${CLUSTER_REPLICA_PORT:-55433}
CLUSTER_NODE_PORTS=${CLUSTER_NODE_PORTS:-"8001 8002"}
CLUSTER_PORT=${CLUSTER_PORT:-8080}
CLUSTER_WAL_ARCHIVE=${CLUSTER_WAL_ARCHIVE:-$CLUSTER_DIR/wal-archive}

cluster_pg_start() {
  # $1 data folder, $2 port, $3 extra server options. The servers run as the service user
  # (or us): they are this cluster's own, never the shared 15/main on 5432.
  local data=$1 port=$2
  if "${AS_SERVICE[@]}" "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    return 0
  fi
  "${AS_SERVICE[@]}" "$PG_BIN/pg_ctl" -D "$data" -l "$data/../$(basename "$data").log" -w -t 120 \
    -o "-p $port -k $CLUSTER_DIR/sockets -c listen_addresses=127.0.0.1 $3" start >/dev/null
}

cluster_psql() { "${AS_SERVICE[@]}" "$PG_BIN/psql" -h 127.0.0.1 -p "$CLUSTER_PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

cluster_up_db() {
  # $1 demo size (load the generated demo of that size) or "", $2 a backup folder to restore
  # (import_maps.py backup create) or "". Both go into the primary BEFORE the replica is made,
  # so the replica starts as a copy of the loaded data.
  local size=$1 restore=$2
  mkdir -p "$CLUSTER_DIR/sockets" "$CLUSTER_WAL_ARCHIVE"
  [ "$(id -u)" = 0 ] && chown -R "$SERVICE_USER:$SERVICE_USER" "$CLUSTER_DIR" "$CLUSTER_WAL_ARCHIVE"
  local primary=$CLUSTER_DIR/primary replica=$CLUSTER_DIR/replica
  if [ ! -f "$primary/PG_VERSION" ]; then
    log "creating the cluster's PostgreSQL primary in $primary (port $CLUSTER_PG_PORT)"
    # trust on 127.0.0.1 only, for this one machine; on separate machines: scram-sha-256 and
    # a replication role (README, Cluster). Into a temporary folder renamed at the end, as the
    # replica: an initdb cut short (TERM during the set-up) left a folder that the next start
    # could neither use nor initialise ("exists but is not empty"). A primary folder without
    # PG_VERSION is such a remnant, never a database. The temporary folder is named by this
    # run.sh's pid: a bootstrap backend of the cut run, if it is still dying, writes into its
    # own, never into ours.
    rm -rf "$primary" "$primary".partial*
    "${AS_SERVICE[@]}" "$PG_BIN/initdb" -D "$primary.partial.$$" -A trust -U postgres -E UTF8 \
      --locale C.UTF-8 >/dev/null
    mv "$primary.partial.$$" "$primary"
  fi
  # WAL archiving (README, Backups): every finished WAL segment is copied into the archive
  # folder by planning_gis/data/wal-archive.sh; with a base backup (import_maps.py backup base)
  # it restores the database to any moment since. In a file of its own, written at each start
  # (the paths may have moved); pg_basebackup copies it to the replica, where it does nothing
  # until the replica is promoted (then it archives its new timeline into the same folder).
  grep -q "^include_if_exists = 'archive.conf'" "$primary/postgresql.conf" ||
    echo "include_if_exists = 'archive.conf'" >>"$primary/postgresql.conf"
  printf "%s\n" "# Written by run.sh cluster at each start." "archive_mode = on" \
    "archive_command = '\"$ROOT/planning_gis/data/wal-archive.sh\" \"%p\" \"$CLUSTER_WAL_ARCHIVE/%f\"'" \
    "archive_timeout = 300" >"$primary/archive.conf"
  [ "$(id -u)" = 0 ] && chown "$SERVICE_USER:$SERVICE_USER" "$primary/archive.conf"
  cluster_pg_start "$primary" "$CLUSTER_PG_PORT" \
    "-c wal_level=replica -c max_wal_senders=8 -c wal_keep_size=512MB -c shared_buffers=256MB"
  if [ "$(cluster_psql -d postgres -c 'SHOW archive_mode')" != on ]; then
    log "restarting the primary to turn WAL archiving on"
    "${AS_SERVICE[@]}" "$PG_BIN/pg_ctl" -D "$primary" -w -t 120 restart -m fast >/dev/null
  fi
  cluster_psql -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname='$PLANNING_DB_USER'" | grep -q 1 ||
    cluster_psql -d postgres -c "CREATE ROLE $PLANNING_DB_USER LOGIN CREATEDB PASSWORD '$PLANNING_DB_PASSWORD'"
  cluster_psql -d postgres -c "SELECT 1 FROM pg_database WHERE datname='$PLANNING_DB_NAME'" | grep -q 1 ||
    cluster_psql -d postgres -c "CREATE DATABASE $PLANNING_DB_NAME OWNER $PLANNING_DB_USER"
  cluster_psql -d "$PLANNING_DB_NAME" -c 'CREATE EXTENSION IF NOT EXISTS postgis; CREATE EXTENSION IF NOT EXISTS unaccent; CREATE EXTENSION IF NOT EXISTS pg_trgm;'
  local started=$SECONDS
  if [ -n "$restore" ]; then
    if [ "$(cat "$CLUSTER_DIR/restored-from" 2>/dev/null)" = "$restore" ]; then
      log "the primary already holds the backup $restore"
    else
      log "restoring the backup $restore into the primary (pg_restore, then row counts and files checked)"
      "${AS_SERVICE[@]}" "$SPY" import_maps.py backup restore "$restore"
      echo "$restore" >"$CLUSTER_DIR/restored-from"
      log "restored in $((SECONDS - started)) s"
    fi
    "${AS_SERVICE[@]}" "$SPY" import_maps.py db upgrade
  else
    "${AS_SERVICE[@]}" "$SPY" import_maps.py db upgrade
    "${AS_SERVICE[@]}" "$SPY" import_maps.py demo load ${size:+--size "$size"}
    log "demo ${size:-$PLANNING_DEMO_SIZE} in the primary after $((SECONDS - started)) s"
  fi
  if [ ! -f "$replica/PG_VERSION" ]; then
    log "making the streaming replica with pg_basebackup -R in $replica (port $CLUSTER_REPLICA_PORT)"
    started=$SECONDS
    # Into a temporary folder renamed at the end: a copy cut short is never taken for a replica.
    rm -rf "$replica.partial"
    "${AS_SERVICE[@]}" "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$CLUSTER_PG_PORT" -U postgres \
      -D "$replica.partial" -R -X stream -c fast
    mv "$replica.partial" "$replica"
    log "replica copied in $((SECONDS - started)) s"
  fi
  # The primary's address at each start (pg_basebackup -R wrote the one of the day it ran: a
  # primary moved to another port would leave the replica waiting for WAL that never comes).
  cluster_pg_start "$replica" "$CLUSTER_REPLICA_PORT" "-c hot_standby_feedback=on -c shared_buffers=256MB \
    -c primary_conninfo='host=127.0.0.1 port=$CLUSTER_PG_PORT user=postgres application_name=replica'"
}

# What cluster() started so far, for cluster_stop (Ctrl-C may come during any step).
CLUSTER_NODE_PIDS=()
CLUSTER_NGINX_PID=''

CLUSTER_STOPPED=''

cluster_stop() {
  [ -z "$CLUSTER_STOPPED" ] || return 0
  CLUSTER_STOPPED=1
  local p
  for p in "$CLUSTER_NGINX_PID" "${CLUSTER_NODE_PIDS[@]}" "${SUPERVISOR_PID:-}"; do
    [ -z "$p" ] || kill -TERM "$p" 2>/dev/null || true
  done
  for p in "$CLUSTER_NGINX_PID" "${CLUSTER_NODE_PIDS[@]}" "${SUPERVISOR_PID:-}"; do
    [ -z "$p" ] || wait "$p" 2>/dev/null || true
  done
  # pg_ctl starts the servers in a session of their own (a Ctrl-C does not reach them).
  local data
  for data in "$CLUSTER_DIR/replica" "$CLUSTER_DIR/primary"; do
    [ -f "$data/postmaster.pid" ] &&
      { "${AS_SERVICE[@]}" "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 || true; }
  done
  log "cluster stopped"
}

cluster() {
  # One machine standing for several: see README, "Cluster", for the same pieces on separate
  # machines. Ctrl-C (or TERM) stops everything this started, PostgreSQL servers included,
  # whatever step it came in.
  local size='' restore=''
  while [ $# -gt 0 ]; do
    case "$1" in
      --size) size=${2:-}; shift 2 || shift ;;
      --restore) restore=${2:-}; shift 2 || shift ;;
      *) echo "error: unknown option $1 (./run.sh cluster [--size full|tiny|city] [--restore BACKUP_DIR])" >&2; exit 2 ;;
    esac
  done
  case "$size" in
    ''|full|tiny|city) ;;
    *) echo "error: --size is full, tiny or city, not '$size'" >&2; exit 2 ;;
  esac
  if [ -n "$restore" ]; then
    case "$restore" in /*) ;; *) restore=$CALLER_DIR/$restore ;; esac
    [ -z "$size" ] || { echo "error: --size and --restore exclude each other" >&2; exit 2; }
    [ -f "$restore/manifest.json" ] ||
      { echo "error: $restore is not a backup folder (no manifest.json; see import_maps.py backup create)" >&2; exit 2; }
    restore=$(cd "$restore" && pwd)
  fi
  trap 'cluster_stop; exit 130' INT
  trap 'cluster_stop; exit 143' TERM
  # Also when a step fails (set -e), or a signal kills the step in the foreground first.
  trap cluster_stop EXIT
  # PLANNING_SKIP_SETUP=1: the packages are there (bench/cluster.py runs inside the venv it
  # gives as PLANNING_VENV); nothing is installed.
  if [ "${PLANNING_SKIP_SETUP:-}" != 1 ]; then
    setup_system
    setup_python
    setup_frontend
  fi
  ensure_secret_key
  prepare_service_user
  service_python
  if [ -n "$restore" ] && ! "${AS_SERVICE[@]}" test -r "$restore/manifest.json"; then
    echo "error: user $SERVICE_USER cannot read $restore (chmod -R o+rX it, or chown it)" >&2
    exit 2
  fi
  local base="postgresql+psycopg://$PLANNING_DB_USER:$PLANNING_DB_PASSWORD@127.0.0.1"
  export PLANNING_DATABASE_URL="$base:$CLUSTER_PG_PORT/$PLANNING_DB_NAME"
  export PLANNING_READ_DATABASE_URL="$base:$CLUSTER_REPLICA_PORT/$PLANNING_DB_NAME"
  # The demo's size also decides its settings (the city's caches and limits).
  [ -z "$size" ] || export PLANNING_DEMO_SIZE=$size
  cluster_up_db "$size" "$restore"
  local upstreams=() port
  for port in $CLUSTER_NODE_PORTS; do
    # Each node its own search index (never on storage shared between nodes).
    "${AS_SERVICE[@]}" env "PLANNING_SEARCH_INDEX_DIR=$CLUSTER_DIR/node-$port/search-index" \
      "$SPY" -m gunicorn -c python:planning_gis.web.gunicorn_config \
      --workers "${WORKERS:-2}" --threads "${THREADS:-4}" --bind "127.0.0.1:$port" \
      --access-logfile "$CLUSTER_DIR/node-$port.access.log" "server:create_app()" &
    CLUSTER_NODE_PIDS+=($!)
    upstreams+=(--upstream "127.0.0.1:$port")
  done
  GUNICORN_PID=${CLUSTER_NODE_PIDS[0]}
  supervise_worker &
  SUPERVISOR_PID=$!
  local conf started=$SECONDS
  # The static read side (PMTiles + TileJSON per layer); a layer whose edition did not change
  # since the last run is kept. CLUSTER_STATIC: publish static's options (on the city, e.g.
  # "--layer zones --max-zoom 14": every layer to z16 is hours of rendering), "off" to skip.
  if [ "${CLUSTER_STATIC:-}" != off ]; then
    # shellcheck disable=SC2086  # CLUSTER_STATIC is a list of options
    "${AS_SERVICE[@]}" "$SPY" import_maps.py publish static "$CLUSTER_DIR/static" \
      --base-url "http://127.0.0.1:$CLUSTER_PORT/pmtiles" ${CLUSTER_STATIC:-} | sed 's/^/  static: /' ||
      log "static publication failed (the API serves the same tiles): see the message above"
    log "static publication: $((SECONDS - started)) s"
  fi
  conf=$("${AS_SERVICE[@]}" "$SPY" -m planning_gis.cluster "$CLUSTER_DIR/nginx" \
    --listen "127.0.0.1:$CLUSTER_PORT" --static "$CLUSTER_DIR/static" "${upstreams[@]}")
  "${AS_SERVICE[@]}" nginx -c "$conf" -p "$CLUSTER_DIR/nginx" -g 'daemon off;' &
  CLUSTER_NGINX_PID=$!
  local ready=''
  for _ in $(seq 1 240); do
    curl -fs "http://127.0.0.1:$CLUSTER_PORT/api/ready" >/dev/null 2>&1 && { ready=1; break; }
    sleep 0.5
  done
  [ -n "$ready" ] || log "warning: /api/ready did not answer 200 within 120 s (see $CLUSTER_DIR/*.log)"
  log "cluster up:"
  log "  the service (nginx, tile cache)  http://127.0.0.1:$CLUSTER_PORT/"
  log "  static PMTiles + TileJSON        http://127.0.0.1:$CLUSTER_PORT/pmtiles/zones.json"
  for port in $CLUSTER_NODE_PORTS; do
    log "  app node                         http://127.0.0.1:$port/  (/api/ready, /metrics)"
  done
  log "  PostgreSQL primary               127.0.0.1:$CLUSTER_PG_PORT  ($CLUSTER_DIR/primary)"
  log "  PostgreSQL streaming replica     127.0.0.1:$CLUSTER_REPLICA_PORT  ($CLUSTER_DIR/replica)"
  log "  WAL archive                      $CLUSTER_WAL_ARCHIVE"
  log "  logs                             $CLUSTER_DIR/*.log, $CLUSTER_DIR/nginx/access.log"
  local status=0
  # An app node that dies is routed around by nginx (and is the operator's to restart); the
  # cluster stops when nginx does.
  wait "$CLUSTER_NGINX_PID" || status=$?
  log "nginx stopped (status $status): stopping the rest"
  trap - INT TERM
  cluster_stop
  exit "$status"
}

case "${1:-}" in
  demo)
    setup
    "$PY" import_maps.py demo load
    serve
    ;;
  serve)
    serve
    ;;
  secret-key)
    ensure_secret_key
    echo "${PLANNING_SECRET_KEY_FILE:-PLANNING_SECRET_KEY is set in the environment}"
    ;;
  test)
    setup
    shift
    exec "$PY" -m pytest "$@"
    ;;
  setup)
    setup
    ;;
  cluster)
    shift
    cluster "$@"
    ;;
  *)
    echo "usage: ./run.sh demo | serve | test [pytest args] | setup | secret-key | cluster" >&2
    exit 2
    ;;
esac
