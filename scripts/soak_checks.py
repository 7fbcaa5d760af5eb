"""The soak's invariants and figures (scripts/soak.py), from what the run recorded, the
database's rows and the handlers' ledger stamps. Pure functions of those three, so that
scripts/test_soak_checks.py can feed them broken histories and see every check fail.

Times are seconds since 1970 on one machine's clock: the handlers' stamps (Date()), the
database's timestamps and the orchestrator's notes are comparable.
"""
import collections
import json
import os
import re
import sys

FINAL = {"succeeded", "failed", "cancelled"}
# Stamps of two handlers sharing a slot are ordered by the completion and the claim between
# them; a tie within this margin (clock granularity) is not an overlap.
CLOCK_GRANULARITY = 0.001
# A rate-limited claim's handler starts a little after the claim's now(); windows shorter by
# this much absorb that delay.
RATE_START_SLACK_SHARE = 0.25
# The reaper's own statement and a loaded machine's scheduling delay beyond lease + heartbeat.
RECOVERY_SLACK = 1.0
# After a database restart the workers reconnect with a backoff before the reaper runs again.
RECONNECT_ALLOWANCE = 5.0
LIMITED_QUEUES = {"soak_global", "soak_rate", "soak_keyed"}
# A result wait looks at its task again at every notification and every reconnection of its
# listener (backoff at most 2 s): a wait still open this long after its task ended is stuck.
RESULT_DELIVERY_BOUND = 60.0


class Invariant:
    def __init__(self, name, description):
        self.name, self.description, self.violations, self.examples = name, description, 0, []

    def violate(self, example):
        self.violations += 1
        if len(self.examples) < 5:
            self.examples.append(example)

    def as_dict(self):
        return {"name": self.name, "description": self.description, "violations": self.violations,
                "examples": self.examples}


def percentile(values, share):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def seconds_matching(cron):
    """The seconds of a minute that a cron with a seconds field (`*`, `*/n`, `n`) fires at."""
    field = cron.split()[0]
    if field == "*":
        return set(range(60))
    if field.startswith("*/"):
        return set(range(0, 60, int(field[2:])))
    return {int(part) for part in field.split(",")}


def max_overlap(intervals, limit, invariant, label):
    """Counts the starts that made more than `limit` intervals overlap."""
    events = []
    for start, end, who in intervals:
        if end - start > CLOCK_GRANULARITY:
            events.append((start + CLOCK_GRANULARITY, 1, who))
            events.append((end, -1, who))
    events.sort(key=lambda e: (e[0], e[1]))  # at one instant an end before a start
    running, peak = 0, 0
    for at, change, who in events:
        running += change
        peak = max(peak, running)
        if change > 0 and running > limit:
            invariant.violate({"limit": label, "at": round(at, 3), "running": running, "task": who})
    return peak


