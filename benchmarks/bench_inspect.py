"""pytest-benchmark: ``layerscope.inspect(path)`` on the small (50 MB) benchmark image.

    pytest benchmarks/bench_inspect.py --benchmark-only

Cases: docker-archive (uncompressed layers) and gzip oci-archive, each with
digest verification on (the default) and off; cold (no layer cache) and with
a warm layer cache.  Skipped while the Python API
(``layerscope.inspect``) is not there.  The image is built once per session
(benchmarks/conftest.py).  Each round is one full inspect; a warm-up round
puts the image in the page cache first.
"""
from __future__ import annotations

import inspect as _pyinspect

import pytest

layerscope = pytest.importorskip("layerscope")
if not callable(getattr(layerscope, "inspect", None)):
    pytest.skip("layerscope.inspect (public API) not available yet", allow_module_level=True)


def _supports_verify() -> bool:
    try:
        params = _pyinspect.signature(layerscope.inspect).parameters
    except (TypeError, ValueError):
        return False
    return "verify" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _layer_count(result) -> int | None:
    """Number of layers in whatever inspect() returned (object or dict)."""
    layers = getattr(result, "layers", None)
    if layers is None and isinstance(result, dict):
        layers = result.get("layers")
    return None if layers is None else len(layers)


@pytest.mark.parametrize("verify", [True, False], ids=["verify", "no-verify"])
@pytest.mark.parametrize("variant", ["docker-archive", "oci-gzip"])
def test_inspect(benchmark, bench_images, bench_image_info, variant, verify):
    path = bench_images[variant]
    if verify:
        call = lambda: layerscope.inspect(path, cache=False)
    else:
        if not _supports_verify():
            pytest.skip("layerscope.inspect has no verify= parameter")
        call = lambda: layerscope.inspect(path, verify=False, cache=False)
    benchmark.extra_info.update(variant=variant, verify=verify,
                                image_bytes=bench_image_info["uncompressed_bytes"],
                                entries=bench_image_info["entries"])
    result = benchmark.pedantic(call, rounds=5, iterations=1, warmup_rounds=1)
    n = _layer_count(result)
    if n is not None:
        assert n == len(bench_image_info["layers"])


@pytest.mark.parametrize("verify", [True, False], ids=["verify", "no-verify"])
@pytest.mark.parametrize("variant", ["docker-archive", "oci-gzip"])
def test_inspect_warm_cache(benchmark, bench_images, bench_image_info, variant, verify, tmp_path):
    """The second look: every layer's scan comes from the layer cache (the blob is still hashed
    unless verify is off). Compare with test_inspect's figure for the same case."""
    from layerscope.layer.cache import ScanCache

    path = bench_images[variant]
    cache = ScanCache(str(tmp_path / "cache"))
    layerscope.inspect(path, cache=cache)  # fill
    benchmark.extra_info.update(variant=variant, verify=verify, cache="warm")
    result = benchmark.pedantic(lambda: layerscope.inspect(path, verify=verify, cache=cache),
                                rounds=5, iterations=1, warmup_rounds=1)
    assert cache.hits >= len(bench_image_info["layers"])
    assert len(result.layers) == len(bench_image_info["layers"])
