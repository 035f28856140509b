"""Queue depths on a RabbitMQ broker: a passive `queue_declare` per queue reports its
`message_count` (ready messages, the ones no worker holds yet) without creating or changing
the queue. Short connect, read and write timeouts: a broker that is down costs a scrape
about two seconds, never a hang."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from kombu import Connection

__all__ = ["amqp_queue_depths"]

_TIMEOUT_S = 2.0


def amqp_queue_depths(broker_url: str, queues: Iterable[str]) -> dict[str, int]:
    """Ready messages per queue; a queue no worker has declared yet holds none."""
    import amqp

    out: dict[str, int] = {}
    options = {"read_timeout": _TIMEOUT_S, "write_timeout": _TIMEOUT_S}
    with Connection(broker_url, connect_timeout=_TIMEOUT_S, transport_options=options) as conn:
        conn.ensure_connection(max_retries=1, timeout=_TIMEOUT_S)
        for queue in queues:
            # a passive declare of a missing queue closes the channel: one channel per queue
            channel = conn.channel()
            try:
                _, count, _ = channel.queue_declare(queue=queue, passive=True)
                out[queue] = int(count)
            except amqp.exceptions.NotFound:
                out[queue] = 0
            finally:
                with contextlib.suppress(amqp.exceptions.AMQPError):  # closed by NotFound
                    channel.close()
    return out
