"""Lab 10 exercise, solved by gophernetes' own code: gophernetes/image/diff.py.

`sudo gophernetes lab check 10 --exercise --solution` runs the exercise's check on this file.
The layer it writes is gzipped, as `gophernetes build` stores it (tarfile reads either).
"""

from pathlib import Path

from gophernetes.image.diff import LayerWriter, diff_upper


def write_layer(upper: str, tar_path: str) -> None:
    writer = LayerWriter(Path(tar_path))
    try:
        diff_upper(Path(upper), writer)
    except BaseException:
        writer.abort()
        raise
    writer.close()
