"""`layerscope workload`: real manifests over umoci images that share a base, offline and from a registry.

Every figure is checked against ``workload_images.oracle``-style sums computed from the layout's
manifests and blobs (compressed sizes from the descriptors, uncompressed by gzip, ChainIDs by
hashlib), never against layerscope itself.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

import registry_server as R
import workload_images as WI

REG = "registry.example.com/shop"


@pytest.fixture(scope="module")
def wl(tmp_path_factory):
    import overlay_images as O
    if not O.have_umoci():
        pytest.skip("umoci is needed for the workload tests")
    return WI.build(tmp_path_factory.mktemp("workload"))


def maps(L, tags=WI.TAGS, host=REG) -> list[str]:
    out = []
    for t in tags:
        out += ["--map", f"{host}/{t}:1.0={L}:{t}"]
    return out


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      initContainers:
      - name: migrate
        image: HOST/migrate:1.0
        command: ["/srv/migrate/bin", "--up"]
      - name: logs
        image: HOST/logs:1.0
        restartPolicy: Always
      containers:
      - name: web
        image: HOST/web:1.0
        ports:
        - containerPort: 8080
      - name: worker
        image: HOST/worker:1.0
"""

CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: cron
            image: HOST/cron:1.0
"""

HELM = """\
---
# Source: shop/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  ports:
  - port: 80
---
# Source: shop/templates/api.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
      - name: api
        image: "HOST/api:1.0"
---
# Source: shop/templates/tool.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: tool
spec:
  serviceName: tool
  template:
    spec:
      containers:
      - name: tool
        image: HOST/tool:1.0
"""


def pods_list(host: str) -> str:
    def pod(name, node, images):
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": "shop",
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs"}]},
                "spec": {"nodeName": node,
                         "containers": [{"name": i, "image": f"{host}/{i}:1.0"} for i in images]},
                "status": {"phase": "Running"}}
    return json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
        pod("web-7d4b9-abcde", "node-a", ["web", "logs"]),
        pod("worker-0", "node-b", ["worker"]),
        pod("api-5f6c-xyz12", "node-a", ["api"]),
        pod("tool-0", "node-b", ["tool"]),
    ]}, indent=4)


def ecs_task(host: str) -> str:
    return json.dumps({"taskDefinition": {
        "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-web:7",
        "family": "shop-web", "revision": 7, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
        "cpu": "512", "memory": "1024",
        "containerDefinitions": [
            {"name": "web", "image": f"{host}/web:1.0", "essential": True, "cpu": 0,
             "portMappings": [{"containerPort": 8080, "protocol": "tcp"}]},
            {"name": "logs", "image": f"{host}/logs:1.0", "essential": False, "cpu": 0},
        ]}, "tags": []}, indent=4)


COMPOSE = """\
name: shop
services:
  web:
    image: HOST/web:1.0
    ports: ["8080:8080"]
    depends_on:
      migrate:
        condition: service_completed_successfully
  worker:
    image: HOST/worker:1.0
  migrate:
    image: HOST/migrate:1.0
  api:
    image: HOST/api:1.0
"""


def write(tmp_path, name: str, text: str, host: str = REG):
    p = tmp_path / name
    p.write_text(text.replace("HOST", host))
    return p


def run(ls, *args, code: int = 0):
    res = ls("workload", *map(str, args))
    assert res.rc == code, res.err
    return res


def doc(ls, *args) -> dict:
    d = json.loads(run(ls, "--json", *args).out)
    assert d["schema"] == "layerscope.workload/1"
    return d


def images_of(d: dict, w: dict) -> list[str]:
    """The tags (``/NAME:1.0``) of a workload's images, in container order."""
    return [d["images"][i]["ref"].rsplit("/", 1)[1].split(":")[0] for i in w["images"]]


