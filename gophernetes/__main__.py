"""`python -m gophernetes` is the same as the `gophernetes` command."""

from gophernetes.cli import main

main()
