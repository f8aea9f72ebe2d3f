#!/usr/bin/env python3
"""Stand-ins for the images the CRI conformance suite (critest v1.26) pulls,
built from busybox-static and pushed under their real names to a local
registry, so critest runs on a machine without access to registry.k8s.io or
gcr.io (pierd's daemon.json `cri.registry-hosts` sends both to it).

    scripts/critest-images.py --registry 127.0.0.1:5000

Needs python3, skopeo and /bin/busybox (busybox-static). The images are
busybox with the config each test reads (User, Cmd, groups in /etc/group);
the web servers are busybox httpd behind a script named nginx (critest looks
for a process of that name and /var/run/nginx.pid). Not reproducible: the
digest-pinned test image (its manifest digest is fixed in critest) and
nonewprivs (a setuid program). See README, "Kubernetes (CRI)".
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"

PASSWD = """root:x:0:0:root:/root:/bin/sh
www-data:x:33:33:www-data:/var/www:/bin/sh
user1000:x:1000:1000:user1000:/home:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/sh
"""
GROUP = """root:x:0:
www-data:x:33:
user1000:x:1000:
group50000:x:50000:user1000
nogroup:x:65534:
"""

EXTRA_TOOLS = {
    "pgrep": """#!/bin/sh
# pgrep NAME: pids whose comm is NAME (exit 1 when none).
found=1
for p in /proc/[0-9]*; do
  [ "$(cat "$p/comm" 2>/dev/null)" = "$1" ] && { echo "${p#/proc/}"; found=0; }
done
exit $found
""",
    "ipcs": """#!/bin/sh
