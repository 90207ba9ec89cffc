"""layerscope.workload.manifests: Kubernetes, ECS and compose files read into workload specs (issue #15).

The manifests are written as kubectl, helm, aws and compose print them.
"""

from __future__ import annotations

import io
import json
import sys
import time

import pytest

from layerscope.errors import BadInputError
from layerscope.workload.manifests import (
    MAX_BYTES,
    ImageUse,
    WorkloadSpec,
    Workloads,
    read_text,
    read_workloads,
)


def spec(name, kind, file, document, images, replicas=None, node=None):
    return WorkloadSpec(name, kind, file, document, [ImageUse(*i) for i in images], replicas, node)


def bad(text: str, file: str = "k8s.yaml") -> str:
    """The one line a malformed file raises."""
    with pytest.raises(BadInputError) as info:
        read_text(text, file)
    assert info.value.exit_code == 2
    return str(info.value)


# --- Kubernetes ---

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  labels:
    app.kubernetes.io/name: shop
  name: shop
  namespace: prod
spec:
  replicas: 3
  selector:
    matchLabels:
      app.kubernetes.io/name: shop
  strategy:
    rollingUpdate:
      maxSurge: 25%
      maxUnavailable: 25%
    type: RollingUpdate
  template:
    metadata:
      labels:
        app.kubernetes.io/name: shop
    spec:
      initContainers:
      - name: migrate
        image: registry.example.com/shop/migrate:2.4.1
        command: ["/bin/migrate", "up"]
      - name: istio-proxy
        image: docker.io/istio/proxyv2:1.22.0
        restartPolicy: Always
        ports:
        - containerPort: 15090
          name: http-envoy-prom
      containers:
      - name: web
        image: "  registry.example.com/shop/web@sha256:4b1f1e0a8e3c9b2d7f6a5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b  "
        ports:
        - containerPort: 8080
          protocol: TCP
        resources:
          limits:
            memory: 512Mi
      - name: worker
        image: registry.example.com/shop/web:2.4.1
        args: ["worker"]
      dnsPolicy: ClusterFirst
      restartPolicy: Always
"""


def test_deployment_with_init_container_native_sidecar_and_two_containers():
    got = read_text(DEPLOYMENT, "shop.yaml")
    assert got == Workloads([spec("Deployment/prod/shop", "Deployment", "shop.yaml", 0, [
        ("migrate", "init", "registry.example.com/shop/migrate:2.4.1"),
        ("istio-proxy", "sidecar", "docker.io/istio/proxyv2:1.22.0"),
        ("web", "container",
         "registry.example.com/shop/web@sha256:4b1f1e0a8e3c9b2d7f6a5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"),
        ("worker", "container", "registry.example.com/shop/web:2.4.1"),
    ], replicas=3)], [])


def test_init_containers_come_first_whatever_the_field_order():
    text = """\
apiVersion: v1
kind: Pod
metadata:
  name: debug-me
spec:
  ephemeralContainers:
  - name: debugger-x7k2p
    image: busybox:1.36
    stdin: true
    targetContainerName: app
  containers:
  - name: app
    image: app:1
  initContainers:
  - name: setup
    image: alpine:3.20
"""
    assert read_text(text, "pod.yaml").workloads == [spec("Pod/debug-me", "Pod", "pod.yaml", 0, [
        ("setup", "init", "alpine:3.20"), ("app", "container", "app:1"),
        ("debugger-x7k2p", "ephemeral", "busybox:1.36")])]


CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: nightly-report
  namespace: analytics
spec:
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          containers:
          - name: report
            image: ghcr.io/acme/report:2024.06
            env:
            - name: TZ
              value: UTC
          restartPolicy: OnFailure
  schedule: "0 3 * * *"
  successfulJobsHistoryLimit: 3
"""


def test_cronjob():
    assert read_text(CRONJOB, "cron.yaml") == Workloads([spec(
        "CronJob/analytics/nightly-report", "CronJob", "cron.yaml", 0,
        [("report", "container", "ghcr.io/acme/report:2024.06")])], [])


def test_the_other_pod_template_kinds():
    text = """\
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-exporter, namespace: monitoring}
spec:
  template:
    spec:
      containers: [{name: exporter, image: quay.io/prometheus/node-exporter:v1.8.1}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  template:
    spec:
      containers: [{name: pi, image: perl:5.34.0}]
      restartPolicy: Never
---
apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  replicas: 0
  template:
    spec:
      containers: [{name: nginx, image: nginx}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: frontend}
spec:
  template:
    spec:
      containers: [{name: php-redis, image: us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5}]
---
apiVersion: v1
kind: PodTemplate
metadata: {name: tmpl}
template:
  spec:
    containers: [{name: c, image: "alpine"}]
"""
    assert read_text(text, "all.yaml").workloads == [
        spec("DaemonSet/monitoring/node-exporter", "DaemonSet", "all.yaml", 0,
             [("exporter", "container", "quay.io/prometheus/node-exporter:v1.8.1")]),
        spec("Job/pi", "Job", "all.yaml", 1, [("pi", "container", "perl:5.34.0")]),
        spec("ReplicationController/legacy", "ReplicationController", "all.yaml", 2,
             [("nginx", "container", "nginx")], replicas=0),
        spec("ReplicaSet/frontend", "ReplicaSet", "all.yaml", 3,
             [("php-redis", "container", "us-docker.pkg.dev/google-samples/containers/gke/gb-frontend:v5")]),
        spec("PodTemplate/tmpl", "PodTemplate", "all.yaml", 4, [("c", "container", "alpine")]),
    ]


