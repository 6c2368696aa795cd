"""Content-addressed on-disk cache of compiled artifacts.

An artifact is named by the sha256 of everything that determines it (source,
tensorc version, compiler identity, flags). It is built in a temporary directory
inside the cache directory and published with `os.replace`, so readers never see
a partial file; a `filelock` per key makes concurrent processes build it once and
the others wait and reuse it.
"""

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def cache_dir() -> Path:
    """`$TENSORC_CACHE_DIR`, else the platform's user cache dir for tensorc."""
    configured = os.environ.get("TENSORC_CACHE_DIR")
    if configured:
        return Path(configured)
    import platformdirs

    return Path(platformdirs.user_cache_dir("tensorc"))


def cache_key(*parts: str) -> str:
    """sha256 of `parts`, each length-prefixed so no two part lists collide."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheEntry:
    path: Path
    built: bool
    """True if this call ran the build; False if the artifact was already there."""


def get_or_build(
    key: str, suffix: str, build: Callable[[Path], None], kind: str = "c"
) -> CacheEntry:
    """The artifact `<cache>/<kind>/<key><suffix>`, built by `build(path)` if
    missing. `build` writes `path` (in a private temporary directory it may also
    use for scratch files); an exception from it publishes nothing."""
    directory = cache_dir() / kind
    final = directory / f"{key}{suffix}"
    if final.exists():
        return CacheEntry(final, built=False)
    import tempfile  # only to build: a cache hit imports neither

    from filelock import FileLock

    directory.mkdir(parents=True, exist_ok=True)
    with FileLock(str(directory / f"{key}.lock")):
        if final.exists():  # another process built it while we waited
            return CacheEntry(final, built=False)
        with tempfile.TemporaryDirectory(dir=directory, prefix=".build-") as scratch:
            artifact = Path(scratch) / f"artifact{suffix}"
            build(artifact)
            os.replace(artifact, final)
    return CacheEntry(final, built=True)


def publish(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (temporary file in the same directory)."""
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".publish-")
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
    os.replace(temporary, path)
