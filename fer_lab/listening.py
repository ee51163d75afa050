"""Check that a server can listen on host:port before it starts, so a busy or invalid port is one clear message."""

from __future__ import annotations

import errno
import socket

from fer_lab.errors import FerLabError


def check_port(host: str, port: int) -> None:
    """Fail early, with the fix, when the address cannot be listened on."""
    if not 0 < port < 65536:
        raise FerLabError(f"--port {port}: a port is a number from 1 to 65535")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise FerLabError(f"--host {host}: unknown address ({err.strerror})") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise FerLabError(f"port {port} on {host} is in use (another app?): pass --port {port + 1}") from None
            raise FerLabError(f"cannot listen on {host}:{port}: {err.strerror}") from None
