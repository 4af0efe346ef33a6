"""The rendered Kubernetes overlays hold together: the Service finds the API pods, the probes
ask the API's real routes on its real port, workers get longer than their grace to drain, the
ScaledObject scales the workers on the queue jobqueue uses, and every Secret key named is in the
example secret."""

from __future__ import annotations

from typing import Any

import pytest

from jobqueue import config
from jobqueue.auth.book import TokenBook
from jobqueue.auth.scopes import Scope
from tests.deploy.test_compose import cli_settings
from tests.deploy.test_kubernetes import KUBE, OVERLAYS, VARIANTS, Object, rendered, the

API = "jobqueue-api"
WORKER = "jobqueue-worker"
KEDA_KINDS = ("ScaledObject", "TriggerAuthentication")
READ_DIRECTLY = {  # read from the environment, not through an option of the command
    "api": {
        config.env("tokens"),  # a secret is never a flag
        config.env("workers"),  # the scaling decision's settings (ScalingSettings.from_env)
        config.env("concurrency"),
    },
    "worker": {config.env("token")},
}


def pod(objects: list[Object], name: str) -> Object:
    """The pod spec of the Deployment ``name``."""
    spec: Object = the(objects, "Deployment", name)["spec"]["template"]["spec"]
    return spec


def container(objects: list[Object], name: str) -> Object:
    """The one container of the Deployment ``name``."""
    (only,) = pod(objects, name)["containers"]
    return only


def settings(objects: list[Object], box: Object) -> dict[str, str]:
    """The environment a container sees: its ConfigMaps, then its own literal values."""
    found: dict[str, str] = {}
    for source in box.get("envFrom", []):
        found |= the(objects, "ConfigMap", source["configMapRef"]["name"])["data"]
    found |= {item["name"]: item["value"] for item in box.get("env", []) if "value" in item}
    return found


