"""The local QaaS server: the protocol of openapi.yaml over SQLite, real tokens and qibo's simulator.

Start one with ``qiboconnection serve`` or, in Python, ``qiboconnection.server.runner.run_server``;
``qiboconnection.server.app.create_app`` builds the ASGI application alone. This package stays light:
heavy modules are imported by those entry points only.

Behaviour where the hosted protocol leaves a choice:

- A missing job, and another user's job, answer 404 with the hosted ``detail`` text
  ("Requested job with 'job_id': N, does not exist."); admins see every job.
- Job listings hold the caller's own jobs (admins included), newest first.
- Circuit jobs run on qibo's numpy simulator on any device that is online; ``final_state`` and
  ``final_state_probabilities`` are only in results of ``simulator_device`` devices.
- ``qprogram``, ``annealing_program``, ``vqa`` and ``other`` jobs have no hardware here: they complete
  with the payload echoed back, ``{"job_type", "number_shots", "echo", "note"}`` (plus
  ``init_params`` and ``optimizer_params`` for VQA), in the usual result envelope.
- A repeated ``Idempotency-Key`` from the same user returns the first job; with a different body it
  is refused with 422.
- Failed logins are limited per (username, client address) and, more loosely, per client address
  (429 with ``Retry-After``), so that nobody can lock a user out from elsewhere; a pair that logged in
  before is held to its own limit only. The address is the connection's peer; forwarding headers are
  not trusted. An unknown username costs the same key derivation as a wrong key and gets the same
  answer. The throttle keeps fixed-size digests in bounded tables, and log lines quote at most 64
  characters of a username.
- Jobs run in worker processes (``workers`` at once), taken fairly across users; a job past
  ``job_time_limit`` or ``job_memory_limit`` ends ``error`` saying which, and cancelling or deleting a
  running job ends its process (see :mod:`qiboconnection.server.executor`).
- Cancelling a job that is already final answers 409, also when it is cancelled (as the spec says);
  clients that retried a cancel read the job to tell that case apart.
- Fault injection (``fault_rate`` and friends, ``serve --fault-*``) is off by default; it never
  touches ``GET /status`` but does touch the token endpoints (see :mod:`qiboconnection.server.faults`).
- Request bodies are limited to ``max_body_bytes`` (16 MiB by default, 413) before anything parses
  them; job descriptions may inflate to ``max_decompressed_bytes`` (64 MiB, 413 beyond).
- A circuit payload must be a list of texts starting ``OPENQASM`` (422 otherwise); whether the program
  parses is found when the job runs, which then ends ``error`` with the parser's message, as on the
  hosted service where devices, not the gateway, read programs.
"""

from qiboconnection.server.config import ServerConfig, UserSpec

__all__ = ["ServerConfig", "UserSpec"]