def test_a_deployment_pulls_each_distinct_layer_once(ls, wl, tmp_path):
    d = doc(ls, write(tmp_path, "web.yaml", DEPLOYMENT), *maps(wl))
    [w] = d["workloads"]
    assert w["name"] == "Deployment/shop/web" and w["kind"] == "Deployment" and w["replicas"] == 3
    assert [(c["name"], c["role"]) for c in w["containers"]] == [
        ("migrate", "init"), ("logs", "sidecar"), ("web", "container"), ("worker", "container")]
    tags = ["migrate", "logs", "web", "worker"]
    assert images_of(d, w) == tags
    pulled, stored = WI.pulled_stored(wl, tags)
    assert (w["pulled"], w["stored"]) == (pulled, stored)
    naive = [WI.pulled_stored(wl, [t]) for t in tags]
    assert (w["naive_pulled"], w["naive_stored"]) == (sum(p for p, _ in naive), sum(s for _, s in naive))
    base = WI.layers(wl, "web")[0]
    [shared] = w["shared_layers"]  # the base: the only layer its images have in common
    assert (shared["chain_id"], shared["size"], shared["compressed"]) == (base["chain_id"], base["size"],
                                                                         base["compressed"])
    assert sorted(shared["images"]) == sorted(w["images"])
    for a in w["alone"]:  # each image adds its own top layer, nothing else
        tag = d["images"][a["image"]]["ref"].rsplit("/", 1)[1].split(":")[0]
        top = WI.layers(wl, tag)[-1]
        assert (a["pulled"], a["stored"]) == (top["compressed"], top["size"])
    assert d["warnings"] == []


def test_every_kind_of_file_and_the_set_across_them(ls, wl, tmp_path):
    files = [write(tmp_path, "web.yaml", DEPLOYMENT), write(tmp_path, "cron.yaml", CRONJOB),
             write(tmp_path, "chart.yaml", HELM), write(tmp_path, "task.json", ecs_task(REG)),
             write(tmp_path, "compose.yaml", COMPOSE)]
    d = doc(ls, *files, *maps(wl))
    names = [w["name"] for w in d["workloads"]]
    assert names == ["Deployment/shop/web", "CronJob/nightly", "Deployment/api", "StatefulSet/tool",
                     "ECSTaskDefinition/shop-web:7", "ComposeProject/shop"]
    expect = {"CronJob/nightly": ["cron"], "Deployment/api": ["api"], "StatefulSet/tool": ["tool"],
              "ECSTaskDefinition/shop-web:7": ["web", "logs"], "ComposeProject/shop": ["web", "worker", "migrate", "api"]}
    for w in d["workloads"][1:]:
        assert images_of(d, w) == expect[w["name"]]
        assert (w["pulled"], w["stored"]) == WI.pulled_stored(wl, expect[w["name"]])
    roles = {(w["name"], c["name"]): c["role"] for w in d["workloads"] for c in w["containers"]}
    assert roles[("ECSTaskDefinition/shop-web:7", "logs")] == "sidecar"
    assert roles[("ComposeProject/shop", "migrate")] == "init"
    # every workload on one node: each distinct blob and ChainID once over all of them
    assert (d["total"]["pulled"], d["total"]["stored"]) == WI.pulled_stored(wl, [t for t in WI.TAGS if t != "webnext"])
    assert d["total"]["naive_pulled"] == sum(w["pulled"] for w in d["workloads"])
    assert d["total"]["naive_stored"] == sum(w["stored"] for w in d["workloads"])
    base = WI.layers(wl, "web")[0]
    across = {s["chain_id"]: s for s in d["total"]["shared_layers"]}
    # the base is in every workload that has an image on it: not in api's (a rebuilt base) nor tool's
    holders = {names[k] for k in across[base["chain_id"]]["workloads"]}
    assert holders == {"Deployment/shop/web", "CronJob/nightly", "ECSTaskDefinition/shop-web:7", "ComposeProject/shop"}
    # the Service of the chart is said, not dropped
    assert any("Service/api" in m for m in d["warnings"])


