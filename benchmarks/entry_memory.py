"""Peak RSS per tar entry: a layer of N empty files, against a one-file image.

The figures docs/security.md states (~0.7 KB per entry for inspect, ~1.1 KB for changes); tests/test_hostile.py
checks 200,000 entries against a bound, this measures a million.

    python benchmarks/entry_memory.py [N ...]   # default 1000000; commands: inspect, changes --json
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import hostile_images as H  # noqa: E402

_RSS = ("import sys\nfrom layerscope.entry import main\nsys.argv = ['layerscope', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "finally:\n    print(open('/proc/self/status').read(), file=sys.stderr)")


def _hwm(status: str) -> int:
    """The process's peak RSS (VmHWM, bytes). Not ru_maxrss: that survives exec, so a child
    would report at least the RSS its parent had when it forked."""
    return int(status.split("VmHWM:")[1].split()[0]) * 1024


def peak_rss(*args: str) -> int:
    """Peak RSS in bytes of one ``layerscope ARGS`` in a fresh interpreter."""
    env = dict(os.environ, LAYERSCOPE_CACHE="off")
    p = subprocess.run([sys.executable, "-c", _RSS, *args], capture_output=True, text=True, env=env, check=True)
    return _hwm(p.stderr)


def main() -> None:
    counts = [int(a) for a in sys.argv[1:]] or [1_000_000]
    with tempfile.TemporaryDirectory() as d:
        small = H.layout(Path(d) / "one", [H.raw_tar([("file", "f", b"")])])
        for n in counts:
            blob = H.many_empty_files(n)
            img = H.layout(Path(d) / f"n{n}", [zlib.decompress(blob, 31)], blobs=[blob],
                           media_type="application/vnd.oci.image.layer.v1.tar+gzip")
            for cmd in (["inspect"], ["changes", "--json"]):
                base, peak = peak_rss(*cmd, str(small)), peak_rss(*cmd, str(img))
                print(f"{n:>9} entries  {' '.join(cmd):<16} peak {peak / 1e6:7.1f} MB  "
                      f"{(peak - base) / n:6.0f} bytes/entry", flush=True)


if __name__ == "__main__":
    main()
