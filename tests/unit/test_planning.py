"""auth0_webhooks.planning: deliveries, their checkpoints, and units of mapped tasks.

Spec: original-extension.md ("move the checkpoint past filtered-out logs too"; SEND_AS_BATCH),
auth0-logs-api.md (the checkpoint is a log_id; ids are compared in API order).
"""

from __future__ import annotations

import copy
import json
import random

import pytest

from auth0_webhooks.planning import Planner, split_into_units
from auth0_webhooks.protocol import Checkpoint, Delivery, Plan, Unit

from .fakes import plan_deliveries



def make_logs(count: int, start: int = 1, types: str | None = None) -> list[dict]:
    """Logs with ids 'L0001'... in id order; `types` gives one letter per log (k = kept, d = dropped)."""
    logs = []
    for offset in range(count):
        number = start + offset
        kind = types[offset] if types else "k"
        logs.append({"log_id": f"L{number:04d}", "date": f"2026-01-01T00:00:{number % 60:02d}.000Z", "type": kind})
    return logs


def keep_k(log) -> bool:
    return log.get("type") == "k"


def keep_all(log) -> bool:
    return True


def ids(delivery: Delivery) -> list[str]:
    return [log["log_id"] for log in delivery.logs]


def at(log: dict) -> Checkpoint:
    """The position of `log`."""
    return Checkpoint(log["log_id"], log["date"])


def through_xcom(plan: Plan) -> Plan:
    """A plan as read_more reads it from read_logs' hand-over."""
    return Plan.from_xcom(json.loads(json.dumps(plan.to_xcom())))


# ---------------------------------------------------------------- deliveries


