"""The `ragline` command line (entry point `ragline.serving.cli.app:main`): one module per
command or command group; the work they call is in `ragline.serving.services`."""
