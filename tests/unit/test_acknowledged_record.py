"""What the webhook acknowledged past a gap is recorded, skipped by the next run, and carried forward.

Issue 12 item 3: a run that fails with a gap (a refused request) records the spans of logs the
webhook acknowledged after it (commit.acknowledged_record, in PipelineState); the next run passes over
them like filtered-out logs (planning.Planner), so that nothing acknowledged is sent twice, and the
checkpoint never passes an unacknowledged log. Pure: plans, units and progress as the tasks make them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Callable

import pytest

from auth0_webhooks.commit import acknowledged_prefix, acknowledged_record
from auth0_webhooks.planning import Planner, split_into_units
from auth0_webhooks.protocol import MAX_ACKNOWLEDGED_SPANS, AcknowledgedSpan, Checkpoint, Handover, Plan, \
    PipelineState, ReadJob, ReadSummary, RunInfo, Unit, UnitProgress

from .test_planning import keep_all, keep_k, make_logs

FILTER = "all event types"


def span(after: int, through: int) -> AcknowledgedSpan:
    return AcknowledgedSpan(f"L{after:04d}", f"L{through:04d}")


# ---------------------------------------------------------------- a run, as the tasks make it


@dataclass
class Run:
    """One run's read, cut into units, with the deliveries the webhook acknowledged."""

    units: list[Unit]
    summary: ReadSummary
    progress: dict[int, UnitProgress]
    sent: list[str] = field(default_factory=list)  # log ids of acknowledged requests

    @property
    def ack(self):  # noqa: ANN201
        return acknowledged_prefix(self.summary.lead, self.summary.units, self.progress)

    def record(self, limit: int = MAX_ACKNOWLEDGED_SPANS):  # noqa: ANN201
        return acknowledged_record(self.summary, self.progress, self.ack, limit)


def run(logs: list[dict], after: str, spans=(), *, acked: Callable[[Unit], int | None] = lambda unit: None,
        keep=keep_all, batch: int = 5, per_unit: int = 2, slots: int = 1, max_logs: int | None = None,
        handover_after: int | None = None, page: int = 7) -> Run:
    """Read the logs after `after` (all, or `max_logs`), skipping `spans`, in pages of `page`; hand the
    plan over (through XCom) after `handover_after` pages; `acked(unit)`: its acknowledged deliveries
    (None: every one; a negative number: its slot never reported)."""
    planner = Planner(keep, batch, True, per_unit, spans)
    planner.begin_after(after)
    position = next((i for i, entry in enumerate(logs) if entry["log_id"] == after), -1)
    rest = logs[position + 1:]
    caught_up = max_logs is None or len(rest) < max_logs
    rest = rest[:max_logs]
    cut: list[list] = []
    for number, start in enumerate(range(0, len(rest), page)):
        if number == handover_after:
            cut.append(planner.plan.deliveries[:-1])  # read_logs' closed_rest, then the hand-over
            del planner.plan.deliveries[:-1]
            plan = Plan.from_xcom(json.loads(json.dumps(planner.plan.to_xcom())))
            planner = Planner(keep, batch, True, per_unit, spans).restore(plan)
        planner.add(rest[start:start + page])
        cut += planner.closed_units()
    cut += split_into_units(planner.plan.deliveries, logs_per_unit=batch * per_unit, min_units=slots)
    units = [Unit(index, deliveries) for index, deliveries in enumerate(d for d in cut if d)]
    plan = planner.plan
    info = RunInfo("r", after, Checkpoint(after), None, None, False, False, FILTER, False, None, tuple(spans))
    summary = ReadSummary(info, tuple(unit.summary("read_logs") for unit in units), len(units), plan.lead, plan.last,
                          plan.logs_read, plan.logs_kept, caught_up, "caught up", True, logs_skipped=plan.logs_skipped,
                          lead_skipped=tuple(plan.lead_skipped), skipping=plan.skipping)
    progress, sent = {}, []
    for unit in units:
        count = acked(unit)
        count = len(unit.deliveries) if count is None else count
        if count >= 0:
            progress[unit.index] = UnitProgress.of(unit, count)
            sent += [entry["log_id"] for delivery in unit.deliveries[:count] for entry in delivery.logs]
    return Run(units, summary, progress, sent)


