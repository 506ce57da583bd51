from typing import Literal

JobSubmissionJobType = Literal["annealing_program", "circuit", "other", "qprogram", "vqa"]

JOB_SUBMISSION_JOB_TYPE_VALUES: set[JobSubmissionJobType] = {
    "annealing_program",
    "circuit",
    "other",
    "qprogram",
    "vqa",
}


def check_job_submission_job_type(value: str) -> JobSubmissionJobType:
    if value in JOB_SUBMISSION_JOB_TYPE_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {JOB_SUBMISSION_JOB_TYPE_VALUES!r}")
