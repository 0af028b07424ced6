"""Reading mux-micro's Google Benchmark JSON (micro.json): the one reader, shared by the
converter (harness/micro/micro_to_csv.py) and the claims that read every repetition
(plot/claims.py)."""

import json

TO_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def load(path):
    """The JSON document; a run cut short (crash, timeout) leaves the array unterminated, so the
    complete benchmark objects before the cut are recovered rather than losing them all."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        return json.loads(text), False
    except json.JSONDecodeError:
        pass
    cut = len(text)
    while True:
        cut = text.rfind("}", 0, cut)
        if cut < 0:
            raise ValueError(f"{path}: not Google Benchmark JSON (and nothing recoverable)")
        try:
            return json.loads(text[: cut + 1] + "]}"), True
        except json.JSONDecodeError:
            continue


def ns(run, counter):
    if counter in run:
        return float(run[counter])
    if counter == "ns_per_call" and "real_time" in run:
        return float(run["real_time"]) * TO_NS.get(run.get("time_unit", "ns"), 1.0)
    return None
