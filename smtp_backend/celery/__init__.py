"""Send through Celery workers: batches queued as JSON, each message delivered once.

Install ``smtp-backend[celery]``. The producer (a web process) queues::

    from smtp_backend.celery import enqueue
    batches = enqueue(messages, batch_size=100)      # Envelope or email.message.Message
    results = batches[0].get(timeout=60)             # one JSON dict per message

The worker imports this module (``app.conf.imports = ["smtp_backend.celery"]``) and
configures the Mailer with ``app.conf.smtp_backend_url = "smtp+starttls://..."``
(else ``$SMTP_BACKEND_URL``); see :class:`WorkerSettings` for the other keys. Each
worker process keeps one Mailer, made after the fork and closed at its shutdown.

What is promised, given a Redis that keeps its keys (the ledger; the broker's own
Redis by default) and the task's ``acks_late``:

- Each message is sent at most once per key, across redeliveries (a worker killed
  mid-batch, a visibility timeout passed) and retries: before a step of
  ``smtp_backend_step`` messages is sent, its keys are claimed in Redis atomically;
  after, their results are recorded. A redelivered batch reports the recorded
  results and sends only the messages no delivery has claimed.
- A worker that dies *between* steps loses nothing: the redelivery sends the rest,
  so every message arrives exactly once. One that dies *during* a step leaves that
  step's messages (at most ``step`` per process) claimed but unrecorded: the
  redelivery reports them UNKNOWN (each may or may not have arrived) and never
  resends them, as the Mailer never resends an unknown message.
- Temporary failures (4xx; connection lost before the data) are retried by
  ``Task.retry`` with exponential backoff, at most ``smtp_backend_max_retries``
  times, sending only those messages; permanent failures are final at once.
- ``smtp_backend_rate_limit`` is one token bucket in Redis for every worker.
- If the ledger's keys are lost (Redis flushed, no persistence), a redelivered
  batch is sent again: at least once, not exactly once.
- With a Redis broker, ``visibility_timeout`` must exceed the longest a task waits
  reserved plus runs, retry countdowns included; when it does not, Redis hands the
  batch to a second worker while the first still runs: nothing is sent twice, but
  that copy may report UNKNOWN what the first one is sending.
- A batch Celery never delivered cannot be redelivered: kombu's Redis transport
  takes a message off the queue (``BRPOP``) before it records it as unacknowledged,
  so a worker killed in between (just after it finished a task) loses the batch it
  was taking: nothing of it is sent, its result never comes (celery/kombu#305). Wait
  for results with a timeout; queueing the same payloads again (keep them, from
  :func:`message_payload`) is safe: the ledger sends only what no delivery claimed.
"""

from .batch import BatchOutcome, BatchSender
from .ledger import Ledger, Owner
from .payload import (
    DeliveryInterrupted,
    envelope_from_payload,
    message_payload,
    result_to_dict,
)
from .redis_bucket import RedisTokenBucket
from .task import TASK_NAME, QueuedBatch, batch_sent, enqueue, send_batch
from .worker import WorkerSettings, close_worker_context, worker_context

__all__ = [
    "TASK_NAME",
    "BatchOutcome",
    "BatchSender",
    "DeliveryInterrupted",
    "Ledger",
    "Owner",
    "QueuedBatch",
    "RedisTokenBucket",
    "WorkerSettings",
    "batch_sent",
    "close_worker_context",
    "enqueue",
    "envelope_from_payload",
    "message_payload",
    "result_to_dict",
    "send_batch",
    "worker_context",
]