def refuse(log_id: str) -> Callable[[Unit], int | None]:
    """A webhook that refuses the request carrying `log_id`: its slot acknowledges nothing after it in
    that unit (the slot stops there; other slots go on)."""

    def acked(unit: Unit) -> int | None:
        for position, delivery in enumerate(unit.deliveries):
            if any(entry["log_id"] == log_id for entry in delivery.logs):
                return position
        return None

    return acked


# ---------------------------------------------------------------- the record written at commit


def test_units_past_the_gap_are_recorded_as_spans_of_what_they_acknowledged():
    logs = make_logs(100)  # batch 5, 2 deliveries a unit: units of 10 logs, L0001..L0010, L0011..L0020, ...
    first = run(logs, "L0000", acked=refuse("L0023"))  # unit 2 (L0021..L0030): its first delivery only
    ack = first.ack
    assert ack.checkpoint.log_id == "L0020" and ack.first_incomplete_unit == 2
    recorded = first.record()
    assert recorded.spans == (span(30, 100),)  # units 3.. all acknowledged: touching spans merged
    assert recorded.logs == 70 == ack.logs_acknowledged_after_gap


def test_a_partly_acknowledged_unit_past_the_gap_gives_the_span_of_its_acknowledged_part():
    logs = make_logs(60)
    acked = {2: 0, 3: 1, 4: None, 5: -1}  # unit 5: its slot never reported
    first = run(logs, "L0000", acked=lambda unit: acked.get(unit.index))
    assert first.ack.checkpoint.log_id == "L0020"
    assert first.record().spans == (span(30, 35), span(40, 50))
    assert first.record().logs == 15


def test_a_complete_run_records_nothing():
    first = run(make_logs(40), "L0000")
    assert first.ack.complete and first.record().spans == () and first.record().logs == 0


def test_the_record_is_bounded_dropping_the_last_spans():
    logs = make_logs(200)
    first = run(logs, "L0000", acked=lambda unit: 1 if unit.index >= 2 else None)  # every unit past 1: half
    assert len(first.record().spans) == 17
    bounded = first.record(limit=4)
    assert bounded.spans == first.record().spans[:4] and bounded.logs == 4 * 5


# ---------------------------------------------------------------- the next run skips it


def test_the_next_run_sends_only_what_was_not_acknowledged_and_ends_on_the_last_log():
    logs = make_logs(100)
    first = run(logs, "L0000", acked=refuse("L0023"))
    second = run(logs, first.ack.checkpoint.log_id, first.record().spans)
    assert second.sent == [f"L{n:04d}" for n in range(21, 31)]  # the rest of unit 2, and nothing else
    assert sorted(first.sent + second.sent) == [entry["log_id"] for entry in logs]  # each once
    assert second.summary.logs_skipped == 70 and second.summary.logs_kept == 10
    assert second.ack.complete and second.ack.checkpoint.log_id == "L0100"  # passed over the skipped logs
    assert second.record().spans == ()  # cleared: the checkpoint passed it


def test_a_span_starting_at_the_checkpoint_is_skipped_at_once_and_moves_the_lead():
    logs = make_logs(30)
    second = run(logs, "L0010", [span(10, 20)])
    assert second.sent == [f"L{n:04d}" for n in range(21, 31)]
    assert second.summary.lead == Checkpoint("L0020", logs[19]["date"]) and second.summary.lead_skipped == ("L0010",)
    assert second.record().spans == ()


def test_skipping_goes_on_across_the_hand_over_to_read_more():
    logs = make_logs(60)
    # pages of 7: the hand-over after page 2 (L0014) falls inside the span (L0010, L0030]
    second = run(logs, "L0000", [span(10, 30)], handover_after=2)
    assert second.sent == [f"L{n:04d}" for n in list(range(1, 11)) + list(range(31, 61))]
    assert second.summary.logs_skipped == 20
    assert second.ack.checkpoint.log_id == "L0060" and second.record().spans == ()


