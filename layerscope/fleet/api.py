"""``layerscope.savings`` and ``layerscope.workloads`` with a ``scheduler``: one machine or a dask cluster.

Without one (and no ``DASK_SCHEDULER_ADDRESS``), exactly the single-machine
functions of ``analysis/``; with one, the same reports from :mod:`.run`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ..analysis import savings as single
from ..analysis.layer_digests import DEFAULT_SAMPLE, chunk_params
from ..analysis.near_miss import near_misses_from
from ..analysis.savings import SavingsReport, merge_combos
from ..errors import UsageError
from ..source import Image, open_many
from ..source.registry.image import no_prefetch
from .engine import open_engine
from .run import digest_fleet, work_dir as fresh_work_dir

TYPE_CHECKING = False  # the workload modules (and their parsers) load only for workloads
if TYPE_CHECKING:
    from ..analysis.workload import LayerPass, WorkloadReport


def savings(images: Iterable[str | Image] = (), *, all_images: bool = False, platform: str | None = None,
            avg_chunk: int = 65536, sample: float = DEFAULT_SAMPLE, verify: bool = True, jobs: int | None = None,
            progress: bool | None = False, from_file: Sequence[str] = (), from_registry: Sequence[str] = (),
            repos: Sequence[str] = (), tags: str | int = "latest",
            on_warning: Callable[[str, str], None] | None = None, scheduler: str | None = None,
            work_dir: str | None = None) -> SavingsReport:
    """:func:`layerscope.analysis.savings.savings`, on a dask cluster when ``scheduler`` names one
    (``processes``, ``threads``, ``tcp://HOST:PORT``; None: ``DASK_SCHEDULER_ADDRESS`` if set).
    ``work_dir``: where workers leave the digest tables (a path every worker and this process
    reach; default: a temporary directory here), removed afterwards."""
    with open_engine(scheduler, jobs=jobs, progress=progress) as client:
        if client is None:
            return single.savings(images, all_images=all_images, platform=platform, avg_chunk=avg_chunk,
                                  sample=sample, verify=verify, jobs=jobs, progress=progress, from_file=from_file,
                                  from_registry=from_registry, repos=repos, tags=tags, on_warning=on_warning)
        specs = single.fleet_specs(images, from_file=from_file, from_registry=from_registry, repos=repos,
                                   tags=tags, progress=progress, on_warning=on_warning)
        with no_prefetch():  # the workers fetch the layers; this process reads manifests and configs
            opened = open_many(specs, all_images=all_images, platform=platform, verify=verify,
                               threads=single.OPEN_THREADS)
        if len(opened) < 1:
            raise UsageError("savings needs at least one image")
        _check(avg_chunk, sample)
        with fresh_work_dir(work_dir) as work:
            done = digest_fleet(opened, client, work, platform=platform, avg_chunk=avg_chunk, sample=sample,
                                verify=verify, progress=progress)
            return merge_combos(done.images, done.combos("files"), done.combos("chunks"), done.members,
                                avg_chunk=avg_chunk)


def workloads(files: Sequence[str], *, images: Sequence[str] = (), mapping: dict[str, str] | None = None,
              offline: bool = False, nodes: dict[str, list[str]] | None = None, platform: str | None = None,
              verify: bool = True, jobs: int | None = None, progress: bool | None = False,
              scheduler: str | None = None, work_dir: str | None = None) -> WorkloadReport:
    """``layerscope workload FILES`` in Python: the workloads of Kubernetes, ECS and compose
    ``files``, their images read from ``images`` directories, ``mapping`` (reference -> anything
    ``inspect`` reads) or their registries (not when ``offline``); ``nodes``: node -> workload
    names. On a dask cluster when ``scheduler`` names one (as :func:`savings`)."""
    from ..workload.manifests import read_workloads
    from ..workload.resolve import Resolver, canonical_map

    resolver = Resolver(mapping=canonical_map((mapping or {}).items()), image_dirs=images, platform=platform,
                        verify=verify, offline=offline)
    return workload_report(read_workloads(files), resolver, files=list(files), placement=nodes, platform=platform,
                           verify=verify, jobs=jobs, progress=progress, scheduler=scheduler, work_dir=work_dir)


def workload_report(parsed, resolver, *, files: Sequence[str] = (), placement: dict[str, list[str]] | None = None,
                    platform: str | None = None, avg_chunk: int = 65536, sample: float = DEFAULT_SAMPLE,
                    verify: bool = True, jobs: int | None = None, progress: bool | None = False,
                    scheduler: str | None = None, work_dir: str | None = None) -> WorkloadReport:
    """:func:`layerscope.analysis.workload.workload_report`, its layers read on a dask cluster when
    ``scheduler`` names one."""
    from ..analysis import workload as wl

    with open_engine(scheduler, jobs=jobs, progress=progress) as client:
        if client is None:
            return wl.workload_report(parsed, resolver, files=files, placement=placement, avg_chunk=avg_chunk,
                                      sample=sample, verify=verify, jobs=jobs, progress=progress)
        _check(avg_chunk, sample)
        with no_prefetch():
            res = wl.resolve_images(parsed, resolver)
        with fresh_work_dir(work_dir) as work:
            read = fleet_layer_pass(res.images, client, work, platform=platform, avg_chunk=avg_chunk,
                                    sample=sample, verify=verify, progress=progress)
        return wl.count_report(parsed, res, read, files=files, placement=placement)


def fleet_layer_pass(images: list[Image], client, work: str, *, platform: str | None, avg_chunk: int,
                     sample: float, verify: bool, progress: bool | None) -> LayerPass:
    """``analysis.workload.layer_pass`` from the workers' facts: sizes and os-release per layer,
    near misses from the file combos."""
    from ..analysis.workload import LayerPass

    if not images:
        return LayerPass([], [], [], [])
    done = digest_fleet(images, client, work, platform=platform, avg_chunk=avg_chunk, sample=sample, verify=verify,
                        progress=progress, files_only=True)
    facts = {}
    for il in done.images:
        for key, f in il.layers:
            facts.setdefault(key, f)
    keys = list(facts)
    near = near_misses_from(keys, [facts[k].file_bytes for k in keys], done.combos("files"), done.members)
    return LayerPass([il.name for il in done.images], [[(k, f.size) for k, f in il.layers] for il in done.images],
                     [next((f.os_release for _, f in reversed(il.layers) if f.os_release is not None), None)
                      for il in done.images], near)


def _check(avg_chunk: int, sample: float) -> None:
    chunk_params(avg_chunk)  # bad sizes fail before any layer is read
    if not 0 < sample <= 1:
        raise UsageError(f"the compression sample must be in (0, 1], not {sample}")
