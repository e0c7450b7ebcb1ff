"""``python -m streams.launcher up|down|status|fetch``: the broker launcher without the full CLI (for CI)."""

from streams.launcher.cli import app

if __name__ == "__main__":
    app(prog_name="python -m streams.launcher")