# ipcs -m: the System V shared memory segments (ids and keys).
cat /proc/sysvipc/shm
""",
}

NGINX = """#!/bin/sh
# A stand-in for nginx: busybox httpd as the child of a process named nginx.
mkdir -p /var/run /usr/share/nginx/html
echo $$ > /var/run/nginx.pid
# What httpd and nginx print or show that critest looks for.
echo "Command line: 'httpd -D FOREGROUND'"
echo '<h1>Welcome to nginx!</h1>' > /usr/share/nginx/html/index.html
port=${NGINX_PORT:-80}
httpd -f -p "$port" -h /usr/share/nginx/html &
trap 'kill $!; exit 0' TERM INT
wait
"""


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def add_file(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1_700_000_000
    tar.addfile(info, io.BytesIO(data))


def add_dir(tar, name, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = 1_700_000_000
    tar.addfile(info)


def base_layer(busybox):
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ["bin", "etc", "tmp", "var", "var/run", "var/www", "root", "home", "usr", "usr/sbin", "proc", "sys", "dev"]:
            add_dir(tar, d, 0o1777 if d == "tmp" else 0o755)
        with open(busybox, "rb") as f:
            add_file(tar, "bin/busybox", f.read(), 0o755)
        for a in applets:
            if a == "busybox":
                continue
            # Hard links, as busybox images have (a masked /bin/ls must not
            # mask busybox itself).
            info = tarfile.TarInfo("bin/" + a)
            info.type = tarfile.LNKTYPE
            info.linkname = "bin/busybox"
            info.mtime = 1_700_000_000
            tar.addfile(info)
        # Applets busybox-static lacks and critest runs.
        for name, script in EXTRA_TOOLS.items():
            if name not in applets:
                add_file(tar, "bin/" + name, script.encode(), 0o755)
        add_file(tar, "etc/passwd", PASSWD.encode())
        add_file(tar, "etc/group", GROUP.encode())
    return buf.getvalue()


def layer_of(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, (data, mode) in files.items():
            add_file(tar, name, data, mode)
    return buf.getvalue()


class Layout:
    def __init__(self, root):
        self.root = root
        os.makedirs(os.path.join(root, "blobs", "sha256"), exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        self.refs = []

    def blob(self, data):
        d = sha(data)
        with open(os.path.join(self.root, "blobs", "sha256", d[7:]), "wb") as f:
            f.write(data)
        return {"digest": d, "size": len(data)}

    def image(self, name, layers, config):
        diff_ids = [sha(l) for l in layers]
        cfg = {
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": dict({"Env": ["PATH=/usr/sbin:/bin"]}, **config),
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        }
        c = self.blob(json.dumps(cfg).encode())
        descs = []
        for l in layers:
            b = self.blob(gzip.compress(l, 1, mtime=0))
            descs.append(dict(b, mediaType="application/vnd.oci.image.layer.v1.tar+gzip"))
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": dict(c, mediaType="application/vnd.oci.image.config.v1+json"),
            "layers": descs,
        }
        m = self.blob(json.dumps(manifest).encode())
        self.refs.append(dict(m, mediaType=OCI_MANIFEST, annotations={"org.opencontainers.image.ref.name": name}))

    def finish(self):
        with open(os.path.join(self.root, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.refs}, f)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--registry", required=True, help="host:port of a plain-HTTP registry")
    p.add_argument("--busybox", default="/bin/busybox")
    args = p.parse_args()

    base = base_layer(args.busybox)
    nginx = layer_of({"usr/sbin/nginx": (NGINX.encode(), 0o755)})
    hostnet = layer_of({"usr/sbin/nginx": (NGINX.replace("${NGINX_PORT:-80}", "12003").encode(), 0o755)})
    marker = lambda n: layer_of({"etc/image-" + n: (n.encode() + b"\n", 0o644)})

    e2e = "e2e-test-images/"
    tools = "k8s-staging-cri-tools/"
    images = [
        # name in the layout, destination path:tag, layers, config. The pause
        # stand-in keeps no process named sleep (critest pgreps for its own).
        ("pause", "pause:3.9", [base], {"Entrypoint": ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do busybox sleep 3600 & wait; done"]}),
        ("busybox", e2e + "busybox:1.29-2", [base], {"Cmd": ["sh"]}),
        ("nginx", e2e + "nginx:1.14-2", [base, nginx], {"Cmd": ["nginx", "-g", "daemon off;", "nginx: master process"], "ExposedPorts": {"80/tcp": {}}}),
        ("httpd", e2e + "httpd:2.4.39-4", [base, nginx], {"Cmd": ["nginx"], "ExposedPorts": {"80/tcp": {}}}),
        ("hostnet", tools + "hostnet-nginx-amd64:latest", [base, hostnet], {"Cmd": ["nginx"]}),
        ("uid", tools + "test-image-user-uid:latest", [base], {"Cmd": ["sh"], "User": "1002"}),
        ("username", tools + "test-image-user-username:latest", [base], {"Cmd": ["sh"], "User": "www-data"}),
        ("uidgroup", tools + "test-image-user-uid-group:latest", [base], {"Cmd": ["sh"], "User": "1003:1003"}),
        ("usernamegroup", tools + "test-image-user-username-group:latest", [base], {"Cmd": ["sh"], "User": "www-data:www-data"}),
        ("predefined", tools + "test-image-predefined-group:latest", [base], {"Cmd": ["sh"], "User": "1000"}),
        ("latest", tools + "test-image-latest:latest", [base, marker("latest")], {"Cmd": ["sh"]}),
        ("tag-test", tools + "test-image-tag:test", [base, marker("tag")], {"Cmd": ["sh"]}),
        ("tag-all", tools + "test-image-tag:all", [base, marker("all")], {"Cmd": ["sh"]}),
        ("one", tools + "test-image-1:latest", [base, marker("1")], {"Cmd": ["sh"]}),
        ("two", tools + "test-image-2:latest", [base, marker("2")], {"Cmd": ["sh"]}),
        ("three", tools + "test-image-3:latest", [base, marker("3")], {"Cmd": ["sh"]}),
        ("tags", tools + "test-image-tags:1", [base, marker("tags")], {"Cmd": ["sh"]}),
        ("tags", tools + "test-image-tags:2", None, None),
        ("tags", tools + "test-image-tags:3", None, None),
    ]
    with tempfile.TemporaryDirectory() as work:
        layout = Layout(os.path.join(work, "layout"))
        for name, _, layers, config in images:
            if layers is not None:
                layout.image(name, layers, config)
        layout.finish()
        for name, dest, _, _ in images:
            subprocess.run(
                ["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                 f"oci:{layout.root}:{name}", f"docker://{args.registry}/{dest}"],
                check=True,
            )
            print(f"{args.registry}/{dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
