"""Import path kept from the released client: ``from qiboconnection.connection import ConnectionConfiguration``."""

from qiboconnection.typings.connection import ConnectionConfiguration

__all__ = ["ConnectionConfiguration"]
