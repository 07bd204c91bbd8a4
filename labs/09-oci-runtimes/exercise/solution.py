"""Lab 09 exercise, solved by gophernetes' own code: runtime/default_spec.py (what `gophernetes-runtime spec` writes).

`sudo gophernetes lab check 09 --exercise --solution` runs the exercise's check on this file.
The default's mounts include /dev/pts, /dev/shm, /dev/mqueue and /sys/fs/cgroup too.
"""

from gophernetes.runtime.default_spec import default_spec


def process(args: list[str], env: list[str], cwd: str) -> dict:
    found = default_spec()["process"]
    found.update(terminal=False, args=args, env=[*found["env"], *env], cwd=cwd)
    return found


def namespaces() -> list[dict]:
    return default_spec()["linux"]["namespaces"]


def mounts() -> list[dict]:
    return default_spec()["mounts"]


def make_config(args: list[str], hostname: str, env: list[str] | None = None, cwd: str = "/") -> dict:
    config = default_spec()
    config.update(process=process(args, env or [], cwd), hostname=hostname, mounts=mounts())
    config["linux"]["namespaces"] = namespaces()
    return config
