"""Which Prefect API a flow command talks to, checked before Prefect is imported.

Order: ``PREFECT_API_URL`` when set (checked with one health request: a dead URL is a one-line
error, not a 133-line traceback); else a server started by ``labelguard server`` for this project
(``.labelguard/server.json`` under the current directory, or ``$LABELGUARD_HOME``), reused while it
answers; else Prefect's ephemeral API (slow to start, no scheduler).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from labelguard.errors import BadInput, ServiceUnreachable

HOME_ENV = "LABELGUARD_HOME"
STATE_FILE = "server.json"
HEALTH_TIMEOUT_S = 3.0


def labelguard_home() -> Path:
    """Project state (a local Prefect server's database and address): ``$LABELGUARD_HOME`` or ``./.labelguard``."""
    return Path(os.environ.get(HOME_ENV) or Path.cwd() / ".labelguard")


def healthy(api_url: str, timeout: float = HEALTH_TIMEOUT_S) -> bool:
    """One ``GET {api_url}/health``: True when the Prefect API answers 200."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(api_url.rstrip("/") + "/health", timeout=timeout) as resp:  # noqa: S310 - a URL the user configured
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def recorded_server() -> str | None:
    """The API URL of this project's ``labelguard server``, when its state file exists and it answers."""
    state = labelguard_home() / STATE_FILE
    try:
        url = json.loads(state.read_text())["api_url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if healthy(url) else None


def resolve_prefect_api(*, needs_server: bool = False) -> str | None:
    """Set ``PREFECT_API_URL`` for this process before Prefect is imported; returns it (None = ephemeral).

    ``needs_server``: the command cannot run on a temporary API (`watch`, `alert`), so the fix for a server that does not
    answer is to start it, not to unset the variable — which only led to "scheduled runs need a Prefect server" (break-it r15 F7).

    Raises
    ------
    ServiceUnreachable
        ``PREFECT_API_URL`` is set but does not answer.
    """
    start = "start it (`labelguard server` or `prefect server start`)"
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        if not healthy(configured):
            raise ServiceUnreachable(
                f"the Prefect API at {configured} does not answer",
                f"{start}, or point PREFECT_API_URL at a running one" if needs_server else f"{start}, or unset PREFECT_API_URL to run on a temporary local API",
            )
        return configured
    url = recorded_server()
    if url:
        os.environ["PREFECT_API_URL"] = url
        return url
    # Set where Prefect itself reads it (`prefect config set`, a `.env` file): Prefect's client would use it, so a check
    # that looked at the environment alone called a configured server "none" and a dead one an unexpected RuntimeError.
    url, where = prefect_settings_api_url()
    if url:
        if not healthy(url):
            raise ServiceUnreachable(
                f"the Prefect API at {url} (PREFECT_API_URL in {where}) does not answer",
                f"{start}, or set PREFECT_API_URL in {where} to a running one" if needs_server else f"{start}, or remove PREFECT_API_URL from {where} to run on a temporary local API",
            )
        os.environ["PREFECT_API_URL"] = url
    return url


def prefect_settings_api_url() -> tuple[str | None, str]:
    """``PREFECT_API_URL`` as Prefect 3 reads it beside the environment, without importing Prefect: a ``.env`` file in
    the current folder, ``prefect.toml`` (``[api] url``), ``pyproject.toml`` (``[tool.prefect.api] url``), then the
    active profile of ``profiles.toml`` (``PREFECT_PROFILES_PATH``, else ``$PREFECT_HOME``, else ``~/.prefect``;
    ``PREFECT_PROFILE``, else the file's ``active``). Returns the URL (None when none is set) and where it is set."""
    import tomllib

    def toml(path: Path) -> dict:
        try:
            return tomllib.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def dig(data: dict, *keys: str):
        for key in keys:
            data = data.get(key) if isinstance(data, dict) else None
        return data if isinstance(data, str) and data else None

    dotenv_values: dict = {}
    if Path(".env").is_file():
        try:
            from dotenv import dotenv_values as _read

            dotenv_values = {k: v for k, v in _read(".env").items() if v}
        except (ImportError, OSError, ValueError):
            dotenv_values = {}
    if dotenv_values.get("PREFECT_API_URL"):
        return dotenv_values["PREFECT_API_URL"], str(Path(".env").resolve())
    for name, keys in (("prefect.toml", ("api", "url")), ("pyproject.toml", ("tool", "prefect", "api", "url"))):
        url = dig(toml(Path(name)), *keys)
        if url:
            return url, str(Path(name).resolve())
    profiles = (os.environ.get("PREFECT_PROFILES_PATH") or dotenv_values.get("PREFECT_PROFILES_PATH")
                or dig(toml(Path("prefect.toml")), "profiles_path") or dig(toml(Path("pyproject.toml")), "tool", "prefect", "profiles_path"))
    path = Path(profiles) if profiles else Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect") / "profiles.toml"
    data = toml(path.expanduser())
    active = os.environ.get("PREFECT_PROFILE") or data.get("active")
    url = dig(data, "profiles", str(active), "PREFECT_API_URL") if active else None
    return (url, f"Prefect profile '{active}' ({path})") if url else (None, "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_server(port: int | None = None, *, ui: bool = True, startup_timeout: float = 180.0, on_ready=None) -> int:
    """Start ``prefect server start`` on 127.0.0.1 with its database under :func:`labelguard_home`,
    record its address for other commands, and wait until it exits (Ctrl-C stops it).

    Returns the server's exit code.

    Raises
    ------
    BadInput
        A labelguard server for this project already answers, or the port is taken.
    ServiceUnreachable
        The server did not become healthy within ``startup_timeout`` seconds.
    """
    home = labelguard_home()
    running = recorded_server()
    if running:
        raise BadInput(f"a labelguard Prefect server already runs for this project at {running}", "use it (flow commands find it by themselves), or stop it first")
    port = port or free_port()
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise BadInput(f"port {port} on 127.0.0.1 is taken", "pass another --port")
    prefect_home = home / "prefect"
    prefect_home.mkdir(parents=True, exist_ok=True)
    api_url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_API_URL": api_url,
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    if not ui:
        cmd.append("--no-ui")
    log = open(home / "server.log", "ab")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    import signal

    def _stop(signum, frame):  # SIGTERM stops the server we started too, not only this process
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    state = home / STATE_FILE
    try:
        deadline = time.monotonic() + startup_timeout
        while not healthy(api_url, timeout=1.0):
            if proc.poll() is not None:
                raise ServiceUnreachable(f"prefect server exited with code {proc.returncode} while starting", f"see {home / 'server.log'}")
            if time.monotonic() > deadline:
                raise ServiceUnreachable(f"prefect server did not answer within {startup_timeout:.0f} s", f"see {home / 'server.log'}")
            time.sleep(0.5)
        state.write_text(json.dumps({"api_url": api_url, "pid": proc.pid, "prefect_home": str(prefect_home)}))
        if on_ready:
            on_ready(api_url, prefect_home)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        state.unlink(missing_ok=True)
        log.close()


def start_detached_api(startup_timeout: float = 180.0) -> str:
    """Start Prefect's ephemeral API server (the command Prefect runs) in its own session, before
    Prefect is imported; set ``PREFECT_API_URL`` for this process and stop the server at exit.

    For commands that run worker processes and can be Ctrl-C'd (``drill``): a terminal's Ctrl-C
    signals the whole foreground process group, and Prefect's own ephemeral server, started in that
    group, shuts down under a drill that is finishing its cells; worker processes and threads
    without Prefect's settings context find the API through the environment instead of each
    starting another server.

    Returns
    -------
    str
        The API URL.

    Raises
    ------
    ServiceUnreachable
        The server did not answer within ``startup_timeout`` seconds.
    """
    import atexit
    import importlib.util

    port = free_port()
    prefect_dir = Path(importlib.util.find_spec("prefect").origin).parent
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    cmd = [sys.executable, "-m", "uvicorn", "--app-dir", str(prefect_dir.parent), "--factory", "prefect.server.api.server:create_app",
           "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, start_new_session=True)

    def stop() -> None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    atexit.register(stop)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + startup_timeout
    while not healthy(url, timeout=1.0):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop()
            raise ServiceUnreachable(f"Prefect's temporary API did not start on 127.0.0.1:{port}", "start one with `labelguard server` and rerun")
        time.sleep(0.2)
    os.environ["PREFECT_API_URL"] = url
    return url
