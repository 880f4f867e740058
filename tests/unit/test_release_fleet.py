"""The same apps on several clusters, side by side (pure): the `apps` grid and `diff`."""

from __future__ import annotations

import copy
from typing import Any

from opsbot.core.rows import deployment_row, looks_secret
from opsbot.releases.fleet import ClusterColumn, app_grid, diff_apps


def deployment(name: str = "api", version: str = "1.2.0", **container: Any) -> dict[str, Any]:
    main = {"name": name, "image": f"ghcr.io/org/{name}:{version}", **container}
    return {
        "metadata": {"name": name, "namespace": "shop", "generation": 1, "labels": {"app": name}},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [main]}}},
        "status": {"observedGeneration": 1, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2},
    }


def column(cluster: str, *deployments: dict[str, Any]) -> ClusterColumn:
    return ClusterColumn(cluster, [deployment_row(d) for d in deployments])


def test_the_grid_has_one_line_per_app_and_a_cell_per_cluster() -> None:
    lagging = deployment(version="1.1.0")
    lines = app_grid(
        [
            column("stage", deployment(), deployment("web")),
            column("prod", lagging),
            ClusterColumn("lab", None, "unreachable since 12:03 UTC"),
        ]
    )
    assert [(line.namespace, line.name) for line in lines] == [("shop", "api"), ("shop", "web")]
    api, web = lines
    assert {c: (cell.version if cell else None) for c, cell in api.cells.items()} == {
        "stage": "1.2.0",
        "prod": "1.1.0",
        "lab": None,
    }
    assert api.attention and web.cells["prod"] is None


def test_secret_looking_env_values_are_compared_but_never_kept_or_shown() -> None:
    assert looks_secret("STRIPE_API_KEY") and looks_secret("db_password") and not looks_secret("LOG_LEVEL")
    env = [{"name": "API_TOKEN", "value": "hunter2"}, {"name": "LOG_LEVEL", "value": "info"}]
    stage = deployment(env=env)
    prod = copy.deepcopy(stage)
    prod["spec"]["template"]["spec"]["containers"][0]["env"][0]["value"] = "hunter3"
    row = deployment_row(stage)
    assert "hunter2" not in repr(row)  # not even in the cache
    lines = diff_apps(column("stage", stage), [column("prod", prod)])
    assert [(line.what, line.cells) for line in lines] == [
        ("api: env API_TOKEN", {"stage": "hidden", "prod": "differs"}),
    ]
    assert "hunter" not in repr(lines)


def test_diff_shows_only_differing_fields_and_presence() -> None:
    stage = deployment(
        args=["--port", "8080"],
        resources={"limits": {"cpu": "500m"}},
        env=[{"name": "DB", "valueFrom": {"secretKeyRef": {"name": "db", "key": "url"}}}],
    )
    prod = copy.deepcopy(stage)
    container = prod["spec"]["template"]["spec"]["containers"][0]
    container["args"] = ["--port", "9090"]
    container["resources"] = {"limits": {"cpu": "1"}}
    container["env"][0]["valueFrom"]["secretKeyRef"]["name"] = "db-prod"
    prod["spec"]["replicas"] = 3
    lines = diff_apps(
        column("stage", stage, deployment("only-stage")), [column("prod", prod, deployment("only-prod"))]
    )
    found = {(line.name, line.what): line.cells for line in lines}
    assert found[("api", "replicas")] == {"stage": "2", "prod": "3"}
    assert found[("api", "api: args")] == {"stage": "--port 8080", "prod": "--port 9090"}
    assert found[("api", "api: limits.cpu")] == {"stage": "500m", "prod": "1"}
    assert found[("api", "api: env DB")] == {"stage": "from secret db/url", "prod": "from secret db-prod/url"}
    assert found[("only-stage", "app")] == {"stage": "present", "prod": "missing"}
    assert found[("only-prod", "app")] == {"stage": "missing", "prod": "present"}
    assert ("api", "version") not in found and ("api", "api: image") not in found
