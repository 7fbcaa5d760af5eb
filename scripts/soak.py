#!/usr/bin/env python3
"""The soak: Rota's real topology under continuous load and continuous faults, then every
invariant checked from the database and from the ledgers the workers' handlers write.

    scripts/soak.py --minutes 10 [--seed N] [--rota .build/debug/rota] [--keep]

It starts a PostgreSQL cluster of its own (a temporary folder, its own port; so that it can
restart it in fast and immediate mode), `rota worker` processes scaled 1 -> 3 -> 5 -> 2
(replica 0 in a network namespace of its own, joined by a veth pair, when run as root),
producers (psql sessions, one transaction each), a starter (a `rota worker` process that
starts tasks directly on itself and awaits their results, one after another), a canceller
and a monitor; it injects SIGKILLs (of workers and of the starter), database restarts, a
SIGSTOP longer than the lease, a network partition longer than the lease,
pg_terminate_backend and producers killed mid-transaction at random times.
Then it drains, stops everything and checks (soak_checks.py). Prints a table of figures and
writes the same as JSON (`.rota/soak/<run>/result.json`); exits 1 on any violation, or
when a fault it must inject was not injected.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_checks  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PGBIN = "/usr/lib/postgresql/15/bin"

# The timing every bound of the checks derives from.
LEASE = 5.0          # seconds, every soak queue
HEARTBEAT = 1.0      # worker --heartbeat
REAP = 1.0           # worker --reap
HANDLER_TIMEOUT = 3  # worker --timeout: the `timeout` tasks work 5 s and never finish
GLOBAL_LIMIT = 3
RATE_LIMIT, RATE_PERIOD = 4, 2.0
KEY_LIMIT = 2
FANOUT = 3
SCHEDULES = {  # name: (cron with seconds, payload)
    "soak_every_second": ("* * * * * *", {"ms": 20, "fanout": FANOUT}),
    "soak_every_5s": ("*/5 * * * * *", {"ms": 200}),
    "soak_every_7s": ("*/7 * * * * *", {"ms": 300, "workflow": True}),
}
QUEUES = ["soak_plain", "soak_global", "soak_rate", "soak_keyed", "soak_cron", "soak_fan", "soak_direct"]
# What the starter starts on soak_direct: a step, a durable sleep, then children and the wait
# for them (every replica serves soak_direct, so a killed starter's tasks resume elsewhere).
DIRECT_PAYLOAD = {"kind": "direct", "ms": 40, "sleeps": 1, "sleep_ms": 50, "children": 2}
FINAL_STATES = "('succeeded', 'failed', 'cancelled')"


def log(message):
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_root():
    return os.geteuid() == 0


class Cluster:
    """A PostgreSQL cluster of the soak's own, restartable in fast and immediate mode."""

    def __init__(self, netns=None):
        self.dir = tempfile.mkdtemp(prefix="rota-soak-pg-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.listen = "127.0.0.1" + (f",{netns.host_ip}" if netns else "")
        if is_root():
            shutil.chown(self.dir, "postgres", "postgres")
        self.owner(["initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                    "--locale=C.UTF-8"], quiet=True)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write(f"\nlisten_addresses = '{self.listen}'\nunix_socket_directories = '{self.dir}'\n"
                       "max_connections = 200\nshared_buffers = 128MB\nfsync = on\n"
                       "log_min_messages = warning\nautovacuum_naptime = 1s\n")
        if netns:
            with open(os.path.join(self.data, "pg_hba.conf"), "a") as hba:
                hba.write(f"host all all {netns.network} trust\n")

    def owner(self, command, quiet=False):
        command = [os.path.join(PGBIN, command[0])] + command[1:]
        if is_root():
            command = ["runuser", "-u", "postgres", "--"] + command
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL if quiet else None,
                       stderr=subprocess.DEVNULL if quiet else None)

    def url(self, host="127.0.0.1"):
        return f"postgresql://postgres@{host}:{self.port}/rota"

    def start(self):
        self.owner(["pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "server.log"),
                    "-o", f"-p {self.port}", "-w", "-t", "60", "start"], quiet=True)

    def stop(self, mode="fast"):
        self.owner(["pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop"], quiet=True)

    def destroy(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def psql(url, sql, timeout=60, check=True):
    """Runs `sql` in one psql session (-At); returns its output."""
    done = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                          capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"psql failed: {done.stderr.strip()} in {sql[:200]}")
    return done.stdout.strip()


def try_psql(url, sql, timeout=30):
    try:
        done = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                              capture_output=True, text=True, timeout=timeout)
        return done.stdout.strip() if done.returncode == 0 else None
    except subprocess.TimeoutExpired:
        return None