def test_the_plan_handed_over_keeps_the_skipping_state():
    planner = Planner(keep_all, 5, True, 2, [span(3, 9)])
    planner.add(make_logs(5))
    plan = planner.plan
    assert plan.skipping == "L0003" and plan.logs_skipped == 2
    job = ReadJob(5, True, (), None, 2, 1, None, 0.0, False, False, "r")
    handed = Handover.from_xcom(json.loads(json.dumps(Handover(job, RunInfo(
        "r", None, None, None, None, False, False, FILTER, False, None, (span(3, 9),)), plan, 0).to_xcom())))
    assert handed.plan == plan and handed.run.acknowledged == (span(3, 9),)
    restored = Planner(keep_all, 5, True, 2, handed.run.acknowledged).restore(handed.plan)
    restored.add(make_logs(6, start=6))
    assert [entry["log_id"] for entry in restored.plan.deliveries[0].logs] == ["L0001", "L0002", "L0003", "L0010",
                                                                              "L0011"]
    assert restored.plan.deliveries[0].skipped == ["L0003"] and restored.plan.skipping is None
    assert Planner(keep_all, 5, True, 2).restore(handed.plan).plan.skipping is None  # no record: send, never skip


def test_a_skipped_span_is_noted_on_the_delivery_that_passes_over_it():
    logs = make_logs(30, types="kkdkkkkkkk" "kkkkkkkkkk" "kkkkkkkkkk")
    second = run(logs, "L0000", [span(4, 12)], keep=keep_k, handover_after=None)
    unit0 = second.units[0]
    assert [entry["log_id"] for entry in unit0.deliveries[0].logs] == ["L0001", "L0002", "L0004", "L0013",
                                                                       "L0014"]
    assert unit0.deliveries[0].skipped == ["L0004"] and unit0.summary("read_logs").skipped == {"L0004": 0}
    assert second.summary.logs_read - second.summary.logs_kept - second.summary.logs_skipped == 1  # L0003


# ---------------------------------------------------------------- carried forward


def test_a_span_whose_delivery_was_not_acknowledged_is_kept_and_a_new_gap_adds_its_own():
    logs = make_logs(100)
    first = run(logs, "L0000", acked=refuse("L0023"))  # record (L0030, L0100]
    # the second run fails again: refused on L0024 (the rest of unit 2 is unit 0 now); L0030's delivery
    # carries the old span past the gap
    second = run(logs, "L0020", first.record().spans, acked=refuse("L0026"))
    assert second.ack.checkpoint.log_id == "L0025"
    assert second.record().spans == (span(30, 100),)  # kept as it was
    third = run(logs, "L0025", second.record().spans)
    assert third.sent == [f"L{n:04d}" for n in range(26, 31)]
    assert sorted(first.sent + second.sent + third.sent) == [entry["log_id"] for entry in logs]


def test_old_spans_not_reached_are_kept_when_the_read_stopped_early_and_dropped_once_it_caught_up():
    logs = make_logs(100)
    old = (span(50, 60), span(70, 80))
    capped = run(logs, "L0040", old, max_logs=25)  # reads L0041..L0065: stops inside the first span
    assert capped.summary.skipping is None and capped.ack.checkpoint.log_id == "L0065"
    assert capped.record().spans == (span(70, 80),)
    inside = run(logs, "L0040", old, max_logs=15)  # reads L0041..L0055: inside (L0050, L0060]
    assert inside.summary.skipping == "L0050" and inside.ack.checkpoint.log_id == "L0055"
    assert inside.record().spans == (span(55, 60), span(70, 80))  # the rest of it, from the new checkpoint
    stopped = run(logs, "L0040", old, max_logs=15, acked=lambda unit: 0)  # nothing acknowledged
    assert stopped.record().spans == old
    behind = run(logs, "L0080", old)  # caught up without meeting them: behind the checkpoint
    assert behind.record().spans == ()


def test_a_read_stopping_inside_an_old_span_past_a_new_gap_keeps_its_rest_touching_the_new_span():
    logs = make_logs(100)
    second = run(logs, "L0000", [span(50, 100)], acked=refuse("L0013"), max_logs=55)  # stops at L0055
    assert second.summary.skipping == "L0050" and second.units[-1].summary("x").checkpoint.log_id == "L0055"
    assert second.ack.checkpoint.log_id == "L0010"
    assert second.record().spans == (span(20, 100),)  # (L0020, L0055] new, (L0055, L0100] the old one's rest


def test_a_new_span_touching_a_kept_old_one_merges_with_it():
    logs = make_logs(100)
    second = run(logs, "L0000", [span(60, 100)], acked=refuse("L0013"))
    assert second.ack.checkpoint.log_id == "L0010"
    assert second.record().spans == (span(20, 100),)


