"""Two tiers of tests (see tests/unit/ and tests/system/).

- tests/unit: pure logic, no root, no external tools, seconds: `python3 -m pytest tests/unit`
  runs on any laptop.
- tests/system: the real kernel (namespaces, cgroups, mounts as root), a real registry,
  containerd, podman and VMs. Each test that lacks root or a tool skips with the reason.

This file holds nothing a test needs; it only marks the top of the tree so that
`tests/support.py` is importable as `support` from both tiers.
"""
