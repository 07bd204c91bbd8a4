"""The kernel, one concept per module, in the order the labs meet them.

syscalls.py (the raw calls, each explained), namespaces.py, mounts.py, devices.py,
capabilities.py, cgroups/ (v1 and v2 behind one interface).
"""
