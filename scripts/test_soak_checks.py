#!/usr/bin/env python3
"""The soak's checks can fail: each broken history below must be caught by its invariant,
and the clean one must pass. Run by scripts/test-soak.sh before the soak itself."""
import copy
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_checks  # noqa: E402

T0 = 1_800_000_000.0


def clean_history():
    """A tiny run that holds every invariant: 2 global tasks, a keyed, rate-limited and
    workflow task, a task completed in its own transaction on its second attempt, one killed
    attempt recovered in 3 s, one every-5-s schedule firing twice, a task that slept once, a
    parent that waited for its 2 children, and a starter whose first direct start's result
    it awaited (its second one's wait was cut by its end)."""
    run = {
        "duration": 60, "t0": T0, "load_ended": T0 + 60, "pause_at": T0 + 14, "drained_at": T0 + 70,
        "lease": 5.0, "heartbeat": 1.0, "reap": 1.0, "global_limit": 1, "rate_limit": 2, "rate_period": 2.0,
        "key_limit": 1, "fanout": 0, "schedules": {"s5": "*/5 * * * * *"}, "schedule_payloads": {"s5": {}},
        "faults": {"sigkill_worker": 20, "sigkill_starter": 1, "db_restart_fast": 2, "db_restart_immediate": 1, "sigstop_worker": 1,
                   "network_partition": 1, "pg_terminate_backend": 3, "producer_killed_mid_transaction": 1},
        "kills": [{"executor": "w1", "at": T0 + 2.0}], "downtimes": [], "freezes": [], "partitions": [],
        "transactions": [
            {"txn": "p0-1", "outcome": "committed", "enqueues": [
                {"kind": "global", "queue": "soak_global", "key": None, "id": 1},
                {"kind": "global", "queue": "soak_global", "key": "idem-1", "id": 2}]},
            {"txn": "p0-2", "outcome": "committed", "enqueues": [
                {"kind": "idempotent", "queue": "soak_global", "key": "idem-1", "id": 2}]},
            {"txn": "p0-3", "outcome": "rolled_back", "enqueues": [{"kind": "plain", "queue": "soak_plain", "key": None}]},
        ],
        "cancels": [], "monitor_violations": [], "unexpected_exits": [], "not_injected": {}, "seed": 1, "workers": 2, "min_succeeded": 5,
        "scale_steps": [{"replicas": r} for r in (1, 3, 5, 2)],
        "min_direct_results": 1, "waiting_mismatches": [], "waiting_samples": 3,
        "direct_starts": [{"executor": "s1", "ended": T0 + 20, "starts": [
            {"id": 40, "started_here": True, "outcome": "result", "result": {"executor": "s1", "attempt": 1},
             "error": None, "interrupted": 1},
            {"id": 41, "started_here": True, "outcome": None, "result": None, "error": None, "interrupted": 0}]}],
    }

    def task(id_, queue, state="succeeded", attempts=1, executor="w2", kind="plain", key=None, ck=None, txn="p0-1"):
        return {"id": id_, "queue": queue, "key": key, "state": state, "attempts": attempts,
                "result": {"executor": executor, "attempt": attempts}, "concurrency_key": ck, "txn": txn, "kind": kind,
                "started_at": T0 + 5, "finished_at": T0 + 6, "enqueued_at": T0}

    fire_tasks = [task(10 + i, "soak_cron", key=f"schedule:s5:{i}") for i in range(2)]
    sleeper = {**task(20, "soak_plain", attempts=2, kind="sleeper"), "sleeps": 1}
    parent = {**task(30, "soak_plain", attempts=2, kind="parent"), "planned_children": 2}
    parent["result"].update(children=[31, 32], children_succeeded=2, value_sum=3)
    children = [{**task(31 + i, "soak_plain", kind="child"), "parent_id": 30, "finished_at": T0 + 5.5} for i in range(2)]
    for i, child in enumerate(children):
        child["result"]["value"] = i + 1
    direct = [{**task(40 + i, "soak_direct", executor="s1", kind="direct"), "executor": "s1"} for i in range(2)]
    db = {
        "tasks": [task(1, "soak_global", attempts=2), task(2, "soak_global", key="idem-1"),
                  task(3, "soak_keyed", ck="k0"), task(4, "soak_keyed", ck="k1"),
                  task(5, "soak_rate"), task(6, "soak_rate"), task(7, "soak_plain", kind="workflow"),
                  task(9, "soak_plain", kind="complete_in_transaction", attempts=2), sleeper, parent]
                 + children + direct + fire_tasks,
        "attempts": [{"task_id": 1, "attempt": 1, "executor": "w1", "outcome": "lease_expired",
                      "started_at": T0 + 1, "finished_at": T0 + 5.0},
                     {"task_id": 9, "attempt": 1, "executor": "w2", "outcome": "failed",
                      "started_at": T0 + 1, "finished_at": T0 + 1.5},
                     {"task_id": 20, "attempt": 1, "executor": "w2", "outcome": "released",
                      "reason": "released by rota.sleep until ...", "started_at": T0 + 3, "finished_at": T0 + 3.2},
                     {"task_id": 30, "attempt": 1, "executor": "w2", "outcome": "released",
                      "reason": "released by rota.wait_for_children (2 children open)",
                      "started_at": T0 + 4, "finished_at": T0 + 4.1}],
        "fires": [{"schedule": "s5", "fire_at": T0 + 5 * i, "task_id": 10 + i, "fire_text": str(i)} for i in range(2)],
        "effects": [{"task_id": 7, "attempt": 1, "executor": "w2"}],
        "effect_steps": [{"task_id": 7, "attempt": 1}],
        "completions": [{"task_id": 9, "attempt": 2, "executor": "w2"}],
        "wait_steps": [{"task_id": 20, "name": "work-1", "attempt": 1, "until": None},
                       {"task_id": 20, "name": "sleep-1", "attempt": 1, "until": T0 + 3.3}],
    }
    ledger = []

    def ran(task_id, attempt, queue, start, end, executor="w2"):
        ledger.append({"ev": "start", "task": task_id, "attempt": attempt, "queue": queue, "executor": executor, "t": T0 + start})
        if end is not None:
            ledger.append({"ev": "end", "task": task_id, "attempt": attempt, "queue": queue, "executor": executor,
                           "t": T0 + end, "outcome": "ok"})

    ran(1, 1, "soak_global", 1.0, None, executor="w1")   # killed at 2.0
    ran(2, 1, "soak_global", 2.0, 3.0)                    # starts as the kill ends task 1's run
    ran(20, 1, "soak_plain", 3.0, 3.2)                    # ran work-1, then slept until 3.3 s
    ledger.append({"ev": "step", "task": 20, "attempt": 1, "name": "work-1", "executor": "w2", "t": T0 + 3.05})
    ran(20, 2, "soak_plain", 3.4, 3.5)
    ran(1, 2, "soak_global", 5.5, 6.0)
    ran(3, 1, "soak_keyed", 1.0, 2.0)
    ran(4, 1, "soak_keyed", 1.5, 2.5)                     # another key: may overlap
    ran(5, 1, "soak_rate", 1.0, 1.1)
    ran(6, 1, "soak_rate", 1.2, 1.3)
    ran(9, 1, "soak_plain", 1.0, 1.5)                     # failed: its completion rolled back
    ran(9, 2, "soak_plain", 2.0, 2.5)
    ran(7, 1, "soak_plain", 1.0, 2.0)
    return run, db, ledger