class NetworkNamespace:
    """Replica 0's network: its own namespace joined to the host by a veth pair."""

    def __init__(self):
        suffix = os.getpid() % 100000
        self.name, self.host_if, self.ns_if = f"rota-soak-{suffix}", f"rsk{suffix}h", f"rsk{suffix}n"
        # a /30 of 10.231.0.0/16 that no interface uses yet (two soaks may run at once)
        used = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True).stdout
        block = next(b for b in range(os.getpid() % 16000, os.getpid() % 16000 + 16000)
                     if f" 10.231.{b % 16000 // 64}.{b % 64 * 4 + 1}/" not in used)
        base = f"10.231.{block % 16000 // 64}.{block % 64 * 4}"
        prefix, last = base.rsplit(".", 1)
        self.network, self.host_ip, self.ns_ip = f"{base}/30", f"{prefix}.{int(last) + 1}", f"{prefix}.{int(last) + 2}"
        steps = [["ip", "netns", "add", self.name],
                 ["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if],
                 ["ip", "link", "set", self.ns_if, "netns", self.name],
                 ["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if],
                 ["ip", "link", "set", self.host_if, "up"],
                 ["ip", "netns", "exec", self.name, "ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if],
                 ["ip", "netns", "exec", self.name, "ip", "link", "set", self.ns_if, "up"],
                 ["ip", "netns", "exec", self.name, "ip", "link", "set", "lo", "up"]]
        try:
            for step in steps:
                subprocess.run(step, check=True, capture_output=True)
        except subprocess.CalledProcessError:
            self.destroy()
            raise

    def link(self, up):
        subprocess.run(["ip", "link", "set", self.host_if, "up" if up else "down"], check=True)

    def destroy(self):
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


class Worker:
    """A `rota worker` replica in `slot`; slot "starter": the starter, a worker of soak_direct
    alone that starts tasks on itself (--start-repeat) and prints each start and result to
    its own file (`starts-<executor>.txt`)."""

    def __init__(self, soak, slot, generation):
        self.slot, self.executor = slot, f"soak-{slot}-{generation}"
        self.ledger = os.path.join(soak.out, f"ledger-{self.executor}.jsonl")
        in_namespace = slot == 0 and soak.netns is not None
        url = soak.cluster.url(soak.netns.host_ip if in_namespace else "127.0.0.1")
        queues = ["soak_direct"] if slot == "starter" else QUEUES
        command = [soak.rota, "worker", "--database-url", url, "--queues", ",".join(queues),
                   "--concurrency", "4", "--heartbeat", str(HEARTBEAT), "--reap", str(REAP),
                   "--timeout", str(HANDLER_TIMEOUT), "--grace", "3", "--poll", "0.5",
                   "--executor-id", self.executor, "--log-level", "warning"]
        if in_namespace:
            command = ["ip", "netns", "exec", soak.netns.name] + command  # exec: the same pid
        self.log = open(os.path.join(soak.out, f"worker-{self.executor}.log"), "w")
        output = self.log
        if slot == "starter":
            command += ["--start-task", "soak", "--start-payload", json.dumps(DIRECT_PAYLOAD), "--start-repeat"]
            self.starts = os.path.join(soak.out, f"starts-{self.executor}.txt")
            output = open(self.starts, "w")
        self.process = subprocess.Popen(command, env=dict(os.environ, ROTA_SOAK_LEDGER=self.ledger),
                                        stdout=output, stderr=self.log)
        self.started, self.ended, self.stopping, self.frozen = time.time(), None, False, False

    def alive(self):
        return self.process.poll() is None


class Soak:
    def __init__(self, args):
        self.args, self.duration = args, args.minutes * 60
        self.random = random.Random(args.seed)
        self.rota = os.path.abspath(args.rota)
        stamp = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"  # two soaks may start in one second
        self.out = os.path.join(ROOT, ".rota", "soak", stamp)
        os.makedirs(self.out, exist_ok=True)
        self.netns, self.not_injected = None, {}
        self.workers, self.retired, self.generation = {}, [], 0
        self.starter, self.starters = None, []
        self.lock = threading.Lock()
        self.faults = {"sigkill_worker": 0, "sigkill_starter": 0, "db_restart_fast": 0, "db_restart_immediate": 0,
                       "sigstop_worker": 0, "network_partition": 0, "pg_terminate_backend": 0, "producer_killed_mid_transaction": 0}
        self.kills, self.downtimes, self.freezes, self.partitions = [], [], [], []
        self.transactions = []  # {"txn", "intent", "outcome", "enqueues": [{"kind", "key", "id"}]}
        self.cancels, self.cancel_candidates = [], []
        self.monitor_violations, self.unexpected_exits, self.scale_steps = [], [], []
        self.waiting_mismatches, self.waiting_samples = [], 0
        self.stop_load = threading.Event()

    # --- topology ------------------------------------------------------------------------
    def setup(self):
        if is_root() and shutil.which("ip"):
            try:
                self.netns = NetworkNamespace()
            except subprocess.CalledProcessError as error:
                self.not_injected["network_partition"] = f"ip netns failed: {error.stderr.decode().strip()}"
        else:
            self.not_injected["network_partition"] = "needs root and iproute2 (ip netns, veth)"
        self.cluster = Cluster(self.netns)
        self.cluster.start()
        admin = self.cluster.url().replace("/rota", "/postgres")
        psql(admin, "CREATE DATABASE rota")
        self.url = self.cluster.url()
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url, "-f",
                        os.path.join(ROOT, "sql", "install.sql")], check=True, stdout=subprocess.DEVNULL)
        common = f"lease => '{LEASE} seconds', backoff_base => '200 milliseconds', backoff_max => '2 seconds'"
        psql(self.url, f"""
            CREATE TABLE soak_effects (task_id bigint NOT NULL, attempt int NOT NULL, executor text NOT NULL,
                                       at timestamptz NOT NULL DEFAULT clock_timestamp());
            CREATE TABLE soak_completions (task_id bigint NOT NULL, attempt int NOT NULL, executor text NOT NULL,
                                           at timestamptz NOT NULL DEFAULT clock_timestamp());
            SELECT rota.define_queue('soak_plain', {common});
            SELECT rota.define_queue('soak_global', concurrency => {GLOBAL_LIMIT}, {common});
            SELECT rota.define_queue('soak_rate', rate_limit => {RATE_LIMIT},
                                     rate_period => '{RATE_PERIOD} seconds', {common});
            SELECT rota.define_queue('soak_keyed', concurrency_key_limit => {KEY_LIMIT}, {common});
            SELECT rota.define_queue('soak_cron', {common});
            SELECT rota.define_queue('soak_fan', {common});
            SELECT rota.define_queue('soak_direct', {common});
        """)
        for name, (cron, payload) in SCHEDULES.items():
            psql(self.url, f"SELECT rota.define_schedule('{name}', '{cron}', 'soak_cron', 'soak', "
                           f"'{json.dumps(payload)}'::jsonb, catch_up => 'all')")

    def spawn(self, slot):
        self.generation += 1
        worker = Worker(self, slot, self.generation)
        self.workers[slot] = worker
        return worker

    def spawn_starter(self):
        self.generation += 1
        self.starter = Worker(self, "starter", self.generation)
        self.starters.append(self.starter)
        return self.starter

    def retire(self, worker):
        worker.ended = worker.ended or time.time()
        self.retired.append(worker)
        if self.workers.get(worker.slot) is worker:
            del self.workers[worker.slot]

    def scale(self, replicas):
        for slot in range(replicas):
            if slot not in self.workers:
                self.spawn(slot)
        for slot in sorted(self.workers, reverse=True):
            if slot >= replicas:
                worker = self.workers[slot]
                worker.stopping = True
                worker.process.send_signal(signal.SIGTERM)
                self.retire(worker)
        self.scale_steps.append({"at": round(time.time() - self.t0, 1), "replicas": replicas})
        log(f"scaled to {replicas} replicas")

    def watch_workers(self):
        """Replaces workers that died (a SIGKILL replaced at once; any other exit is a finding)."""
        for worker in list(self.workers.values()) + ([self.starter] if self.starter else []):
            if not worker.alive():
                self.unexpected_exits.append({"executor": worker.executor, "rc": worker.process.returncode,
                                              "at": round(time.time() - self.t0, 1)})
                log(f"worker {worker.executor} exited by itself (rc {worker.process.returncode})")
                worker.ended = time.time()
                if worker is self.starter:
                    self.spawn_starter()
                else:
                    self.retire(worker)
                    self.spawn(worker.slot)
        for worker in self.retired:
            if worker.stopping and worker.alive() and time.time() - worker.ended > 20:
                worker.process.kill()  # a shutdown that hangs is reported by its log; not a counted fault

    # --- load ----------------------------------------------------------------------------
    def task_spec(self, kind, txn):
        r = self.random
        payload, queue, options = {"txn": txn, "kind": kind}, "soak_plain", {}
        if kind == "plain":
            payload["ms"] = r.randint(30, 300)
        elif kind == "retry":
            payload.update(ms=r.randint(30, 100), fail=r.randint(1, 2))
        elif kind == "timeout":
            payload["ms"] = 5000
            options["max_attempts"] = 2
        elif kind == "cancel":
            payload["ms"] = 2500
        elif kind == "workflow":
            payload.update(ms=300, workflow=True)
        elif kind == "complete_in_transaction":
            payload.update(ms=200, complete_in_transaction=True)
        elif kind == "idempotent":
            payload["ms"] = r.randint(30, 200)
            options["key"] = f"idem-{r.randint(0, max(20, int(self.duration / 3)))}"
        elif kind == "global":
            queue, payload["ms"] = "soak_global", r.randint(150, 400)
        elif kind == "rate":
            queue, payload["ms"] = "soak_rate", 30
        elif kind == "keyed":
            queue, payload["ms"] = "soak_keyed", r.randint(150, 400)
            options["concurrency_key"] = f"k{r.randint(0, 3)}"
        elif kind == "sleeper":
            # half in soak_global: a sleep frees its slot, and the global limit's check cuts
            # an attempt at its release
            queue = r.choice(["soak_plain", "soak_global"])
            payload.update(ms=r.randint(30, 120), sleeps=r.randint(1, 3), sleep_ms=r.randint(20, 200))
        elif kind == "parent":
            payload.update(ms=0, children=r.randint(2, 5))
        args = [f"'{queue}'", "'soak'", f"'{json.dumps(payload)}'::jsonb"]
        args += [f"{name} => '{value}'" if isinstance(value, str) else f"{name} => {value}"
                 for name, value in options.items()]
        return {"kind": kind, "key": options.get("key"), "queue": queue}, f"SELECT rota.enqueue({', '.join(args)});"

    # About 32 enqueues a second: soak_rate gets about half its rate on average (bursts and the
    # backlog of a restart fill it), so that the drain at the end finishes.
    KINDS = [("plain", 4), ("retry", 2), ("timeout", 0.3), ("cancel", 1), ("workflow", 2), ("complete_in_transaction", 1.5),
             ("idempotent", 1.5),
             ("global", 2.5), ("rate", 0.7), ("keyed", 2.5), ("sleeper", 1.5), ("parent", 0.8)]

    def producer(self, number):
        sequence = 0
        kinds, weights = zip(*self.KINDS)
        while not self.stop_load.is_set():
            sequence += 1
            txn = f"p{number}-{sequence}"
            with self.lock:
                specs = [self.task_spec(kind, txn) for kind in self.random.choices(kinds, weights, k=self.random.randint(1, 4))]
                kill_now = self.pending_producer_kills > 0 and self.random.random() < 0.5
                if kill_now:
                    self.pending_producer_kills -= 1
                intent = "kill" if kill_now else ("rollback" if self.random.random() < 0.15 else "commit")
            record = {"txn": txn, "intent": intent, "enqueues": [spec for spec, _ in specs]}
            # 'enqueued' is printed once every enqueue succeeded: without it the session failed
            # before COMMIT was sent (ON_ERROR_STOP), so the transaction rolled back.
            script = "BEGIN;\n" + "\n".join(sql for _, sql in specs) + "\nSELECT 'enqueued' FROM pg_sleep(0.02);\n"
            process = subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", self.url],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if intent == "kill":
                # COMMIT is never written: the transaction is open while the session dies.
                process.stdin.write(script + "SELECT pg_sleep(5);\n")
                process.stdin.flush()
                time.sleep(0.5)
                process.kill()
                process.communicate()
                record["outcome"], record["how"] = "rolled_back", "killed"
                with self.lock:
                    self.faults["producer_killed_mid_transaction"] += 1
                log(f"producer transaction {txn} killed mid-transaction")
            else:
                try:
                    output, _ = process.communicate(script + ("COMMIT;\n" if intent == "commit" else "ROLLBACK;\n"), timeout=60)
                except subprocess.TimeoutExpired:
                    process.kill()
                    output, _ = process.communicate()
                    process.returncode = -1
                ids = [int(line) for line in output.split() if line.strip().isdigit()]
                if intent == "rollback":
                    record["outcome"], record["how"] = "rolled_back", "rollback"
                elif "enqueued" not in output.split():
                    record["outcome"], record["how"] = "rolled_back", "session_failed"
                elif process.returncode == 0 and len(ids) == len(specs):
                    record["outcome"] = "committed"
                    for spec, task_id in zip(record["enqueues"], ids):
                        spec["id"] = task_id
                        # some parents too: a cancel then ends their unfinished children
                        if spec["kind"] == "cancel" or (spec["kind"] == "parent" and self.random.random() < 0.25):
                            with self.lock:
                                self.cancel_candidates.append(task_id)
                else:
                    record["outcome"] = "unknown"  # the session died at COMMIT: the database says which
            with self.lock:
                self.transactions.append(record)
            time.sleep(self.random.uniform(0.05, 0.25))

    def canceller(self):
        while not self.stop_load.wait(0.4):
            with self.lock:
                if not self.cancel_candidates:
                    continue
                task_id = self.cancel_candidates.pop(self.random.randrange(len(self.cancel_candidates)))
                if self.random.random() < 0.3:
                    continue  # some cancel tasks are left to finish
            answer = try_psql(self.url, f"SELECT rota.cancel({task_id})")
            if answer:
                self.cancels.append({"id": task_id, "state": answer, "at": time.time()})

    def monitor(self):
        """The cheap invariants, continuously: the database never runs more than a limit allows."""
        sql = f"""SELECT 'global', count(*) FROM rota.tasks WHERE queue = 'soak_global' AND state = 'running'
                  UNION ALL SELECT 'key:' || concurrency_key, count(*) FROM rota.tasks
                  WHERE queue = 'soak_keyed' AND state = 'running' GROUP BY concurrency_key"""
        # one snapshot: a waiting task's children_open against its children not yet final
        # (the transaction that ends a child counts it off its waiting parent)
        waiting = f"""SELECT p.id, p.children_open, count(c.id) FILTER (WHERE c.state NOT IN {FINAL_STATES})
                      FROM rota.tasks p LEFT JOIN rota.tasks c ON c.parent_id = p.id
                      WHERE p.state = 'waiting' GROUP BY p.id, p.children_open"""
        while not self.stop_load.wait(1.0):
            answer = try_psql(self.url, sql, timeout=10)
            for line in (answer or "").splitlines():
                what, count = line.split("|")
                limit = GLOBAL_LIMIT if what == "global" else KEY_LIMIT
                if int(count) > limit:
                    self.monitor_violations.append({"at": time.time(), "what": what, "running": int(count)})
            for line in (try_psql(self.url, waiting, timeout=10) or "").splitlines():
                task_id, children_open, unfinished = (int(x) for x in line.split("|"))
                self.waiting_samples += 1
                if children_open != unfinished:
                    self.waiting_mismatches.append({"at": time.time(), "id": task_id, "children_open": children_open,
                                                    "unfinished_children": unfinished})

    # --- faults --------------------------------------------------------------------------
    def sigkill(self, worker, fault):
        """SIGKILLs `worker` and notes when (its tasks' recovery is measured from then)."""
        worker.process.send_signal(signal.SIGKILL)
        now = time.time()
        worker.process.wait()
        worker.ended = now
        self.kills.append({"executor": worker.executor, "at": now})
        self.faults[fault] += 1

    def kill_worker(self):
        """SIGKILLs a worker that has run for lease + 2 s: one that can be the reaper of the
        previous victim's tasks (with one replica, the replacement must live to reap them)."""
        candidates = [w for w in self.workers.values() if w.alive() and not w.frozen
                      and not (w.slot == 0 and self.partitioned) and time.time() - w.started >= LEASE + 2]
        if not candidates:
            return False
        worker = self.random.choice(candidates)
        self.sigkill(worker, "sigkill_worker")
        log(f"killed {worker.executor} (SIGKILL)")
        self.retire(worker)
        self.spawn(worker.slot)
        return True

    def kill_starter(self):
        """SIGKILLs the starter once it has run for lease + 2 s; a new one starts at once."""
        starter = self.starter
        if not starter or not starter.alive() or time.time() - starter.started < LEASE + 2:
            return False
        self.sigkill(starter, "sigkill_starter")
        log(f"killed the starter {starter.executor} (SIGKILL)")
        self.spawn_starter()
        return True

    def stop_starter(self):
        """SIGTERM: the starter stops starting, drains and exits (its last wait just ends)."""
        starter, self.starter = self.starter, None
        starter.process.send_signal(signal.SIGTERM)
        try:
            starter.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            starter.process.kill()
            starter.process.wait()
        starter.ended = time.time()

    def restart_db(self, mode):
        began = time.time()
        self.cluster.stop(mode)
        time.sleep(self.random.uniform(0.2, 1.5))
        self.cluster.start()
        self.downtimes.append({"from": began, "to": time.time(), "mode": mode})
        self.faults[f"db_restart_{mode}"] += 1
        log(f"database restarted ({mode}, {time.time() - began:.1f} s down)")

    def freeze(self, seconds):
        candidates = [w for w in self.workers.values() if w.slot != 0 and w.alive()]
        if not candidates:
            return None
        worker = self.random.choice(candidates)
        worker.frozen = True
        worker.process.send_signal(signal.SIGSTOP)
        self.freezes.append({"executor": worker.executor, "from": time.time(), "seconds": seconds})
        self.faults["sigstop_worker"] += 1
        log(f"froze {worker.executor} for {seconds:.1f} s (lease {LEASE} s)")
        return worker

    def thaw(self, worker):
        worker.process.send_signal(signal.SIGCONT)
        worker.frozen = False
        self.freezes[-1]["to"] = time.time()

    def terminate_backends(self):
        answer = try_psql(self.url, """SELECT count(pg_terminate_backend(pid)) FROM (
            SELECT pid FROM pg_stat_activity WHERE datname = 'rota' AND backend_type = 'client backend'
              AND pid <> pg_backend_pid() AND application_name NOT LIKE 'psql%' ORDER BY random() LIMIT 3) s""")
        if answer and int(answer) > 0:
            self.faults["pg_terminate_backend"] += int(answer)

    def plan(self):
        """The fault timeline: (second, action, argument), random within the fault window."""
        r, d = self.random, self.duration
        begin, end = 8.0, d - 20.0
        events = [(0.0, "scale", 1), (0.2 * d, "scale", 3), (0.45 * d, "scale", 5), (0.75 * d, "scale", 2)]
        kills = max(20, int(d / 5))
        events += [(r.uniform(begin, end), "kill", None) for _ in range(kills)]
        events += [(r.uniform(begin, end), "kill_starter", None) for _ in range(max(2, int(d / 40)))]
        restarts = max(3, round(d / 100))
        for i in range(restarts):
            share = (end - begin) / restarts
            events.append((begin + share * i + r.uniform(0.1, 0.9) * share, "restart", ("fast", "immediate")[i % 2]))
        # the freeze and the partition while 5 replicas run, so that others recover their tasks
        five_from, five_to = 0.45 * d + 2, 0.75 * d - 12
        events.append((r.uniform(five_from, five_to), "freeze", LEASE + 3))
        if self.netns:
            events.append((r.uniform(five_from, five_to), "partition", LEASE + 4))
        for extra in range(1, int(d / 300) + 1):  # a longer run freezes and partitions again
            events.append((r.uniform(begin, end), "freeze", LEASE + 3))
            if self.netns:
                events.append((r.uniform(0.2 * d, end), "partition", LEASE + 4))
        t = begin
        while t < end:
            t += r.uniform(5, 12)
            events.append((t, "terminate", None))
        self.pending_producer_kills = 0
        for _ in range(max(2, int(d / 60))):
            events.append((r.uniform(begin, end), "producer_kill", None))
        return sorted(events, key=lambda e: e[0])

    # --- the run -------------------------------------------------------------------------
    def run(self):
        self.setup()
        self.partitioned, self.pending_kills, self.pending_starter_kills = False, 0, 0
        events = self.plan()
        self.t0 = time.time()
        log(f"run {self.out}: {self.duration / 60:g} min, seed {self.args.seed}, {len(events)} planned events")
        threads = [threading.Thread(target=self.producer, args=(n,), daemon=True) for n in range(3)]
        threads += [threading.Thread(target=self.canceller, daemon=True), threading.Thread(target=self.monitor, daemon=True)]
        self.spawn_starter()
        for thread in threads:
            thread.start()
        timers = []  # (at, action, argument): the ends of freezes and partitions
        while time.time() - self.t0 < self.duration:
            elapsed = time.time() - self.t0
            while events and events[0][0] <= elapsed:
                _, action, argument = events.pop(0)
                self.act(action, argument, timers)
            for timer in [t for t in timers if t[0] <= time.time()]:
                timers.remove(timer)
                self.act(timer[1], timer[2], timers)
            if self.pending_kills and self.kill_worker():
                self.pending_kills -= 1
            if self.pending_starter_kills and self.kill_starter():
                self.pending_starter_kills -= 1
            self.watch_workers()
            time.sleep(0.05)
        for timer in timers:
            self.act(timer[1], timer[2], timers)
        self.stop_load.set()
        for thread in threads:
            thread.join(timeout=90)
        self.stop_starter()
        self.load_ended = time.time()
        log("load stopped; pausing schedules and draining")
        self.pause_at = time.time()
        psql(self.url, "; ".join(f"SELECT rota.pause_schedule('{name}')" for name in SCHEDULES))
        self.drain()
        for worker in list(self.workers.values()):
            worker.stopping = True
            worker.process.send_signal(signal.SIGTERM)
            self.retire(worker)
        for worker in self.retired:
            try:
                worker.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.process.kill()
        return self.check()

    def act(self, action, argument, timers):
        if action == "scale":
            self.scale(argument)
        elif action == "kill":
            self.pending_kills += 1  # as soon as a worker may be killed
        elif action == "kill_starter":
            self.pending_starter_kills += 1
        elif action == "restart":
            self.restart_db(argument)
        elif action == "freeze":
            worker = self.freeze(argument)
            if worker:
                timers.append((time.time() + argument, "thaw", worker))
        elif action == "thaw":
            self.thaw(argument)
            log(f"resumed {argument.executor}")
        elif action == "partition":
            if 0 in self.workers and not self.partitioned:
                self.netns.link(False)
                self.partitioned = True
                self.partitions.append({"executor": self.workers[0].executor, "from": time.time(), "seconds": argument})
                self.faults["network_partition"] += 1
                timers.append((time.time() + argument, "heal", None))
                log(f"cut {self.workers[0].executor} off the database for {argument:.1f} s (lease {LEASE} s)")
        elif action == "heal":
            self.netns.link(True)
            self.partitioned = False
            self.partitions[-1]["to"] = time.time()
            log("network restored")
        elif action == "terminate":
            self.terminate_backends()
        elif action == "producer_kill":
            with self.lock:
                self.pending_producer_kills += 1

    def drain(self):
        deadline = time.time() + 120
        while time.time() < deadline:
            left = try_psql(self.url, "SELECT count(*) FROM rota.tasks WHERE state IN ('queued', 'running', 'waiting')")
            if left == "0":
                break
            self.watch_workers()
            time.sleep(0.5)
        self.drained_at = time.time()

    # --- the checks ----------------------------------------------------------------------
    def fetch(self, sql):
        return json.loads(psql(self.url, f"SELECT coalesce(json_agg(x), '[]') FROM ({sql}) x", timeout=300))

    def check(self):
        epoch = "extract(epoch FROM {})::float8"
        db = {
            "tasks": self.fetch(f"""SELECT id, queue, key, state, attempts, result, concurrency_key, executor,
                parent_id, children_open, (payload->>'sleeps')::int AS sleeps, (payload->>'children')::int AS planned_children,
                payload->>'txn' AS txn, payload->>'kind' AS kind, {epoch.format('started_at')} AS started_at,
                {epoch.format('finished_at')} AS finished_at, {epoch.format('enqueued_at')} AS enqueued_at
                FROM rota.tasks"""),
            "attempts": self.fetch(f"""SELECT task_id, attempt, executor, outcome,
                CASE WHEN outcome = 'released' THEN error END AS reason,
                {epoch.format('started_at')} AS started_at, {epoch.format('finished_at')} AS finished_at
                FROM rota.task_attempts"""),
            "fires": self.fetch(f"""SELECT f.schedule, {epoch.format('f.fire_at')} AS fire_at, f.task_id,
                to_char(f.fire_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS fire_text
                FROM rota.schedule_fires f"""),
            "effects": self.fetch("SELECT task_id, attempt, executor FROM soak_effects"),
            "effect_steps": self.fetch("SELECT task_id, attempt FROM rota.task_steps WHERE name = 'effect'"),
            "completions": self.fetch("SELECT task_id, attempt, executor FROM soak_completions"),
            "wait_steps": self.fetch("""SELECT task_id, name, attempt,
                extract(epoch FROM (output->>'until')::timestamptz)::float8 AS until
                FROM rota.task_steps WHERE name ~ '^(work|sleep)-[0-9]+$'"""),
        }
        ledger = soak_checks.load_ledgers(self.out)
        run = {
            "duration": self.duration, "t0": self.t0, "load_ended": self.load_ended, "pause_at": self.pause_at,
            "drained_at": self.drained_at, "lease": LEASE, "heartbeat": HEARTBEAT, "reap": REAP,
            "global_limit": GLOBAL_LIMIT, "rate_limit": RATE_LIMIT, "rate_period": RATE_PERIOD, "key_limit": KEY_LIMIT,
            "fanout": FANOUT, "schedules": {name: cron for name, (cron, _) in SCHEDULES.items()},
            "schedule_payloads": {name: payload for name, (_, payload) in SCHEDULES.items()},
            "faults": self.faults, "kills": self.kills, "downtimes": self.downtimes, "freezes": self.freezes,
            "partitions": self.partitions, "transactions": self.transactions, "cancels": self.cancels,
            "monitor_violations": self.monitor_violations, "unexpected_exits": self.unexpected_exits,
            "scale_steps": self.scale_steps, "not_injected": self.not_injected, "seed": self.args.seed,
            "workers": len(self.retired), "min_succeeded": 100, "min_direct_results": 5,
            "waiting_mismatches": self.waiting_mismatches, "waiting_samples": self.waiting_samples,
            "direct_starts": [{"executor": s.executor, "ended": s.ended, "starts": soak_checks.read_direct_starts(s.starts)}
                              for s in self.starters],
        }
        with open(os.path.join(self.out, "run.json"), "w") as f:
            json.dump({"run": run, "db": db}, f)
        result = soak_checks.evaluate(run, db, ledger)
        with open(os.path.join(self.out, "result.json"), "w") as f:
            json.dump(result, f, indent=2)
        print(soak_checks.table(result))
        print(f"JSON: {os.path.join(self.out, 'result.json')}")
        return result

    def cleanup(self):
        for worker in list(self.workers.values()) + self.retired + self.starters:
            if worker.alive():
                worker.process.send_signal(signal.SIGCONT)
                worker.process.kill()
                worker.process.wait()
        if getattr(self, "cluster", None) and not self.args.keep:
            self.cluster.destroy()
        elif getattr(self, "cluster", None):
            self.cluster.stop("fast")
            log(f"cluster kept in {self.cluster.dir}")
        if self.netns:
            self.netns.destroy()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", "10")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("SOAK_SEED", str(int(time.time())))))
    parser.add_argument("--rota", default=os.path.join(ROOT, ".build", "debug", "rota"))
    parser.add_argument("--keep", action="store_true", help="keep the cluster's folder (stopped) for a look")
    args = parser.parse_args()
    os.environ["PATH"] = f"{PGBIN}:{os.environ['PATH']}"
    soak = Soak(args)
    # SIGTERM/SIGINT: clean up what the soak started, then exit.
    for stop_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, lambda *_: sys.exit(130))
    try:
        result = soak.run()
    finally:
        soak.cleanup()
    sys.exit(1 if result["failed"] else 0)


if __name__ == "__main__":
    main()
