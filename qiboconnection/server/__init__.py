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
"""

from qiboconnection.server.config import ServerConfig, UserSpec

__all__ = ["ServerConfig", "UserSpec"]
