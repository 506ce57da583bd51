"""The asynchronous sessions and their drivers: the source from which ``qiboconnection._sync`` is generated
(``scripts/unasync.py``)."""
