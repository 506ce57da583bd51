"""Running a server in a background thread of the current process (tests, demos, benchmarks)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from qiboconnection.server.app import QaasApp, create_app
from qiboconnection.server.config import ServerConfig
from qiboconnection.server.connections import protocol_with_head_deadline

logger = logging.getLogger("qiboconnection.server.runner")


@dataclass
class RunningServer:
    """A server listening on ``url`` with its application object (store, jobs, config)."""

    url: str
    app: QaasApp

    @property
    def config(self) -> ServerConfig:
        return self.app.config


@contextmanager
def run_server(
    config: ServerConfig | None = None, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 30.0
) -> Iterator[RunningServer]:
    """Serve ``config`` with uvicorn on ``host`` (a free port unless given) until the block ends."""
    import uvicorn

    app = create_app(config)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        app.close()
        raise
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(
        # log_config=None: an embedded server leaves the host program's logging configuration alone.
        uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            lifespan="on",
            access_log=False,
            timeout_graceful_shutdown=5,
            http=protocol_with_head_deadline(app.config.request_head_timeout),
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="qaas-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            thread.join(5)
            sock.close()
            app.close()
            raise RuntimeError("the QaaS server did not start")
        time.sleep(0.01)
    if not app.wait_ready(startup_timeout):
        logger.warning("the job workers were not warm within %s s; jobs wait for them", startup_timeout)
    url = f"http://{host}:{bound_port}"
    logger.info("serving on %s", url)
    try:
        yield RunningServer(url=url, app=app)
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        app.close()
