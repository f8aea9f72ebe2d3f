#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (committed; run again
after changing an input layout). Seeds are small real examples: docker CLI
bodies, frames, log lines, tiny archives."""

import gzip
import hashlib
import io
import json
import os
import shutil
import struct
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
FIXTURE = os.path.join(HERE, "..", "crates", "pier-api", "src", "fixtures", "docker-cli-create.json")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def api_create():
    with open(FIXTURE, "rb") as f:
        raw = f.read()
    write("api_create", "docker-cli-create.json", raw)
    base = json.loads(raw)

    def variant(name, config=None, host=None):
        b = json.loads(json.dumps(base))
        b.update(config or {})
        b["HostConfig"].update(host or {})
        write("api_create", name + ".json", json.dumps(b, separators=(",", ":")))

    variant("run-it", {"Tty": True, "OpenStdin": True, "StdinOnce": True, "AttachStdin": True,
                       "Cmd": "sh -c 'echo hi'", "Env": ["A=b", "PATH=/x"], "WorkingDir": "/srv/../tmp",
                       "User": "1000:1000", "StopSignal": "SIGINT", "StopTimeout": 3,
                       "Labels": {"a": "b"}, "Volumes": {"/data": {}},
                       "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000, "Retries": 3}})
    variant("host", host={"Binds": ["/tmp:/mnt:ro", "vol:/v"], "Tmpfs": {"/run": "size=64m"},
                          "Mounts": [{"Type": "bind", "Source": "/tmp", "Target": "/b", "ReadOnly": True},
                                     {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1048576}}],
                          "CapAdd": ["NET_ADMIN", "CAP_SYS_TIME"], "CapDrop": ["all"], "Privileged": False,
                          "ReadonlyRootfs": True, "ExtraHosts": ["h:1.2.3.4", "g:host-gateway"],
                          "Dns": ["9.9.9.9"], "DnsSearch": ["x"], "ShmSize": 1048576, "OomScoreAdj": 100,
                          "AutoRemove": True, "Init": True, "SecurityOpt": ["no-new-privileges"],
                          "Annotations": {"k": "v"}, "MaskedPaths": ["/proc/x"], "ReadonlyPaths": []})
    variant("limits", host={"Memory": 67108864, "MemorySwap": -1, "NanoCpus": 500000000, "CpuShares": 512,
                            "PidsLimit": 100, "Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}],
                            "RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 3},
                            "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m", "max-file": "3",
                                                                          "compress": "true", "labels": "a"}},
                            "NetworkMode": "host", "Runtime": "runc", "ConsoleSize": [24, 80]})
    write("api_create", "minimal.json", '{"Image":"busybox","Cmd":["true"]}')
    write("api_create", "nulls.json", '{"Image":"busybox","Cmd":null,"Entrypoint":"","HostConfig":null,"Env":null}')


def api_exec():
    write("api_exec", "docker-exec.json", json.dumps({
        "User": "", "Privileged": False, "Tty": False, "ConsoleSize": [0, 0], "AttachStdin": False,
        "AttachStderr": True, "AttachStdout": True, "Detach": False, "DetachKeys": "",
        "Env": None, "WorkingDir": "", "Cmd": ["ls", "-l"]}))
    write("api_exec", "exec-it.json", json.dumps({
        "User": "nobody:wheel", "Tty": True, "ConsoleSize": [40, 120], "AttachStdin": True,
        "DetachKeys": "ctrl-a,x", "Env": ["A=1"], "WorkingDir": "/tmp", "Cmd": "sh"}))
    write("api_exec", "start.json", '{"Detach":false,"Tty":true,"ConsoleSize":[24,80]}')
    write("api_exec", "keys.txt", "ctrl-p,ctrl-q")
    write("api_exec", "user-files.txt",
          "app:staff\0root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
          "\0root:x:0:\nstaff:x:50:app\n")
    write("api_exec", "numeric.txt", "1000:50")


def api_query():
    write("api_query", "ps.txt", "all=1&filters=%7B%22status%22%3A%7B%22running%22%3Atrue%7D%2C%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D")
    write("api_query", "images.txt", "filters=%7B%22dangling%22%3A%5B%22true%22%5D%2C%22reference%22%3A%5B%22busybox%3A*%22%5D%7D")
    write("api_query", "create.txt", "name=%2Fweb-1&signal=SIGKILL&filter=label=a%3Db&filter=name=x")
    write("api_query", "map.json", '{"name":{"^/web$":true},"id":{"ab":false},"ancestor":{"busybox":true}}')
    write("api_query", "list.json", '{"label":["a","b=c"],"driver":["local"],"dangling":["1"]}')


def stdcopy():
    def frame(s, p):
        return struct.pack(">BxxxI", s, len(p)) + p
    wire = frame(1, b"hello\n") + frame(2, b"oops\n") + frame(1, b"") + frame(3, b"error: x\n")
    write("stdcopy", "frames", b"\x03\x02\x05\x00" + wire)
    write("stdcopy", "partial", b"\x00" + frame(1, b"abc") + b"\x02\x00\x00\x00\x00\x00\x00\x09par")
    write("stdcopy", "bad-stream", b"\x01\x00" + frame(1, b"ok") + b"\x07\x00\x00\x00\x00\x00\x00\x01x")


def shim_frame():
    def frame(msg):
        body = json.dumps(msg, separators=(",", ":")).encode()
        return struct.pack(">I", len(body)) + body
    reqs = [{"op": "state"}, {"op": "start"}, {"op": "kill", "signal": 15, "all": False}, {"op": "wait"},
            {"op": "attach", "stdin": True, "stdout": True, "stderr": False, "logs": True},
            {"op": "exec", "exec_id": "ab" * 32, "process": "/run/pier/x/exec-1.json", "tty": True,
             "stdin": True, "stdout": True, "stderr": True, "detach": False, "console_size": [24, 80]},
            {"op": "exec_state", "exec_id": "ab"}, {"op": "resize", "exec_id": None, "height": 24, "width": 80},
            {"op": "close_stdin"}, {"op": "shutdown"}]
    write("shim_frame", "requests", b"\x06" + b"".join(frame(r) for r in reqs))
    exit_rec = {"exit_code": 137, "signal": 9, "started_at": 1, "finished_at": 2, "oom_killed": False}
    resps = [{"reply": "ok"},
             {"reply": "state", "status": "running", "pid": 42, "started_at": 5, "exit": None},
             dict(reply="exited", **exit_rec),
             {"reply": "error", "message": "no such process", "code": "not_found"},
             {"reply": "error", "message": "old shim"},
             {"reply": "exec_started", "pid": 7}, {"reply": "exec_state", "running": False, "pid": 7, "exit_code": 0}]
    write("shim_frame", "responses", b"\x00" + b"".join(frame(r) for r in resps))
    write("shim_frame", "ready", b"\x01" + json.dumps({"status": "created", "pid": 10, "shim_pid": 9}).encode())
    write("shim_frame", "failed", b"\x01" + json.dumps({"status": "failed", "message": "exec: no such file", "code": "not_found"}).encode())
    write("shim_frame", "exit.json", b"\x01" + json.dumps(exit_rec).encode())
    write("shim_frame", "shim.json", b"\x01" + json.dumps({
        "id": "ab" * 32, "bundle": "/run/pier/x", "runtime": "/usr/bin/runc", "runtime_root": "/run/pier/runc",
        "socket": "/run/pier/x/shim.sock", "exit_path": "/var/lib/pier/containers/x/exit.json",
        "shim_log": "/var/lib/pier/containers/x/shim.log",
        "log": {"driver": "json-file", "path": "/var/lib/pier/containers/x/x-json.log", "max_size": 20971520,
                "max_file": 5, "compress": True, "attrs": [["a", "b"]]},
        "open_stdin": False, "stdin_once": False, "tty": False}).encode())
    write("shim_frame", "oversize", b"\x00\xff\xff\xff\xff")


def log_reader():
    t = "2026-11-29T13:54:32.12345678%dZ"
    lines = [
        '{"log":"hello\\n","stream":"stdout","time":"%s"}' % (t % 9),
        '{"log":"\\u003cb\\u003e \\"q\\" \\\\ \\ud83d\\ude00\\n","stream":"stderr","attrs":{"a b":"x\\u0026y"},"time":"%s"}' % (t % 9),
        '{"log":"part","stream":"stdout","time":"2026-11-29T13:54:33Z"}',
        '{"stream":"stdout","log":"slow order\\n","time":"2026-11-29T13:54:33.5+01:00"}',
        '2026-11-29T13:54:34.000000001Z stdout F cri line',
        '2026-11-29T13:54:34.000000002Z stderr P cri part',
        '2026-11-29T13:54:34.000000003Z stderr F',
    ]
    body = "\n".join(lines) + "\n" + '{"log":"torn'
    # flags, tail, since, until (i16 ms offsets from the first record)
    write("log_reader", "all", b"\x00\x00\x00\x00\x00\x00" + body.encode())
    write("log_reader", "tail2", b"\x04\x02\x00\x00\x00\x00" + body.encode())
    write("log_reader", "since-until", b"\x18\x00" + struct.pack("<hh", 500, 1500) + body.encode())
    write("log_reader", "stderr-tail", b"\x05\x01\x00\x00\x00\x00" + body.encode())
    rotated = "\n".join(lines[:2]) + "\n"
    write("log_reader", "rotated", b"\x08\x00" + struct.pack("<hh", 0, 0) + rotated.encode() + b"\xff\x00" + "\n".join(lines[4:]).encode() + b"\n")
    write("log_reader", "garbage", b"\x00\x00\x00\x00\x00\x00\x00\x00garbage\n{\"log\":\"x\\\n1 stdout F y\n")


def member(typeflag, name, link=b"", mode=0o644, uid=0, mtime=1700000000, pax=b"", content=b""):
    name = name.encode() if isinstance(name, str) else name
    link = link.encode() if isinstance(link, str) else link
    pax = pax.encode() if isinstance(pax, str) else pax
    content = content.encode() if isinstance(content, str) else content
    return (bytes([ord(typeflag)]) + bytes([len(name)]) + name + bytes([len(link)]) + link
            + struct.pack("<HBI", mode, uid, mtime) + struct.pack("<H", len(pax)) + pax
            + struct.pack("<H", len(content)) + content)


def pax_record(key, value):
    rec = " %s=%s\n" % (key, value)
    n = len(rec)
    while len(str(n) + rec) != n:
        n = len(str(n) + rec)
    return str(n) + rec


def tar_bytes(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, kind, data in files:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            elif kind == "sym":
                ti.type = tarfile.SYMTYPE
                ti.linkname = data
                tf.addfile(ti)
            else:
                ti.size = len(data)
                ti.mode = 0o644
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def layer_unpack():
    _layer_unpack()
    # The same archives unpacked as layers (mode bit 1).
    d = os.path.join(CORPUS, "layer_unpack")
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        write("layer_unpack", "layer-" + name, bytes([data[0] | 2]) + data[1:])


def _layer_unpack():
    layer = tar_bytes([("etc/", "dir", None), ("etc/passwd", "file", b"root:x:0:0::/root:/bin/sh\n"),
                       ("bin/", "dir", None), ("bin/sh", "sym", "busybox")])
    write("layer_unpack", "raw.tar", b"\x00" + layer)
    write("layer_unpack", "raw.tar.gz", b"\x00" + gzip.compress(layer, mtime=0))
    t = "layer_unpack"
    write(t, "tree", b"\x01" + member("5", "./", mode=0o755) + member("5", "a/", mode=0o700)
          + member("0", "a/f", mode=0o4755, uid=7, content="payload") + member("2", "a/l", link="f")
          + member("1", "a/h", link="a/f") + member("6", "p", mode=0o600) + member("3", "dev/null", mode=0o666))
    write(t, "whiteouts", b"\x01" + member("5", "d/") + member("0", "d/.wh..wh..opq")
          + member("0", "d/.wh.gone") + member("0", ".wh..wh.plnk"))
    write(t, "escapes", b"\x01" + member("0", "../outside/x", content="x") + member("0", "/abs", content="y")
          + member("2", "out", link="@OUT@") + member("0", "out/x", content="z")
          + member("1", "hl", link="@OUT@/sentinel") + member("1", "hl2", link="../outside/sentinel")
          + member("2", "up", link="../..") + member("0", "up/work/outside/y"))
    write(t, "symlink-swap", b"\x01" + member("5", "d/") + member("2", "d", link="@OUT@")
          + member("0", "d/z", content="z") + member("5", "d/") + member("0", "d/z"))
    write(t, "pax", b"\x01" + member("0", "short", pax=pax_record("path", "long/" + "n" * 120)
          + pax_record("SCHILY.xattr.user.k", "v") + pax_record("uid", "1000") + pax_record("mtime", "1.5"),
          content="pax"))


def image_load():
    layer = tar_bytes([("hello", "file", b"hi\n")])
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/hello"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                         "created": "2026-11-29T13:54:32Z"}, separators=(",", ":")).encode()
    config_hex = hashlib.sha256(config).hexdigest()
    manifest = json.dumps([{"Config": config_hex + ".json", "RepoTags": ["hello:1", "x/y:latest"],
                            "Layers": ["layer/layer.tar"]}]).encode()
    t = "image_load"
    write(t, "docker-save", b"\x01" + member("0", "manifest.json", content=manifest)
          + member("0", config_hex + ".json", content=config) + member("5", "layer/")
          + member("0", "layer/layer.tar", content=layer))
    write(t, "docker-save-links", b"\x01" + member("0", "manifest.json", content=manifest)
          + member("0", "blobs/c", content=config) + member("2", config_hex + ".json", link="blobs/c")
          + member("0", "blobs/l", content=layer) + member("1", "layer/layer.tar", link="blobs/l"))
    layer_hex = hashlib.sha256(layer).hexdigest()
    oci_manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                               "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                          "digest": "sha256:" + config_hex, "size": len(config)},
                               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                           "digest": "sha256:" + layer_hex, "size": len(layer)}]}).encode()
    man_hex = hashlib.sha256(oci_manifest).hexdigest()
    index = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + man_hex,
         "size": len(oci_manifest), "annotations": {"io.containerd.image.name": "docker.io/library/hello:oci",
                                                     "org.opencontainers.image.ref.name": "oci"}}]}).encode()
    write(t, "oci-layout", b"\x01" + member("0", "oci-layout", content='{"imageLayoutVersion":"1.0.0"}')
          + member("0", "index.json", content=index) + member("0", "blobs/sha256/" + man_hex, content=oci_manifest)
          + member("0", "blobs/sha256/" + config_hex, content=config)
          + member("0", "blobs/sha256/" + layer_hex, content=layer))
    write(t, "escapes", b"\x01" + member("0", "manifest.json", content=json.dumps(
        [{"Config": "../outside/sentinel", "RepoTags": None, "Layers": ["/etc/passwd"]}]))
        + member("2", "x.json", link="@OUT@/sentinel") + member("1", "y", link="../../z"))
    save = tar_bytes([("manifest.json", "file", manifest), (config_hex + ".json", "file", config),
                      ("layer/layer.tar", "file", layer)])
    write(t, "docker-save.tar.gz", b"\x00" + gzip.compress(save, mtime=0))


def image_reference():
    t = "image_reference"
    for i, r in enumerate(["busybox", "busybox:1.36", "library/busybox:latest", "docker.io/library/busybox",
                           "index.docker.io/user/app:v1", "127.0.0.1:5000/a/b-c/d_e:tag",
                           "localhost/x@sha256:" + "a" * 64, "ghcr.io/o/r:t@sha256:" + "0" * 64,
                           "[::1]:5000/x:y", "busybox\n1.36", "sha256:" + "f" * 64, "UPPER:case"]):
        write(t, "ref%02d" % i, r)


def main():
    for fn in [api_create, api_exec, api_query, stdcopy, shim_frame, log_reader, layer_unpack,
               image_load, image_reference]:
        shutil.rmtree(os.path.join(CORPUS, fn.__name__), ignore_errors=True)
        fn()


if __name__ == "__main__":
    main()
