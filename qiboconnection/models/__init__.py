"""The objects the API returns: devices, jobs, runcards and calibrations."""

from qiboconnection.models.devices import Device, Devices
from qiboconnection.models.jobs import Job, JobData, JobListing, JobListingItem
from qiboconnection.models.runcards import Calibration, Runcard

__all__ = ["Calibration", "Device", "Devices", "Job", "JobData", "JobListing", "JobListingItem", "Runcard"]