def _pod(name, node, owner, images, phase="Running"):
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"creationTimestamp": "2024-06-01T10:00:00Z", "generateName": name.rsplit("-", 1)[0] + "-",
                     "labels": {"app": "shop"}, "name": name, "namespace": "prod",
                     "ownerReferences": [{"apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True,
                                          "kind": owner[0], "name": owner[1],
                                          "uid": "0f8e7c1a-1f6d-4a43-9d1e-5c0b6d9e2a11"}],
                     "resourceVersion": "123456", "uid": "7d3c2b1a-0000-4a43-9d1e-5c0b6d9e2a11"},
        "spec": {"containers": [{"image": image, "imagePullPolicy": "IfNotPresent", "name": cname}
                                for cname, image in images],
                 "nodeName": node, "restartPolicy": "Always", "schedulerName": "default-scheduler"},
        "status": {"phase": phase, "hostIP": "10.0.1.12",
                   "containerStatuses": [{"name": cname, "image": image, "ready": True,
                                          "imageID": "docker.io/library/x@sha256:" + "a" * 64}
                                         for cname, image in images]},
    }


KUBECTL_PODS = json.dumps({
    "apiVersion": "v1",
    "items": [
        _pod("shop-7c9d8f6b5-abcde", "ip-10-0-1-12.eu-west-1.compute.internal", ("ReplicaSet", "shop-7c9d8f6b5"),
             [("web", "registry.example.com/shop/web:2.4.1"), ("log", "fluent/fluent-bit:3.0")]),
        _pod("shop-7c9d8f6b5-fghij", "ip-10-0-2-7.eu-west-1.compute.internal", ("ReplicaSet", "shop-7c9d8f6b5"),
             [("web", "registry.example.com/shop/web:2.4.1"), ("log", "fluent/fluent-bit:3.0")]),
        _pod("db-0", "ip-10-0-2-7.eu-west-1.compute.internal", ("StatefulSet", "db"), [("postgres", "postgres:16")]),
    ],
    "kind": "List",
    "metadata": {"resourceVersion": ""},
}, indent=4)


def test_kubectl_get_pods_json_list_keeps_each_pod_and_its_node():
    expected = [
        spec("Pod/prod/shop-7c9d8f6b5-abcde", "Pod", "pods.json", 0,
             [("web", "container", "registry.example.com/shop/web:2.4.1"),
              ("log", "container", "fluent/fluent-bit:3.0")], node="ip-10-0-1-12.eu-west-1.compute.internal"),
        spec("Pod/prod/shop-7c9d8f6b5-fghij", "Pod", "pods.json", 0,
             [("web", "container", "registry.example.com/shop/web:2.4.1"),
              ("log", "container", "fluent/fluent-bit:3.0")], node="ip-10-0-2-7.eu-west-1.compute.internal"),
        spec("Pod/prod/db-0", "Pod", "pods.json", 0, [("postgres", "container", "postgres:16")],
             node="ip-10-0-2-7.eu-west-1.compute.internal"),
    ]
    assert read_text(KUBECTL_PODS, "pods.json") == Workloads(expected, [])
    # the same through the YAML parser (no .json name), and as kubectl -o yaml would print it
    import yaml
    as_yaml = [w.replace(file="pods.yaml") for w in expected]
    assert read_text(KUBECTL_PODS, "-").workloads == [w.replace(file="-") for w in expected]
    assert read_text(yaml.safe_dump(json.loads(KUBECTL_PODS)), "pods.yaml").workloads == as_yaml


def test_a_pending_pod_has_no_node():
    pod = _pod("web-0", None, ("StatefulSet", "web"), [("web", "nginx:1.27")], phase="Pending")
    del pod["spec"]["nodeName"]
    assert read_text(json.dumps(pod), "p.json").workloads == [
        spec("Pod/prod/web-0", "Pod", "p.json", 0, [("web", "container", "nginx:1.27")])]


