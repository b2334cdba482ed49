"""A fake ``apt-get`` on PATH and minimal ``.deb`` files for the corpus recipe's tests."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import time
from pathlib import Path

from tests._registry_server import tar_bytes


def deb(files: dict[str, bytes], compression: str = "xz",
        links: dict[str, str] | None = None) -> bytes:
    """A minimal .deb: an ar archive of debian-binary, control.tar.gz and data.tar.*."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{compression}") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            info.mtime = 1_600_000_000
            archive.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(f"./{name}")
            info.type = tarfile.SYMTYPE
            info.linkname = target
            archive.addfile(info)
    data_member = buffer.getvalue()
    control = tar_bytes({"./control": b"Package: fake\nVersion: 1.0\n"}, "w:gz")
    members = [("debian-binary", b"2.0\n"), ("control.tar.gz", control),
               (f"data.tar.{compression}", data_member)]
    out = io.BytesIO()
    out.write(b"!<arch>\n")
    for member, data in members:
        header = (f"{member:<16}{int(time.time()) % 10**12:<12}{0:<6}{0:<6}{100644:<8}"
                  f"{len(data):<10}`\n").encode()
        out.write(header)
        out.write(data)
        if len(data) % 2:
            out.write(b"\n")
    return out.getvalue()


_FAKE_APT = """#!/bin/sh
# A stand-in for `apt-get download NAME`: copies $FAKE_APT_DIR/NAME_*.deb here.
for last; do :; done
name="${last%%=*}"
if [ "$1" != "download" ]; then echo "E: only download is faked" >&2; exit 100; fi
for f in "$FAKE_APT_DIR/${name}"_*.deb; do
    if [ -e "$f" ]; then cp "$f" .; echo "Get:1 fake $name"; exit 0; fi
done
echo "E: Unable to locate package $last" >&2
exit 100
"""


def install_fake_apt(bin_dir: Path, deb_dir: Path, monkeypatch) -> None:
    """Put a fake ``apt-get`` first on PATH that serves .deb files from ``deb_dir``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "apt-get"
    script.write_text(_FAKE_APT)
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("FAKE_APT_DIR", str(deb_dir))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
