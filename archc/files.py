"""Writing output files: atomically, with the permissions a plain open() gives, never over a stranger's file.

One writer for build, render and report. Each write goes to its own temporary file in the target's
directory (mkstemp: a unique name per writer, so concurrent writers never touch each other's), then
os.replace: a reader sees the old file or the new one, never half of one. The temporary name
carries a marker and the writer's process id; a later write removes such a file only when that
process no longer exists, the file is ours and its name is exactly one this module makes.

Generated source files carry a header archc can verify: the first line holds the SHA-256 of
everything below it, so a file someone wrote, or a generated file edited since, is told apart from
one archc wrote and may overwrite.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path

from .backends.base import MARKER  # the first line's opening, as the backends write it

SIGNED = re.compile(rb"# archc-generated sha256=([0-9a-f]{64})")
TEMP_MARK = "archc-tmp"
_RANDOM = "[a-z0-9_]{8}"  # what tempfile.mkstemp puts between prefix and suffix


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write `data` to `path` through a temporary file beside it and os.replace.

    A new file gets 0666 less the umask, as open() would give it; an existing file keeps its mode.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".{os.getpid()}.{TEMP_MARK}", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_mode(path: Path) -> int:
    """An existing file's permission bits, or those open() would give a new one (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~umask()


def umask() -> int:
    """The process umask, read without changing it where Linux allows (os.umask sets it to read it)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_pattern(path: Path) -> re.Pattern[str]:
    """The exact names write_atomic gives its temporary files for `path`; group 1 is the writer's pid."""
    return re.compile(rf"\.{re.escape(path.name)}\.{_RANDOM}\.([0-9]+)\.{TEMP_MARK}")


def remove_stale(path: Path) -> list[Path]:
    """Remove temporary files that a killed writer of `path` left; only provably ours, whose writer is gone."""
    pattern = temp_pattern(path)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or _alive(int(match.group(1))):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid():
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True  # another thread of this process may be writing it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process, or a pid we cannot ask about: not provably dead
    return True


# -- the verifiable header of generated source -----------------------------------------------------
def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def sign(text: str) -> str:
    """The generated text with its first line replaced by the marker and the hash of the rest."""
    body = text[len(MARKER) + 1 :] if text.startswith(MARKER + "\n") else text
    return f"{MARKER} sha256={digest(body.encode('utf-8'))}\n{body}"


def is_signed(data: bytes) -> bool:
    """Whether `data` is a generated file exactly as archc wrote it: the header's hash matches the rest."""
    first, _, body = data.partition(b"\n")
    match = SIGNED.fullmatch(first)
    return match is not None and digest(body).encode("ascii") == match.group(1)


MAX_GENERATED_BYTES = 1 << 30  # a file larger than this is no file archc wrote; do not read it to find out


def is_generated(path: Path) -> bool:
    """Whether `path` holds a file archc generated and nobody edited since."""
    try:
        with open(path, "rb") as fh:
            if not SIGNED.fullmatch(fh.readline(100).rstrip(b"\n")):
                return False
            if os.fstat(fh.fileno()).st_size > MAX_GENERATED_BYTES:
                return False
            fh.seek(0)
            return is_signed(fh.read())
    except OSError:
        return False
