# Generated from qiboconnection/_async/__init__.py by scripts/unasync.py: edit that file, not this one.
"""The synchronous sessions and their drivers: the source from which ``qiboconnection._sync`` is generated
(``scripts/unasync.py``)."""
