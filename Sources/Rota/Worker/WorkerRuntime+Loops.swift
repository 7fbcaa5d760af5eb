import Foundation

extension WorkerRuntime {
    /// Turns notifications into wake-ups: `rota_enqueue` for one of our queues wakes the
    /// claim loop, `rota_schedules` the schedule loop; a (re)connection wakes both, since
    /// notifications sent while disconnected are lost. The listener's own thread wakes them,
    /// so an enqueue reaches the claim loop with one thread switch fewer (on a busy machine
    /// each costs a scheduling delay); this task only keeps the listener until cancelled.
    func listen() async {
        var listenerLogger = logger
        listenerLogger[metadataKey: "connection"] = "listen"
        let queues = Set(queueNames)
        let claimWake = claimWake
        let scheduleWake = scheduleWake
        let listener = PostgresListener(connectionString: configuration.connectionString,
                                        channels: [Statements.enqueueChannel, Statements.schedulesChannel],
                                        backoff: configuration.backoff, logger: listenerLogger) { event in
            switch event {
            case .listening:
                claimWake.signal()
                scheduleWake.signal()
            case .notification(let notification):
                if notification.channel == Statements.schedulesChannel {
                    scheduleWake.signal()
                } else if notification.payload.isEmpty || queues.contains(notification.payload) {
                    claimWake.signal()
                }
            }
        }
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
        listener.shutdown()
    }

    /// Renews leases every heartbeat interval — which follows the leases of the running
    /// tasks, so a lease changed with `rota.define_queue` counts from the next claim — and
    /// aborts the handlers the database reports (cancel requested, or no longer ours).
    func heartbeatLoop() async {
        var failures = 0
        var last = ContinuousClock.now
        while !Task.isCancelled {
            let wait = failures == 0 ? heartbeatInterval
                                     : min(heartbeatInterval, configuration.backoff.delay(afterAttempt: failures - 1))
            let due = last + wait
            if ContinuousClock.now < due {
                // A claim with a shorter lease wakes this early, to wait for the nearer time.
                await heartbeatWake.wait(timeout: due - ContinuousClock.now)
                continue
            }
            last = ContinuousClock.now
            do {
                let held = inFlight.held
                let abort = try await heartbeatStatements.heartbeat(executor: executorID, held: held.ids,
                                                                    tokens: held.tokens)
                lastHeartbeat.withLock { $0 = .now }
                metrics.heartbeatSucceeded(lag: ContinuousClock.now - due)
                health.setConnected(true)
                failures = 0
                for id in abort {
                    logger.info("task cancelled or no longer ours, stopping its handler", metadata: ["task_id": "\(id)"])
                    inFlight.abort(id: id, reason: .releasedByDatabase)
                }
            } catch {
                failures += 1
                health.setConnected(false)
                if failures == 1 { logger.warning("heartbeat failed", metadata: ["error": "\(error)"]) }
            }
        }
    }

    /// When no heartbeat has succeeded for longer than the lease (failing, or hanging on a
    /// dead connection), another executor may already run those tasks: their handlers are
    /// aborted. Separate from the heartbeat loop so a heartbeat stuck in a call cannot delay it.
    func leaseWatchdog() async {
        let checkEvery = max(heartbeatInterval / 4, .milliseconds(50))
        while !Task.isCancelled {
            do { try await Task.sleep(for: checkEvery) } catch { return }
            let silentFor = ContinuousClock.now - lastHeartbeat.withLock { $0 }
            if let lease = inFlight.shortestLease, silentFor > lease {
                logger.error("no heartbeat for longer than the lease, cancelling running tasks",
                             metadata: ["running": "\(inFlight.count)", "silent_for": "\(silentFor)"])
                inFlight.abortAll(reason: .leaseLost)
            }
        }
    }

