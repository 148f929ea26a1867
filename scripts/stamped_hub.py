"""One stamped, atomically installed directory of tiny hub repositories for the pull tests.

Shared by the factories of `hub-many/` and `hub-xlmr/`: a re-run whose stamp matches only reads
the stamp (no torch import); otherwise every repository is built into a temporary sibling that
replaces the old directory in one rename, so a test never sees a half-written hub.
"""
import os
import shutil
import tempfile
import time
from pathlib import Path


def install(out: Path, name: str, stamp_text: str, repos, build_all) -> int:
    """Builds `out/name` with `build_all(tmp)` unless its stamp already reads `stamp_text`.

    `build_all` writes the repositories `repos` (names, for the log line) into `tmp`.
    """
    hub = out / name
    stamp = hub / ".complete"
    if stamp.is_file() and stamp.read_text() == stamp_text:
        print(f"{name}: complete, skipped")
        return 0
    start = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=out))
    tmp.chmod(0o755)
    try:
        build_all(tmp)
        (tmp / ".complete").write_text(stamp_text)
        if hub.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{name}.old-", dir=out))
            os.rename(hub, old / name)
            shutil.rmtree(old)
        os.rename(tmp, hub)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"{name}: wrote {', '.join(repos)} in {time.monotonic() - start:.1f}s")
    return 0
