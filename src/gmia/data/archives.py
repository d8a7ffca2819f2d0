"""Reading the files of an image set out of a folder, a tar archive or a Debian package (an ar
archive), in memory: nothing is extracted to disk, so names inside an archive cannot point anywhere.
Every failure is one sentence naming the file and what was expected.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from gmia.base.errors import GmiaError


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (tarfile's can span several), for one-sentence errors."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return lines[0].rstrip(":")[:160]


def read_file(path: Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise GmiaError(f"{what} {str(path)!r} cannot be read ({exc.strerror}); expected a readable file") from None


def from_folder(folder: Path, names: tuple[str, ...], expected: str) -> dict[str, bytes]:
    """Each of ``names`` from ``folder``, plain or with ``.gz`` (as the original sites ship them)."""
    out = {}
    for name in names:
        for candidate in (folder / name, folder / f"{name}.gz"):
            if candidate.is_file():
                out[name] = read_file(candidate, "source file")
                break
        else:
            raise GmiaError(f"source folder {str(folder)!r} has no {name} (nor {name}.gz); expected {expected}")
    return out


def from_tar(blob: bytes, names: tuple[str, ...], what: str, expected: str) -> dict[str, bytes]:
    """The regular members of a tar archive whose base names are ``names`` (or ``name.gz``); nothing
    is extracted to disk, so paths inside the archive cannot point anywhere."""
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
            by_name: dict[str, tarfile.TarInfo] = {}
            for info in tar.getmembers():
                base = info.name.rsplit("/", 1)[-1]
                key = base[:-3] if base.endswith(".gz") else base
                if info.isfile() and key in names:
                    if key in by_name:
                        raise GmiaError(f"{what} holds {key} twice ({by_name[key].name}, {info.name}); expected one copy")
                    by_name[key] = info
            missing = [n for n in names if n not in by_name]
            if missing:
                raise GmiaError(f"{what} has no {missing[0]}; expected {expected}")
            return {n: tar.extractfile(by_name[n]).read() for n in names}
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise GmiaError(f"{what} is not a readable tar archive ({first_line(exc)}); expected {expected}") from None


def ar_members(blob: bytes, what: str) -> dict[str, bytes]:
    """The members of a Unix ar archive (the container of a .deb): an 8-byte magic, then per member
    a 60-byte header (name, dates, modes, decimal size, "`\\n") and the data padded to even length."""
    if not blob.startswith(b"!<arch>\n"):
        raise GmiaError(f"{what} does not start with the ar magic '!<arch>'; expected a Debian .deb package")
    out, pos = {}, 8
    while pos + 60 <= len(blob):
        header = blob[pos:pos + 60]
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            size = -1
        if header[58:60] != b"`\n" or size < 0 or pos + 60 + size > len(blob):
            raise GmiaError(f"{what} has a damaged ar member header at byte {pos}; expected a complete .deb package")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        out[name] = blob[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)
    return out
