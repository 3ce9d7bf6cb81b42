"""The ``xuncha`` command line: one Typer app, commands registered from ``service.commands``."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="xuncha",
    help="巡查 xuncha：城管中队的热点分析、巡查路线规划和疏导点选址。",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)

COMMAND_MODULES = (
    "service.commands.data",
    "service.commands.roads",
    "service.commands.hotspots",
    "service.commands.forecast",
    "service.commands.routing",
    "service.commands.users",
    "service.commands.boundaries",
    "service.commands.plan",
    "service.commands.siting",
    "service.commands.demo",
    "service.commands.batch",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


if __name__ == "__main__":
    app()
