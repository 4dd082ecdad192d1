#!/usr/bin/env bash
# Make sure this machine has a Docker engine answering on /var/run/docker.sock, plus the Debian
# packages the build and tests rely on. Idempotent: when everything is in place it only checks
# and exits 0 in well under a second. Needs root (installs packages, starts dockerd).
set -euo pipefail

SOCK=/var/run/docker.sock
LOG=/var/log/powerstrip-dockerd.log
WAIT_SECONDS=60
# docker.io: engine 20.10 (API 1.41) with containerd and runc; docker-compose: the v1 standalone
# binary loader images drive; debootstrap: base images (no registry to pull from);
# docker-registry: the loopback registry the pull tests run; openssl: the TLS tests make their
# certificates with it. Recommends are kept on purpose:
# that is the combination measured to work here (apparmor, iptables, cgroupfs-mount, keyring).
PACKAGES=(docker.io docker-compose debootstrap docker-registry openssl)

say() { echo "ensure-docker: $*" >&2; }
die() { say "$*"; exit 1; }

# Always talk to the real engine: DOCKER_HOST may point at a running Powerstrip proxy.
engine_answers() {
  version=$(DOCKER_HOST="unix://$SOCK" DOCKER_CONTEXT='' docker version --format '{{.Server.Version}}' 2>/dev/null)
}

# Ask dpkg, not PATH: a docker CLI alone (there is one in /usr/local/bin) is not an engine.
missing=()
for pkg in "${PACKAGES[@]}"; do
  [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)" == "ii "* ]] || missing+=("$pkg")
done
if ((${#missing[@]})); then
  ((EUID == 0)) || die "need root to install: ${missing[*]}"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=l
  apt-get update -qq >&2
  apt-get install -y -qq -o Dpkg::Use-Pty=0 "${missing[@]}" >&2
fi

if engine_answers; then say "engine $version answers on $SOCK"; exit 0; fi

# No engine: start one unless a dockerd is already on its way up (e.g. the package's init script
# just launched it, or a previous call did), then wait for it.
# (dockerd writes its pid file first thing; pgrep/procps may not be installed.)
if ! { [[ -s /var/run/docker.pid ]] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; }; then
  ((EUID == 0)) || die "no engine on $SOCK and only root can start dockerd"
  say "starting dockerd (log: $LOG)"
  # setsid + nohup: the daemon must outlive this script and the CI step or shell that ran it.
  log_from=$(($(stat -c %s "$LOG" 2>/dev/null || echo 0) + 1)) # this start's part of the log
  setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
  started=$!
fi
say "waiting up to ${WAIT_SECONDS}s for the engine on $SOCK"
for ((i = 0; i < WAIT_SECONDS * 2; i++)); do
  engine_answers && { say "engine $version is up"; exit 0; }
  # A daemon that died will not answer: say why now instead of after the timeout.
  if [[ -n "${started:-}" ]] && ! kill -0 "$started" 2>/dev/null; then
    why=$(tail -c "+$log_from" "$LOG" | grep -aE 'panic:|level=fatal|failed to start' | tail -1 || true)
    die "dockerd exited during startup: ${why:-no reason logged} (see $LOG)"
  fi
  sleep 0.5
done
die "no Docker engine answered on $SOCK after ${WAIT_SECONDS}s (see $LOG)"
