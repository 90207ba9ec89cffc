"""`inspect docker://` from a loopback registry against `inspect` of the same image's oci-archive (issue #12).

Goals: cold (nothing cached) within 1.3x of the archive; with a warm blob
cache within 1.05x. ``pinned`` is the warm run by digest (``REPO@sha256:...``),
which needs no request at all. A real ``docker-registry`` (Debian's CNCF distribution)
is started on 127.0.0.1 with its storage in a temp dir, each archive pushed
with ``skopeo copy`` (blobs kept as they are). Every run has a cold layer-scan
cache (its directory removed before the run), so all three read and inflate
every layer: the archive from the page cache, ``cold`` over HTTP into a fresh
blob cache, ``warm`` and ``pinned`` from the blob cache filled by the run before. Interleaved,
best and median of ``--rounds``.

    python benchmarks/registry_vs_archive.py ARCHIVE.oci-gzip.tar... [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from timing import byte_compile, layerscope_exe


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _registry(root: str) -> tuple[subprocess.Popen, str]:
    port = _port()
    cfg = os.path.join(root, "config.yml")
    with open(cfg, "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {root}/data\nhttp:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen(["docker-registry", "serve", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("docker-registry did not start")


def _run(args: list[str], cache: str) -> float:
    shutil.rmtree(os.path.join(cache, "scans-v3"), ignore_errors=True)  # every run scans every layer
    env = dict(os.environ, LAYERSCOPE_CACHE=cache)
    t = time.perf_counter()
    subprocess.run([layerscope_exe(), "inspect", "--json", *args], check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("archives", nargs="+")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    byte_compile()
    work = tempfile.mkdtemp(prefix="registry-bench-")
    proc, host = _registry(work)
    try:
        print(f"{'image':28s} {'MB':>7s}  {'archive':>15s}  {'cold':>15s}  {'warm':>15s}  {'pinned':>15s}"
              "   cold/archive  warm/archive  pinned/archive"
              "  (seconds best / median; ratios best to best / median to median)")
        for k, archive in enumerate(args.archives):
            ref = f"docker://{host}/bench{k}:1"
            subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"oci-archive:{archive}", ref],
                           check=True)
            times: dict[str, list[float]] = {"archive": [], "cold": [], "warm": [], "pinned": []}
            warm_cache = os.path.join(work, f"warm{k}")
            doc = subprocess.run([layerscope_exe(), "inspect", "--json", ref], check=True, capture_output=True,
                                 env=dict(os.environ, LAYERSCOPE_CACHE=warm_cache)).stdout  # fills the blob cache
            pinned = ref.rsplit(":", 1)[0] + "@" + json.loads(doc)["image"]["manifest_digest"]
            for _ in range(args.rounds):
                with open(archive, "rb") as f:  # the archive in the page cache, as the registry's files are
                    while f.read(16 << 20):
                        pass
                times["archive"].append(_run([archive], os.path.join(work, "archive-cache")))
                cold = os.path.join(work, "cold")
                shutil.rmtree(cold, ignore_errors=True)
                times["cold"].append(_run([ref], cold))
                times["warm"].append(_run([ref], warm_cache))
                times["pinned"].append(_run([pinned], warm_cache))
            med = {key: statistics.median(v) for key, v in times.items()}
            best = {key: min(v) for key, v in times.items()}
            cells = "  ".join(f"{best[key]:6.2f} / {med[key]:5.2f}" for key in times)
            ratios = "  ".join(f"{best[k] / best['archive']:5.2f} / {med[k] / med['archive']:4.2f}x" for k in ("cold", "warm", "pinned"))
            print(f"{os.path.basename(archive):28s} {os.path.getsize(archive) / 1e6:7.1f}  {cells}   {ratios}",
                  flush=True)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
