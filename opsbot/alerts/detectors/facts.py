"""What a card shows besides the problem itself, read from the object (pure, junk-proof).

Facts are plain ``name → text`` pairs carried by a finding into its incident; the card of
each kind picks those it shows (``opsbot.alerts.facts``). The names:

    node ............ the pod's node (``spec.nodeName``)
    image ........... the container's image reference as the pod spec asks for it
    memory_limit .... the container's memory limit, as written (``512Mi``)
    memory_request .. its memory request
    replicas ........ a Deployment's ``available/desired``
"""

from __future__ import annotations

from collections.abc import Mapping

from opsbot.alerts.detectors.readers import as_dict, text
from opsbot.ports import KubeObject

NODE = "node"
IMAGE = "image"
MEMORY_LIMIT = "memory_limit"
MEMORY_REQUEST = "memory_request"
REPLICAS = "replicas"


def _container_spec(pod: KubeObject, container: str | None) -> dict[str, object]:
    spec = as_dict(pod.get("spec"))
    for key in ("containers", "initContainers"):
        items = spec.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, dict) and (container is None or item.get("name") == container):
                return item
    return {}


def pod_facts(pod: KubeObject, container: str | None, *, memory: bool = False) -> Mapping[str, str]:
    """The pod's node and the container's image; with ``memory``, its memory limit and request."""
    found: dict[str, str] = {}
    node = text(as_dict(pod.get("spec")).get("nodeName"))
    if node:
        found[NODE] = node
    spec = _container_spec(pod, container)
    image = text(spec.get("image"))
    if image:
        found[IMAGE] = image
    if memory:
        resources = as_dict(spec.get("resources"))
        limit = as_dict(resources.get("limits")).get("memory")
        request = as_dict(resources.get("requests")).get("memory")
        found[MEMORY_LIMIT] = str(limit) if isinstance(limit, (str, int)) and limit != "" else "none"
        if isinstance(request, (str, int)) and request != "":
            found[MEMORY_REQUEST] = str(request)
    return found
