"""Pack the gophernetes source into a reproducible tar (runs on the Ansible controller).

Same files in, same bytes out: entries sorted, owner root, mtime 0, no __pycache__ or
dot-files. The role copies the tar to the lab host, and `copy` compares checksums, so
the package is reinstalled exactly when the source changed.

usage: pack_source.py SOURCE_DIR OUTPUT.tar ITEM...
"""

import io
import os
import sys
import tarfile


def wanted(name: str) -> bool:
    return not (name.startswith(".") or name == "__pycache__" or name.endswith((".pyc", ".pyo")))


def paths(source: str, item: str):
    top = os.path.join(source, item)
    if os.path.isfile(top):
        yield item
        return
    for folder, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if wanted(d))
        for name in sorted(files):
            if wanted(name):
                yield os.path.relpath(os.path.join(folder, name), source)


def main() -> int:
    source, output, *items = sys.argv[1:]
    members = sorted(p for item in items if os.path.exists(os.path.join(source, item)) for p in paths(source, item))
    if not members:
        print(f"pack_source.py: nothing to pack under {source}", file=sys.stderr)
        return 1
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            with open(os.path.join(source, member), "rb") as f:
                data = f.read()
            info = tarfile.TarInfo(member)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    new = buffer.getvalue()
    try:
        with open(output, "rb") as f:
            if f.read() == new:
                print("unchanged")
                return 0
    except FileNotFoundError:
        pass
    with open(output + ".tmp", "wb") as f:
        f.write(new)
    os.replace(output + ".tmp", output)
    print("written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
