"""Contains all the data models used in inputs/outputs"""

from .access_token_response import AccessTokenResponse
from .authorisation_request import AuthorisationRequest
from .calibration import Calibration
from .calibration_input import CalibrationInput
from .calibration_page import CalibrationPage
from .device import Device
from .device_dynamic_features_type_0 import DeviceDynamicFeaturesType0
from .device_page import DevicePage
from .device_static_features_type_0 import DeviceStaticFeaturesType0
from .device_status_update import DeviceStatusUpdate
from .device_status_update_status import DeviceStatusUpdateStatus
from .job import Job
from .job_cancel import JobCancel
from .job_created import JobCreated
from .job_page import JobPage
from .job_submission import JobSubmission
from .job_submission_job_type import JobSubmissionJobType
from .job_summary import JobSummary
from .page import Page
from .page_links import PageLinks
from .problem import Problem
from .refresh_request import RefreshRequest
from .runcard import Runcard
from .runcard_input import RuncardInput
from .runcard_page import RuncardPage
from .user import User

__all__ = (
    "AccessTokenResponse",
    "AuthorisationRequest",
    "Calibration",
    "CalibrationInput",
    "CalibrationPage",
    "Device",
    "DeviceDynamicFeaturesType0",
    "DevicePage",
    "DeviceStaticFeaturesType0",
    "DeviceStatusUpdate",
    "DeviceStatusUpdateStatus",
    "Job",
    "JobCancel",
    "JobCreated",
    "JobPage",
    "JobSubmission",
    "JobSubmissionJobType",
    "JobSummary",
    "Page",
    "PageLinks",
    "Problem",
    "RefreshRequest",
    "Runcard",
    "RuncardInput",
    "RuncardPage",
    "User",
)
