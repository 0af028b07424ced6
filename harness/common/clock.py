"""Wall-clock time: always UTC, as every timestamp in a results folder is."""

import datetime


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)
