"""Import path kept from the released client for :class:`~qiboconnection.models.jobs.JobData`."""

from qiboconnection.models.jobs import JobData

__all__ = ["JobData"]