def test_a_placement_from_kubectl_counts_what_each_node_pulls(ls, wl, tmp_path):
    d = doc(ls, write(tmp_path, "pods.json", pods_list(REG)), *maps(wl))
    assert [w["node"] for w in d["workloads"]] == ["node-a", "node-b", "node-a", "node-b"]
    nodes = {n["name"]: n for n in d["nodes"]}
    assert sorted(nodes) == ["node-a", "node-b"]
    for node, tags in (("node-a", ["web", "logs", "api"]), ("node-b", ["worker", "tool"])):
        n = nodes[node]
        assert (n["pulled"], n["stored"]) == WI.pulled_stored(wl, tags)
        on = [d["workloads"][k] for k in n["workloads"]]
        assert sorted(t for w in on for t in images_of(d, w)) == sorted(tags)
        assert n["naive_pulled"] == sum(w["pulled"] for w in on)


def test_nodes_placed_by_option(ls, wl, tmp_path):
    files = [write(tmp_path, "web.yaml", DEPLOYMENT), write(tmp_path, "cron.yaml", CRONJOB),
             write(tmp_path, "chart.yaml", HELM)]
    d = doc(ls, *files, *maps(wl), "--node", "n1=web,nightly", "--node", "n2=Deployment/api,tool")
    nodes = {n["name"]: n for n in d["nodes"]}
    assert (nodes["n1"]["pulled"], nodes["n1"]["stored"]) == WI.pulled_stored(
        wl, ["migrate", "logs", "web", "worker", "cron"])
    assert (nodes["n2"]["pulled"], nodes["n2"]["stored"]) == WI.pulled_stored(wl, ["api", "tool"])
    res = run(ls, *files, *maps(wl), "--node", "n3=nosuch", code=2)
    assert res.err.count("\n") == 1 and "nosuch" in res.err


def test_the_rebase_estimate_is_the_near_miss_of_the_rebuilt_base(ls, wl, tmp_path):
    d = doc(ls, write(tmp_path, "chart.yaml", HELM), write(tmp_path, "web.yaml", DEPLOYMENT), *maps(wl))
    base, base2 = WI.layers(wl, "web")[0], WI.layers(wl, "api")[0]
    assert base["diff_id"] != base2["diff_id"]  # new mtimes: no layer shared
    a, b = WI.file_bytes(base["tar"]), WI.file_bytes(base2["tar"])
    common = sum(size for digest, size in a.items() if digest in b)
    assert common >= sum(len(v) for v in WI.BASE_FILES.values()) - 1  # every file is alike
    rb = d["rebase"]
    [group] = rb["groups"]  # tool's base is another distro: no group with it
    [layer] = group["layers"]
    # api's base is the variant (one image) rebuilt as the base the other five share
    assert (layer["diff_id"], layer["like"]) == (base2["diff_id"], base["diff_id"])
    assert layer["cause"] == "same files, new mtimes"
    assert rb["saving"] == group["saving"] == layer["saving"] == common
    # ... which is the near miss savings reports between the two bases
    near = json.loads(run_savings(ls, f"{wl}:web", f"{wl}:api"))["near_misses"]
    assert [(m["a"], m["b"], m["common"]) for m in near] == [(base["diff_id"], base2["diff_id"], common)]
    assert rb["stored_after"] == d["total"]["stored"] - common
    ratio = base2["compressed"] / base2["size"]
    assert rb["saving_compressed"] == int(common * ratio + 0.5)
    tool = next(i for i, im in enumerate(d["images"]) if im["ref"].endswith("/tool:1.0"))
    assert tool not in group["images"]
    assert d["images"][tool]["os_release"] != d["images"][group["images"][0]]["os_release"]


