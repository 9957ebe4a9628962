"""moto_server for the benchmark, with moto's clock made cheap.

moto 5.2.5 recomputes a queue's approximate counters on every SendMessage and ReceiveMessage by walking every
message and reading the time for each through a datetime-based helper. That makes filling a queue quadratic:
1,000 messages took 25 s to send on a 2-core machine, which is moto's cost, not SQS's and not the bot's.
Here the helper reads time.time() instead: the same value (seconds since the epoch, as a float), about ten
times cheaper. Nothing else changes. The tests use the stock moto_server.
"""

import sys
import time

import moto.core.utils as utils
import moto.sqs.models as sqs_models

_datetime_unix_time = utils.unix_time


def unix_time(dt=None):
    return time.time() if dt is None else _datetime_unix_time(dt)


utils.unix_time = unix_time
sqs_models.unix_time = unix_time

from moto.server import main  # noqa: E402  (after the patch, so every import sees it)

sys.exit(main())
