"""One stamped, atomically installed directory of tiny hub repositories for the pull tests.

Shared by the factories of `hub-many/` and `hub-xlmr/`: a re-run whose stamp matches only reads
the stamp (no torch import); otherwise every repository is built into a temporary sibling that
replaces the old directory in one rename, so a test never sees a half-written hub.
"""
import argparse
import os
import shutil
import sys
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


def run(description: str, name: str, recipe: str, version: int, repos, build_repo) -> int:
    """The factories' command line: `--out TEST_MODELS_DIR [--seed N]` builds `name/` there.

    `build_repo(tmp, repo, lines, seed)` writes repository `repo` into `tmp / repo` (already
    made) from the factory's corpus `lines`; each repository then gets the factory's marker,
    naming `recipe` and `version`.
    """
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--out", required=True, type=Path, help="the test-models directory")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    wanted = f"{name}-v{version} seed={args.seed} repos={','.join(repos)}\n"

    def build_all(tmp: Path) -> None:
        # Imported once a build is needed: the idempotent re-run only reads the stamp.
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import make_test_models as factory
        import torch
        torch.set_num_threads(factory.THREADS)
        lines = factory.corpus(args.seed)
        for repo in repos:
            dest = tmp / repo
            dest.mkdir()
            torch.manual_seed(args.seed)
            build_repo(tmp, repo, lines, args.seed)
            (dest / factory.MARKER).write_text(
                factory.marker_text(repo, f"{repo} {recipe}-v{version} seed={args.seed}"))

    return install(args.out, name, wanted, repos, build_all)