    /// Recovers tasks of dead executors (`rota.reap`) every reap interval. Every replica does
    /// this; the function is safe to run concurrently.
    func reapLoop() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: configuration.reapInterval ?? heartbeatInterval) } catch { return }
            do {
                let reaped = try await maintenanceStatements.reap()
                if reaped > 0 {
                    logger.info("recovered tasks with expired leases", metadata: ["count": "\(reaped)"])
                    claimWake.signal()
                }
            } catch {
                // An error, not a debug message: while reaping fails, tasks of dead executors
                // are not recovered.
                logger.error("rota.reap failed: tasks of dead executors are not being recovered",
                             metadata: ["error": "\(error)"])
            }
        }
    }

    /// Deletes old finished tasks (`rota.prune`) one batch at a time, as fast as
    /// ``PruneBudget`` allows: the configured floor rate plus 1.5 rows per task this worker
    /// finishes, so that the history stays bounded under any load and a backlog is cleared
    /// without a burst that would slow every other session down. Every call spends a batch's
    /// tokens, whatever it deleted, so that a history that is caught up (rows expiring as
    /// tasks finish one retention later) is pruned in paced calls, each taking what expired
    /// since the last. A call that deletes nothing means nothing is due: it looks again after
    /// the prune interval. The first look is at start, so
    /// that a replica starting after downtime catches up. Every replica does this; concurrent
    /// prunes skip each other's rows. Stops at graceful shutdown: the drain matters more.
    func pruneLoop() async {
        let rest = max(configuration.pruneInterval, Self.shortestPruneRest)
        var budget = PruneBudget(floorRate: configuration.pruneRate, now: .now)
        while !Task.isCancelled && !isShuttingDown {
            budget.accrue(finished: finishedTasks.take(), now: .now)
            guard budget.allowsBatch else {
                // At most a second, so that tasks finishing after a quiet spell (which the
                // estimate did not know of) speed it up soon.
                await pruneWake.wait(timeout: min(budget.delayUntilBatch ?? .seconds(1), .seconds(1), rest))
                continue
            }
            do {
                if try await maintenanceStatements.prune(batch: PruneBudget.batch) > 0 {
                    budget.spendBatch()
                    continue
                }
            } catch {
                // An error, not a debug message: while pruning fails, finished tasks pile up.
                logger.error("rota.prune failed: old finished tasks are not being deleted",
                             metadata: ["error": "\(error)"])
            }
            await pruneWake.wait(timeout: rest)
            _ = finishedTasks.take()
            budget.resume(now: .now)
        }
    }

    /// The shortest wait between looks for old finished tasks when none were due: a zero
    /// prune interval would make every worker look for nothing in a busy loop.
    static let shortestPruneRest: Duration = .milliseconds(100)

    /// Fires due cron schedules (`rota.fire_due`), sleeping until the next fire time or a
    /// change of schedules. Any number of replicas may do this: each fire happens once.
    func scheduleLoop() async {
        // Fires per call, so one call's transaction stays short; a full batch means more
        // may be due, so the next call follows at once instead of after a sleep.
        let batch = 200
        var failures = 0
        while !Task.isCancelled && !isShuttingDown {
            var timeout: Duration = .seconds(30)
            do {
                let fired = try await maintenanceStatements.fireDue(executor: executorID, maxFires: batch)
                if fired > 0 { logger.debug("fired schedules", metadata: ["count": "\(fired)"]) }
                if fired >= batch {
                    failures = 0
                    continue
                }
                if let delay = try await maintenanceStatements.secondsUntilNextFire() {
                    // A due fire that another replica holds right now is retried shortly.
                    timeout = min(timeout, .milliseconds(max(50, Int64(delay * 1000) + 1)))
                }
                failures = 0
            } catch let error as RotaError where error.sqlState == "42883" || error.sqlState == "42P01" {
                logger.info("schedules are not installed in this database; not firing schedules")
                return
            } catch {
                if failures == 0 { logger.warning("firing schedules failed", metadata: ["error": "\(error)"]) }
                timeout = configuration.backoff.delay(afterAttempt: failures)
                failures += 1
            }
            await scheduleWake.wait(timeout: timeout)
        }
    }
}
