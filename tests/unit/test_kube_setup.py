"""A cluster's connection settings that cannot work are named in one plain sentence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opsbot.config import ClusterSettings
from opsbot.errors import ClusterUnreachableError
from opsbot.kube.directory import ClusterDirectory, ClusterSetupError, build_api_client

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "http://127.0.0.1:9"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: fake, context: {cluster: c, user: u}}]
current-context: fake
"""


def test_in_cluster_outside_a_pod_says_so() -> None:
    with pytest.raises(ClusterSetupError, match=r"not running in a pod \(KUBERNETES_SERVICE_HOST is unset\)"):
        build_api_client(ClusterSettings(in_cluster=True), environ_kubeconfig=None, environ={})


def test_a_missing_kubeconfig_is_named_with_where_its_path_came_from(tmp_path: Path) -> None:
    path = tmp_path / "nope"
    with pytest.raises(ClusterSetupError, match=re.escape(f"kubeconfig {path} not found (set by clusters")):
        build_api_client(ClusterSettings(kubeconfig=str(path)), environ_kubeconfig=None)


def test_a_context_that_is_not_in_the_kubeconfig_lists_the_ones_there(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    with pytest.raises(ClusterSetupError, match=r"context 'prod' is not in kubeconfig .* \(it has: fake\)"):
        build_api_client(ClusterSettings(kubeconfig=str(path), context="prod"), environ_kubeconfig=None)


def test_a_file_that_is_not_a_kubeconfig_is_called_that(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("just: [some, yaml")
    with pytest.raises(ClusterSetupError, match="is not a valid kubeconfig"):
        build_api_client(ClusterSettings(kubeconfig=str(path)), environ_kubeconfig=None)


def test_a_good_kubeconfig_gives_a_client_without_hidden_retries(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text(KUBECONFIG)
    client = build_api_client(ClusterSettings(kubeconfig=str(path)), environ_kubeconfig=None)
    assert client.configuration.retries == 0


def test_the_directory_reports_the_set_up_problem_as_the_clusters(tmp_path: Path) -> None:
    directory = ClusterDirectory({"prod": ClusterSettings(kubeconfig=str(tmp_path / "missing"))})
    with pytest.raises(ClusterUnreachableError, match=r"cluster `prod` is not usable: kubeconfig .* not found"):
        directory.get("prod")