def evaluate(run, db, ledger):
    tasks = {t["id"]: t for t in db["tasks"]}
    attempt_rows = {(a["task_id"], a["attempt"]): a for a in db["attempts"]}
    kills = {k["executor"]: k["at"] for k in run["kills"]}
    invariants = collections.OrderedDict()

    def invariant(name, description):
        invariants[name] = Invariant(name, description)
        return invariants[name]

    # --- every committed enqueue reached a final state ---------------------------------
    final = invariant("committed_enqueues_final", "every committed enqueue exists and reached a final state")
    committed = [t for t in run["transactions"] if t["outcome"] == "committed"]
    for txn in committed:
        for enqueue in txn["enqueues"]:
            task = tasks.get(enqueue.get("id"))
            if task is None:
                final.violate({"txn": txn["txn"], "id": enqueue.get("id"), "problem": "missing"})
    for task in tasks.values():
        if task["state"] not in FINAL:
            final.violate({"id": task["id"], "queue": task["queue"], "state": task["state"]})

    # --- nothing from a rolled-back transaction ran ------------------------------------
    rolled_back = invariant("rolled_back_never_ran",
                            "no task of a rolled-back or killed transaction exists or ran")
    rolled = {t["txn"] for t in run["transactions"] if t["outcome"] == "rolled_back"}
    for task in tasks.values():
        if task["txn"] in rolled:
            rolled_back.violate({"id": task["id"], "txn": task["txn"]})
    for stamp in ledger:
        if stamp["ev"] == "start" and stamp["task"] not in tasks:
            rolled_back.violate({"ran": stamp["task"], "problem": "a task the database never committed ran"})

    # --- duplicates collapse ------------------------------------------------------------
    idempotent = invariant("idempotent_enqueues_collapsed",
                           "one task per idempotency key: every committed enqueue of a key got the same id")
    ids_by_key = collections.defaultdict(set)
    for txn in committed:
        for enqueue in txn["enqueues"]:
            if enqueue.get("key"):
                ids_by_key[(enqueue["queue"], enqueue["key"])].add(enqueue["id"])
    for key, ids in ids_by_key.items():
        if len(ids) > 1:
            idempotent.violate({"key": key[1], "ids": sorted(ids)})
    tasks_by_key = collections.Counter((t["queue"], t["key"]) for t in tasks.values() if t["key"])
    for key, count in tasks_by_key.items():
        if count > 1:
            idempotent.violate({"key": key[1], "tasks": count})
    collapsed = sum(1 for txn in committed for e in txn["enqueues"] if e.get("key")) - len(ids_by_key)

    # --- the ledger ---------------------------------------------------------------------
    starts = collections.defaultdict(list)
    ends = {}
    step_runs = []  # a step's closure ran
    for stamp in ledger:
        if stamp["ev"] == "start":
            starts[(stamp["task"], stamp["attempt"])].append(stamp)
        elif stamp["ev"] == "end":
            ends[(stamp["task"], stamp["attempt"])] = stamp
        elif stamp["ev"] == "step":
            step_runs.append(stamp)

    once = invariant("one_executor_per_attempt", "no attempt of a task started twice, or in two executors, "
                     "and every attempt that ran was handed out by a claim")
    for (task_id, attempt), stamps in starts.items():
        if len(stamps) > 1:
            once.violate({"task": task_id, "attempt": attempt, "executors": sorted({s["executor"] for s in stamps})})
        if task_id in tasks and attempt > tasks[task_id]["attempts"]:
            once.violate({"task": task_id, "attempt": attempt, "problem": "an attempt no claim handed out ran"})

    # --- no stale completion landed -----------------------------------------------------
    stale = invariant("no_stale_completion",
                      "a succeeded task's result is its last attempt's, by the executor that ran that attempt")
    for task in tasks.values():
        if task["state"] != "succeeded":
            continue
        result = task["result"] or {}
        if "attempt" not in result:
            continue  # not a soak handler's result
        if result["attempt"] != task["attempts"]:
            stale.violate({"id": task["id"], "result_attempt": result["attempt"], "attempts": task["attempts"]})
            continue
        ran = starts.get((task["id"], task["attempts"]))
        if ran and ran[0]["executor"] != result["executor"]:
            stale.violate({"id": task["id"], "completed_by": result["executor"], "attempt_ran_in": ran[0]["executor"]})

    effects = invariant("transactional_step_exactly_once",
                        "a transactional step's effect committed once, by the attempt that recorded the step")
    effects_by_task = collections.defaultdict(list)
    for effect in db["effects"]:
        effects_by_task[effect["task_id"]].append(effect)
    step_attempt = {s["task_id"]: s["attempt"] for s in db["effect_steps"]}
    for task_id, rows in effects_by_task.items():
        if len(rows) > 1:
            effects.violate({"task": task_id, "effects": len(rows)})
        for row in rows:
            if step_attempt.get(task_id) != row["attempt"]:
                effects.violate({"task": task_id, "effect_attempt": row["attempt"], "step_attempt": step_attempt.get(task_id)})
    for task_id in step_attempt:
        if task_id not in effects_by_task:
            effects.violate({"task": task_id, "problem": "step recorded without its effect"})
    workflow_succeeded = [t for t in tasks.values() if t["kind"] == "workflow" and t["state"] == "succeeded"]
    for task in workflow_succeeded:
        if task["id"] not in effects_by_task:
            effects.violate({"task": task["id"], "problem": "succeeded without its effect"})

    completions = invariant("completion_in_transaction_exactly_once",
                            "a completion in the handler's transaction committed its row once, by the final attempt, "
                            "and only when the task succeeded")
    completion_rows = collections.defaultdict(list)
    for row in db.get("completions", []):
        completion_rows[row["task_id"]].append(row)
    for task in tasks.values():
        if task["kind"] != "complete_in_transaction":
            continue
        rows = completion_rows.pop(task["id"], [])
        if task["state"] == "succeeded":
            if len(rows) != 1 or rows[0]["attempt"] != task["attempts"]:
                completions.violate({"task": task["id"], "rows": rows, "attempts": task["attempts"]})
        elif rows:
            completions.violate({"task": task["id"], "state": task["state"], "rows": rows})
    for task_id, rows in completion_rows.items():
        completions.violate({"task": task_id, "problem": "completion row of no such task", "rows": rows})

    # --- workflow waits: durable sleeps, children, direct starts ------------------------
    wait_steps = collections.defaultdict(dict)
    for step in db.get("wait_steps", []):
        wait_steps[step["task_id"]][step["name"]] = step
    rerun = invariant("recorded_steps_not_run_again",
                      "a step's closure never ran in an attempt after the one that recorded it "
                      "(the run resumed after a durable sleep or wait skips it)")
    for stamp in step_runs:
        recorded = wait_steps[stamp["task"]].get(stamp["name"])
        if recorded and stamp["attempt"] > recorded["attempt"]:
            rerun.violate({"task": stamp["task"], "step": stamp["name"], "ran_in_attempt": stamp["attempt"],
                           "recorded_by_attempt": recorded["attempt"]})

    def released_by(prefix):
        return {(a["task_id"], a["attempt"]) for a in db["attempts"]
                if a["outcome"] == "released" and (a.get("reason") or "").startswith(prefix)}
    sleep_releases = released_by("released by rota.sleep")
    wait_releases = released_by("released by rota.wait_for_children")
    sleeps = invariant("durable_sleeps_once_and_honoured",
                       "each durable sleep was recorded by the attempt it released (rota.sleep), a task that "
                       "succeeded recorded all its steps and sleeps and was released once per sleep, and no "
                       "later attempt started before the sleep's end")
    releases_per_task = collections.Counter(task_id for task_id, _ in sleep_releases)
    for task in tasks.values():
        planned = task.get("sleeps") or 0
        if not planned:
            continue
        recorded = wait_steps[task["id"]]
        if task["state"] == "succeeded":
            missing = [name for k in range(1, planned + 1) for name in (f"work-{k}", f"sleep-{k}") if name not in recorded]
            if missing or releases_per_task[task["id"]] != planned:
                sleeps.violate({"task": task["id"], "sleeps": planned, "missing_steps": missing,
                                "released_by_sleep": releases_per_task[task["id"]]})
        for k in range(1, planned + 1):
            step = recorded.get(f"sleep-{k}")
            if step is None:
                continue
            if (task["id"], step["attempt"]) not in sleep_releases:
                sleeps.violate({"task": task["id"], "step": f"sleep-{k}", "attempt": step["attempt"],
                                "problem": "recorded without the release of its attempt"})
            for attempt in range(step["attempt"] + 1, task["attempts"] + 1):
                began = starts.get((task["id"], attempt))
                if began and began[0]["t"] < step["until"] - CLOCK_GRANULARITY:
                    sleeps.violate({"task": task["id"], "step": f"sleep-{k}", "attempt": attempt,
                                    "started_early_s": round(step["until"] - began[0]["t"], 3)})

    children_of = collections.defaultdict(list)
    for task in tasks.values():
        if task.get("parent_id") is not None:
            children_of[task["parent_id"]].append(task)
    parents = invariant("parents_completed_after_children",
                        "a succeeded parent's result lists exactly its children, as many as it enqueued, all "
                        "ended before the parent's completion; its count of succeeded children and sum of their "
                        "values match the children's stored outcomes")
    for task in tasks.values():
        planned = task.get("planned_children")
        if not planned or task["state"] != "succeeded":
            continue
        children = sorted(children_of[task["id"]], key=lambda c: c["id"])
        result = task["result"] or {}
        ids = [c["id"] for c in children]
        if len(children) != planned or sorted(result.get("children") or []) != ids:
            parents.violate({"task": task["id"], "planned": planned, "children": ids, "in_result": result.get("children")})
        for child in children:
            if child["state"] not in FINAL or child["finished_at"] is None or child["finished_at"] > task["finished_at"]:
                parents.violate({"task": task["id"], "child": child["id"], "child_state": child["state"],
                                 "child_finished_at": child["finished_at"], "parent_finished_at": task["finished_at"]})
        succeeded = [c for c in children if c["state"] == "succeeded"]
        value_sum = sum((c["result"] or {}).get("value") or 0 for c in succeeded)
        if result.get("children_succeeded") != len(succeeded) or result.get("value_sum") != value_sum:
            parents.violate({"task": task["id"], "children_succeeded": [result.get("children_succeeded"), len(succeeded)],
                             "value_sum": [result.get("value_sum"), value_sum]})

    waiting = invariant("waiting_parents_consistent",
                        "in every sample a waiting task's count of open children equalled its children not yet "
                        "final, and no task was left waiting at the end")
    for sample in run.get("waiting_mismatches", []):
        waiting.violate(sample)
    for task in tasks.values():
        if task["state"] == "waiting":
            waiting.violate({"task": task["id"], "children_open": task.get("children_open"),
                             "unfinished_children": sum(c["state"] not in FINAL for c in children_of[task["id"]])})

    direct = invariant("direct_starts_awaited",
                       "every direct start but a starter process's last got its outcome awaited, and that last one "
                       f"too when its task ended over {RESULT_DELIVERY_BOUND:g} s before the process; an awaited result "
                       "is the task's stored result (an awaited error: the task failed or was cancelled); a task "
                       "started here ran its attempt 1 in the starting process")
    first_executor = {key[0]: row["executor"] for key, row in attempt_rows.items() if key[1] == 1}
    direct_figures = collections.Counter()
    for process in run.get("direct_starts", []):
        for index, start in enumerate(process["starts"]):
            direct_figures["starts"] += 1
            direct_figures["started_here"] += start["started_here"]
            direct_figures["interrupted_waits"] += start.get("interrupted", 0)
            task = tasks.get(start["id"])
            if task is None:
                direct.violate({"task": start["id"], "problem": "reported started, not in the database"})
                continue
            if start["outcome"] is None:
                ended = process.get("ended")
                cut = index == len(process["starts"]) - 1 and (
                    task["finished_at"] is None or ended is None or ended - task["finished_at"] <= RESULT_DELIVERY_BOUND)
                if not cut:
                    direct.violate({"task": start["id"], "executor": process["executor"], "problem": "outcome never awaited",
                                    "task_ended_s_before_the_process": rounded(task["finished_at"] and ended
                                                                               and ended - task["finished_at"])})
            elif start["outcome"] == "result":
                direct_figures["results"] += 1
                if task["state"] != "succeeded" or task["result"] != start["result"]:
                    direct.violate({"task": start["id"], "awaited": start["result"], "state": task["state"],
                                    "stored": task["result"]})
            elif start["outcome"] == "error" and task["state"] not in ("failed", "cancelled"):
                direct.violate({"task": start["id"], "awaited_error": start["error"], "state": task["state"]})
            if start["started_here"]:
                ran_first = first_executor.get(task["id"], task.get("executor") if task["attempts"] == 1 else None)
                if ran_first != process["executor"]:
                    direct.violate({"task": start["id"], "started_in": process["executor"], "attempt_1_in": ran_first})

    # --- limits at every instant, from the stamps ---------------------------------------
    def interval(key):
        """The time attempt `key` held its slot per its stamps: from its start to its end
        (or its executor's SIGKILL), cut at the instant the database took the attempt away
        (a reaped lease: a frozen or partitioned worker's handler goes on as a zombie)."""
        start = starts[key][0]["t"]
        end = ends[key]["t"] if key in ends else kills.get(starts[key][0]["executor"], run["drained_at"])
        row = attempt_rows.get(key)
        if row and row["finished_at"] is not None:
            end = min(end, row["finished_at"])
        return start, end

    global_limit = invariant("global_limit_held", f"at most {run['global_limit']} soak_global tasks ran at once (stamps)")
    key_limit = invariant("per_key_limit_held", f"at most {run['key_limit']} soak_keyed tasks of one key ran at once (stamps)")
    rate_limit = invariant("rate_limit_held",
                           f"at most {run['rate_limit']} soak_rate starts in any {run['rate_period']} s (stamps)")
    by_queue = collections.defaultdict(list)
    for key, stamps in starts.items():
        by_queue[stamps[0]["queue"]].append(key)
    peak_global = max_overlap([interval(k) + (k[0],) for k in by_queue["soak_global"]],
                              run["global_limit"], global_limit, "global")
    by_concurrency_key = collections.defaultdict(list)
    for key in by_queue["soak_keyed"]:
        task = tasks.get(key[0])
        by_concurrency_key[task["concurrency_key"] if task else None].append(interval(key) + (key[0],))
    peak_key = max([max_overlap(intervals, run["key_limit"], key_limit, f"key {ck}")
                    for ck, intervals in by_concurrency_key.items()] or [0])
    rate_starts = []
    for key in by_queue["soak_rate"]:
        start, end = interval(key)
        if end > start:  # a start after its lease was taken away is a zombie's, not a claim's
            rate_starts.append((start, key[0]))
    rate_starts.sort()
    window = run["rate_period"] * (1 - RATE_START_SLACK_SHARE)
    limit = run["rate_limit"]
    for i in range(len(rate_starts) - limit):
        if rate_starts[i + limit][0] - rate_starts[i][0] < window:
            rate_limit.violate({"from": round(rate_starts[i][0], 3), "starts": limit + 1,
                                "within": round(rate_starts[i + limit][0] - rate_starts[i][0], 3)})
    continuous = invariant("limits_held_continuously",
                           "the database never showed more running tasks than a limit (sampled every second)")
    for sample in run["monitor_violations"]:
        continuous.violate(sample)

    # --- schedules: every interval fired exactly once -----------------------------------
    schedules = invariant("schedule_intervals_fired_once",
                          "every cron instant of each schedule fired exactly once and its task succeeded once; "
                          "every-second fires fanned out to all their children once")
    fires_by_schedule = collections.defaultdict(list)
    for fire in db["fires"]:
        fires_by_schedule[fire["schedule"]].append(fire)
    children = collections.Counter()
    children_final = collections.Counter()
    for task in tasks.values():
        if task["queue"] == "soak_fan" and task["key"]:
            parent_scope = task["key"].rsplit("/", 1)[0]
            children[parent_scope] += 1
            children_final[parent_scope] += task["state"] == "succeeded"
    fire_counts = {}
    for name, cron in run["schedules"].items():
        fires = fires_by_schedule.get(name, [])
        fire_counts[name] = len(fires)
        if not fires:
            schedules.violate({"schedule": name, "problem": "never fired"})
            continue
        at = collections.Counter(round(f["fire_at"]) for f in fires)
        for instant, count in at.items():
            if count > 1:
                schedules.violate({"schedule": name, "fire_at": instant, "fires": count})
        seconds = seconds_matching(cron)
        first, upper = min(at), int(run["pause_at"] - 5)
        for instant in range(first, upper + 1):
            if instant % 60 in seconds and instant not in at:
                schedules.violate({"schedule": name, "fire_at": instant, "problem": "interval never fired"})
        for instant in at:
            if instant % 60 not in seconds:
                schedules.violate({"schedule": name, "fire_at": instant, "problem": "fired off its cron"})
        for fire in fires:
            task = tasks.get(fire["task_id"])
            if task is None or task["state"] != "succeeded":
                schedules.violate({"schedule": name, "fire_at": fire["fire_text"],
                                   "problem": f"task {fire['task_id']} {task['state'] if task else 'missing'}"})
                continue
            if run["schedule_payloads"][name].get("fanout"):
                scope = "fire:" + task["key"][len("schedule:"):]
                if children[scope] != run["fanout"] or children_final[scope] != run["fanout"]:
                    schedules.violate({"schedule": name, "fire_at": fire["fire_text"],
                                       "children": children[scope], "succeeded": children_final[scope]})
    fire_tasks = collections.Counter(t["key"].split(":")[1] for t in tasks.values()
                                     if t["queue"] == "soak_cron" and t["key"] and t["key"].startswith("schedule:"))
    for name, count in fire_tasks.items():
        if count != fire_counts.get(name, 0):
            schedules.violate({"schedule": name, "fire_tasks": count, "fires": fire_counts.get(name, 0)})

    # --- recovery of killed workers' tasks ----------------------------------------------
    recovery = invariant("recovery_within_lease_plus_heartbeat",
                         "a killed worker's task was recovered (lease reaped) within lease + heartbeat "
                         "(+ database downtime and reconnection when a restart fell in between)")
    recoveries, reclaims, recoveries_clear = [], [], []
    bound = run["lease"] + run["heartbeat"]
    for (task_id, attempt), row in attempt_rows.items():
        killed_at = kills.get(row["executor"])
        if row["outcome"] != "lease_expired" or killed_at is None or row["finished_at"] < killed_at:
            continue  # (a lease the executor had lost before it was killed: a freeze or partition)
        took = row["finished_at"] - killed_at
        recoveries.append(took)
        restarts = sum(d["to"] - d["from"] + RECONNECT_ALLOWANCE for d in run["downtimes"]
                       if d["to"] > killed_at - run["lease"] and d["from"] < killed_at + bound + RECOVERY_SLACK)
        allowance = RECOVERY_SLACK + restarts
        if not restarts:
            recoveries_clear.append(took)
        if took > bound + allowance:
            recovery.violate({"task": task_id, "attempt": attempt, "executor": row["executor"],
                              "seconds": round(took, 2), "bound": round(bound + allowance, 2)})
        following = attempt_rows.get((task_id, attempt + 1))
        task = tasks.get(task_id)
        if task is None or task["queue"] in LIMITED_QUEUES:
            continue  # a limited queue's task may wait for its limit, not for the recovery
        if following:
            reclaims.append(following["started_at"] - killed_at)
        elif task and task["attempts"] == attempt + 1 and task["started_at"]:
            reclaims.append(task["started_at"] - killed_at)

    # --- cancellation -------------------------------------------------------------------
    cancelled = invariant("cancelled_tasks_ended_cancelled",
                          "a task whose cancel was accepted (queued or running) ended cancelled, and one "
                          "cancelled while queued started no attempt after the cancel")
    started_at = collections.defaultdict(list)
    for (task_id, _), stamps in starts.items():
        started_at[task_id].append(stamps[0]["t"])
    for cancel in run["cancels"]:
        if cancel["state"] not in ("cancelled", "cancelling"):
            continue
        task = tasks.get(cancel["id"])
        if task is None or task["state"] != "cancelled":
            cancelled.violate({"id": cancel["id"], "cancel": cancel["state"], "state": task and task["state"]})
        if cancel["state"] != "cancelled":
            continue
        for start in started_at[cancel["id"]]:
            if start > cancel["at"]:
                cancelled.violate({"id": cancel["id"], "started": start, "cancelled": cancel["at"]})

    survived = invariant("workers_survived_faults", "no worker exited unless the soak stopped or killed it")
    for exit_ in run["unexpected_exits"]:
        survived.violate(exit_)

    # --- figures --------------------------------------------------------------------------
    states = collections.Counter(t["state"] for t in tasks.values())
    fault_times = ([k["at"] for k in run["kills"]] + [d["from"] for d in run["downtimes"]]
                   + [f["from"] for f in run["freezes"]] + [p["from"] for p in run["partitions"]])
    fault_from, fault_to = (min(fault_times), max(fault_times)) if fault_times else (None, None)
    under_faults = sum(1 for t in tasks.values() if t["state"] == "succeeded" and fault_from is not None
                       and fault_from <= t["finished_at"] <= fault_to)
    load_seconds = run["load_ended"] - run["t0"]
    zombie_completions = sum(1 for key, end in ends.items() if end.get("outcome") == "ok"
                             and attempt_rows.get(key, {}).get("outcome") == "lease_expired")
    outcomes = collections.Counter(t["outcome"] for t in run["transactions"])
    ways = collections.Counter(t.get("how") for t in run["transactions"] if t["outcome"] == "rolled_back")
    figures = collections.OrderedDict([
        ("duration_minutes", round(run["duration"] / 60, 2)),
        ("seed", run["seed"]),
        ("worker_processes", run["workers"]),
        ("scale_steps", " -> ".join(str(s["replicas"]) for s in run["scale_steps"])),
        ("transactions_committed", outcomes["committed"]),
        ("transactions_rolled_back", outcomes["rolled_back"]),
        ("  by_rollback", ways["rollback"]),
        ("  by_killed_session", ways["killed"]),
        ("  by_session_failed_before_commit", ways["session_failed"]),
        ("transactions_unknown_outcome", outcomes["unknown"]),
        ("enqueues_collapsed_by_key", collapsed),
        ("tasks", len(tasks)),
        ("tasks_succeeded", states["succeeded"]),
        ("tasks_failed", states["failed"]),
        ("tasks_cancelled", states["cancelled"]),
        ("attempts_started", len(starts)),
        ("schedule_fires", sum(fire_counts.values())),
        ("throughput_per_s", round(states["succeeded"] / load_seconds, 1) if load_seconds > 0 else None),
        ("throughput_under_faults_per_s",
         round(under_faults / (fault_to - fault_from), 1) if fault_from is not None and fault_to > fault_from else None),
        ("zombie_late_completions_fenced", zombie_completions),
        ("recoveries", len(recoveries)),
        ("recovery_p50_s", rounded(percentile(recoveries, 0.5))),
        ("recovery_p99_s", rounded(percentile(recoveries, 0.99))),
        ("recovery_max_s", rounded(max(recoveries) if recoveries else None)),
        ("recovery_p99_no_restart_s", rounded(percentile(recoveries_clear, 0.99))),
        ("recovery_max_no_restart_s", rounded(max(recoveries_clear) if recoveries_clear else None)),
        ("reclaim_p50_s", rounded(percentile(reclaims, 0.5))),
        ("reclaim_max_s", rounded(max(reclaims) if reclaims else None)),
        ("recovery_bound_s", bound),
        ("peak_global_running", peak_global),
        ("peak_key_running", peak_key),
        ("sleepers_succeeded", sum(1 for t in tasks.values() if t.get("sleeps") and t["state"] == "succeeded")),
        ("durable_sleeps_released", len(sleep_releases)),
        ("parents_succeeded", sum(1 for t in tasks.values() if t.get("planned_children") and t["state"] == "succeeded")),
        ("parents_cancelled", sum(1 for t in tasks.values() if t.get("planned_children") and t["state"] == "cancelled")),
        ("children", sum(len(c) for c in children_of.values())),
        ("waits_for_children_released", len(wait_releases)),
        ("waiting_parents_sampled", run.get("waiting_samples", 0)),
        ("step_closures_run", len(step_runs)),
        ("starter_processes", len(run.get("direct_starts", []))),
        ("direct_starts", direct_figures["starts"]),
        ("  started_here", direct_figures["started_here"]),
        ("  results_awaited", direct_figures["results"]),
        ("  waits_interrupted_and_resumed", direct_figures["interrupted_waits"]),
    ])
    for kind, count in run["faults"].items():
        figures[f"fault_{kind}"] = count

    # --- the run must have done what it claims ------------------------------------------
    required = []

    def require(what, ok):
        if not ok:
            required.append(what)
    faults = run["faults"]
    require("at least 20 SIGKILLs of workers", faults["sigkill_worker"] >= 20)
    require("at least 3 database restarts, fast and immediate",
            faults["db_restart_fast"] + faults["db_restart_immediate"] >= 3
            and faults["db_restart_fast"] >= 1 and faults["db_restart_immediate"] >= 1)
    require("a worker frozen longer than the lease", faults["sigstop_worker"] >= 1)
    require("a network partition longer than the lease",
            faults["network_partition"] >= 1 or "network_partition" in run["not_injected"])
    require("pg_terminate_backend on worker connections", faults["pg_terminate_backend"] >= 1)
    require("a producer killed mid-transaction", faults["producer_killed_mid_transaction"] >= 1)
    require("rolled-back transactions", outcomes["rolled_back"] >= 1)
    require(f"at least {run['min_succeeded']} tasks succeeded", states["succeeded"] >= run["min_succeeded"])
    require("recoveries of killed workers' tasks measured", len(recoveries) >= 1)
    require("scaling 1 -> 3 -> 5 -> 2", [s["replicas"] for s in run["scale_steps"]] == [1, 3, 5, 2])
    require("every limited queue ran", bool(by_queue["soak_global"] and by_queue["soak_keyed"] and rate_starts))
    require("the starter SIGKILLed", faults.get("sigkill_starter", 0) >= 1)
    require("durable sleeps that released their task", len(sleep_releases) >= 1)
    require("parents that waited for their children and succeeded",
            len(wait_releases) >= 1 and figures["parents_succeeded"] >= 1)
    require(f"at least {run['min_direct_results']} direct starts' results awaited",
            direct_figures["results"] >= run["min_direct_results"])

    violations = sum(i.violations for i in invariants.values())
    return {"figures": figures, "invariants": [i.as_dict() for i in invariants.values()],
            "not_injected": run["not_injected"], "missing_from_run": required,
            "violations": violations, "failed": violations > 0 or bool(required)}