def task_of(db, task_id):
    return next(t for t in db["tasks"] if t["id"] == task_id)


def violations(run, db, ledger):
    result = soak_checks.evaluate(run, db, ledger)
    return {i["name"]: i["violations"] for i in result["invariants"] if i["violations"]}, result


class SoakChecksTests(unittest.TestCase):
    def test_clean_history_passes(self):
        found, result = violations(*clean_history())
        self.assertEqual(found, {})
        self.assertFalse(result["failed"], result["missing_from_run"])

    def history(self, change):
        run, db, ledger = copy.deepcopy(clean_history())
        change(run, db, ledger)
        return run, db, ledger

    def broken(self, change):
        return violations(*self.history(change))[0]

    def test_unfinished_task(self):
        self.assertIn("committed_enqueues_final", self.broken(lambda r, d, l: d["tasks"][0].update(state="queued")))

    def test_lost_task(self):
        self.assertIn("committed_enqueues_final", self.broken(lambda r, d, l: d["tasks"].pop(0)))

    def test_rolled_back_task_exists(self):
        self.assertIn("rolled_back_never_ran", self.broken(lambda r, d, l: d["tasks"][4].update(txn="p0-3")))

    def test_uncommitted_task_ran(self):
        self.assertIn("rolled_back_never_ran", self.broken(lambda r, d, l: l.append(
            {"ev": "start", "task": 99, "attempt": 1, "queue": "soak_plain", "executor": "w2", "t": T0 + 3})))

    def test_duplicate_key(self):
        def change(run, db, ledger):
            run["transactions"][1]["enqueues"][0]["id"] = 6
        self.assertIn("idempotent_enqueues_collapsed", self.broken(change))

    def test_stale_completion(self):
        self.assertIn("no_stale_completion", self.broken(lambda r, d, l: d["tasks"][0]["result"].update(attempt=1)))

    def test_effect_of_fenced_attempt(self):
        self.assertIn("transactional_step_exactly_once", self.broken(lambda r, d, l: d["effects"].append(
            {"task_id": 7, "attempt": 2, "executor": "w1"})))

    def test_completion_committed_by_a_fenced_attempt(self):
        self.assertIn("completion_in_transaction_exactly_once", self.broken(lambda r, d, l: d["completions"].append(
            {"task_id": 9, "attempt": 1, "executor": "w1"})))

    def test_completion_row_of_a_task_that_did_not_succeed(self):
        self.assertIn("completion_in_transaction_exactly_once", self.broken(lambda r, d, l: d["tasks"][7].update(
            state="cancelled")))

    def test_succeeded_without_its_completion_row(self):
        self.assertIn("completion_in_transaction_exactly_once", self.broken(lambda r, d, l: d["completions"].clear()))

    def test_attempt_in_two_executors(self):
        self.assertIn("one_executor_per_attempt", self.broken(lambda r, d, l: l.append(
            {"ev": "start", "task": 7, "attempt": 1, "queue": "soak_plain", "executor": "w3", "t": T0 + 1.5})))

    def test_attempt_never_claimed(self):
        self.assertIn("one_executor_per_attempt", self.broken(lambda r, d, l: l[-2].update(attempt=2)))

    def test_global_limit(self):
        self.assertIn("global_limit_held", self.broken(lambda r, d, l: l[1].update(t=T0 + 1.9)))

    def test_global_limit_tie_is_not_an_overlap(self):
        self.assertNotIn("global_limit_held", self.broken(lambda r, d, l: l[1].update(t=T0 + 1.9995)))

    def test_zombie_after_reap_is_not_an_overlap(self):
        def change(run, db, ledger):
            run["kills"] = []  # task 1's attempt 1 ran on (a frozen worker) until 9 s, reaped at 5 s
            ledger.append({"ev": "end", "task": 1, "attempt": 1, "queue": "soak_global", "executor": "w1",
                           "t": T0 + 9, "outcome": "ok"})
            ledger[1]["t"], ledger[2]["t"] = T0 + 6.5, T0 + 7.0
        self.assertNotIn("global_limit_held", self.broken(change))

    def test_zombie_before_reap_is_an_overlap(self):
        def change(run, db, ledger):
            run["kills"] = []
            ledger.append({"ev": "end", "task": 1, "attempt": 1, "queue": "soak_global", "executor": "w1",
                           "t": T0 + 9, "outcome": "ok"})
            ledger[1]["t"], ledger[2]["t"] = T0 + 4.5, T0 + 4.8
        self.assertIn("global_limit_held", self.broken(change))

    def test_key_limit(self):
        self.assertIn("per_key_limit_held", self.broken(lambda r, d, l: d["tasks"][3].update(concurrency_key="k0")))

    def test_rate_limit(self):
        def change(run, db, ledger):
            db["tasks"].append({**db["tasks"][4], "id": 8})
            ledger.append({"ev": "start", "task": 8, "attempt": 1, "queue": "soak_rate", "executor": "w2", "t": T0 + 1.4})
        self.assertIn("rate_limit_held", self.broken(change))

    def test_missed_schedule_interval(self):
        self.assertIn("schedule_intervals_fired_once", self.broken(lambda r, d, l: r.update(pause_at=T0 + 25)))

    def test_schedule_task_ran_twice_as_two_tasks(self):
        def change(run, db, ledger):
            db["tasks"].append({**db["tasks"][-1], "id": 20})
        self.assertIn("schedule_intervals_fired_once", self.broken(change))

    def test_slow_recovery(self):
        self.assertIn("recovery_within_lease_plus_heartbeat",
                      self.broken(lambda r, d, l: d["attempts"][0].update(finished_at=T0 + 2 + 7.5)))

    def test_lease_lost_before_the_kill_is_no_recovery(self):
        def change(run, db, ledger):
            run["kills"][0]["at"] = T0 + 30  # w1 lost task 1 at 5 s (frozen), was killed at 30 s
        found, result = violations(*self.history(change))
        self.assertNotIn("recovery_within_lease_plus_heartbeat", found)
        self.assertEqual(result["figures"]["recoveries"], 0)

    def test_recovery_allows_a_restart_in_between(self):
        def change(run, db, ledger):
            db["attempts"][0]["finished_at"] = T0 + 2 + 9
            run["downtimes"] = [{"from": T0 + 3, "to": T0 + 4, "mode": "fast"}]
        self.assertNotIn("recovery_within_lease_plus_heartbeat", self.broken(change))

    def test_cancelled_task_ran(self):
        def change(run, db, ledger):
            run["cancels"] = [{"id": 7, "state": "cancelled", "at": T0 + 0.5}]
            db["tasks"][6]["state"] = "cancelled"
        self.assertIn("cancelled_tasks_ended_cancelled", self.broken(change))

    def test_cancelling_task_succeeded(self):
        self.assertIn("cancelled_tasks_ended_cancelled", self.broken(
            lambda r, d, l: r.update(cancels=[{"id": 7, "state": "cancelling", "at": T0 + 1.5}])))

    def test_recorded_step_run_again(self):
        self.assertIn("recorded_steps_not_run_again", self.broken(lambda r, d, l: l.append(
            {"ev": "step", "task": 20, "attempt": 2, "name": "work-1", "executor": "w2", "t": T0 + 3.45})))

    def test_resumed_before_the_sleep_ended(self):
        self.assertIn("durable_sleeps_once_and_honoured", self.broken(lambda r, d, l: d["wait_steps"][1].update(
            until=T0 + 3.6)))

    def test_sleep_recorded_without_its_release(self):
        self.assertIn("durable_sleeps_once_and_honoured", self.broken(lambda r, d, l: d["attempts"].pop(2)))

    def test_sleeper_succeeded_without_its_sleep(self):
        self.assertIn("durable_sleeps_once_and_honoured", self.broken(lambda r, d, l: d["wait_steps"].pop(1)))

    def test_sleep_released_twice(self):
        self.assertIn("durable_sleeps_once_and_honoured", self.broken(lambda r, d, l: d["attempts"].append(
            {**d["attempts"][2], "attempt": 2})))

    def test_child_ended_after_its_parent(self):
        self.assertIn("parents_completed_after_children", self.broken(lambda r, d, l: task_of(d, 31).update(
            finished_at=T0 + 6.5)))

    def test_child_left_running_under_a_succeeded_parent(self):
        self.assertIn("parents_completed_after_children", self.broken(lambda r, d, l: task_of(d, 31).update(
            state="running", finished_at=None)))

    def test_parent_result_not_from_its_children(self):
        self.assertIn("parents_completed_after_children", self.broken(lambda r, d, l: task_of(d, 30)["result"].update(
            value_sum=4)))

    def test_parent_with_a_child_it_did_not_record(self):
        def change(run, db, ledger):
            db["tasks"].append({**task_of(db, 31), "id": 33})
        self.assertIn("parents_completed_after_children", self.broken(change))

    def test_task_left_waiting(self):
        self.assertIn("waiting_parents_consistent", self.broken(lambda r, d, l: task_of(d, 30).update(
            state="waiting", children_open=1)))

    def test_waiting_count_off_in_a_sample(self):
        self.assertIn("waiting_parents_consistent", self.broken(lambda r, d, l: r["waiting_mismatches"].append(
            {"id": 30, "children_open": 1, "unfinished_children": 0})))

    def test_direct_start_result_not_the_stored_one(self):
        self.assertIn("direct_starts_awaited", self.broken(
            lambda r, d, l: r["direct_starts"][0]["starts"][0]["result"].update(attempt=2)))

    def test_direct_start_never_awaited(self):
        self.assertIn("direct_starts_awaited", self.broken(lambda r, d, l: r["direct_starts"][0]["starts"].append(
            {"id": 7, "started_here": False, "outcome": "result", "result": {"executor": "w2", "attempt": 1},
             "error": None, "interrupted": 0})))

    def test_direct_start_wait_stuck_long_after_the_task_ended(self):
        self.assertIn("direct_starts_awaited", self.broken(lambda r, d, l: r["direct_starts"][0].update(ended=T0 + 67)))

    def test_direct_start_wait_cut_soon_after_the_task_ended(self):
        self.assertNotIn("direct_starts_awaited", self.broken(lambda r, d, l: r["direct_starts"][0].update(ended=T0 + 65)))

    def test_direct_start_ran_elsewhere_first(self):
        self.assertIn("direct_starts_awaited", self.broken(lambda r, d, l: task_of(d, 40).update(executor="w2")))

    def test_direct_start_awaited_error_of_a_succeeded_task(self):
        self.assertIn("direct_starts_awaited", self.broken(lambda r, d, l: r["direct_starts"][0]["starts"][0].update(
            outcome="error", error="taskFailed")))

    def test_read_direct_starts(self):
        import tempfile
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write('direct start: task 5 (started here: true)\n'
                    'direct start: task 5 wait interrupted: connection closed\n'
                    'direct start: start failed: connection refused\n'
                    'direct start: task 5 result {"attempt": 2, "executor": "w1"}\n'
                    'direct start: task 6 (started here: false)\n'
                    'direct start: task 6 error taskCancelled: task 6 was cancelled\n'
                    'direct start: task 7 (started here: true)\n'
                    'direct start: task 7 resu')
        try:
            starts = soak_checks.read_direct_starts(f.name)
        finally:
            os.unlink(f.name)
        self.assertEqual([(s["id"], s["started_here"], s["outcome"], s["interrupted"]) for s in starts],
                         [(5, True, "result", 1), (6, False, "error", 0), (7, True, None, 0)])
        self.assertEqual(starts[0]["result"], {"attempt": 2, "executor": "w1"})

    def test_run_without_faults_fails(self):
        run, db, ledger = clean_history()
        run["faults"]["sigkill_worker"] = 3
        self.assertTrue(soak_checks.evaluate(run, db, ledger)["failed"])


if __name__ == "__main__":
    unittest.main()
