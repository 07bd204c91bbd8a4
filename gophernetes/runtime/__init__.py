"""The native engine's parts: what to run (spec), the container's init side (init), and
the parent side that creates, watches and cleans up a container (launcher)."""