@pytest.mark.parametrize("seed", range(40))
def test_runs_with_random_refusals_never_acknowledge_a_log_twice_nor_pass_one_unacknowledged(seed):
    rng = random.Random(seed)
    types = "".join(rng.choice("kkkd") for _ in range(300))
    logs = make_logs(300, types=types)
    kept = [entry["log_id"] for entry in logs if entry["type"] == "k"]
    checkpoint, spans, sent, failing = "L0000", (), [], rng.randint(2, 5)
    for number in range(failing + 3):
        def acked(unit: Unit) -> int | None:
            if number >= failing or rng.random() < 0.6:
                return None
            return rng.randint(-1, len(unit.deliveries) - 1)

        this = run(logs, checkpoint, spans, acked=acked, keep=keep_k, batch=rng.randint(1, 6),
                   per_unit=rng.randint(1, 3), slots=rng.randint(1, 4), page=rng.randint(3, 50),
                   handover_after=rng.choice([None, 1, 3]), max_logs=rng.choice([None, None, 120]))
        sent += this.sent
        new = this.ack.checkpoint or Checkpoint(checkpoint)
        checkpoint, spans = new.log_id, this.record().spans
        assert len(spans) <= MAX_ACKNOWLEDGED_SPANS
        passed = [log_id for log_id in kept if log_id <= checkpoint]  # test data: ids sort in read order
        assert set(passed) <= set(sent), "the checkpoint passed a log the webhook did not acknowledge"
        assert len(sent) == len(set(sent)), "a log was acknowledged twice"
    assert sorted(sent) == kept and checkpoint == "L0300" and spans == ()


# ---------------------------------------------------------------- stored in the pipeline's state


def test_the_state_keeps_the_record_with_the_checkpoint_and_filter_it_holds_for():
    state = PipelineState(Checkpoint("L0020", "d"), None, "run-1", (span(30, 40), span(50, 60)), "L0020", FILTER)
    value = json.loads(state.to_json())
    assert value["acknowledged_spans"] == [["L0030", "L0040"], ["L0050", "L0060"]]
    assert value["acknowledged_for"] == "L0020" and value["acknowledged_filter"] == FILTER
    again = PipelineState.from_json(state.to_json())
    assert again == state
    assert again.acknowledged_past("L0020", FILTER) == (span(30, 40), span(50, 60))
    assert again.acknowledged_past("L0019", FILTER) == ()  # the checkpoint was edited by hand
    assert again.acknowledged_past("L0020", "types s") == ()  # the filter changed
    assert again.acknowledged_past(None, FILTER) == ()


def test_a_record_written_before_any_checkpoint_holds_while_none_is_set():
    state = PipelineState(None, None, "run-1", (span(30, 40),), None, FILTER)
    again = PipelineState.from_json(state.to_json())
    assert again == state and again.acknowledged_past(None, FILTER) == (span(30, 40),)
    assert again.acknowledged_past("L0001", FILTER) == ()  # a checkpoint was set by hand since


def test_a_state_without_a_record_keeps_its_historical_keys_and_reads_as_none():
    state = PipelineState(Checkpoint("L0020", "d"), None, "run-1")
    assert "acknowledged_spans" not in json.loads(state.to_json())
    assert PipelineState.from_json(state.to_json()).acknowledged == ()
    old = json.dumps({"start_from_applied": None, "written_by_run": "x", "checkpoint": "L1", "checkpoint_date": None})
    assert PipelineState.from_json(old).acknowledged_past("L1", FILTER) == ()


@pytest.mark.parametrize("spans", ["nonsense", [["L1"]], [[1, 2, 3]], 7])
def test_an_unreadable_record_is_no_record(spans):
    text = json.dumps({"checkpoint": "L1", "acknowledged_spans": spans, "acknowledged_for": "L1",
                       "acknowledged_filter": FILTER})
    state = PipelineState.from_json(text)
    assert state.checkpoint == Checkpoint("L1") and state.acknowledged_past("L1", FILTER) == ()


def test_a_stored_record_is_bounded_when_read():
    spans = [[f"A{n}", f"T{n}"] for n in range(MAX_ACKNOWLEDGED_SPANS + 50)]
    text = json.dumps({"checkpoint": "L1", "acknowledged_spans": spans, "acknowledged_for": "L1",
                       "acknowledged_filter": FILTER})
    assert len(PipelineState.from_json(text).acknowledged) == MAX_ACKNOWLEDGED_SPANS
