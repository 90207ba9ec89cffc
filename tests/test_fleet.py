"""`savings` and `workload` on a dask.distributed cluster (issue #16): the same JSON as one machine.

A real LocalCluster (two worker processes, started here) reads the layers of a
dozen images in a loopback registry (``registry_server.py``, pushed with skopeo,
built with umoci on shared bases: ``savings_images.py``, ``workload_images.py``);
the CLI runs once on the cluster and once on its own, and the documents must be
equal, also when a worker dies mid-run. ``--scheduler processes|threads`` start
their own cluster on archives.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import registry_server as R
import savings_images as SI
import workload_images as WI
from test_workload import COMPOSE, DEPLOYMENT, HELM, ecs_task, pods_list, write

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

SAVINGS_TAGS = ["one", "two", "rebuilt", "onebyte"]  # with WI.TAGS' eight: a dozen tags in the registry


@pytest.fixture(scope="module")
def armed(tmp_path_factory):
    """The file that, when it exists, makes the first task to claim it kill its worker (task._die_once)."""
    return tmp_path_factory.mktemp("die") / "armed"


@pytest.fixture(scope="module")
def cluster(armed):
    import distributed

    old = os.environ.get("LAYERSCOPE_FLEET_DIE_ONCE")
    os.environ["LAYERSCOPE_FLEET_DIE_ONCE"] = str(armed)  # the worker processes inherit it
    try:
        with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=":0",
                                      silence_logs=50) as c, distributed.Client(c) as client:
            yield client
    finally:
        if old is None:
            os.environ.pop("LAYERSCOPE_FLEET_DIE_ONCE", None)
        else:
            os.environ["LAYERSCOPE_FLEET_DIE_ONCE"] = old


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    import overlay_images as O
    if not O.have_umoci():
        pytest.skip("umoci is needed to build the images")
    return SI.build(tmp_path_factory.mktemp("fleet-s")).layout, WI.build(tmp_path_factory.mktemp("fleet-w"))


@pytest.fixture(scope="module")
def reg(built, tmp_path_factory):
    if not R.have_registry():
        pytest.skip("docker-registry and skopeo are needed")
    s, w = built
    r = R.Registry(tmp_path_factory.mktemp("fleet-registry")).start()
    for t in SAVINGS_TAGS:
        r.push(f"oci:{s}:{t}", f"fleet/{t}:1.0")
    for t in WI.TAGS:
        r.push(f"oci:{w}:{t}", f"shop/{t}:1.0")
    yield r
    r.stop()


def address(client) -> str:
    return client.scheduler.address


def same_both_ways(ls, scheduler: str, *args) -> dict:
    """``ls *args --json`` with and without ``--scheduler``: the documents must be equal."""
    alone = ls(*args, "--json")
    assert alone.rc == 0, alone.err
    fleet = ls(*args, "--json", "--scheduler", scheduler)
    assert fleet.rc == 0, fleet.err
    assert fleet.err_lines == alone.err_lines  # no word from dask either
    a, b = json.loads(alone.out), json.loads(fleet.out)
    assert a == b
    return a


def registry_refs(reg) -> list[str]:
    return [f"docker://{reg.host}/fleet/{t}:1.0" for t in SAVINGS_TAGS] + \
        [f"docker://{reg.host}/shop/{t}:1.0" for t in WI.TAGS]


def manifests(tmp_path, reg) -> list:
    host = f"{reg.host}/shop"
    return [write(tmp_path, "web.yaml", DEPLOYMENT, host), write(tmp_path, "chart.yaml", HELM, host),
            write(tmp_path, "pods.json", pods_list(host), host), write(tmp_path, "compose.yaml", COMPOSE, host),
            write(tmp_path, "task.json", ecs_task(host), host)]


def test_savings_of_a_registry_on_the_cluster(ls, cluster, reg):
    d = same_both_ways(ls, address(cluster), "savings", *registry_refs(reg))
    assert len(d["images"]) == 12
    assert d["near_misses"]  # the rebuilt layers: the member sidecars made it back
    assert d["totals"]["chunk"]["bytes"] < d["totals"]["file"]["bytes"] < d["totals"]["layer"]["bytes"]


def test_workload_of_a_registry_on_the_cluster(ls, cluster, reg, tmp_path):
    d = same_both_ways(ls, address(cluster), "workload", *manifests(tmp_path, reg))
    assert not [w for w in d["warnings"] if "cannot resolve" in w] and len(d["workloads"]) >= 5
    assert d["rebase"]["groups"]  # base2 against base: near misses and os-release from the workers' facts


def test_a_worker_killed_mid_run_changes_nothing(ls, cluster, reg, armed, tmp_path):
    before = set(cluster.run(os.getpid).values())
    armed.touch()
    d = same_both_ways(ls, address(cluster), "savings", *registry_refs(reg), "--work-dir", tmp_path / "work")
    assert not armed.exists() and armed.with_name("armed.fired").exists()  # one task took its worker down
    assert len(d["images"]) == 12
    cluster.wait_for_workers(2, timeout=60)  # the nanny started another
    assert set(cluster.run(os.getpid).values()) != before
    assert os.listdir(tmp_path / "work") == []  # the run's tables went with it


def test_the_python_api_on_the_cluster(cluster, reg, built):
    import layerscope
    from layerscope.report.savings_out import savings_doc

    refs = [f"{built[0]}:{t}" for t in SI.TAGS]
    here = layerscope.savings(refs)
    there = layerscope.savings(refs, scheduler=address(cluster))
    assert savings_doc(here) == savings_doc(there)


@pytest.mark.parametrize("scheduler", ["processes", "threads"])
def test_local_clusters_on_archives(ls, built, scheduler, tmp_path):
    s, w = built
    args = [f"{s}:{t}" for t in SI.TAGS] + [f"{w}:{t}" for t in WI.TAGS]
    same_both_ways(ls, scheduler, "savings", *args)
    if scheduler == "threads":
        maps = [a for t in WI.TAGS for a in ("--map", f"registry.example.com/shop/{t}:1.0={w}:{t}")]
        files = [write(tmp_path, "web.yaml", DEPLOYMENT), write(tmp_path, "chart.yaml", HELM)]
        same_both_ways(ls, scheduler, "workload", "--offline", *maps, *files)


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=300)


CLI = ("import sys\nsys.argv = ['layerscope', *sys.argv[1:]]\nfrom layerscope.entry import main\n"
       "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n")


def test_one_machine_imports_no_dask(built):
    s, _ = built
    out = _python(CLI + "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', "
                  "'pyarrow')))", "savings", "--json", f"{s}:one", f"{s}:two")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "[]"


def test_without_dask_the_scheduler_is_a_usage_error(built):
    s, _ = built
    out = _python("import sys\nsys.modules['dask'] = None\n" + CLI + "print(code)", "savings", "--scheduler",
                  "threads", f"{s}:one")
    assert out.stdout.strip() == "2"
    assert out.stderr.strip() == ("layerscope: error: --scheduler needs the dask extra: "
                                  "pip install 'layerscope[dask]'")


def test_a_bad_scheduler_is_a_usage_error(ls, built):
    res = ls("savings", "--scheduler", "somewhere", f"{built[0]}:one")
    assert res.rc == 2 and "expected processes, threads or tcp://HOST:PORT" in res.err


def test_a_bad_layer_is_the_same_error_and_not_retried(ls, cluster, built, tmp_path):
    import shutil

    s, _ = built
    bad = tmp_path / "layout"
    shutil.copytree(s, bad)
    manifest = json.loads((bad / "index.json").read_text())["manifests"]
    desc = next(m for m in manifest if m["annotations"]["org.opencontainers.image.ref.name"] == "one")
    layer = json.loads((bad / "blobs" / "sha256" / desc["digest"].split(":")[1]).read_bytes())["layers"][-1]
    blob = bad / "blobs" / "sha256" / layer["digest"].split(":")[1]
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    alone = ls("savings", f"{bad}:one", f"{bad}:two")
    fleet = ls("savings", f"{bad}:one", f"{bad}:two", "--scheduler", address(cluster))
    assert alone.rc == fleet.rc == 2
    assert alone.err_lines == fleet.err_lines and layer["digest"] in fleet.err


def _docker_archive(path, raws: list[bytes], tag: str):
    import images as I

    dids = [I.sha256(r) for r in raws]
    cfg = I.make_config(dids)
    cname = f"{I.hexof(I.sha256(cfg))}.json"
    members = [(f"{I.hexof(d)}.tar", r) for d, r in zip(dids, raws)] + [(cname, cfg)]
    members.append(("manifest.json", I.jbytes(I.W.docker_manifest(cname, [tag], [f"{I.hexof(d)}.tar" for d in dids]))))
    I.tar_members(path, members)
    return path


def test_legacy_and_multi_image_archives(ls, cluster, tmp_path):
    """A pre-1.10 archive's layers are known by their diff_id only once read (the workers wrote them
    under other names, mapped in the combos), and here the same bytes are a docker-archive's too;
    a multi-image archive's images are found again by their tags."""
    import images as I

    v1 = I.build_pre110_archive(tmp_path / "v1.tar")
    same = _docker_archive(tmp_path / "same.tar", v1.raws, "same:1")
    multi = I.build_multi_image_archive(tmp_path / "multi.tar").path
    args = [f"{v1.path}:legacy/v1:1.0", f"{v1.path}:legacy/v1:base", same, multi]
    d = same_both_ways(ls, address(cluster), "savings", "--all-images", *args)
    assert len(d["images"]) == 5
    same_both_ways(ls, address(cluster), "savings", "--all-images", "--no-verify", *args)


