#!/usr/bin/env bash
# Install what Pier's build, demo and tests need on a fresh Debian 12 machine.
# Idempotent: installs only what is missing. Needs root.
set -euo pipefail
need=()
command -v runc >/dev/null || need+=(runc)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
command -v crun >/dev/null || need+=(crun)
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v tmux >/dev/null || need+=(tmux)
command -v curl >/dev/null || need+=(curl)
command -v docker >/dev/null || need+=(docker.io)
[ -x /usr/bin/docker-registry ] || need+=(docker-registry)
command -v skopeo >/dev/null || need+=(skopeo)
# --init: docker-init is tini-static (Debian ships the binary docker.io uses).
[ -x /usr/bin/tini-static ] || need+=(tini)
# Networking: netavark + aardvark-dns (binaries in /usr/lib/podman), iptables.
[ -x /usr/lib/podman/netavark ] || need+=(netavark)
[ -x /usr/lib/podman/aardvark-dns ] || need+=(aardvark-dns)
command -v iptables >/dev/null || need+=(iptables)
# CRI pod networks: the CNI plugins (bridge, host-local, loopback, portmap) in /usr/lib/cni.
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # docker.io brings the CLI the tests drive; its daemon is never started (policy-rc.d).
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.pier && chmod +x /usr/sbin/policy-rc.d.pier
  [ -e /usr/sbin/policy-rc.d ] || cp /usr/sbin/policy-rc.d.pier /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  cmp -s /usr/sbin/policy-rc.d /usr/sbin/policy-rc.d.pier && rm -f /usr/sbin/policy-rc.d
  rm -f /usr/sbin/policy-rc.d.pier
fi
