# The container engine, for scripts/images and scripts/deploy-smoke (sourced, not run).
#
# A running Docker engine is used as it is. Otherwise Podman, with what this machine kind needs
# (docs/DEPLOY.md, "Podman without systemd"): the runc runtime (crun refuses cgroups v1 in hybrid
# mode), explicit nofile and nproc limits (a container may not raise them; nproc at most the
# kernel's pid_max), builds on the host network with the host's CA bundle mounted at a path of
# its own (HTTPS goes through a proxy that re-signs it; mounting over /etc/ssl/certs breaks
# dpkg), the Docker-compatible API on a socket of our own for Docker Compose, and, on a host
# without systemd, healthchecks run by us (systemd's timers run them elsewhere).
#
#   engine_pick          sets ENGINE (docker|podman) and BUILD_FLAGS; 1 if neither is usable
#   engine_install       apt-get install podman runc debootstrap (root with apt-get only)
#   engine_installable   0 if an engine exists or can be installed that way
#   engine_api_start     podman: serve the Docker API, export DOCKER_HOST; docker: nothing
#   engine_api_stop
#   health_ticker P      podman without systemd: run the healthchecks of compose project P (loop)

ENGINE_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENGINE_STATE="$ENGINE_REPO/.cache/engine"
HOST_CA=/etc/ssl/certs/ca-certificates.crt

engine_log() { printf '%s\n' "$*" >&2; }

# A Docker engine answers (not Podman's Docker-compatible API, which DOCKER_HOST may name).
docker_engine_up() {
  command -v docker >/dev/null 2>&1 || return 1
  local server
  server="$(docker version --format '{{json .Server}}' 2>/dev/null)" || return 1
  [ -n "$server" ] && [ "$server" != null ] && [[ "$server" != *Podman* ]]
}

engine_installable() {
  if docker_engine_up || command -v podman >/dev/null 2>&1; then return 0; fi
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1
}

engine_install() {
  command -v podman >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 && return 0
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    engine_log "no container engine: install Docker, or Podman (Debian: apt-get install podman runc debootstrap)"
    return 1
  fi
  engine_log "installing podman, runc and debootstrap (Debian packages)"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q podman runc debootstrap >/dev/null
}

# Podman's settings for this machine, in a containers.conf of our own (CONTAINERS_CONF).
podman_conf() {
  local nofile nproc pidmax
  nofile="$(ulimit -Hn)"; [ "$nofile" = unlimited ] && nofile=1048576
  nproc="$(ulimit -Hu)"; [ "$nproc" = unlimited ] && nproc=1048576
  pidmax="$(cat /proc/sys/kernel/pid_max 2>/dev/null || echo 32768)"
  [ "$nproc" -gt "$pidmax" ] && nproc="$pidmax"
  mkdir -p "$ENGINE_STATE"
  {
    echo "# written by scripts/engine.sh"
    echo "[containers]"
    echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
    echo "[engine]"
    command -v runc >/dev/null 2>&1 && echo 'runtime = "runc"'
  } >"$ENGINE_STATE/containers.conf"
  export CONTAINERS_CONF="$ENGINE_STATE/containers.conf"
  ULIMIT_FLAGS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc")
}

engine_pick() {
  BUILD_FLAGS=(--network host)
  if docker_engine_up; then
    ENGINE=docker
  elif command -v podman >/dev/null 2>&1; then
    ENGINE=podman
    podman_conf
    BUILD_FLAGS+=("${ULIMIT_FLAGS[@]}")
    [ -s "$HOST_CA" ] && BUILD_FLAGS+=(--volume "$HOST_CA:/run/host-ca.crt:ro")
  else
    return 1
  fi
  export ENGINE
}

engine_api_start() {
  [ "$ENGINE" = podman ] || return 0
  local sock="$ENGINE_STATE/podman-$$.sock"
  rm -f "$sock"
  podman system service --time=0 "unix://$sock" >"$ENGINE_STATE/podman-service.log" 2>&1 &
  ENGINE_API_PID=$!
  export DOCKER_HOST="unix://$sock"
  local i
  for i in $(seq 1 100); do
    [ -S "$sock" ] && docker version >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  engine_log "podman system service did not answer on $sock (see $ENGINE_STATE/podman-service.log)"
  return 1
}

engine_api_stop() {
  if [ -n "${ENGINE_API_PID:-}" ]; then
    kill "$ENGINE_API_PID" 2>/dev/null || true
    wait "$ENGINE_API_PID" 2>/dev/null || true
    ENGINE_API_PID=
  fi
}

# Podman needs systemd to schedule healthchecks; without it, this loop plays that part for the
# containers of compose project $1 (and docker compose's `depends_on: service_healthy` waits on it).
needs_health_ticker() { [ "$ENGINE" = podman ] && [ ! -d /run/systemd/system ]; }

health_ticker() {
  local project="$1" id
  while true; do
    for id in $(podman ps -q --filter "label=com.docker.compose.project=$project" 2>/dev/null); do
      podman healthcheck run "$id" >/dev/null 2>&1 || true
    done
    sleep 3
  done
}
