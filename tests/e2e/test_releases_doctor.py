"""`opsbot check-config` with releases: each GitOps repository is asked for its branch with the
bot's credentials (nothing cloned or pushed), and the token is never printed."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli import checks, doctor, write_config
from tests.support import gitops_fixtures as fleet
from tests.support.fake_kube import FakeKubeServer
from tests.support.git_server import GitServer
from tests.support.slack_emulator import SlackEmulator


async def test_check_config_reaches_each_repository_and_never_prints_its_token(
    slack: SlackEmulator, kube: FakeKubeServer, kubeconfig: Path, tmp_path: Path
) -> None:
    with GitServer(tmp_path / "remote", fleet.files()) as git:
        token = git.add_user("x-access-token")
        releases = {
            "repositories": {"fleet": {"url": git.http_url, "auth": {"token_env": "FLEET_TOKEN"}}},
            "defaults": {"layout": "helm-chart", "path": "apps/{cluster}/{app}-values.yaml"},
            "apps": {"podinfo": {"namespace": "default"}},
            "clusters": {"test": {"repository": "fleet", "flux": {"kind": "Kustomization", "name": "apps"}}},
        }
        config = write_config(tmp_path, kubeconfig, releases=releases)
        good = await doctor(slack, config, FLEET_TOKEN=token)
        assert good.returncode == 0, good.stdout + good.stderr
        lines = checks(good.stdout, "Releases")
        assert lines[0] == f"✓ releases.repositories.fleet: branch main at {git.head()[:12]} ({git.http_url})"
        assert "· cluster test: repository fleet, following Kustomization flux-system/apps" in lines
        cluster = "\n".join(checks(good.stdout, "Cluster test"))
        assert "namespace flux-system" in cluster and "kustomizations" in cluster
        assert git.pushes() == []

        bad = await doctor(slack, config, FLEET_TOKEN="wrong-" + token)
        assert bad.returncode == 2
        failed = checks(bad.stdout, "Releases")[0]
        assert failed.startswith("✗ releases.repositories.fleet: the git server refused opsbot's credentials")
        assert token not in bad.stdout + bad.stderr and token not in good.stdout + good.stderr
