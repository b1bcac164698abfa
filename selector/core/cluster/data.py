"""User data for remote probes: packed once here, put in Ray's object store, unpacked per node.

A folder (or one file) is zipped once per run and ``ray.put`` once; every task gets the same
object reference, so Ray moves the bytes at most once per node. On the node the archive is
unpacked under that node's selector cache, in a folder named by the archive's SHA-256, so a
second probe (or a later run with the same data) reuses it, and so do the features caches
that key on the data's path: they stay per node.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

MAX_PACK_MIB = 2048
"""A folder larger than this is refused (MiB): the object store is not a file server."""


def pack(source: str) -> dict[str, Any]:
    """``{"digest", "name", "zip"}`` for a folder or file: the bytes a node unpacks."""
    from selector.core.errors import SelectorError

    path = Path(source)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    size_mib = sum(p.stat().st_size for p in files) / 2**20
    if size_mib > MAX_PACK_MIB:
        raise SelectorError(f"--data {source} holds {size_mib:.0f} MiB; above {MAX_PACK_MIB} MiB, "
                            "put the data on the nodes and give that path instead")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # images are compressed already
        for file in files:
            arcname = file.name if path.is_file() else str(file.relative_to(path))
            info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))  # same bytes, same digest
            archive.writestr(info, file.read_bytes())
    blob = buffer.getvalue()
    return {"digest": hashlib.sha256(blob).hexdigest(), "name": path.name, "file": path.is_file(),
            "zip": blob}


def unpack(packed: dict[str, Any]) -> str:
    """On a node: the local path of the unpacked data (unpacked on first use, then reused)."""
    from selector.core.paths import cache_dir

    root = cache_dir() / "cluster-data" / packed["digest"][:16]
    target = root / packed["name"]
    if not target.exists():
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=root.parent))
        try:
            dest = staging / packed["name"]
            with zipfile.ZipFile(io.BytesIO(packed["zip"])) as archive:
                archive.extractall(staging if packed.get("file") else dest)
            try:
                os.replace(staging, root)  # atomic: two probes unpacking at once keep one copy
            except OSError:
                if not target.exists():
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return str(target)


def local_sources(specs: list) -> list[str]:
    """The distinct data paths of ``specs`` that must travel (the built-in sample need not)."""
    from selector.core.data.dataset import DatasetSpec

    sources: list[str] = []
    for spec in specs:
        if spec.data and not DatasetSpec.from_dict(spec.data).is_sample:
            source = str(spec.data.get("source"))
            if source not in sources:
                sources.append(source)
    return sources
