"""Handles on submitted jobs: ask their status, wait for them, read their result, cancel them.

:meth:`API.submit <qiboconnection.api.API.submit>` returns a :class:`RemoteJob`;
:meth:`AsyncAPI.submit <qiboconnection.async_api.AsyncAPI.submit>` an :class:`AsyncRemoteJob`, whose
methods that talk to the service are coroutines. Both keep the last record fetched.
"""

from qiboconnection._async.remote_job import AsyncRemoteJob
from qiboconnection._sync.remote_job import RemoteJob
from qiboconnection.handles import DEFAULT_INTERVAL

__all__ = ["DEFAULT_INTERVAL", "AsyncRemoteJob", "RemoteJob"]
