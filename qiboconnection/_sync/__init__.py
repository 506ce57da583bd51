"""The session classes and their drivers (calls, waits, job handles), one package per kind of I/O.

``qiboconnection/_async`` holds them as coroutines; ``qiboconnection/_sync`` holds the same code as plain
functions, written from the first by ``scripts/unasync.py`` (``make unasync``; ``make lint`` checks that
they agree).
"""

# Written from qiboconnection/_async/__init__.py by scripts/unasync.py: edit that file, not this one.