def test_two_builds_of_one_app_on_one_base_are_no_rebase(ls, wl, tmp_path):
    web, webnext = WI.layers(wl, "web"), WI.layers(wl, "webnext")
    assert web[0]["diff_id"] == webnext[0]["diff_id"] and web[1]["diff_id"] != webnext[1]["diff_id"]
    compose = "services:\n  web: {image: HOST/web:1.0}\n  next: {image: HOST/webnext:1.0}\n"
    d = doc(ls, write(tmp_path, "compose.yaml", compose), *maps(wl))
    # the top layers are a near miss (savings says so), but a common base would not make them equal
    near = json.loads(run_savings(ls, f"{wl}:web", f"{wl}:webnext"))["near_misses"]
    assert {(m["a"], m["b"]) for m in near} == {(web[1]["diff_id"], webnext[1]["diff_id"])}
    assert d["rebase"] == {"saving": 0, "saving_compressed": 0, "stored_after": d["total"]["stored"],
                           "pulled_after": d["total"]["pulled"], "groups": []}
    # with api (built on the rebuilt base) beside them, only the base counts
    compose += "  api: {image: HOST/api:1.0}\n"
    d = doc(ls, write(tmp_path, "compose.yaml", compose), *maps(wl))
    [group] = d["rebase"]["groups"]
    assert [lay["diff_id"] for lay in group["layers"]] == [WI.layers(wl, "api")[0]["diff_id"]]


def test_a_rebuilt_base_image_itself_is_a_rebase_of_the_images_on_the_other(ls, wl, tmp_path):
    """``base2`` is the base image rebuilt (its one layer is its top); web is built on the first
    build: rebuilding web on base2 (or the converse) shares that layer."""
    compose = "services:\n  web: {image: HOST/web:1.0}\n  base: {image: HOST/base2:1.0}\n"
    d = doc(ls, write(tmp_path, "compose.yaml", compose), *maps(wl), "--map", f"{REG}/base2:1.0={wl}:base2")
    [group] = d["rebase"]["groups"]
    [layer] = group["layers"]
    base, base2 = WI.layers(wl, "web")[0], WI.layers(wl, "base2")[0]
    assert {layer["diff_id"], layer["like"]} == {base["diff_id"], base2["diff_id"]}
    assert layer["cause"] == "same files, new mtimes" and d["rebase"]["saving"] > 1_000_000


def run_savings(ls, *specs) -> str:
    res = ls("savings", "--json", "--compress-sample", "1", *specs)
    assert res.rc == 0, res.err
    return res.out


def test_unresolved_images_are_warnings_not_dropped(ls, wl, tmp_path):
    f = write(tmp_path, "web.yaml", DEPLOYMENT)
    res = run(ls, "--json", "--offline", f, *maps(wl, ["web", "logs", "migrate"]))
    d = json.loads(res.out)
    [w] = d["workloads"]
    worker = next(c for c in w["containers"] if c["name"] == "worker")
    assert worker["image"] is None
    assert any("worker" in m and "cannot resolve" in m and f"{REG}/worker:1.0" in m for m in d["warnings"])
    assert "worker" in res.err  # said on stderr too
    assert (w["pulled"], w["stored"]) == WI.pulled_stored(wl, ["migrate", "logs", "web"])
    text = run(ls, "--offline", f, *maps(wl, ["web", "logs", "migrate"])).out
    assert "unresolved" in text and f"{REG}/worker:1.0" in text


def test_images_found_in_a_directory_by_the_names_they_carry(ls, wl, tmp_path):
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is needed")
    lib = tmp_path / "images"
    lib.mkdir()
    for t in ("web", "worker", "migrate"):  # layouts named after the repository, the tag as ref name
        subprocess.run(["skopeo", "copy", "--quiet", f"oci:{wl}:{t}", f"oci:{lib / t}:1.0"], check=True,
                       capture_output=True)
    # a docker-archive carrying the full name as its RepoTag (uncompressed layers: pulled = tar sizes)
    subprocess.run(["skopeo", "copy", "--quiet", f"oci:{wl}:logs", f"docker-archive:{lib / 'logs.tar'}:{REG}/logs:1.0"],
                   check=True, capture_output=True)
    d = doc(ls, "--offline", "--images", lib, write(tmp_path, "web.yaml", DEPLOYMENT))
    assert d["warnings"] == []
    [w] = d["workloads"]
    assert images_of(d, w) == ["migrate", "logs", "web", "worker"]
    sources = {c["name"]: d["images"][c["image"]]["source"] for c in w["containers"]}
    assert sources["web"].endswith("images/web:1.0") and sources["logs"].endswith("logs.tar:" + f"{REG}/logs:1.0")
    _, stored = WI.pulled_stored(wl, ["migrate", "logs", "web", "worker"])
    assert w["stored"] == stored  # the same layers, unpacked
    logs = d["images"][next(c["image"] for c in w["containers"] if c["name"] == "logs")]
    assert all(lay["compressed"] == lay["size"] for lay in logs["layers"])  # a docker-archive's tars


