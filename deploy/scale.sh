#!/usr/bin/env bash
# Scale the API to N instances behind nginx (contract 16.3) and wait until N backend
# containers report healthy.
#
#   ./scale.sh N            (from deploy/ or from anywhere: paths are resolved from this file)
#
# Environment:
#   SCALE_TIMEOUT   seconds to wait for N healthy backends (default 300)
#   COMPOSE         compose command (default "docker compose"; e.g. "podman compose")
#   JWT_SECRET etc. as for the compose file (JWT_SECRET is required)
set -euo pipefail

usage() {
    cat <<USAGE
usage: $(basename "$0") N

Starts (or updates) the stack of docker-compose.scalable.yml with N backend instances and
waits until N containers whose name contains 'task-management-api-backend' are healthy.
  N               number of backend instances, an integer >= 1
  SCALE_TIMEOUT   seconds to wait (default 300)
USAGE
}

if [[ $# -ne 1 ]] || [[ "$1" == "-h" || "$1" == "--help" ]]; then
    usage >&2
    [[ $# -eq 1 ]] && exit 0
    exit 2
fi

N="$1"
if ! [[ "$N" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: N must be a positive integer, got '$N'" >&2
    usage >&2
    exit 2
fi

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
COMPOSE_FILE="$SCRIPT_DIR/docker-compose.scalable.yml"
TIMEOUT="${SCALE_TIMEOUT:-300}"
read -r -a COMPOSE_CMD <<< "${COMPOSE:-docker compose}"
# Container names are <project>-backend-<n>; the project name is fixed in the compose file.
NAME_PATTERN="task-management-api-backend"

echo "Scaling backend to $N instance(s)..."
"${COMPOSE_CMD[@]}" -f "$COMPOSE_FILE" up -d --scale "backend=$N"

count_backends() {
    # $1: extra docker ps filter (e.g. health=healthy) or empty
    local filter=(--filter "name=$NAME_PATTERN" --filter "status=running")
    if [[ -n "${1:-}" ]]; then
        filter+=(--filter "$1")
    fi
    docker ps "${filter[@]}" --format '{{.Names}}' | grep -c -- "$NAME_PATTERN" || true
}

echo "Waiting up to ${TIMEOUT}s for $N healthy backend(s)..."
deadline=$(( $(date +%s) + TIMEOUT ))
while :; do
    running="$(count_backends "")"
    healthy="$(count_backends "health=healthy")"
    printf '  running: %s, healthy: %s / %s\n' "$running" "$healthy" "$N"
    if [[ "$healthy" -eq "$N" && "$running" -eq "$N" ]]; then
        break
    fi
    if (( $(date +%s) >= deadline )); then
        echo "error: only $healthy of $N backends became healthy within ${TIMEOUT}s" >&2
        docker ps --filter "name=$NAME_PATTERN" --format 'table {{.Names}}\t{{.Status}}' >&2
        exit 1
    fi
    sleep 5
done

echo "OK: $N backend instance(s) healthy:"
docker ps --filter "name=$NAME_PATTERN" --format 'table {{.Names}}\t{{.Status}}'
cat <<DONE

nginx re-resolves 'backend' every 10 s and Prometheus re-discovers it every 15 s, so every
instance receives traffic and is scraped without a restart.
  API:        http://localhost/api/v1/...
  Prometheus: http://localhost:9090/targets
  Grafana:    http://localhost:3001  (folder "Task API")
DONE
