"""The local QaaS server: the protocol of openapi.yaml over SQLite, real tokens and qibo's simulator.

Import :func:`create_app` or :func:`run_server` from their modules
(``qiboconnection.server.app``, ``qiboconnection.server.runner``); this package stays light.
"""

from qiboconnection.server.config import ServerConfig, UserSpec

__all__ = ["ServerConfig", "UserSpec"]
