"""Message headers we add to Celery's task messages (read back by the dead-letter tools)."""

ENQUEUED_AT = "x-ecoeco-enqueued-at"  # epoch seconds of the enqueue, for the latency metric
REASON = "x-ecoeco-reason"  # why a worker dead-lettered the task (retries-exhausted, permanent, …)
ERROR = "x-ecoeco-error"  # the last exception, "Type: message"
ATTEMPTS = "x-ecoeco-attempts"
ORIGINAL_KEY = "x-ecoeco-routing-key"  # where a replay sends it back to
FAILED_AT = "x-ecoeco-failed-at"
REPLAY_OF = "x-ecoeco-replay-of"
OURS = frozenset({REASON, ERROR, ATTEMPTS, ORIGINAL_KEY, FAILED_AT})