def test_the_scheduler_comes_from_the_option_then_the_environment(monkeypatch):
    from layerscope.fleet.engine import scheduler_address

    monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    assert scheduler_address(None) is None
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://10.0.0.1:8786")
    assert scheduler_address(None) == "tcp://10.0.0.1:8786"
    assert scheduler_address("threads") == "threads"
    assert scheduler_address("") is None  # said outright: this machine


def test_a_fleet_client_opens_registry_images_without_fetching_layers(reg, tmp_path, monkeypatch):
    """The workers read the layers: the client's opening of an image must not download them too
    (one machine does, in the background, to get ahead of its own reader)."""
    from layerscope.source.registry.image import no_prefetch, open_registry_image

    monkeypatch.setenv("LAYERSCOPE_CACHE", str(tmp_path / "cache"))
    before = reg.blob_gets("fleet/onebyte")
    with no_prefetch():
        image = open_registry_image(f"{reg.host}/fleet/onebyte:1.0")
    time.sleep(1.0)  # time enough for a background download to have begun
    assert reg.blob_gets("fleet/onebyte") - before == 1  # the config, nothing else
    open_registry_image(f"{reg.host}/fleet/onebyte:1.0", cache=True)
    deadline = time.monotonic() + 30
    while reg.blob_gets("fleet/onebyte") - before < 1 + len(image.layers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert reg.blob_gets("fleet/onebyte") - before == 1 + len(image.layers)  # one machine: prefetched
