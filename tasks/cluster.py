"""Where a drill's cells run: the `--dask` address, parsed and probed before anything heavy starts."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from labelguard.errors import BadInput, ServiceUnreachable

LOCAL = "local"
DEFAULT_PORT = 8786  # `dask scheduler`'s default
SCHEMES = ("tcp", "tls", "ws", "wss")


def parse_dask_address(value: str) -> str:
    """Normalize a ``--dask`` value: ``local``, or a scheduler address such as ``tcp://host:8786``.

    ``host:port`` and a bare ``host`` (port 8786, the default of ``dask scheduler``) mean TCP.

    Parameters
    ----------
    value
        What the user passed to ``--dask``.

    Returns
    -------
    str
        ``"local"``, or ``scheme://host:port``.

    Raises
    ------
    BadInput
        The value is empty or does not parse as a scheduler address (unknown scheme, no host, a
        port that is not a number in 1..65535, a path or spaces).
    """
    text = (value or "").strip()
    if text.lower() == LOCAL:
        return LOCAL
    fix = "pass --dask local, or a scheduler address such as tcp://127.0.0.1:8786"
    if not text or any(ch.isspace() for ch in text):
        raise BadInput(f"--dask {value!r} is not a Dask scheduler address", fix)
    candidate = text if "://" in text else f"tcp://{text}"
    parts = urlsplit(candidate)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme not in SCHEMES or not parts.hostname or parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or port == -1:
        raise BadInput(f"--dask {value!r} is not a Dask scheduler address", fix)
    port = DEFAULT_PORT if port is None else port
    if not 0 < port < 65536:
        raise BadInput(f"--dask {value!r} is not a Dask scheduler address", fix)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


def check_dask_scheduler(address: str, *, timeout: float = 10.0) -> int:
    """Check that a Dask scheduler answers at ``address`` and has workers; return how many.

    A plain TCP connection first (a refused port fails at once), then a Dask client asks the
    scheduler for its workers, waiting up to ``timeout`` seconds for the first to join.

    Parameters
    ----------
    address
        ``scheme://host:port`` from :func:`parse_dask_address` (not ``local``).
    timeout
        Seconds to wait for the connection and for a worker.

    Returns
    -------
    int
        The number of workers the scheduler knows.

    Raises
    ------
    ServiceUnreachable
        Nothing answers at the address, it is not a Dask scheduler, or it has no workers.
    """
    parts = urlsplit(address)
    fix = f"start one with 'dask scheduler --port {parts.port}' and 'dask worker {address}', or pass --dask local"
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=min(timeout, 5.0)):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ServiceUnreachable(f"no Dask scheduler answers at {address} ({reason.lower()})", fix) from None
    import distributed

    try:
        with distributed.Client(address, timeout=timeout, set_as_default=False) as client:
            try:
                client.wait_for_workers(1, timeout=timeout)
            except (TimeoutError, OSError):
                raise ServiceUnreachable(f"the Dask scheduler at {address} has no workers", f"start one: dask worker {address}") from None
            return len(client.scheduler_info(n_workers=-1)["workers"])
    except ServiceUnreachable:
        raise
    except (OSError, TimeoutError, ValueError) as exc:
        raise ServiceUnreachable(f"no Dask scheduler answers at {address} ({type(exc).__name__})", fix) from None