@pytest.mark.parametrize("count, size", [(1, 100), (99, 100), (100, 100), (101, 100), (250, 100), (7, 3), (10, 1)])
def test_batches_never_exceed_batch_size_and_carry_every_kept_log_once_in_order(count, size):
    logs = make_logs(count)
    plan = plan_deliveries(logs, keep_all, size, True)
    assert all(1 <= len(d.logs) <= size for d in plan.deliveries)
    assert [log for d in plan.deliveries for log in d.logs] == logs
    # Only the last one may be short.
    assert all(len(d.logs) == size for d in plan.deliveries[:-1])
    assert len(plan.deliveries) == -(-count // size)
    assert plan.logs_read == plan.logs_kept == count


def test_one_log_per_delivery_when_not_sending_as_batch():
    logs = make_logs(5)
    plan = plan_deliveries(logs, keep_all, 100, False)
    assert [ids(d) for d in plan.deliveries] == [[log["log_id"]] for log in logs]
    assert [d.checkpoint for d in plan.deliveries] == [at(log) for log in logs]


def test_each_checkpoint_is_its_last_log_when_nothing_is_filtered():
    plan = plan_deliveries(make_logs(5), keep_all, 2, True)
    assert [(ids(d), d.checkpoint.log_id) for d in plan.deliveries] == [
        (["L0001", "L0002"], "L0002"),
        (["L0003", "L0004"], "L0004"),
        (["L0005"], "L0005"),
    ]
    assert plan.lead is None


def test_checkpoint_extends_over_following_filtered_out_logs():
    #            1 2 3 4 5 6 7 8 9
    logs = make_logs(9, types="kkddkdkdd")
    plan = plan_deliveries(logs, keep_k, 2, True)
    assert [ids(d) for d in plan.deliveries] == [["L0001", "L0002"], ["L0005", "L0007"]]
    # The first delivery passes over L0003, L0004 (dropped, before the next kept log).
    assert plan.deliveries[0].checkpoint == Checkpoint("L0004", logs[3]["date"])
    # The last delivery passes over the trailing dropped logs: the run's last log.
    assert plan.deliveries[1].checkpoint == Checkpoint("L0009", logs[8]["date"])
    assert plan.lead is None
    assert (plan.logs_read, plan.logs_kept) == (9, 4)
    assert plan.last == Checkpoint("L0009", logs[8]["date"])


def test_checkpoint_never_passes_the_first_log_of_the_next_delivery():
    logs = make_logs(12, types="kdkdkdkdkdkd")
    plan = plan_deliveries(logs, keep_k, 1, True)
    position = {log["log_id"]: index for index, log in enumerate(logs)}
    for current, following in zip(plan.deliveries, plan.deliveries[1:]):
        assert position[current.checkpoint.log_id] == position[following.logs[0]["log_id"]] - 1


def test_lead_checkpoint_covers_dropped_logs_before_the_first_kept_one():
    logs = make_logs(5, types="dddkk")
    plan = plan_deliveries(logs, keep_k, 100, True)
    assert plan.lead == Checkpoint("L0003", logs[2]["date"])
    assert [ids(d) for d in plan.deliveries] == [["L0004", "L0005"]]


def test_everything_filtered_out_moves_only_the_lead_checkpoint():
    logs = make_logs(4, types="dddd")
    plan = plan_deliveries(logs, keep_k, 100, True)
    assert plan.deliveries == []
    assert plan.lead == plan.last == Checkpoint("L0004", logs[3]["date"])
    assert (plan.logs_read, plan.logs_kept) == (4, 0)


def test_no_logs_gives_an_empty_plan():
    assert plan_deliveries([], keep_all, 100, True) == Plan()


def test_numeric_log_ids_become_strings():
    plan = plan_deliveries([{"log_id": 900123, "type": "k"}], keep_all, 10, True)
    assert plan.deliveries[0].checkpoint == Checkpoint("900123", None)


@pytest.mark.parametrize("send_as_batch", [True, False])
def test_planner_over_several_pages_equals_plan_over_all(send_as_batch):
    types = "kkdkdddkkkkdkdkkkdddkkkkkkkdk" * 3
    logs = make_logs(len(types), types=types)
    whole = plan_deliveries(logs, keep_k, 4, send_as_batch)
    for cut in ([], [1], [3, 10], [5, 6, 7, 40, 80]):
        planner = Planner(keep_k, 4, send_as_batch)
        bounds = [0, *cut, len(logs)]
        for start, end in zip(bounds, bounds[1:]):
            planner.add(logs[start:end])
        assert planner.plan == whole, cut


def test_planner_pages_starting_with_dropped_logs():
    logs = make_logs(6, types="ddkddk")
    planner = Planner(keep_k, 10, True)
    planner.add(logs[:2])
    assert planner.plan.lead == at(logs[1]) and planner.plan.deliveries == []
    planner.add(logs[2:])
    assert planner.plan.lead == at(logs[1])
    assert planner.plan.deliveries[0].checkpoint == at(logs[5])


def test_to_xcom_is_plain_data():
    delivery = plan_deliveries(make_logs(2), keep_all, 10, True).deliveries[0]
    assert delivery.to_xcom() == {"logs": make_logs(2),
                                  "checkpoint": {"log_id": "L0002", "date": make_logs(2)[1]["date"]}, "skipped": []}
    assert json.loads(json.dumps(delivery.to_xcom())) == delivery.to_xcom()


# ---------------------------------------------------------------- units


def deliveries_of(sizes: list[int]) -> list[Delivery]:
    result, start = [], 1
    for size in sizes:
        logs = make_logs(size, start=start)
        result.append(Delivery(logs, Checkpoint(logs[-1]["log_id"])))
        start += size
    return result


def test_no_deliveries_no_units():
    assert split_into_units([], logs_per_unit=100, min_units=5) == []


@pytest.mark.parametrize("count", [1, 2, 3, 5, 7, 10, 13, 50, 101])
@pytest.mark.parametrize("min_units", [1, 2, 5, 8])
@pytest.mark.parametrize("logs_per_unit", [1, 100, 250, 1000, 100_000])
def test_units_keep_order_and_contiguity_and_are_never_empty(count, min_units, logs_per_unit):
    deliveries = deliveries_of([100] * (count - 1) + [37])
    units = split_into_units(deliveries, logs_per_unit=logs_per_unit, min_units=min_units)
    assert [d for unit in units for d in unit] == deliveries  # order, contiguity, nothing lost
    assert all(unit for unit in units)
    # At least min_units when there are enough deliveries to share.
    assert len(units) >= min(min_units, count)
    # No unit holds much more than logs_per_unit: at most one delivery over.
    for unit in units:
        assert sum(len(d.logs) for d in unit) <= max(logs_per_unit, 100) + 100


def test_units_roughly_logs_per_unit_each():
    deliveries = deliveries_of([100] * 100)  # 10,000 logs
    units = split_into_units(deliveries, logs_per_unit=1000, min_units=5)
    assert len(units) == 10
    assert [sum(len(d.logs) for d in unit) for unit in units] == [1000] * 10


def test_min_units_wins_over_logs_per_unit_when_there_is_little():
    deliveries = deliveries_of([100] * 10)
    units = split_into_units(deliveries, logs_per_unit=10_000, min_units=5)
    assert [len(unit) for unit in units] == [2, 2, 2, 2, 2]


def test_fewer_deliveries_than_min_units_gives_one_unit_each():
    deliveries = deliveries_of([100, 100, 3])
    units = split_into_units(deliveries, logs_per_unit=1000, min_units=5)
    assert units == [[deliveries[0]], [deliveries[1]], [deliveries[2]]]


def test_unit_label_shows_first_and_last_log_id_and_count():
    deliveries = deliveries_of([2, 3])
    assert Unit(0, deliveries).summary("read_logs").label == "L0001..L0005 (5 logs)"
    assert Unit(0, deliveries[:1]).summary("read_logs").label == "L0001..L0002 (2 logs)"
    only_dropped = Unit(0, [Delivery([], Checkpoint("L0009"))])  # read_units: carries the checkpoint past them
    assert only_dropped.summary("read_logs").label == "no logs to send (all filtered out)"


# ---------------------------------------------------------------- streaming: units cut while reading


def pages_of(logs: list[dict], rng: random.Random) -> list[list[dict]]:
    """The logs in pages of random sizes (some empty), in order."""
    pages, start = [], 0
    while start < len(logs):
        size = rng.choice([0, 1, 2, 3, 5, 8, 13])
        pages.append(logs[start:start + size])
        start += size
    return pages


def random_logs(rng: random.Random, count: int) -> list[dict]:
    return make_logs(count, types="".join(rng.choice("kkd" if rng.random() < 0.5 else "kddd") for _ in range(count)))


def flat(units: list[list[Delivery]]) -> list[Delivery]:
    return [delivery for unit in units for delivery in unit]


def test_closed_units_wait_until_the_next_delivery_begins():
    planner = Planner(keep_k, 2, True, deliveries_per_unit=1)
    planner.add(make_logs(2, types="kk"))
    assert planner.closed_units() == []  # its checkpoint may still move over dropped logs
    planner.add(make_logs(2, start=3, types="dd"))
    assert planner.closed_units() == []
    planner.add(make_logs(1, start=5, types="k"))
    units = planner.closed_units()
    assert [[(ids(d), d.checkpoint.log_id) for d in unit] for unit in units] == [[(["L0001", "L0002"], "L0004")]]
    assert [ids(d) for d in planner.plan.deliveries] == [["L0005"]]


def test_closed_units_one_log_per_delivery():
    planner = Planner(keep_k, 10, False, deliveries_per_unit=2)
    planner.add(make_logs(5, types="kdkdd"))
    assert planner.closed_units() == []  # two deliveries, the second still open
    planner.add(make_logs(1, start=6, types="k"))
    assert [[d.checkpoint.log_id for d in unit] for unit in planner.closed_units()] == [["L0002", "L0005"]]


def test_without_a_unit_size_nothing_is_closed_and_closed_rest_keeps_the_last_delivery():
    planner = Planner(keep_all, 2, True)
    planner.add(make_logs(7))
    assert planner.closed_units() == []
    rest = planner.closed_rest()
    assert [ids(d) for d in rest] == [["L0001", "L0002"], ["L0003", "L0004"], ["L0005", "L0006"]]
    assert [ids(d) for d in planner.plan.deliveries] == [["L0007"]]
    assert planner.closed_rest() == [] and len(planner.plan.deliveries) == 1
    empty = Planner(keep_all, 2, True, 1)
    assert empty.closed_rest() == [] and empty.plan.deliveries == []


@pytest.mark.parametrize("send_as_batch", [True, False])
@pytest.mark.parametrize("seed", range(12))
def test_a_closed_unit_never_changes_afterwards(seed, send_as_batch):
    rng = random.Random(seed)
    logs = random_logs(rng, 150)
    whole = plan_deliveries(logs, keep_k, 3, send_as_batch).deliveries
    planner = Planner(keep_k, 3, send_as_batch, deliveries_per_unit=rng.choice([1, 2, 4]))
    closed: list[list[Delivery]] = []
    for page in pages_of(logs, rng):
        planner.add(page)
        closed.extend(copy.deepcopy(planner.closed_units()))  # as published: a copy at that moment
    assert flat(closed) == whole[: len(flat(closed))]  # same logs, same checkpoints as the whole plan


@pytest.mark.parametrize("send_as_batch", [True, False])
@pytest.mark.parametrize("seed", range(12))
def test_units_cut_while_reading_and_handed_over_add_up_to_the_whole_plan(seed, send_as_batch):
    """read_logs: closed units per page, then closed_rest and the plan to XCom; read_more: restore, closed
    units per page, then the final split: the deliveries are those of one plan over all the logs."""
    rng = random.Random(100 + seed)
    logs = random_logs(rng, 200)
    whole = plan_deliveries(logs, keep_k, 4, send_as_batch)
    per_unit = rng.choice([1, 2, 3, 5])
    pages = pages_of(logs, rng)
    cut = rng.randrange(len(pages) + 1)
    first = Planner(keep_k, 4, send_as_batch, per_unit)
    units: list[list[Delivery]] = []
    for page in pages[:cut]:
        first.add(page)
        units.extend(first.closed_units())
    units.append(first.closed_rest())
    more = Planner(keep_k, 4, send_as_batch, per_unit).restore(through_xcom(first.plan))
    assert more.plan == first.plan
    for page in pages[cut:]:
        more.add(page)
        units.extend(more.closed_units())
    units.extend(split_into_units(more.plan.deliveries, logs_per_unit=4 * per_unit, min_units=3))
    assert all(len(unit) <= per_unit for unit in units[:-3])
    assert flat(units) == whole.deliveries
    rest = more.plan
    assert rest.lead == whole.lead
    assert (rest.logs_read, rest.logs_kept, rest.last) == (whole.logs_read, whole.logs_kept, whole.last)


@pytest.mark.parametrize("seed", range(6))
def test_plan_through_xcom_and_restore_mid_stream_give_the_same_plan_as_one_uninterrupted_planner(seed):
    rng = random.Random(200 + seed)
    logs = random_logs(rng, 120)
    pages = pages_of(logs, rng)
    whole = Planner(keep_k, 3, True)
    for page in pages:
        whole.add(page)
    for cut in range(len(pages) + 1):
        planner = Planner(keep_k, 3, True)
        for page in pages[:cut]:
            planner.add(page)
        restored = Planner(keep_k, 3, True).restore(through_xcom(planner.plan))
        for page in pages[cut:]:
            restored.add(page)
        assert restored.plan == whole.plan, cut


def test_a_plan_with_only_dropped_logs_keeps_the_lead_checkpoint():
    planner = Planner(keep_k, 10, True, 1)
    planner.add(make_logs(3, types="ddd"))
    restored = Planner(keep_k, 10, True, 1).restore(through_xcom(planner.plan))
    assert restored.plan.lead == at(make_logs(3)[2]) and restored.plan.deliveries == []
    restored.add(make_logs(2, start=4, types="dk"))
    assert restored.plan.lead == at(make_logs(1, start=4)[0])
    assert [ids(d) for d in restored.plan.deliveries] == [["L0005"]]


def test_delivery_from_xcom_round_trip():
    delivery = Delivery(make_logs(2), Checkpoint("L0002", "2026-01-01T00:00:02.000Z"))
    assert Delivery.from_xcom(json.loads(json.dumps(delivery.to_xcom()))) == delivery
    numeric = Delivery.from_xcom({"logs": [], "checkpoint": {"log_id": 900123}})
    assert numeric == Delivery([], Checkpoint("900123", None))