def test_typed_lists_lend_their_kind_and_unnamed_items_are_numbered():
    text = """\
apiVersion: apps/v1
kind: DeploymentList
items:
- metadata: {name: a}
  spec: {replicas: 2, template: {spec: {containers: [{name: a, image: a:1}]}}}
- spec: {template: {spec: {containers: [{name: b, image: b:1}]}}}
- apiVersion: v1
  kind: List
  items:
  - kind: Pod
    spec: {containers: [{name: c, image: c:1}]}
  - {kind: Secret, metadata: {name: s, namespace: x}}
"""
    got = read_text("# first document is empty\n---\n---\n" + text, "d.yaml")
    assert got == Workloads([
        spec("Deployment/a", "Deployment", "d.yaml", 1, [("a", "container", "a:1")], replicas=2),
        spec("Deployment/#1.1", "Deployment", "d.yaml", 1, [("b", "container", "b:1")]),
        spec("Pod/#1.2.0", "Pod", "d.yaml", 1, [("c", "container", "c:1")]),
    ], ["d.yaml: skipped 1 document with no pod template: Secret/x/s"])


HELM = """\
---
# Source: shop/templates/serviceaccount.yaml
---
# Source: shop/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: shop-config
data:
  LOG_LEVEL: "info"
---
# Source: shop/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: shop
  labels:
    helm.sh/chart: shop-0.3.0
spec:
  type: ClusterIP
  ports:
    - port: 80
      targetPort: http
---
# Source: shop/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
  labels:
    helm.sh/chart: shop-0.3.0
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: shop
          image: "ghcr.io/acme/shop:0.3.0"
          imagePullPolicy: IfNotPresent
---
# Source: shop/templates/statefulset.yaml
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: shop-redis
spec:
  serviceName: shop-redis
  replicas: 1
  template:
    spec:
      initContainers:
      containers:
        - name: redis
          image: "docker.io/bitnami/redis:7.2.5-debian-12-r0"
---
# Source: shop/templates/tests/test-connection.yaml
---
"""


def test_helm_template_output():
    got = read_text(HELM, "rendered.yaml")
    assert got == Workloads([
        spec("Deployment/shop", "Deployment", "rendered.yaml", 3, [("shop", "container", "ghcr.io/acme/shop:0.3.0")],
             replicas=2),
        spec("StatefulSet/shop-redis", "StatefulSet", "rendered.yaml", 4,
             [("redis", "container", "docker.io/bitnami/redis:7.2.5-debian-12-r0")], replicas=1),
    ], ["rendered.yaml: skipped 2 documents with no pod template: ConfigMap/shop-config, Service/shop"])


def test_the_skipped_warning_lists_ten_names():
    text = "".join(f"---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{i}}}\n" for i in range(13))
    assert read_text(text, "cm.yaml") == Workloads([], [
        "cm.yaml: skipped 13 documents with no pod template: ConfigMap/c0, ConfigMap/c1, ConfigMap/c2, "
        "ConfigMap/c3, ConfigMap/c4, ConfigMap/c5, ConfigMap/c6, ConfigMap/c7, ConfigMap/c8, ConfigMap/c9, "
        "... and 3 more"])


def test_a_crd_with_odd_metadata_is_still_listed():
    text = "apiVersion: acme.io/v1\nkind: Widget\nmetadata: {name: [1], namespace: 7}\n"
    assert read_text(text, "w.yaml").warnings == ["w.yaml: skipped 1 document with no pod template: Widget/#0"]


def test_documents_that_are_nothing_known_are_reported():
    text = "just a string\n---\nfoo: bar\n---\n- 1\n- 2\n---\napiVersion: v2\nname: chart\n"
    assert read_text(text, "x.yaml") == Workloads([], [
        "x.yaml: document 0: not a Kubernetes object, ECS task definition or compose file: skipped",
        "x.yaml: document 1: not a Kubernetes object, ECS task definition or compose file: skipped",
        "x.yaml: document 2: not a Kubernetes object, ECS task definition or compose file: skipped",
        "x.yaml: document 3: not a Kubernetes object, ECS task definition or compose file: skipped",
    ])
    # GitLab CI's top-level `services:` is a list of images, not compose's mapping
    assert read_text("services: [docker:dind]\nbuild: {script: [make]}\n", ".gitlab-ci.yml").warnings == [
        ".gitlab-ci.yml: document 0: not a Kubernetes object, ECS task definition or compose file: skipped"]


def test_empty_files_and_documents_are_nothing():
    assert read_text("", "e.yaml") == Workloads([], [])
    assert read_text("# nothing\n---\n---\nnull\n...\n", "e.yaml") == Workloads([], [])


# --- ECS ---

