"""What a run of the README's commands wrote, as digests: the check that a change which should
change no behaviour (issue 29's moves) left ``gswarp apply``'s outputs byte for byte as they were.

:func:`digest_tree` maps every file under a folder to a SHA-256 (16 hex digits) of its bytes,
with two exceptions that keep a digest about what gswarp wrote rather than about a library's
version or the clock:

- ``.gz`` files are digested decompressed (the deflate stream depends on zlib's version; the
  bytes gswarp wrote into it do not);
- text files (``.json``, ``.jsonl``, ``.yaml``, ``.tfm``, ``.txt``) are digested with the run's
  folder written as ``<run>`` (logs and Zarr fingerprints hold absolute paths) and durations
  (``0.04 s``) as ``<t> s`` (a registration's summary comment);
- a JSON Lines log's lines are digested sorted (a folder's files finish in any order);
- a Zarr output's input fingerprint (``"content"``) is digested as ``<input>``: it holds the
  input files' modification times, by design (a resumed run checks its input against it).

Every other byte counts: pixels, headers, chunk files, the order of a log's lines.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

TEXT_SUFFIXES = frozenset({".json", ".jsonl", ".yaml", ".yml", ".tfm", ".txt"})
DURATION = re.compile(r"\b\d+(\.\d+)? s\b")
CONTENT = re.compile(r'"content": ?"[0-9a-f]{64}"')


def file_digest(path: Path, run: Path) -> str:
    """SHA-256 (16 hex digits) of what ``path`` holds, per the module's rules; ``run`` is the
    folder the commands ran in."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    elif path.suffix in TEXT_SUFFIXES:
        text = data.decode()
        for folder in {str(run.resolve()), str(run)}:
            text = text.replace(folder, "<run>")
        text = CONTENT.sub('"content": "<input>"', DURATION.sub("<t> s", text))
        if path.suffix == ".jsonl":
            text = "\n".join(sorted(text.splitlines()))
        data = text.encode()
    return hashlib.sha256(data).hexdigest()[:16]


def digest_tree(folder: Path, run: Path) -> dict[str, str]:
    """``{path relative to folder: digest}`` for every file under ``folder``, sorted."""
    return {
        p.relative_to(folder).as_posix(): file_digest(p, run)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


MANIFEST = Path(__file__).parent / "data" / "apply_manifest.json"
"""``{README script: {output path: digest}}``, recorded by ``python -m tests.manifest``."""

SAMPLES = ("sample_images", "sample_masks", "sample_volumes", "configs")


def run_script(script: str, folder: Path) -> subprocess.CompletedProcess:
    """Run one README script in ``folder`` after copying the bundled samples and configs in."""
    root = Path(__file__).resolve().parent.parent
    for name in SAMPLES:
        shutil.copytree(root / name, folder / name)
    (folder / "out").mkdir()
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


def record() -> None:
    """Run every README script and write :data:`MANIFEST` (after a deliberate change of
    outputs, or an encoder's new version; the commit says which)."""
    from tests.test_cli import readme_shell_commands

    manifest = {}
    for script in readme_shell_commands():
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            proc = run_script(script, folder)
            if proc.returncode:
                raise SystemExit(f"{script!r} failed:\n{proc.stderr}")
            manifest[script] = digest_tree(folder / "out", folder)
    MANIFEST.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    count = sum(len(files) for files in manifest.values())
    print(f"{MANIFEST}: {len(manifest)} scripts, {count} files")


if __name__ == "__main__":
    record()
