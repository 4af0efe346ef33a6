"""The Kubernetes manifests in deploy/kubernetes: every file parses, each overlay renders with
``kubectl kustomize``, and every object it renders passes a strict schema, Kubernetes' own
(kubernetes-validate's, offline) or, for KEDA's resources, the ones in deploy/kubernetes/schemas."""

from __future__ import annotations

import copy
import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
SCHEMAS = KUBE / "schemas"
OVERLAYS = ("keda-rabbitmq", "keda-prometheus")
COMPONENTS = ("tls",)
# What a user may apply: each overlay, and each with every component.
VARIANTS = [(overlay,) for overlay in OVERLAYS] + [(overlay, *COMPONENTS) for overlay in OVERLAYS]
KEDA_KINDS = frozenset({"ScaledObject", "TriggerAuthentication"})
# The oldest Kubernetes the manifests promise (the preStop sleep action is on by default from
# 1.30) and the newest the validator knows.
OLDEST_KUBERNETES = "1.30"

Object = dict[str, Any]


def tool_missing(message: str) -> None:
    """Skip the test for want of a tool, except under CI=true, where that fails it."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{message} (CI=true: the manifests' checks must run)", pytrace=False)
    pytest.skip(message)


def kubectl() -> str:
    """kubectl's path (its built-in kustomize renders the overlays)."""
    found = shutil.which("kubectl")
    if found is None:
        tool_missing("kubectl is missing")
    assert found is not None
    return found


