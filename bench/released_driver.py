"""Runs one benchmark step with the released qiboconnection 0.23.2, in its own venv.

Usage: python released_driver.py STEP JSON_ARGS. Prints one JSON object on stdout. The step's
credentials and server come from QIBOCONNECTION_USERNAME, QIBOCONNECTION_API_KEY and
QUANTUM_SERVICE_URL.
"""

import time
from datetime import UTC

from driver_common import bell, get_job, login, peak_rss, run


def submit_wait(args):
    from datetime import datetime, timedelta

    api = login()
    circuit = bell()
    start = time.perf_counter()
    job_ids = [api.execute(circuit, nshots=10, device_id=args["device_id"]) for _ in range(args["count"])]
    deadline = datetime.now(UTC) + timedelta(seconds=args["timeout"])
    # The released client's own wait loop, as execute_and_return_results runs it, with interval=0.
    results = api._wait_and_return_results(deadline=deadline, interval=0, job_ids=job_ids)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "jobs": len(job_ids), "completed": sum(r is not None for r in results)}


def _decoded(job_id, second, counted):
    """Fetch a job and read its final state and its ``second`` table to numpy; ``entries`` counts the
    entries of the ``counted`` tables."""
    import numpy as np

    api = login()
    start = time.perf_counter()
    result = api.get_job(job_id).result[0]
    state = np.array([complex(value) for value in result["final_state"].values()])
    probabilities = np.array(list(result[second].values()))
    seconds = time.perf_counter() - start
    peak = peak_rss()
    entries = [len(result[key]) for key in counted]
    return {
        "seconds": seconds,
        "peak_rss": peak,
        "size": int(state.size + probabilities.size),
        "entries": entries,
    }


def decode(args):
    counted = ("final_state", "final_state_probabilities", "samples")
    return _decoded(args["job_id"], "final_state_probabilities", counted)


def decode_dense(args):
    counted = ("final_state", "final_state_probabilities", "probabilities", "samples")
    return _decoded(args["job_id"], "probabilities", counted)


def list_jobs(args):
    api = login()
    start = time.perf_counter()
    listing = api.list_jobs()
    return {"seconds": time.perf_counter() - start, "jobs": len(listing.dataframe)}


def baseline_rss(args):
    api = login()
    api.ping()
    return {"peak_rss": peak_rss()}


STEPS = {
    "get_job": get_job,
    "submit_wait": submit_wait,
    "decode": decode,
    "decode_dense": decode_dense,
    "list_jobs": list_jobs,
    "baseline_rss": baseline_rss,
}

if __name__ == "__main__":
    run(STEPS)
