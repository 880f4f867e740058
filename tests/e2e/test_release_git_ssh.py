"""GitRepository over SSH: paramiko in-process (no `ssh` program), host keys checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest

from opsbot.releases.changes import ReleaseChange
from opsbot.releases.credentials import GitCredentials
from opsbot.releases.errors import GitAuthError
from opsbot.releases.git import GitRepository
from opsbot.releases.settings import RepositorySettings
from tests.support import gitops_fixtures as fleet
from tests.support.git_server import GitServer
from tests.support.ssh_git_server import SshGitServer


@pytest.fixture
def ssh(tmp_path: Path) -> Iterator[SshGitServer]:
    with GitServer(tmp_path / "remote", fleet.files()) as git, SshGitServer(git, tmp_path) as server:
        yield server


def repository(ssh: SshGitServer, tmp_path: Path, **credentials: str) -> GitRepository:
    creds = GitCredentials(
        ssh_key_file=credentials.get("key", ssh.client_key_file),
        known_hosts_file=credentials.get("known_hosts", ssh.known_hosts_file),
    )
    return GitRepository(
        "fleet", RepositorySettings(url=ssh.url, timeout_seconds=10), creds, tmp_path / "clone"
    )


def test_deliver_over_ssh(ssh: SshGitServer, tmp_path: Path) -> None:
    repo = repository(ssh, tmp_path)
    repo.ensure_clone()
    change = ReleaseChange("worker", "prod", "1.9.2", fleet.target("worker", "prod"), requested_by="U1")
    delivered = repo.deliver(change)
    assert ssh.git.head() == delivered.commit
    assert "registry:5000/org/worker:1.9.2" in ssh.git.read("apps/prod/worker.yaml")
    assert ssh.commands[-1] == "git-receive-pack '/fleet.git'"


def test_an_unknown_host_key_is_refused(ssh: SshGitServer, tmp_path: Path) -> None:
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    with pytest.raises(GitAuthError, match="is not in known_hosts"):
        repository(ssh, tmp_path, known_hosts=str(empty)).ensure_clone()


def test_a_key_the_server_does_not_accept_is_refused(ssh: SshGitServer, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    paramiko.RSAKey.generate(2048).write_private_key_file(str(other))
    with pytest.raises(GitAuthError, match="refused the key"):
        repository(ssh, tmp_path, key=str(other)).ensure_clone()