def secret_refs(objects: list[Object]) -> set[tuple[str, str]]:
    """Every (Secret, key) a container or a TriggerAuthentication reads."""
    refs: set[tuple[str, str]] = set()
    for deployment in (obj for obj in objects if obj["kind"] == "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        for box in spec.get("initContainers", []) + spec["containers"]:
            for item in box.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref is not None:
                    refs.add((ref["name"], ref["key"]))
    for auth in (obj for obj in objects if obj["kind"] == "TriggerAuthentication"):
        refs |= {(ref["name"], ref["key"]) for ref in auth["spec"]["secretTargetRef"]}
    return refs


def example_secret() -> dict[str, str]:
    """The keys and values of secret.env.example, read as kubectl's --from-env-file reads it."""
    values: dict[str, str] = {}
    for line in (KUBE / "secret.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def port_of(box: Object, port: Any) -> int:
    """A container port given by name or number, as a number."""
    if isinstance(port, int):
        return port
    (number,) = [item["containerPort"] for item in box["ports"] if item["name"] == port]
    return int(number)


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


@pytest.fixture(params=VARIANTS, ids="+".join)
def objects(request: pytest.FixtureRequest) -> list[Object]:
    """The rendered objects of one overlay (with or without the components)."""
    return rendered(*request.param)


def test_the_service_selects_the_api_pods_on_their_http_and_grpc_ports(
    objects: list[Object],
) -> None:
    service = the(objects, "Service", API)
    labels = the(objects, "Deployment", API)["spec"]["template"]["metadata"]["labels"]
    assert matches(service["spec"]["selector"], labels)
    worker_labels = the(objects, "Deployment", WORKER)["spec"]["template"]["metadata"]["labels"]
    assert not matches(service["spec"]["selector"], worker_labels)
    api = container(objects, API)
    env = settings(objects, api)
    listening = {
        "http": config.parse_addr(env["JOBQUEUE_HTTP_ADDR"], "http")[1],
        "grpc": config.parse_addr(env["JOBQUEUE_GRPC_ADDR"], "grpc")[1],
    }
    targets = {port["name"]: port_of(api, port["targetPort"]) for port in service["spec"]["ports"]}
    assert targets == listening


def test_the_probes_ask_readyz_and_healthz_on_the_port_the_api_listens_on(
    objects: list[Object],
) -> None:
    api = container(objects, API)
    http_port = config.parse_addr(settings(objects, api)["JOBQUEUE_HTTP_ADDR"], "http")[1]
    probes = {
        kind: (api[kind]["httpGet"]["path"], port_of(api, api[kind]["httpGet"]["port"]))
        for kind in ("readinessProbe", "livenessProbe", "startupProbe")
    }
    assert probes == {
        "readinessProbe": ("/readyz", http_port),
        "livenessProbe": ("/healthz", http_port),
        "startupProbe": ("/healthz", http_port),
    }
    # The kubelet sends no token: /readyz must answer without one.
    assert settings(objects, api)["JOBQUEUE_OPEN_PROBES"] == "1"


def grace_s(box: Object, env: dict[str, str]) -> float:
    """The shutdown grace a jobqueue container runs with: --grace-s, else its variable."""
    args = box.get("args", [])
    if "--grace-s" in args:
        return float(args[args.index("--grace-s") + 1])
    return float(env.get(config.env("shutdown_grace_s"), config.SHUTDOWN_GRACE_S))


def test_the_kubelet_waits_longer_than_each_process_drains(objects: list[Object]) -> None:
    worker = container(objects, WORKER)
    worker_grace_s = grace_s(worker, settings(objects, worker))
    assert worker["args"][0] == "worker"
    assert pod(objects, WORKER)["terminationGracePeriodSeconds"] >= worker_grace_s + 15
    assert "lifecycle" not in worker  # SIGTERM itself drains: no preStop
    api = container(objects, API)
    pause_s = api["lifecycle"]["preStop"]["sleep"]["seconds"]
    api_grace_s = grace_s(api, settings(objects, api))
    assert pod(objects, API)["terminationGracePeriodSeconds"] > pause_s + api_grace_s


def test_one_scaled_object_scales_the_worker_deployment(objects: list[Object]) -> None:
    scaled = the(objects, "ScaledObject")
    worker = the(objects, "Deployment", WORKER)
    # KEDA owns the count: a "replicas" in the manifest would reset it at every apply.
    assert "replicas" not in worker["spec"]
    target = scaled["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"], target["name"]) == (
        worker["apiVersion"],
        worker["kind"],
        worker["metadata"]["name"],
    )
    assert 1 <= scaled["spec"]["minReplicaCount"] <= scaled["spec"]["maxReplicaCount"]
    for trigger in scaled["spec"]["triggers"]:
        if "authenticationRef" in trigger:
            the(objects, "TriggerAuthentication", trigger["authenticationRef"]["name"])


def test_the_api_decides_within_the_scaled_objects_bounds(objects: list[Object]) -> None:
    spec = the(objects, "ScaledObject")["spec"]
    bounds = settings(objects, container(objects, API))[config.env("workers")]
    assert bounds == f"{spec['minReplicaCount']}:{spec['maxReplicaCount']}"


def test_the_rabbitmq_trigger_counts_the_jobs_queue_with_its_unacknowledged_jobs() -> None:
    objects = rendered("keda-rabbitmq")
    (trigger,) = the(objects, "ScaledObject")["spec"]["triggers"]
    worker = container(objects, WORKER)
    env = settings(objects, worker)
    assert trigger["type"] == "rabbitmq"
    assert trigger["metadata"]["queueName"] == env["JOBQUEUE_QUEUE"] == config.QUEUE
    # Over AMQP RabbitMQ counts only ready messages: the jobs workers hold would not count.
    assert trigger["metadata"]["protocol"] == "http"
    assert trigger["metadata"].get("excludeUnacknowledged", "false") == "false"
    assert trigger["metadata"]["mode"] == "QueueLength"
    assert float(trigger["metadata"]["value"]) >= int(env["JOBQUEUE_CONCURRENCY"])


def test_the_prometheus_trigger_makes_the_desired_count_the_replica_count() -> None:
    objects = rendered("keda-prometheus")
    (trigger,) = the(objects, "ScaledObject")["spec"]["triggers"]
    queue = settings(objects, container(objects, WORKER))["JOBQUEUE_QUEUE"]
    assert trigger["type"] == "prometheus"
    assert trigger["metricType"] == "AverageValue"
    assert trigger["metadata"]["threshold"] == "1"
    assert trigger["metadata"]["query"] == f'max(jobqueue_desired_workers{{queue="{queue}"}})'


def test_the_overlays_differ_only_in_their_autoscaler() -> None:
    shared = [
        [obj for obj in rendered(overlay) if obj["kind"] not in KEDA_KINDS] for overlay in OVERLAYS
    ]
    assert shared[0] == shared[1]
    assert {obj["kind"] for obj in shared[0]} == {
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
    }


def test_every_secret_key_read_is_in_the_example_secret() -> None:
    read = set().union(*(secret_refs(rendered(overlay)) for overlay in OVERLAYS))
    assert {name for name, _ in read} == {"jobqueue"}
    assert {key for _, key in read} == example_secret().keys()


def test_the_example_tokens_give_the_workers_the_worker_scope() -> None:
    secret = example_secret()
    book = TokenBook.from_lines(secret["api-tokens"].split())
    worker = book.verify(secret["worker-token"])
    assert worker is not None
    assert worker.may(Scope.WORKER)
    assert not worker.may(Scope.ADMIN)
    assert all("CHANGE-ME" in value for value in secret.values())  # placeholders, never real


def test_the_workers_reach_the_api_through_its_service(objects: list[Object]) -> None:
    env = settings(objects, container(objects, WORKER))
    host, port = config.parse_addr(env["JOBQUEUE_API_GRPC"], "api_grpc")
    service = the(objects, "Service", API)
    assert host == service["metadata"]["name"]
    assert port in {item["port"] for item in service["spec"]["ports"] if item["name"] == "grpc"}


def test_the_api_migrates_the_store_before_it_serves(objects: list[Object]) -> None:
    (migrate,) = pod(objects, API)["initContainers"]
    assert [*migrate["command"], *migrate["args"]] == ["jobqueue", "db", "upgrade"]
    (store,) = migrate["env"]
    assert store["name"] == config.env("store_url")
    api_env = {item["name"]: item for item in container(objects, API)["env"]}
    assert api_env[config.env("store_url")]["valueFrom"] == store["valueFrom"]


def test_two_api_replicas_and_a_budget_that_keeps_one(objects: list[Object]) -> None:
    api = the(objects, "Deployment", API)
    budget = the(objects, "PodDisruptionBudget", API)
    assert api["spec"]["replicas"] == 2
    assert budget["spec"]["minAvailable"] == 1
    assert matches(
        budget["spec"]["selector"]["matchLabels"], api["spec"]["template"]["metadata"]["labels"]
    )
    assert config.env("registry_url") in {item["name"] for item in container(objects, API)["env"]}


def test_every_container_runs_unprivileged_on_a_read_only_root(objects: list[Object]) -> None:
    for name in (API, WORKER):
        spec = pod(objects, name)
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] > 0
        for box in spec.get("initContainers", []) + spec["containers"]:
            context = box["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, box["name"]
            assert context["allowPrivilegeEscalation"] is False, box["name"]
            assert context["capabilities"]["drop"] == ["ALL"], box["name"]
            assert {"cpu", "memory"} <= box["resources"]["requests"].keys(), box["name"]
            assert "memory" in box["resources"]["limits"], box["name"]
            assert box["image"] == "registry.example.com/jobqueue:0.1.0", box["name"]
            assert box["command"] == ["jobqueue"], box["name"]
    # With no store URL the API would write a SQLite store into its working directory.
    assert config.env("store_url") in {item["name"] for item in container(objects, API)["env"]}


def mounted_files(spec: Object, box: Object) -> dict[str, tuple[str, str]]:
    """Each file a container sees from a Secret volume: its path → (Secret, key)."""
    volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
    files: dict[str, tuple[str, str]] = {}
    for mount in box.get("volumeMounts", []):
        secret = volumes[mount["name"]].get("secret")
        if secret is not None:
            for item in secret["items"]:
                path = f"{mount['mountPath']}/{item['path']}"
                files[path] = (secret["secretName"], item["key"])
    return files


def test_with_tls_the_api_serves_its_certificate_and_its_probes_speak_https() -> None:
    objects = rendered("keda-rabbitmq", "tls")
    api = container(objects, API)
    env = settings(objects, api)
    files = mounted_files(pod(objects, API), api)
    assert files[env[config.env("tls_cert")]] == ("jobqueue-tls", "tls.crt")
    assert files[env[config.env("tls_key")]] == ("jobqueue-tls", "tls.key")
    for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert api[kind]["httpGet"]["scheme"] == "HTTPS"
        assert api[kind]["httpGet"]["path"] in ("/readyz", "/healthz")


def test_with_tls_the_workers_verify_the_api_and_never_see_its_key() -> None:
    objects = rendered("keda-prometheus", "tls")
    worker = container(objects, WORKER)
    env = settings(objects, worker)
    files = mounted_files(pod(objects, WORKER), worker)
    assert files == {env[config.env("tls_ca")]: ("jobqueue-tls", "ca.crt")}
    host, _ = config.parse_addr(env["JOBQUEUE_API_GRPC"], "api_grpc")
    assert host == API  # the name the API's certificate must carry


def test_every_variable_a_container_gets_is_one_its_command_reads(
    objects: list[Object],
) -> None:
    for name in (API, WORKER):
        spec = pod(objects, name)
        for box in spec.get("initContainers", []) + spec["containers"]:
            ours = {key for key in environment_names(objects, box) if key.startswith("JOBQUEUE_")}
            known = cli_settings(box["args"]) | READ_DIRECTLY.get(box["args"][0], set())
            assert ours - known == set(), box["name"]


def environment_names(objects: list[Object], box: Object) -> set[str]:
    """The names of every variable a container gets, its ConfigMaps' and its own."""
    names = {item["name"] for item in box.get("env", [])}
    for source in box.get("envFrom", []):
        names |= the(objects, "ConfigMap", source["configMapRef"]["name"])["data"].keys()
    return names


def test_everything_lands_in_the_namespace_the_secret_is_made_in(objects: list[Object]) -> None:
    # The README makes the Secrets with `kubectl -n jobqueue create secret ...`.
    assert {obj["metadata"].get("namespace") for obj in objects} == {"jobqueue"}
    assert "-n jobqueue create secret" in (KUBE / "secret.env.example").read_text()
