"""Gophernetes: a container runtime made by hand from Linux primitives, to be read."""

__version__ = "0.1.0"