@functools.cache
def _rendered_text(overlay: str, components: tuple[str, ...]) -> str:
    with tempfile.TemporaryDirectory() as scratch:
        root = KUBE / overlay
        if components:  # an overlay of the user's own: the overlay plus the components
            root = Path(scratch)
            spec = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                "resources": [os.path.relpath(KUBE / overlay, root)],
                "components": [os.path.relpath(KUBE / name, root) for name in components],
            }
            (root / "kustomization.yaml").write_text(yaml.safe_dump(spec))
        done = subprocess.run(
            [kubectl(), "kustomize", str(root)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    return done.stdout


def rendered(overlay: str, *components: str) -> list[Object]:
    """The objects ``kubectl kustomize`` renders for ``deploy/kubernetes/OVERLAY``, with the
    ``components`` of deploy/kubernetes added (fresh copies each time)."""
    return [doc for doc in yaml.safe_load_all(_rendered_text(overlay, components)) if doc]


def the(objects: list[Object], kind: str, name: str | None = None) -> Object:
    """The one object of ``kind`` (and ``name``) among ``objects``."""
    found = [
        obj
        for obj in objects
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"{len(found)} {kind} named {name or 'anything'}"
    return found[0]


def kubernetes_versions() -> tuple[str, ...]:
    """The Kubernetes versions every core object is validated against."""
    return (OLDEST_KUBERNETES, kubernetes_validate.latest_version())


def keda_schema(obj: Object) -> Object:
    """The JSON Schema of a KEDA object, by its group, kind and version."""
    group, version = obj["apiVersion"].split("/")
    path = SCHEMAS / group / f"{obj['kind'].lower()}_{version}.json"
    assert path.is_file(), f"no schema at {path} for {obj['apiVersion']} {obj['kind']}"
    loaded: Object = json.loads(path.read_text())
    return loaded


def schema_errors(obj: Object, version: str) -> list[str]:
    """What the object's strict schema finds wrong with it ([] when nothing)."""
    if obj["kind"] in KEDA_KINDS:
        validator = jsonschema.Draft202012Validator(keda_schema(obj))
        return [_located(error) for error in validator.iter_errors(obj)]
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [_located(error)]
    except kubernetes_validate.SchemaNotFoundError as error:
        return [error.message]
    return []


def _located(error: jsonschema.ValidationError) -> str:
    return f"{'.'.join(str(part) for part in error.absolute_path)}: {error.message}"


def _named(obj: Object) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def _manifest_files() -> list[Path]:
    return sorted(KUBE.rglob("*.yaml"))


def test_every_yaml_file_parses_into_objects_with_a_kind() -> None:
    files = _manifest_files()
    assert len(files) >= 9, files
    for path in files:
        docs = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
        assert docs, f"{path} holds nothing"
        for doc in docs:
            assert {"apiVersion", "kind"} <= doc.keys(), f"{path}: {sorted(doc)}"


def test_the_keda_schemas_are_valid_json_schemas() -> None:
    paths = sorted(SCHEMAS.rglob("*.json"))
    assert [path.name for path in paths] == [
        "scaledobject_v1alpha1.json",
        "triggerauthentication_v1alpha1.json",
    ]
    for path in paths:
        jsonschema.Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_every_file_a_kustomization_names_exists() -> None:
    kustomizations = sorted(KUBE.rglob("kustomization.yaml"))
    assert len(kustomizations) == 1 + len(OVERLAYS) + len(COMPONENTS)
    for path in kustomizations:
        spec = yaml.safe_load(path.read_text())
        patches = [patch["path"] for patch in spec.get("patches", [])]
        named = spec.get("resources", []) + spec.get("components", []) + patches
        assert named, f"{path} names nothing"
        for entry in named:
            target = path.parent / entry
            assert target.is_file() or (target / "kustomization.yaml").is_file(), (
                f"{path} names {entry}, which is not there"
            )


@pytest.mark.parametrize("variant", VARIANTS, ids="+".join)
def test_each_variant_renders_objects_that_pass_their_strict_schemas(
    variant: tuple[str, ...],
) -> None:
    objects = rendered(*variant)
    kinds = sorted(obj["kind"] for obj in objects)
    assert kinds.count("Deployment") == 2
    assert kinds.count("ScaledObject") == 1
    for version in kubernetes_versions():
        problems = {_named(obj): schema_errors(obj, version) for obj in objects}
        assert not any(problems.values()), (version, problems)


def test_the_example_secret_makes_a_valid_secret_with_kubectl() -> None:
    example = f"--from-env-file={KUBE / 'secret.env.example'}"
    made = subprocess.run(
        [
            kubectl(),
            "create",
            "secret",
            "generic",
            "jobqueue",
            example,
            "--dry-run=client",
            "-oyaml",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    secret = yaml.safe_load(made.stdout)
    assert secret["kind"] == "Secret"
    for version in kubernetes_versions():
        assert schema_errors(secret, version) == []


def test_a_misspelt_field_fails_the_kubernetes_schema() -> None:
    deployment = the(rendered("keda-rabbitmq"), "Deployment", "jobqueue-worker")
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {"tcpSocket": {}}
    assert schema_errors(deployment, OLDEST_KUBERNETES) == []
    assert any("livenessprobe" in problem for problem in schema_errors(typo, OLDEST_KUBERNETES))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda trigger: trigger["metadata"].update(queue=trigger["metadata"].pop("queueName")),
            "queue",
        ),
        (lambda trigger: trigger["metadata"].update(value=16), "16"),
        (lambda trigger: trigger.update(type="rabbitMQ"), "rabbitMQ"),
    ],
    ids=["misspelt-parameter", "number-not-string", "unknown-scaler"],
)
def test_a_wrong_trigger_fails_the_keda_schema(change: Any, expected: str) -> None:
    scaled = the(rendered("keda-rabbitmq"), "ScaledObject")
    assert schema_errors(scaled, OLDEST_KUBERNETES) == []
    change(scaled["spec"]["triggers"][0])
    problems = schema_errors(scaled, OLDEST_KUBERNETES)
    assert any(expected in problem for problem in problems), problems


def test_a_fallback_needs_average_value_triggers() -> None:
    scaled = the(rendered("keda-prometheus"), "ScaledObject")
    assert "fallback" in scaled["spec"]
    scaled["spec"]["triggers"][0]["metricType"] = "Value"
    assert schema_errors(scaled, OLDEST_KUBERNETES) != []
