"""What a running bot imports: only what it uses, so its memory stays small (issue 10, part 1).

A fresh interpreter imports the bot, builds it from a config and asks a cluster for pods
through opsbot's KubeClient (the path every list command takes). None of the modules below
may be loaded by then: each costs megabytes of resident memory (the generated Kubernetes
API classes alone ~25 MiB) for something the bot does only when configured, or never.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

NOT_IMPORTED = {
    # opsbot's own parts that `opsbot run` does not need
    "opsbot.doctor": "`opsbot check-config` only",
    "opsbot.console": "`opsbot console` only",
    "dulwich": "git, for release commands",
    "paramiko": "SSH, for release commands",
    "ruamel": "YAML round-trip, for release commands",
    "opentelemetry": "tracing, when OTEL_EXPORTER_OTLP_ENDPOINT is set",
    "sentry_sdk": "error reporting, when SENTRY_DSN is set",
    # the kubernetes client's generated API classes and models (opsbot.kube.rest calls by path);
    # the two packages themselves load nothing (the client imports them lazily), their modules do
    "kubernetes.client.api.": "CoreV1Api & co: ~250 pydantic model modules",
    "kubernetes.client.models.": "pydantic models; responses are decoded with orjson",
}


def matches(module: str, prefix: str) -> bool:
    """`prefix` and its submodules; only the submodules for a prefix ending with a dot."""
    if prefix.endswith("."):
        return module.startswith(prefix)
    return module == prefix or module.startswith(prefix + ".")

PROBE = """
import json, sys
sys.modules["kubernetes_validate"] = None  # a test extra, absent from the image
from pathlib import Path
import opsbot.app, opsbot.cli
from opsbot.app import build_bot
from opsbot.config import Secrets, parse_settings
from opsbot.errors import KubeError

kubeconfig = Path(sys.argv[1])
kubeconfig.write_text(json.dumps({
    "apiVersion": "v1", "kind": "Config", "current-context": "c",
    "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
    "users": [{"name": "u", "user": {"token": "t"}}],
    "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
}))
settings = parse_settings({
    "clusters": {"c": {"kubeconfig": str(kubeconfig), "request_timeout_seconds": 2}},
    "alerts": {"default_channel": "C0ALERTS01"},
    "store": {"path": str(kubeconfig.parent / "opsbot.db")},
})
bot = build_bot(settings, Secrets(bot_token="xoxb-1", app_token="xapp-1"))
kube = bot.clusters.get("c")
for read in (lambda: kube.pod_rows(None), lambda: kube.node_rows(), lambda: kube.get_pod("web", "x")):
    try:
        read()
    except KubeError:
        pass  # nothing listens there: the request was made, that is what counts
print(json.dumps(sorted(sys.modules)))
"""


def test_a_running_bot_does_not_import_what_it_does_not_use(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "kubeconfig")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "kubernetes.client" in loaded and "opsbot.kube.client" in loaded  # the probe did its work
    unexpected = {
        prefix: sorted(m for m in loaded if matches(m, prefix))[:5]
        for prefix in NOT_IMPORTED
    }
    unexpected = {prefix: modules for prefix, modules in unexpected.items() if modules}
    assert not unexpected, "\n".join(
        f"{prefix} ({NOT_IMPORTED[prefix]}) was imported: {', '.join(modules)}"
        for prefix, modules in unexpected.items()
    )


REDIS_PROBE = """
import json, sys
import opsbot.store.redis
hidden = "opentelemetry.sdk.metrics" not in sys.modules
import opentelemetry.sdk.metrics  # tracing turned on later still finds it
print(json.dumps([hidden, opsbot.store.redis.RedisStore.__name__]))
"""


def test_the_redis_store_does_not_load_opentelemetry_s_metrics_sdk_that_redis_py_would() -> None:
    done = subprocess.run(
        [sys.executable, "-c", REDIS_PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True, "RedisStore"]