def rounded(value):
    return None if value is None else round(value, 2)


def table(result):
    lines = ["", "figure                                  value", "-" * 60]
    for name, value in result["figures"].items():
        lines.append(f"{name:<40}{value}")
    lines += ["", "invariant                               violations", "-" * 60]
    for inv in result["invariants"]:
        lines.append(f"{inv['name']:<40}{inv['violations']}")
        for example in inv["examples"]:
            lines.append(f"    e.g. {example}")
    for what, why in result["not_injected"].items():
        lines.append(f"not injected: {what}: {why}")
    for what in result["missing_from_run"]:
        lines.append(f"RUN INCOMPLETE: {what}")
    lines.append("RESULT: " + ("FAIL" if result["failed"] else "PASS") + f" ({result['violations']} violations)")
    return "\n".join(lines)


DIRECT_START_LINE = re.compile(r"direct start: task (\d+) (?:\(started here: (true|false)\)|result (.*)|error (.*)"
                               r"|(wait interrupted): .*)$")


def read_direct_starts(path):
    """A starter's output (DirectStartProbe, --start-repeat): per task it started, in order,
    whether it started there and the outcome awaited (`result` with the result, `error`, or
    None when the process ended first). A line cut by a SIGKILL is left out."""
    starts = []
    with open(path) as lines:
        for line in lines:
            found = DIRECT_START_LINE.match(line.rstrip("\n")) if line.endswith("\n") else None
            if not found:
                continue
            task_id, here, result, error, interrupted = found.groups()
            if here is not None:
                starts.append({"id": int(task_id), "started_here": here == "true", "outcome": None, "result": None,
                               "error": None, "interrupted": 0})
                continue
            start = starts[-1] if starts and starts[-1]["id"] == int(task_id) else None
            if start is None:
                continue
            if interrupted:
                start["interrupted"] += 1
            elif result is not None:
                start["outcome"], start["result"] = "result", json.loads(result)
            else:
                start["outcome"], start["error"] = "error", error
    return starts


def load_ledgers(folder):
    """Every line of the workers' ledger files in `folder` (a line cut by a SIGKILL is left out)."""
    stamps = []
    for name in sorted(os.listdir(folder)):
        if name.startswith("ledger-") and name.endswith(".jsonl"):
            with open(os.path.join(folder, name)) as lines:
                stamps += [json.loads(line) for line in lines if line.endswith("\n")]
    return stamps


if __name__ == "__main__":
    # Checks a finished run again from its folder: scripts/soak_checks.py .rota/soak/<run>
    with open(os.path.join(sys.argv[1], "run.json")) as f:
        saved = json.load(f)
    checked = evaluate(saved["run"], saved["db"], load_ledgers(sys.argv[1]))
    print(table(checked))
    sys.exit(1 if checked["failed"] else 0)
