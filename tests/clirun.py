"""The CLI in-process, as the break-it fix tests call it: arguments as strings, stdout and stderr apart."""

from typer.testing import CliRunner

from labelguard.cli import app

runner = CliRunner()


def invoke(*args, env=None):
    return runner.invoke(app, [str(a) for a in args], env=env)