def test_a_malformed_manifest_is_exit_2_naming_file_and_document(ls, wl, tmp_path):
    bad = write(tmp_path, "bad.yaml", HELM + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n"
                                            "  containers: {name: oops}\n")
    res = run(ls, bad, *maps(wl), code=2)
    assert res.err.count("\n") == 1 and "Traceback" not in res.err
    assert "bad.yaml" in res.err and "document 3" in res.err


@pytest.fixture(scope="module")
def reg(wl, tmp_path_factory):
    if not R.have_registry() or not shutil.which("skopeo"):
        pytest.skip("docker-registry and skopeo are needed")
    r = R.Registry(tmp_path_factory.mktemp("wl-registry")).start()
    for t in WI.TAGS:
        r.push(f"oci:{wl}:{t}", f"shop/{t}:1.0")
    yield r
    r.stop()


def _without_sources(d: dict) -> dict:
    for im in d["images"]:
        im.pop("source")
        im.pop("ref")
        im.pop("name")
    for w in d["workloads"]:
        for c in w["containers"]:
            c.pop("ref")
        w.pop("file")
    d.pop("files")
    return d


def test_from_a_registry_the_same_figures_as_the_archives(ls, wl, reg, tmp_path, monkeypatch):
    monkeypatch.setitem(ls.env, "LAYERSCOPE_CACHE", str(tmp_path / "cache"))
    host = f"{reg.host}/shop"
    files = [write(tmp_path, "pods.json", pods_list(host), host),
             write(tmp_path, "compose.yaml", COMPOSE, host), write(tmp_path, "task.json", ecs_task(host), host)]
    online = doc(ls, *files)
    assert online["warnings"] == []
    assert (online["total"]["pulled"], online["total"]["stored"]) == WI.pulled_stored(
        wl, ["web", "logs", "worker", "api", "tool", "migrate"])
    for n, tags in (("node-a", ["web", "logs", "api"]), ("node-b", ["worker", "tool"])):
        node = next(x for x in online["nodes"] if x["name"] == n)
        assert (node["pulled"], node["stored"]) == WI.pulled_stored(wl, tags)
    assert all(im["source"].startswith(f"docker://{reg.host}/") for im in online["images"])
    offline = doc(ls, *files, "--offline", *maps(wl, host=host))
    assert _without_sources(online) == _without_sources(offline)


def test_the_python_api_gives_the_same_report(wl, tmp_path):
    import layerscope
    from layerscope.report.workload_out import workload_doc

    f = write(tmp_path, "web.yaml", DEPLOYMENT)
    mapping = {f"{REG}/{t}:1.0": f"{wl}:{t}" for t in WI.TAGS}
    report = layerscope.workloads([str(f)], mapping=mapping, offline=True, nodes={"n1": ["web"]})
    assert isinstance(report, layerscope.WorkloadReport)
    [w] = report.workloads
    assert (w.cost.pulled, w.cost.stored) == WI.pulled_stored(wl, ["migrate", "logs", "web", "worker"])
    assert [n.name for n in report.nodes] == ["n1"] and report.nodes[0].cost.stored == w.cost.stored
    assert workload_doc(report)["schema"] == "layerscope.workload/1"
