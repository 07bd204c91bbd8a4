"""The engines: native (made by hand here) and containerd (a real daemon), one class each."""
