#!/usr/bin/env bash
# Pier's main job on a fresh machine: install runc and busybox-static, build,
# start pierd on private directories, import a busybox image, run containers
# and show ps, logs, exec and attach, then clean everything up. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cargo build --release --bins -q
bin=$PWD/target/release
tmp=$(mktemp -d /tmp/pier-demo.XXXXXX)
pierd_pid=
cleanup() {
  set +e
  if [ -n "$pierd_pid" ]; then
    "$bin/pier" -H "unix://$tmp/pier.sock" rm -f $("$bin/pier" -H "unix://$tmp/pier.sock" ps -aq 2>/dev/null) >/dev/null 2>&1
    kill "$pierd_pid" 2>/dev/null; wait "$pierd_pid" 2>/dev/null
  fi
  grep -o " $tmp[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

echo "{}" > "$tmp/daemon.json"
"$bin/pierd" --data-root "$tmp/data" --exec-root "$tmp/run" -H "unix://$tmp/pier.sock" \
  --config-file "$tmp/daemon.json" >"$tmp/pierd.log" 2>&1 &
pierd_pid=$!
for _ in $(seq 100); do [ -S "$tmp/pier.sock" ] && break; sleep 0.05; done
pier() { "$bin/pier" -H "unix://$tmp/pier.sock" "$@"; }

mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/etc" "$tmp/rootfs/tmp"
cp /bin/busybox "$tmp/rootfs/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "$tmp/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$tmp/rootfs/etc/passwd"
echo 'root:x:0:' > "$tmp/rootfs/etc/group"
tar -C "$tmp/rootfs" -cf "$tmp/busybox.tar" .

step pier version; pier version
step pier import busybox.tar busybox; pier import "$tmp/busybox.tar" busybox
step pier images; pier images
step pier run -d --name ticker busybox sh -c 'i=0; while true; do i=\$((i+1)); echo tick \$i; sleep 0.4; done'
pier run -d --name ticker busybox sh -c 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.4; done'
sleep 1
step pier ps; pier ps
step pier logs -t ticker; pier logs -t ticker
if pier exec ticker true >/dev/null 2>&1; then
  step pier exec ticker sh -c 'hostname; ps'; pier exec ticker sh -c 'hostname; ps'
else
  step pier exec; echo "(exec is not built yet)"
fi
step "pier attach --no-stdin --sig-proxy=false ticker   # live output; ctrl-c (here: after 2 s) detaches"
timeout -s INT 2 "$bin/pier" -H "unix://$tmp/pier.sock" attach --no-stdin --sig-proxy=false ticker || true
if echo probe | pier run -i --rm busybox cat >/dev/null 2>&1; then
  step "echo hello through attach | pier run -i --rm busybox tr a-z A-Z"
  echo hello through attach | pier run -i --rm busybox tr a-z A-Z
else
  step pier attach; echo "(attach is not built yet)"
fi
step pier stop -t 1 ticker; pier stop -t 1 ticker
step pier ps -a; pier ps -a
step pier rm ticker; pier rm ticker
echo; echo "demo done; cleaning up"
