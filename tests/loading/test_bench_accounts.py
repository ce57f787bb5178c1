"""The benchmark's accounts scenario (`bench/accounts.py`): its targets judged from a run's figures.
No timing here: the figures are literals, the bounds worked out by hand."""

import pytest
from metricsync.bench import accounts

SMALL = {"accounts": 100, "seconds": 2.0, "cpu_s": 2.0, "requests": 200, "throttled": 0, "peak_rss_mb": 100.0}


def run(**figures) -> dict:
    # 1,000 accounts, 2,000 requests at 20 ms over a cap of 8: the API's bound is 5 s, the target 10.5 s
    return {"accounts": 1000, "requests": 2000, "throttled": 0, "bound_s": 5.0, **figures}


@pytest.mark.parametrize(
    "seconds, cpu_s, rss, verdicts",
    [
        pytest.param(10.4, 25.0, 114.0, ["met", "met", "met"], id="all-within"),
        pytest.param(10.6, 26.0, 116.0, ["**missed**"] * 3, id="each-just-over"),
    ],
)
def test_targets_wall_cpu_per_account_and_flat_memory(seconds, cpu_s, rss, verdicts):
    result = {
        "latency_s": 0.02,
        "parallel": 8,
        "days": 60,
        "runs": [{**SMALL, "bound_s": 0.5}, run(seconds=seconds, cpu_s=cpu_s, peak_rss_mb=rss)],
    }
    lines: list = []
    targets: list = []
    accounts.report(result, lines, targets)
    assert [t.rsplit("|", 2)[-2].strip() for t in targets] == verdicts
    assert "(10.5 s)" in targets[0]
    assert f"| 1000 | {seconds:.1f} | 5.00 | " in "\n".join(lines)


def test_every_account_is_its_own_whop_account():
    class Server:
        url = "http://127.0.0.1:1"

    values = accounts.settings(Server(), 8, 3)["whop"]
    assert values["accounts"] == [
        {"name": "a0000", "account_id": "biz_bench0000"},
        {"name": "a0001", "account_id": "biz_bench0001"},
        {"name": "a0002", "account_id": "biz_bench0002"},
    ]
    assert values["wallet_queries"] == [{"name": "daily_all", "group_by": "day"}] and values["metric_queries"] == []
