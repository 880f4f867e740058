"""Property tests over hostile input: whatever people type or click, nothing crashes,
no API call carries an unvalidated name, and nothing runs without a valid approval."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsbot.approvals.service import ApprovalService, InMemoryApprovals
from opsbot.commands.catalog import build_registry
from opsbot.config import parse_settings
from opsbot.core.plan import ActionPlan
from opsbot.core.reply import Reply, Text
from opsbot.core.request import ChatRequest
from opsbot.core.validation import is_dns1123_label, is_dns1123_subdomain, label_selector
from opsbot.errors import InvalidNameError
from opsbot.wiring import build_router

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class CheckingKube:
    """A KubePort that fails the test if any name reaching it is not valid."""

    cluster = "test"

    def __init__(self) -> None:
        self.calls = 0

    def _check(self, namespace: str | None = None, name: str | None = None, **selectors: Any) -> None:
        self.calls += 1
        assert namespace is None or is_dns1123_label(namespace), namespace
        assert name is None or is_dns1123_subdomain(name), name
        selector = selectors.get("selector")
        if selector:
            try:
                label_selector(selector)
            except InvalidNameError as exc:  # pragma: no cover - the assertion is the point
                raise AssertionError(f"unvalidated selector {selector!r}") from exc

    def list_pods(
        self, namespace: str | None, *, selector: str | None = None, field_selector: str | None = None
    ) -> list[Any]:
        self._check(namespace, selector=selector)
        return []

    def pod_rows(
        self, namespace: str | None, *, selector: str | None = None, node: str | None = None
    ) -> list[Any]:
        self._check(namespace, selector=selector)
        return []

    def deployment_rows(self, namespace: str | None, *, selector: str | None = None) -> list[Any]:
        self._check(namespace, selector=selector)
        return []

    def node_rows(self) -> list[Any]:
        self._check()
        return []

    def cached(self, method: str, namespace: str | None) -> bool:
        return False  # no watch caches here: every read is live

    def get_pod(self, namespace: str, name: str) -> dict[str, Any]:
        self._check(namespace, name)
        return {"metadata": {"name": name, "namespace": namespace}}

    def read_pod_log(self, namespace: str, name: str, **_: Any) -> str:
        self._check(namespace, name)
        return "line\n"

    def list_deployments(self, namespace: str | None, *, selector: str | None = None) -> list[Any]:
        self._check(namespace, selector=selector)
        return []

    def get_deployment(self, namespace: str, name: str) -> dict[str, Any]:
        self._check(namespace, name)
        return {
            "metadata": {"name": name},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}}},
        }

    def list_statefulsets(self, namespace: str) -> list[Any]:
        self._check(namespace)
        return []

    def list_daemonsets(self, namespace: str) -> list[Any]:
        self._check(namespace)
        return []

    def list_replicasets(self, namespace: str, *, selector: str | None = None) -> list[Any]:
        self._check(namespace)
        return []

    def list_nodes(self) -> list[Any]:
        self._check()
        return []

    def get_node(self, name: str) -> dict[str, Any]:
        self._check(None, name)
        return {"metadata": {"name": name}}

    def list_events(self, namespace: str | None, *, field_selector: str | None = None) -> list[Any]:
        self._check(namespace)
        return []

    def get_scale(self, namespace: str, name: str) -> dict[str, Any]:
        self._check(namespace, name)
        return {"spec": {"replicas": 1}}

    def scale_deployment(
        self, namespace: str, name: str, replicas: int, *, dry_run: bool = False
    ) -> dict[str, Any]:
        assert dry_run, "a real write was attempted while routing a command"
        self._check(namespace, name)
        return {"spec": {"replicas": replicas}}

    def restart_deployment(
        self, namespace: str, name: str, at: Any, *, dry_run: bool = False
    ) -> dict[str, Any]:
        assert dry_run, "a real write was attempted while routing a command"
        self._check(namespace, name)
        deployment = self.get_deployment(namespace, name)
        annotations = {"kubectl.kubernetes.io/restartedAt": "2026-11-22T12:00:00Z"}
        deployment["spec"]["template"] = {"metadata": {"annotations": annotations}}
        return deployment

    def set_deployment_image(
        self,
        namespace: str,
        name: str,
        container: str,
        image: str,
        *,
        labels: Mapping[str, str] | None = None,
        template_labels: Mapping[str, str] | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        assert dry_run, "a real write was attempted while routing a command"
        self._check(namespace, name)
        return self.get_deployment(namespace, name)

    def json_patch_deployment(
        self, namespace: str, name: str, operations: list[dict[str, Any]], *, dry_run: bool = False
    ) -> dict[str, Any]:
        assert dry_run, "a real write was attempted while routing a command"
        self._check(namespace, name)
        return self.get_deployment(namespace, name)

    def get_flux_kustomization(self, namespace: str, name: str) -> dict[str, Any]:
        self._check(namespace, name)
        return {"metadata": {"name": name}}

    def get_flux_helmrelease(self, namespace: str, name: str) -> dict[str, Any]:
        self._check(namespace, name)
        return {"metadata": {"name": name}}


class Directory:
    def __init__(self, kube: CheckingKube) -> None:
        self.kube = kube

    def names(self) -> list[str]:
        return ["test"]

    def get(self, cluster: str, **_: Any) -> CheckingKube:
        return self.kube


SETTINGS = parse_settings(
    {
        "clusters": {"test": {"kubeconfig": "/dev/null"}},
        "alerts": {"enabled": False},
        "policy": {
            "bindings": [{"role": "admin", "users": ["U0ADMIN01"]}],
            "rate_limit": {"commands_per_minute": 10000, "burst": 1000},
        },
    }
)
WORDS = [spec_word for spec in build_registry().specs() for spec_word in (spec.name, *spec.aliases)]
PIECES = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(
        [
            "-n",
            "-A",
            "-l",
            "--cluster",
            "--tail",
            "--since",
            "-c",
            "--previous",
            "--for",
            "deploy/",
            "pod",
            "node",
            "--",
            "-",
        ]
    ),
    st.sampled_from(
        [
            "<@U0BOT>",
            "<!channel>",
            "<http://x.io|x.io>",
            "“",
            "”",
            "`",
            "```",
            "—",
            "&amp;",
            "\u00a0",
            "'",
            '"',
            "\\",
            "\n",
        ]
    ),
    st.text(min_size=0, max_size=30),
    st.from_regex(r"[a-z0-9][-a-z0-9.]{0,20}", fullmatch=True),
    st.integers(min_value=-5, max_value=10**6).map(str),
)
TEXTS = st.lists(PIECES, max_size=12).map(" ".join)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS)
def test_any_text_gets_an_answer_and_only_valid_names_reach_the_api(text: str) -> None:
    kube = CheckingKube()
    with ThreadPoolExecutor(max_workers=1) as pool:
        router = build_router(SETTINGS, Directory(kube), pool, lambda: NOW)
        request = ChatRequest("r1", "U0ADMIN01", "C0CHAN001", text, "mention")
        result = asyncio.run(router.handle(request))
    assert isinstance(result, (Reply, ActionPlan))
    assert not (isinstance(result, Reply) and result.title == "Something went wrong on my side"), result


class Clock:
    def __init__(self) -> None:
        self.moment = NOW

    def now(self) -> datetime:
        return self.moment


class Surface:
    async def update_card(self, approval: Any) -> None:
        return None

    async def notify(self, user: str, text: Text) -> None:
        return None

    async def tell_thread(self, approval: Any, text: Text) -> None:
        return None


CLICKS = st.lists(
    st.tuples(
        st.sampled_from(["confirm", "cancel", "approve", "reject"]),
        st.sampled_from(["UREQ", "UOTHER", "UTHIRD"]),
        st.one_of(st.just("REAL"), st.text(max_size=80)),
        st.booleans(),
        st.integers(min_value=0, max_value=30),
    ),
    max_size=20,
)


@settings(max_examples=1500, deadline=None)
@given(clicks=CLICKS, second_person=st.booleans())
def test_forged_replayed_or_late_clicks_never_run_an_action_twice_or_unapproved(
    clicks: list[tuple[str, str, str, bool, int]], second_person: bool
) -> None:
    from opsbot.approvals.machine import ApprovalPolicy

    executed: list[ActionPlan] = []

    async def executor(plan: ActionPlan, origin: object = None) -> str:
        executed.append(plan)
        return "done"

    async def scenario() -> None:
        clock = Clock()
        service = ApprovalService(InMemoryApprovals(), executor, clock, timedelta(minutes=15))
        plan = ActionPlan(
            "scale", "test", "web", "deployment", "api", ("replicas 1 → 2",), {"replicas": 2, "from": 1}
        )
        request = ChatRequest("r", "UREQ", "C1", "scale deploy/api 2", "mention")
        approval = await service.open(plan, request, ApprovalPolicy(requester_may_confirm=not second_person))
        surface = Surface()
        legit = False
        for action, user, target, allowed, minutes in clicks:
            clock.moment = NOW + timedelta(minutes=minutes)
            approval_id = approval.id if target == "REAL" else target
            current = await service.get(approval.id)
            assert current is not None
            before = current.status.value
            if action == "confirm":
                await service.confirm(approval_id, user, surface)
            elif action == "cancel":
                await service.cancel(approval_id, user, surface)
            elif action == "approve":
                await service.approve(approval_id, user, surface, allowed=allowed)
            else:
                await service.reject(approval_id, user, surface, allowed=allowed)
            if before == "pending" and target == "REAL" and minutes < 15:
                if not second_person and action == "confirm" and user == "UREQ":
                    legit = True
                if second_person and action == "approve" and user != "UREQ" and allowed:
                    legit = True
        assert len(executed) <= 1
        if executed:
            assert legit, "an action ran without a valid confirmation or approval"

    asyncio.run(scenario())