ECS_DESCRIBED = """\
{
    "taskDefinition": {
        "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/shop-api:14",
        "containerDefinitions": [
            {
                "name": "db-migrate",
                "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/migrate:2.4.1",
                "cpu": 0,
                "essential": false,
                "environment": [],
                "mountPoints": [],
                "volumesFrom": []
            },
            {
                "name": "api",
                "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api:2.4.1",
                "cpu": 0,
                "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
                "essential": true,
                "dependsOn": [
                    {"containerName": "db-migrate", "condition": "COMPLETE"},
                    {"containerName": "log-router", "condition": "START"}
                ]
            },
            {
                "name": "log-router",
                "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
                "essential": false,
                "firelensConfiguration": {"type": "fluentbit"}
            }
        ],
        "family": "shop-api",
        "taskRoleArn": "arn:aws:iam::123456789012:role/shop-api",
        "networkMode": "awsvpc",
        "revision": 14,
        "status": "ACTIVE",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "512",
        "memory": "1024",
        "registeredAt": "2024-06-01T10:00:00.000000+00:00"
    },
    "tags": [{"key": "team", "value": "shop"}]
}
"""
ECS_IMAGES = [("db-migrate", "init", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/migrate:2.4.1"),
              ("api", "container", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/api:2.4.1"),
              ("log-router", "sidecar", "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable")]


def test_ecs_describe_task_definition():
    assert read_text(ECS_DESCRIBED, "task.json") == Workloads(
        [spec("ECSTaskDefinition/shop-api:14", "ECSTaskDefinition", "task.json", 0, ECS_IMAGES)], [])


ECS_REGISTER = """\
{
    "family": "batch",
    "containerDefinitions": [
        {"name": "fetch", "image": "busybox:1.36", "essential": true},
        {"name": "main", "image": "acme/batch:7",
         "dependsOn": [{"containerName": "fetch", "condition": "SUCCESS"}]},
        {"name": "xray", "image": "amazon/aws-xray-daemon", "essential": false}
    ],
    "requiresCompatibilities": ["EC2"]
}
"""


def test_ecs_register_form_and_a_list_of_both():
    assert read_text(ECS_REGISTER, "register.json").workloads == [spec(
        "ECSTaskDefinition/batch", "ECSTaskDefinition", "register.json", 0,
        [("fetch", "init", "busybox:1.36"), ("main", "container", "acme/batch:7"),
         ("xray", "sidecar", "amazon/aws-xray-daemon")])]
    both = f"[{ECS_DESCRIBED}, {ECS_REGISTER}, {{\"containerDefinitions\": []}}]"
    assert read_text(both, "tasks.json") == Workloads([
        spec("ECSTaskDefinition/shop-api:14", "ECSTaskDefinition", "tasks.json", 0, ECS_IMAGES),
        spec("ECSTaskDefinition/batch", "ECSTaskDefinition", "tasks.json", 0,
             [("fetch", "init", "busybox:1.36"), ("main", "container", "acme/batch:7"),
              ("xray", "sidecar", "amazon/aws-xray-daemon")]),
        spec("ECSTaskDefinition/#0.2", "ECSTaskDefinition", "tasks.json", 0, []),
    ], [])
    assert read_text(f"[{ECS_REGISTER}, 7]", "mixed.json").warnings == [
        "mixed.json: document 0: item 1 of 2: not a Kubernetes object, ECS task definition or compose file: "
        "skipped"]


def test_ecs_in_yaml_is_recognised_by_structure():
    text = """\
family: worker
containerDefinitions:
  - name: worker
    image: acme/worker:3
    essential: true
"""
    assert read_text(text, "taskdef.yml").workloads == [spec(
        "ECSTaskDefinition/worker", "ECSTaskDefinition", "taskdef.yml", 0, [("worker", "container", "acme/worker:3")])]


# --- compose ---

COMPOSE = """\
services:
  migrate:
    image: ghcr.io/acme/shop-migrate:${TAG:-1.0}
    command: ["migrate", "up"]
  web:
    image: "ghcr.io/acme/shop:${TAG:-1.0}"
    profiles: ["prod"]
    deploy:
      replicas: 3
    depends_on:
      migrate:
        condition: service_completed_successfully
      cache:
        condition: service_started
      frontend:
    ports:
      - "8080:8080"
  cache:
    image: redis:7-alpine
    depends_on: [db]
  db:
    image: ${DB_IMAGE-postgres}:${DB_TAG:-16}
  frontend:
    build:
      context: ./frontend
  secret:
    image: ghcr.io/acme/vault:${VAULT_TAG}
volumes:
  data: {}
"""


def test_compose_file(monkeypatch, tmp_path):
    for var in ("TAG", "DB_IMAGE", "DB_TAG", "VAULT_TAG"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "My Shop.v2" / "compose.yaml"
    path.parent.mkdir()
    path.write_text(COMPOSE)
    got = read_workloads([path])
    assert got == Workloads([spec("ComposeProject/myshopv2", "ComposeProject", str(path), 0, [
        ("migrate", "init", "ghcr.io/acme/shop-migrate:1.0"),
        ("web", "container", "ghcr.io/acme/shop:1.0"),
        ("cache", "container", "redis:7-alpine"),
        ("db", "container", "postgres:16"),
    ])], [f"{path}: service frontend has no image (build only): skipped",
          f"{path}: service secret: image uses unset variable VAULT_TAG"])
    # set: used; set but empty: `:-` takes the default and `-` does not
    monkeypatch.setenv("TAG", "2.0")
    monkeypatch.setenv("DB_IMAGE", "")
    monkeypatch.setenv("DB_TAG", "")
    monkeypatch.setenv("VAULT_TAG", "1.17")
    got = read_text("name: Shop\n" + COMPOSE, "docker-compose.yml")
    assert [(w.name, [i.ref for i in w.images]) for w in got.workloads] == [("ComposeProject/shop", [
        "ghcr.io/acme/shop-migrate:2.0", "ghcr.io/acme/shop:2.0", "redis:7-alpine", ":16", "ghcr.io/acme/vault:1.17"])]
    assert got.workloads[0].replicas is None


@pytest.mark.parametrize("image,env,ref", [
    ("app:$TAG", {"TAG": "3"}, "app:3"),
    ("app:${TAG}", {"TAG": "3"}, "app:3"),
    ("app:${TAG:-${FALLBACK:-9}}", {}, "app:9"),
    ("app:${TAG:-${FALLBACK:-9}}", {"FALLBACK": "8"}, "app:8"),
    ("app:${TAG:+pinned}", {"TAG": "3"}, "app:pinned"),
    ("app:1${TAG:+-x}", {}, "app:1"),
    ("app:${TAG?required}", {"TAG": ""}, "app:"),
    ("app$$x", {}, "app$x"),
])
def test_compose_interpolation(monkeypatch, image, env, ref):
    for var in ("TAG", "FALLBACK"):
        monkeypatch.delenv(var, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    text = f"name: p\nservices:\n  s:\n    image: '{image}'\n"
    assert read_text(text, "c.yaml").workloads == [spec("ComposeProject/p", "ComposeProject", "c.yaml", 0,
                                                        [("s", "container", ref)])]


def test_compose_unset_required_and_empty_results_are_warned(monkeypatch):
    monkeypatch.delenv("TAG", raising=False)
    monkeypatch.setenv("EMPTY", "")
    text = ("name: p\nservices:\n  a: {image: 'app:${TAG:?set TAG}'}\n  b: {image: '${EMPTY}'}\n"
            "  c: {command: [x]}\n  d: {image: 'x:${TAG:-${NOPE_NEVER_SET_1}}'}\n")
    assert read_text(text, "c.yaml") == Workloads([spec("ComposeProject/p", "ComposeProject", "c.yaml", 0, [])], [
        "c.yaml: service a: image uses unset variable TAG",
        "c.yaml: service b: image is empty after interpolation: skipped",
        "c.yaml: service c has no image: skipped",
        "c.yaml: service d: image uses unset variable NOPE_NEVER_SET_1",
    ])


@pytest.mark.parametrize("image,problem", [
    ("app:${TAG", "unterminated interpolation at '${TAG'"),
    ("app:${9}", "invalid interpolation '${9}'"),
    ("app:${TAG:x}", "invalid interpolation '${TAG:x}'"),
    ("app:$-", "invalid interpolation at '$-'"),
    ("a" + "${A:-" * 12 + "x" + "}" * 12, "interpolation nested too deeply"),
])
def test_compose_malformed_interpolation(image, problem):
    text = f"services:\n  s:\n    image: '{image}'\n"
    assert bad(text, "c.yaml") == f"c.yaml: document 0: services.s.image: {problem}"


def test_compose_project_from_standard_input_is_the_working_directory(monkeypatch, tmp_path):
    (tmp_path / "Demo_App").mkdir()
    monkeypatch.chdir(tmp_path / "Demo_App")
    assert read_text("services: {a: {image: a}}\n", "-").workloads[0].name == "ComposeProject/demo_app"
    assert read_text("services:\n", "-").workloads == [spec("ComposeProject/demo_app", "ComposeProject", "-", 0, [])]


# --- names, files, stdin ---

def test_duplicate_names_are_numbered(tmp_path):
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: [{name: c, image: nginx}]}\n"
    a.write_text(pod + "---\n" + pod)
    b.write_text(pod)
    got = read_workloads([a, str(b)])
    assert [(w.name, w.file, w.document) for w in got.workloads] == [
        ("Pod/web", str(a), 0), ("Pod/web (2)", str(a), 1), ("Pod/web (3)", str(b), 0)]
    # a name already taken as written is skipped over
    taken = pod + "---\n" + pod.replace("name: web}", "name: web (2)}") + "---\n" + pod
    assert [w.name for w in read_text(taken, "t.yaml").workloads] == ["Pod/web", "Pod/web (2)", "Pod/web (3)"]


def test_standard_input(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(CRONJOB.encode())))
    got = read_workloads(["-"])
    assert got.workloads == [spec("CronJob/analytics/nightly-report", "CronJob", "-", 0,
                                  [("report", "container", "ghcr.io/acme/report:2024.06")])]
    with pytest.raises(Exception) as info:
        read_workloads(["-", "-"])
    assert str(info.value) == "-: standard input is named twice: it can be read only once"
    assert info.value.exit_code == 2


def test_files_with_byte_order_marks(tmp_path):
    path = tmp_path / "pods.yaml"
    path.write_bytes(CRONJOB.encode("utf-16"))  # PowerShell's redirection
    assert read_workloads([path]).workloads[0].name == "CronJob/analytics/nightly-report"
    path.write_bytes(b"\xef\xbb\xbf" + ECS_REGISTER.encode())
    assert read_workloads([path]).workloads[0].name == "ECSTaskDefinition/batch"


def test_json_files_parse_as_json_only():
    # JSON never allows what YAML would: a .json file is JSON
    assert bad("kind: Pod\n", "pod.json") == "pod.json: document 0: not JSON: Expecting value (line 1, column 1)"
    assert bad('{"kind": "Pod",\n "spec": }', "pod.json") == (
        "pod.json: document 0: not JSON: Expecting value (line 2, column 10)")


# --- malformed input: one line, the file and the document ---

POD = "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"


@pytest.mark.parametrize("text,message", [
    (DEPLOYMENT + "---\n" + HELM.replace("image: \"docker.io/bitnami/redis:7.2.5-debian-12-r0\"",
                                        "image: {repository: bitnami/redis, tag: 7.2.5}"),
     "document 6: spec.template.spec.containers[0].image: expected a string, got a mapping"),
    (POD + "spec:\n  containers:\n  - {name: a, image: a}\n  - {name: b, image: {repo: b}}\n",
     "document 0: spec.containers[1].image: expected a string, got a mapping"),
    (POD + "spec:\n  containers: {name: a, image: a}\n", "document 0: spec.containers: expected a list, got a mapping"),
    (POD + "spec:\n  containers: [nginx]\n", "document 0: spec.containers[0]: expected a mapping, got a string"),
    (POD + "spec:\n  containers: [{name: a}]\n", "document 0: spec.containers[0].image: missing"),
    (POD + "spec:\n  containers: [{name: a, image: '  '}]\n",
     "document 0: spec.containers[0].image: expected an image reference, got an empty string"),
    (POD + "spec:\n  containers: [{name: a, image: 2024-06-01}]\n",
     "document 0: spec.containers[0].image: expected a string, got a date"),
    (POD + "spec:\n  containers: [{name: a, image: 1.0}]\n",
     "document 0: spec.containers[0].image: expected a string, got a number"),
    (POD + "spec:\n  containers: [{image: a}]\n", "document 0: spec.containers[0].name: missing"),
    (POD + "spec:\n  initContainers: [{name: i, image: null}]\n  containers: []\n",
     "document 0: spec.initContainers[0].image: expected a string, got null"),
    (POD + "spec: {}\n", "document 0: spec.containers: missing"),
    (POD, "document 0: spec: missing"),
    ("kind: Deployment\nmetadata: {name: d}\nspec: {replicas: 2, template: []}\n",
     "document 0: spec.template: expected a mapping, got a list"),
    ("kind: Deployment\nspec: {replicas: '2', template: {spec: {containers: []}}}\n",
     "document 0: spec.replicas: expected an integer, got a string"),
    ("kind: Deployment\nspec: {replicas: -1, template: {spec: {containers: []}}}\n",
     "document 0: spec.replicas: expected a count, got -1"),
    ("kind: Pod\nspec: {nodeName: 7, containers: []}\n",
     "document 0: spec.nodeName: expected a string, got an integer"),
    ("kind: Pod\nmetadata: [p]\nspec: {containers: []}\n", "document 0: metadata: expected a mapping, got a list"),
    ("kind: Pod\nmetadata: {name: true}\nspec: {containers: []}\n",
     "document 0: metadata.name: expected a string, got a boolean"),
    ("kind: 3\n", "document 0: kind: expected a string, got an integer"),
    ("kind: ''\n", "document 0: kind: expected a kind, got an empty string"),
    ("---\n---\napiVersion: v1\nkind: List\nitems: {a: 1}\n", "document 1: items: expected a list, got a mapping"),
    ("kind: List\nitems: [{kind: Service}, 3]\n", "document 0: items[1]: expected a mapping, got an integer"),
    ("kind: List\nitems: [{metadata: {name: x}}]\n", "document 0: items[0].kind: missing"),
    ("kind: PodList\nitems:\n- spec: {containers: [{name: a, image: [a]}]}\n",
     "document 0: items[0].spec.containers[0].image: expected a string, got a list"),
])
def test_malformed_kubernetes(text, message):
    assert bad(text) == f"k8s.yaml: {message}"


@pytest.mark.parametrize("text,message", [
    ('{"taskDefinition": []}', "taskDefinition: expected a mapping, got a list"),
    ('{"taskDefinition": {"family": "f"}}', "taskDefinition.containerDefinitions: missing"),
    ('{"family": "f", "containerDefinitions": {"name": "a"}}',
     "containerDefinitions: expected a list, got a mapping"),
    ('{"family": "f", "containerDefinitions": [{"name": "a"}]}', "containerDefinitions[0].image: missing"),
    ('{"family": "f", "containerDefinitions": [{"name": "a", "image": ""}]}',
     "containerDefinitions[0].image: expected an image reference, got an empty string"),
    ('{"family": "f", "containerDefinitions": [{"name": "a", "image": "a", "essential": "no"}]}',
     "containerDefinitions[0].essential: expected a boolean, got a string"),
    ('{"family": "f", "containerDefinitions": [{"name": "a", "image": "a", "dependsOn": {"b": 1}}]}',
     "containerDefinitions[0].dependsOn: expected a list, got a mapping"),
    ('{"family": "f", "containerDefinitions": [{"name": "a", "image": "a", "dependsOn": [{"containerName": "b"}]}]}',
     "containerDefinitions[0].dependsOn[0].condition: missing"),
    ('{"family": "f", "revision": "3", "containerDefinitions": []}', "revision: expected an integer, got a string"),
    ('[{"family": "f", "containerDefinitions": [{"name": "a", "image": 5}]}]',
     "[0].containerDefinitions[0].image: expected a string, got an integer"),
])
def test_malformed_ecs(text, message):
    assert bad(text, "task.json") == f"task.json: document 0: {message}"


@pytest.mark.parametrize("text,message", [
    ("services:\n  web: nginx\n", "services.web: expected a mapping, got a string"),
    ("services:\n  web: {image: [nginx]}\n", "services.web.image: expected a string, got a list"),
    ("services:\n  web: {image: ''}\n", "services.web.image: expected an image reference, got an empty string"),
    ("services:\n  web: {image: a, depends_on: db}\n", "services.web.depends_on: expected a list or a mapping, "
                                                       "got a string"),
    ("services:\n  web: {image: a, depends_on: {db: healthy}}\n",
     "services.web.depends_on.db: expected a mapping, got a string"),
    ("name: [x]\nservices: {}\n", "name: expected a string, got a list"),
])
def test_malformed_compose(text, message):
    assert bad(text, "compose.yaml") == f"compose.yaml: document 0: {message}"


def test_yaml_syntax_errors_name_the_document_and_line():
    text = POD + "spec: {containers: []}\n---\n" + POD + "spec:\n  containers:\n  - name: a\n    image: [a\n"
    assert bad(text) == ("k8s.yaml: document 1: not YAML: did not find expected ',' or ']' (line 13, column 1)"
                         if hasattr(__import__("yaml"), "CSafeLoader") else
                         "k8s.yaml: document 1: not YAML: expected ',' or ']', but got '<stream end>' "
                         "(line 13, column 1)")
    assert bad("---\nkind: Pod\nspec: {containers: []}\n---\nkind: Pod\n  bad: indent\n") == (
        "k8s.yaml: document 1: not YAML: mapping values are not allowed "
        f"{'in this context' if hasattr(__import__('yaml'), 'CSafeLoader') else 'here'} (line 6, column 6)")


def test_yaml_constructor_errors_are_bad_input():
    assert bad("kind: ConfigMap\n---\nkind: Pod\nmetadata: {creationTimestamp: 2024-13-01}\n") == (
        "k8s.yaml: document 1: not YAML: ValueError: month must be in 1..12")
    assert bad("kind: Pod\nspec: !!python/object:os.system {}\n").startswith(
        "k8s.yaml: document 0: not YAML: could not determine a constructor for the tag "
        "'tag:yaml.org,2002:python/object:os.system' (line 2, column 7)")


def test_control_characters_name_their_document():
    text = "# Source: x\n---\n" + POD + "---\n" + POD + "spec: {containers: [{name: a, image: \"a\x01\"}]}\n"
    which = "control" if hasattr(__import__("yaml"), "CSafeLoader") else "special"  # libyaml's words, PyYAML's
    assert bad(text) == ("k8s.yaml: document 1: not YAML: unacceptable character #x0001: "
                         f"{which} characters are not allowed (line 10, column 40)")


def test_deep_nesting_is_bad_input_not_a_traceback():
    deep = "[" * 100_000 + "]" * 100_000
    assert bad(deep, "deep.json") == "deep.json: document 0: nested too deeply"
    message = bad("kind: Pod\nspec: " + deep + "\n")
    assert message in ("k8s.yaml: document 0: nested too deeply",  # PyYAML's Python parser
                       "k8s.yaml: document 0: not YAML: exceeded maximum nesting depth (line 2, column 1006)")
    lists = "kind: List\nitems:\n" + "".join("  " * i + "- kind: List\n" + "  " * i + "  items:\n" for i in range(40))
    assert bad(lists).startswith("k8s.yaml: document 0: items[0]" + ".items[0]" * 31 + ".items: Lists nested more "
                                 "than 32 deep")


def test_billion_laughs_returns_at_once():
    """Aliases share objects: the walk must not expand them (9**9 containers, 9**9 Lists of Pods)."""
    lol = "".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]\n" for i in range(1, 10))
    containers = ("x: &l0 {name: lol, image: lol}\n" + lol + "kind: Pod\nspec: {containers: *l9}\n")
    pods = ("x: &l0 {kind: Pod, spec: {containers: [{name: lol, image: lol}]}}\n"
            + lol.replace("[", "{kind: List, items: [").replace("]\n", "]}\n") + "kind: List\nitems: [*l9]\n")
    laughs = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [" + ", ".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(9))
    start = time.monotonic()
    assert bad(containers) == "k8s.yaml: document 0: spec.containers[0]: expected a mapping, got a list"
    assert bad(pods) == ("k8s.yaml: document 0: more objects than a file of this size can hold "
                         "(YAML aliases repeating them?)")
    assert read_text(laughs, "lol.yaml").warnings == [
        "lol.yaml: document 0: not a Kubernetes object, ECS task definition or compose file: skipped"]
    assert time.monotonic() - start < 5  # a hang guard only: it takes milliseconds


def test_unreadable_files(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(BadInputError) as info:
        read_workloads([missing])
    assert str(info.value) == f"{missing}: cannot read: No such file or directory" and info.value.exit_code == 2
    with pytest.raises(BadInputError) as info:
        read_workloads([tmp_path])
    assert str(info.value) == f"{tmp_path}: cannot read: Is a directory"
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"kind: ConfigMap\ndata: {city: M\xfcnchen}\n")
    with pytest.raises(BadInputError) as info:
        read_workloads([latin1])
    assert str(info.value) == f"{latin1}: not UTF-8 text (byte 30)"


def test_a_file_over_64_mib_is_refused_unread(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: nothing to read
    with pytest.raises(BadInputError) as info:
        read_workloads([big])
    assert str(info.value) == f"{big}: too large for a manifest (over 64 MiB)"
    assert MAX_BYTES == 64 * 1024 * 1024


def test_a_stream_over_64_mib_is_refused(monkeypatch):
    class Endless(io.RawIOBase):
        read_bytes = 0

        def readable(self):
            return True

        def readinto(self, b):
            b[:] = b"#" * len(b)
            Endless.read_bytes += len(b)
            return len(b)

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(Endless())))
    with pytest.raises(BadInputError) as info:
        read_workloads(["-"])
    assert str(info.value) == "-: too large for a manifest (over 64 MiB)"
    assert Endless.read_bytes <= MAX_BYTES + 1 + (1 << 20)


def test_workload_is_not_on_the_start_up_path():
    import subprocess
    code = ("import layerscope, layerscope.cli, sys; "
            "print(any(m.startswith('layerscope.workload') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    code = "import layerscope.workload.manifests, sys; print('yaml' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # yaml is imported when a file is read


# ---- fuzz: any document is a workload, a warning or one clean error ---------------------------

def _fuzz_values():
    from hypothesis import strategies as st

    scalar = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**12), st.floats(allow_nan=False),
                       st.text(max_size=12), st.sampled_from(["Pod", "Deployment", "CronJob", "List", "v1",
                                                              "apps/v1", "nginx:1", "", "Always"]))
    keys = st.sampled_from(["apiVersion", "kind", "metadata", "name", "namespace", "spec", "template",
                            "jobTemplate", "containers", "initContainers", "ephemeralContainers", "image",
                            "items", "services", "depends_on", "condition", "taskDefinition", "family",
                            "revision", "containerDefinitions", "essential", "dependsOn", "containerName",
                            "restartPolicy", "nodeName", "replicas", "ownerReferences", "x"])
    return st.recursive(scalar, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(keys, inner, max_size=6)), max_leaves=40)


def test_fuzzed_documents_give_workloads_warnings_or_one_clean_error():
    """Random structures in the fields the reader walks, as JSON and as YAML: never an exception
    other than BadInputError (exit 2, one line naming the file and the document)."""
    import yaml
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=300, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(_fuzz_values())
    def check(doc):
        for text, name in ((json.dumps(doc), "fuzz.json"), (yaml.safe_dump_all([doc, doc]), "fuzz.yaml")):
            try:
                got = read_text(text, name)
            except BadInputError as e:
                msg = str(e)
                assert "\n" not in msg and msg.startswith(name), msg
            else:
                assert all(isinstance(w.name, str) and w.images is not None for w in got.workloads)

    check()
