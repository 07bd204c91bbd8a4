"""Lab 06 exercise, solved by gophernetes' own code: gophernetes/image/layers.py.

`sudo gophernetes lab check 06 --exercise --solution` runs the exercise's check on this file.
"""

from pathlib import Path

from gophernetes.image import layers


def unpack_layer(tar_path: str, dest: str) -> None:
    layers.unpack_file(Path(tar_path), Path(dest), label=Path(tar_path).name)
