"""GitRepository against a real git server stand-in: file:// and smart HTTP with auth."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from opsbot.releases.changes import Action, ReleaseChange, trailers
from opsbot.releases.credentials import GitCredentials, Secret, load_credentials
from opsbot.releases.errors import (
    FieldNotFoundError,
    GitAuthError,
    GitError,
    PushRejectedError,
    VersionNotAllowedError,
)
from opsbot.releases.git import GitRepository
from opsbot.releases.layouts import FieldTarget, Layout
from opsbot.releases.rules import VersionRule
from opsbot.releases.settings import GitAuthSettings, RepositorySettings
from tests.support import gitops_fixtures as fleet
from tests.support.git_server import GitServer


@pytest.fixture
def server(tmp_path: Path) -> Iterator[GitServer]:
    with GitServer(tmp_path / "remote", fleet.files()) as git_server:
        yield git_server


@pytest.fixture
def token(server: GitServer) -> str:
    return server.add_user("x-access-token")


def change(
    app: str = "podinfo", cluster: str = "prod", version: str = "6.6.0", **extra: object
) -> ReleaseChange:
    fields: dict[str, object] = {
        "requested_by": "U123ALICE",
        "approved_by": ("U456BOB", "U789CAROL"),
        "request_id": "req-42",
        **extra,
    }
    return ReleaseChange(app, cluster, version, fleet.target(app, cluster), **fields)  # type: ignore[arg-type]


def clone(
    server: GitServer, tmp_path: Path, *, http: bool = False, token: str | None = None, **settings: object
) -> GitRepository:
    url = server.http_url if http else server.file_url
    creds = GitCredentials(username="x-access-token", password=Secret(token)) if token else GitCredentials()
    repository = GitRepository("fleet", RepositorySettings(url=url, **settings), creds, tmp_path / "clone")  # type: ignore[arg-type]
    repository.ensure_clone()
    return repository


def one_line_diff(server: GitServer, path: str, before: str) -> tuple[str, str]:
    old, new = server.read(path, before).splitlines(), server.read(path).splitlines()
    changed = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert len(changed) == 1
    return changed[0]


def test_deliver_over_file_url_commits_one_line_with_trailers(server: GitServer, tmp_path: Path) -> None:
    before = server.head()
    repository = clone(server, tmp_path)
    delivered = repository.deliver(change())
    assert delivered.commit == server.head()
    assert (delivered.old_version, delivered.new_version, delivered.already) == ("6.5.1", "6.6.0", False)
    assert delivered.path == "apps/prod/podinfo-values.yaml"
    assert delivered.field == "spec.chart.spec.version"
    assert one_line_diff(server, delivered.path, before) == (
        '      version: "6.5.1"  # pinned',
        '      version: "6.6.0"  # pinned',
    )
    message = server.log()[0][1]
    assert message.startswith("Promote podinfo 6.5.1 → 6.6.0 on prod\n")
    assert "Requested by U123ALICE in chat, approved by U456BOB, U789CAROL." in message
    assert trailers(message) == {
        "Action": ["promote"],
        "App": ["podinfo"],
        "Cluster": ["prod"],
        "From-Version": ["6.5.1"],
        "To-Version": ["6.6.0"],
        "Requested-By": ["U123ALICE"],
        "Approved-By": ["U456BOB", "U789CAROL"],
        "Request-Id": ["req-42"],
    }
    assert server.parents(server.head()) == [before]


def test_deliver_over_http_with_a_token(server: GitServer, tmp_path: Path, token: str) -> None:
    repository = clone(server, tmp_path, http=True, token=token)
    delivered = repository.deliver(change("web", "stage", "1.5.0"))
    assert server.head() == delivered.commit
    assert 'newTag: 1.5.0 # {"$imagepolicy": "flux-system:web:tag"}' in server.read(
        "apps/stage/kustomization.yaml"
    )
    assert {r.user for r in server.requests if r.status == 200} == {"x-access-token"}
    assert len(server.pushes()) == 1


def test_each_layout_is_delivered(server: GitServer, tmp_path: Path) -> None:
    repository = clone(server, tmp_path)
    for app, version in (("podinfo", "6.6.1"), ("web", "1.3.3"), ("worker", "1.9.1")):
        repository.deliver(change(app, "prod", version))
    assert "registry:5000/org/worker:1.9.1" in server.read("apps/prod/worker.yaml")
    assert [entry.app for entry in repository.history(cluster="prod")] == ["worker", "web", "podinfo"]


def test_a_commit_landing_between_fetch_and_push_is_rebased_and_pushed_once(
    server: GitServer, tmp_path: Path, token: str
) -> None:
    repository = clone(server, tmp_path, http=True, token=token)
    repository.apply(change())
    theirs = server.commit({"README.md": "# fleet\nsomeone else's change\n"}, "docs")
    delivered = repository.push()
    assert delivered.attempts == 2
    assert len(server.pushes()) == 1
    assert server.parents(server.head()) == [theirs]
    assert server.read("README.md").endswith("someone else's change\n")
    assert 'version: "6.6.0"' in server.read("apps/prod/podinfo-values.yaml")


def test_a_race_the_server_sees_is_retried(server: GitServer, tmp_path: Path, token: str) -> None:
    """The remote moves after the client checked it: the server refuses (non-fast-forward)."""
    repository = clone(server, tmp_path, http=True, token=token)
    server.on_receive = lambda: server.commit({"README.md": "racing\n"}, "race")
    delivered = repository.deliver(change())
    assert delivered.attempts == 2
    assert server.read("README.md") == "racing\n"
    assert server.head() == delivered.commit


def test_when_the_remote_already_has_the_version_nothing_is_pushed(server: GitServer, tmp_path: Path) -> None:
    repository = clone(server, tmp_path)
    repository.apply(change())
    text = server.read("apps/prod/podinfo-values.yaml").replace('"6.5.1"', '"6.6.0"')
    theirs = server.commit({"apps/prod/podinfo-values.yaml": text}, "someone promoted it by hand")
    delivered = repository.push()
    assert delivered.already and delivered.commit is None
    assert server.head() == theirs
    assert repository.local_head() == theirs


def test_giving_up_after_the_bounded_attempts_leaves_nothing_behind(
    server: GitServer, tmp_path: Path
) -> None:
    repository = clone(server, tmp_path, http=False, push_attempts=2)
    original_send = repository._send
    calls = 0

    def moving(base: object, new: object) -> None:
        nonlocal calls
        calls += 1
        server.commit({"README.md": f"move {calls}\n"})
        original_send(base, new)  # type: ignore[arg-type]

    repository._send = moving  # type: ignore[method-assign]
    with pytest.raises(PushRejectedError, match="kept moving: gave up after 2 attempts"):
        repository.deliver(change())
    assert calls == 2
    assert repository.local_head() == repository.head()


def test_a_missing_field_commits_nothing(server: GitServer, tmp_path: Path) -> None:
    before = server.head()
    repository = clone(server, tmp_path)
    wrong = FieldTarget(Layout.KUSTOMIZE_IMAGE, "apps/prod/kustomization.yaml", image="ghcr.io/org/api")
    with pytest.raises(FieldNotFoundError, match=r"has no image `ghcr\.io/org/api`"):
        repository.deliver(ReleaseChange("api", "prod", "1.0.0", wrong, requested_by="U1"))
    missing = FieldTarget(Layout.HELM_CHART, "apps/qa/podinfo-values.yaml")
    with pytest.raises(
        FieldNotFoundError, match=r"`apps/qa/podinfo-values\.yaml` does not exist on branch `main`"
    ):
        repository.deliver(ReleaseChange("podinfo", "qa", "1.0.0", missing, requested_by="U1"))
    assert server.head() == before
    assert repository.local_head() == before


def test_a_disallowed_version_commits_nothing(server: GitServer, tmp_path: Path) -> None:
    before = server.head()
    repository = clone(server, tmp_path)
    with pytest.raises(VersionNotAllowedError, match="semver within `>=6 <7`"):
        repository.deliver(change(version="7.0.0"), rule=VersionRule(semver=">=6 <7"))
    assert server.head() == before


def test_a_refused_push_is_a_clear_error_and_the_clone_is_reset(
    server: GitServer, tmp_path: Path, token: str
) -> None:
    before = server.head()
    repository = clone(server, tmp_path, http=True, token=token)
    server.reject_pushes = "protected branch hook declined"
    with pytest.raises(
        PushRejectedError, match=r"refused the push to `main`.*protected branch hook declined"
    ):
        repository.deliver(change())
    assert server.head() == before
    assert repository.local_head() == before


def test_bad_credentials_never_show_the_token(
    server: GitServer, tmp_path: Path, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "tok-wrong-" + token[::-1]
    caplog.set_level(logging.DEBUG)
    repository = GitRepository(
        "fleet",
        RepositorySettings(url=server.http_url),
        GitCredentials(username="x-access-token", password=Secret(wrong)),
        tmp_path / "clone",
    )
    with structlog.testing.capture_logs() as logs, pytest.raises(GitAuthError) as raised:
        repository.ensure_clone()
    message = str(raised.value)
    assert "refused opsbot's credentials while fetching repository `fleet`" in message
    shown = " ".join([message, repr(raised.value), repr(repository), caplog.text, repr(logs)])
    assert wrong not in shown and token not in shown
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_no_credentials_at_all_is_an_auth_error(server: GitServer, tmp_path: Path) -> None:
    repository = GitRepository(
        "fleet", RepositorySettings(url=server.http_url), GitCredentials(), tmp_path / "c"
    )
    with pytest.raises(GitAuthError):
        repository.ensure_clone()


def test_the_token_is_not_logged_on_success(server: GitServer, tmp_path: Path, token: str) -> None:
    with structlog.testing.capture_logs() as logs:
        repository = clone(server, tmp_path, http=True, token=token)
        repository.deliver(change())
    assert any(event["event"] == "git.pushed" for event in logs)
    assert token not in repr(logs)
    assert token not in server.log()[0][1]


def test_an_unreachable_server_is_a_temporary_error(tmp_path: Path) -> None:
    repository = GitRepository(
        "fleet",
        RepositorySettings(url="http://127.0.0.1:9/fleet.git", timeout_seconds=2),
        GitCredentials(),
        tmp_path,
    )
    with pytest.raises(GitError, match="repository `fleet`"):
        repository.ensure_clone()


def test_credentials_come_from_the_environment_or_a_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cr3t-from-file\n")
    from_file = load_credentials(GitAuthSettings(token_file=str(token_file)), {})
    assert from_file.username == "x-access-token"
    assert from_file.password is not None and from_file.password.reveal() == "s3cr3t-from-file"
    assert "s3cr3t" not in repr(from_file) and "s3cr3t" not in f"{from_file.password}"
    from_env = load_credentials(
        GitAuthSettings(username="bot", token_env="FLEET_TOKEN"), {"FLEET_TOKEN": "t0k"}
    )
    assert (from_env.username, from_env.password.reveal() if from_env.password else None) == ("bot", "t0k")
    with pytest.raises(GitAuthError, match="`FLEET_TOKEN`"):
        load_credentials(GitAuthSettings(token_env="FLEET_TOKEN"), {})
    with pytest.raises(GitAuthError, match="cannot be read"):
        load_credentials(GitAuthSettings(token_file=str(tmp_path / "missing")), {})


def test_concurrent_deliveries_on_one_repository_are_serialised(server: GitServer, tmp_path: Path) -> None:
    repository = clone(server, tmp_path)
    errors: list[BaseException] = []

    def run(app: str, version: str) -> None:
        try:
            repository.deliver(change(app, "stage", version))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=args)
        for args in (("podinfo", "6.6.0"), ("web", "1.5.0"), ("worker", "2.1.0"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(repository.history(cluster="stage")) == 3


def test_rollback_commits_say_so(server: GitServer, tmp_path: Path) -> None:
    repository = clone(server, tmp_path)
    repository.deliver(change(version="6.5.0", action=Action.ROLLBACK))
    assert server.log()[0][1].startswith("Roll back podinfo 6.5.1 → 6.5.0 on prod")
    entry = repository.history(app="podinfo")[0]
    assert (entry.action, entry.from_version, entry.to_version, entry.approved_by) == (
        Action.ROLLBACK,
        "6.5.1",
        "6.5.0",
        ("U456BOB", "U789CAROL"),
    )
