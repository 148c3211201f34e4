#!/usr/bin/env bash
# The two commands of the README:
#   ./run.sh demo   set up everything that is missing, load the generated demo, serve it
#   ./run.sh test   the same set-up, then the whole test suite
# Every step checks before it acts, so a second run is fast and duplicates nothing.
set -euo pipefail
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
PY=$ROOT/.venv/bin/python

APT_PACKAGES=(postgresql-15 postgresql-15-postgis-3 postgresql-contrib gdal-bin chromium
  fonts-dejavu-core tesseract-ocr-vie poppler-utils wrk nodejs npm python3-venv
  python3-qgis qgis-providers)

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
    log "creating the virtual environment .venv"
    python3 -m venv .venv
  fi
  if [ ! -f ".venv/.installed-$stamp" ]; then
    log "installing Python packages"
    "$PY" -m pip install -q --upgrade pip >/dev/null
    "$PY" -m pip install -q -e '.[test]'
    rm -f .venv/.installed-*
    touch ".venv/.installed-$stamp"
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

case "${1:-}" in
  demo)
    setup
    "$PY" import_maps.py demo load
    # Publishing runs in the job worker, a process of its own beside gunicorn (a request would
    # be killed after 30 s); it is stopped when gunicorn exits, and gunicorn if it dies.
    log "starting the job worker (import_maps.py jobs run)"
    "$PY" import_maps.py jobs run &
    WORKER_PID=$!
    log "serving the demo on http://127.0.0.1:$PORT/"
    "$ROOT/.venv/bin/gunicorn" -c python:planning_gis.web.gunicorn_config --workers "${WORKERS:-4}" --threads "${THREADS:-4}" \
      --bind "127.0.0.1:$PORT" --access-logfile - "server:create_app()" &
    GUNICORN_PID=$!
    stop_all() {
      kill -TERM "$GUNICORN_PID" "$WORKER_PID" 2>/dev/null || true
      wait "$GUNICORN_PID" "$WORKER_PID" 2>/dev/null || true
    }
    trap 'stop_all; exit 130' INT
    trap 'stop_all; exit 143' TERM
    status=0
    wait -n "$GUNICORN_PID" "$WORKER_PID" || status=$?
    stop_all
    exit "$status"
    ;;
  test)
    setup
    shift
    exec "$PY" -m pytest "$@"
    ;;
  setup)
    setup
    ;;
  *)
    echo "usage: ./run.sh demo | test [pytest args] | setup" >&2
    exit 2
    ;;
esac
