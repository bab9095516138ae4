"""A local conda channel for tests and benchmarks: real package archives (.tar.bz2 with
info/index.json, info/paths.json and a script in bin/), indexed by py-rattler."""
from __future__ import annotations

import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

__all__ = ["write_package", "make_channel", "env_file"]


def write_package(channel, name: str, version: str, depends: list[str], script: str,
                  command: str = "") -> None:
    """A real noarch conda package (.tar.bz2): info/index.json, info/paths.json and
    bin/COMMAND (default: the package's name)."""
    subdir = channel / "noarch"
    subdir.mkdir(parents=True, exist_ok=True)
    files = {f"bin/{command or name}": script.encode()}
    index = {"name": name, "version": version, "build": "0", "build_number": 0,
             "depends": depends, "noarch": "generic", "subdir": "noarch", "license": "MIT",
             "timestamp": 1700000000000}
    paths = {"paths_version": 1, "paths": [
        {"_path": p, "path_type": "hardlink", "sha256": hashlib.sha256(d).hexdigest(),
         "size_in_bytes": len(d)} for p, d in files.items()]}
    members = {**files, "info/index.json": json.dumps(index).encode(),
               "info/paths.json": json.dumps(paths).encode(),
               "info/files": ("\n".join(files) + "\n").encode()}
    with tarfile.open(subdir / f"{name}-{version}-0.tar.bz2", "w:bz2") as tar:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size, info.mtime = len(data), 1700000000
            info.mode = 0o755 if member.startswith("bin/") else 0o644
            tar.addfile(info, io.BytesIO(data))


def make_channel(root: Path) -> str:
    """ffgreet 1.0 and 1.1, fftool 2.0, which depends on ffgreet, and ffpython (bin/python);
    its file:// URL."""
    from rattler.index import index_fs

    for version in ("1.0", "1.1"):
        write_package(root, "ffgreet", version, [], f"#!/bin/sh\necho greet {version}\n")
    write_package(root, "fftool", "2.0", ["ffgreet >=1.0"], "#!/bin/sh\nffgreet\necho tool 2.0\n")
    # a "python" that is this interpreter, marked: which Python ran a script is seen
    write_package(root, "ffpython", "3.0", [],
                  f'#!/bin/sh\nFFPYTHON_WRAPPED=1 exec {sys.executable} "$@"\n', command="python")
    done = index_fs(root)
    if done is not None and hasattr(done, "__await__"):  # a coroutine in some releases
        import asyncio
        asyncio.run(done)
    assert (root / "noarch" / "repodata.json").exists()
    return f"file://{root}"


def env_file(channel: str, *specs: str) -> str:
    return "channels:\n  - " + channel + "\ndependencies:\n" + "".join(f"  - {s}\n" for s in specs)
