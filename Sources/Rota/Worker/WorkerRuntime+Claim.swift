import Foundation

extension WorkerRuntime {
    /// Claims tasks while capacity is free and runs their handlers as child tasks; on
    /// graceful shutdown stops claiming and drains. Returns when no handler runs any more.
    func claimAndRun() async {
        await withDiscardingTaskGroup { handlerGroup in
            var failures = 0
            var missing = MissingQueues(backoff: Backoff(initial: configuration.pollInterval, maximum: .seconds(60)))
            while !isShuttingDown && !Task.isCancelled {
                await gatherFreeCapacity()
                var claimed = 0
                var sawFreeCapacity = false
                do {
                    var groups = claimGroups.groups(running: inFlight.countsByQueue, missing: missing)
                    sawFreeCapacity = !groups.isEmpty
                    while !groups.isEmpty, !isShuttingDown {
                        let claim = groups.removeFirst()
                        let group = claim.queues
                        let tasks: [ClaimedTask]
                        do {
                            // the smallest free capacity of the group, so that no queue gets more than its own
                            tasks = try await claimStatements.claim(executor: executorID, queues: group, max: claim.max)
                        } catch let error as RotaError where error.code == .unknownQueue {
                            if group.count > 1 {
                                // find which one, queue by queue
                                groups = group.map { ClaimGroups.Group(queues: [$0], max: claim.max) } + groups
                                continue
                            }
                            // Dropped while the worker runs: keep serving the other queues.
                            if missing.failed(group[0]) {
                                logger.error("queue no longer exists; serving the other queues and looking for it again with backoff",
                                             metadata: ["queue": "\(group[0])", "error": "\(error)"])
                            }
                            continue
                        }
                        if group.count == 1, missing.found(group[0]) {
                            logger.info("queue exists again", metadata: ["queue": "\(group[0])"])
                        }
                        if group.count == 1 {
                            metrics.claimed(queue: group[0], count: tasks.count)
                        } else {
                            for (queue, count) in Dictionary(grouping: tasks, by: \.queue).mapValues(\.count) {
                                metrics.claimed(queue: queue, count: count)
                            }
                        }
                        for (task, abort) in startTracking(tasks) {
                            claimed += 1
                            handlerGroup.addTask { await self.execute(task, abort: abort) }
                        }
                    }
                    failures = 0
                } catch let error as RotaError where error.isConnectionError {
                    if failures == 0 { logger.warning("claim failed, reconnecting", metadata: ["error": "\(error)"]) }
                    await claimWake.wait(timeout: configuration.backoff.delay(afterAttempt: failures))
                    failures += 1
                    continue
                } catch {
                    // e.g. an unknown queue: say so, and look again later.
                    logger.error("claim failed", metadata: ["error": "\(error)"])
                    failures += 1
                    await claimWake.wait(timeout: configuration.pollInterval)
                    continue
                }
                if claimed > 0 { continue }  // there may be more ready right now
                if !sawFreeCapacity {
                    // Every slot is busy: a finishing handler wakes the loop.
                    await claimWake.wait(timeout: configuration.pollInterval)
                    continue
                }
                // Nothing ready: wait for a notification, the poll interval, or the next delayed task.
                var timeout = configuration.pollInterval
                let present = queueNames.filter { !missing.contains($0) }
                if !present.isEmpty, let delay = try? await claimStatements.secondsUntilNextRun(queues: present), delay > 0 {
                    timeout = min(timeout, .milliseconds(Int64(delay * 1000) + 1))
                }
                await claimWake.wait(timeout: timeout)
            }
            await drain(handlerGroup: &handlerGroup)
        }
    }

    /// While a queue with running handlers has less than half of its capacity free, waits
    /// up to ``RotaWorkerConfiguration/claimGatherWindow`` for more of them to end, so that
    /// one claim takes several tasks instead of one per finished handler. An idle worker
    /// (nothing running) never waits here, so its start latency is unchanged.
    private func gatherFreeCapacity() async {
        let window = configuration.claimGatherWindow
        guard window > .zero else { return }
        func needsMore() -> Bool {
            inFlight.countsByQueue.contains { queue, running in
                let capacity = configuration.queues[queue] ?? 0
                return running > 0 && capacity > 1 && capacity - running < Self.gatheredFree(capacity: capacity)
            }
        }
        guard needsMore() else { return }
        let deadline = ContinuousClock.now + window
        while needsMore() && !isShuttingDown && !Task.isCancelled {
            let left = deadline - ContinuousClock.now
            if left <= .zero { return }
            await claimWake.wait(timeout: left)
        }
    }

    /// The free slots of a queue that end ``gatherFreeCapacity()``'s wait: half of them.
    private static func gatheredFree(capacity: Int) -> Int { (capacity + 1) / 2 }

    /// Lets running handlers finish within the grace period, then aborts the rest.
    private func drain(handlerGroup: inout DiscardingTaskGroup) async {
        guard !inFlight.isEmpty else { return }
        let grace = configuration.shutdownGracePeriod
        handlerGroup.addTask {
            do {
                try await Task.sleep(for: grace)
            } catch {
                return  // everything finished in time
            }
            self.logger.warning("grace period over, cancelling running tasks", metadata: ["running": "\(self.inFlight.count)"])
            self.inFlight.abortAll(reason: .shutdown)
        }
        while !inFlight.isEmpty && !Task.isCancelled {
            await drainWake.wait(timeout: .milliseconds(100))
        }
        handlerGroup.cancelAll()  // ends the grace timer
    }

    /// Runs one claimed task's handler and hands its outcome to the batcher.
    func execute(_ task: ClaimedTask, abort: OneShotEvent<AbortReason>) async {
        let started = ContinuousClock.now
        let steps = WorkflowSteps(task: task, pool: workflowConnections)
        var outcome = await runHandler(task, steps: steps, abort: abort)
        if steps.completedInTransaction {
            // Whatever happened afterwards: an error of the handler, or an abort by the
            // heartbeat, which no longer finds the completed task running.
            outcome = .completedInTransaction
        }
        switch outcome {
        case .completed, .completedInTransaction:
            metrics.handlerEnded(task: task.task, duration: ContinuousClock.now - started, succeeded: true)
        case .failed, .timedOut:
            metrics.handlerEnded(task: task.task, duration: ContinuousClock.now - started, succeeded: false)
        case .aborted, .abandoned, .suspended:
            break
        }
        switch outcome {
        case .completed(let result):
            completions.add(.completed(id: task.id, attempt: task.attempt, token: task.leaseToken, result: result))
        case .completedInTransaction:
            finishedTasks.add(1)  // committed with the handler's transaction
        case .failed(let message, let retryIn, let retryable):
            completions.add(.failed(id: task.id, attempt: task.attempt, token: task.leaseToken, error: message,
                                    retryIn: retryIn, retryable: retryable))
        case .timedOut(let timeout):
            completions.add(.failed(id: task.id, attempt: task.attempt, token: task.leaseToken,
                                    error: "timeout after \(timeout)", retryIn: nil, retryable: true))
        case .aborted(.releasedByDatabase):
            // Cancel requested: fail turns it into `cancelled`. No longer ours: fenced off, no effect.
            completions.add(.failed(id: task.id, attempt: task.attempt, token: task.leaseToken, error: "cancelled",
                                    retryIn: nil, retryable: true))
        case .aborted(.leaseLost):
            // The heartbeat renews every task still registered to this executor once the
            // database is back, so the task must be given up explicitly (fenced if reaped).
            completions.add(.failed(id: task.id, attempt: task.attempt, token: task.leaseToken,
                                    error: "lease lost: heartbeats failed for longer than the lease",
                                    retryIn: nil, retryable: true))
        case .aborted(.shutdown), .abandoned:
            break  // released by rota.stop_executor, or recovered by a reaper when the lease expires
        case .suspended:
            break  // given back by rota.sleep or rota.wait_for_children
        }
        let stillRunning = inFlight.remove(id: task.id)
        metrics.running(inFlight.count)
        if stillRunning.map({ frees(queue: task.queue, running: $0) }) ?? true { claimWake.signal() }
        drainWake.signal()
    }

    /// Whether `queue`, now running `running` handlers, has just reached free capacity the
    /// claim loop waits for: its first free slot (the loop waits when every slot is busy)
    /// or half of its slots (what ``gatherFreeCapacity()`` waits for). Waking the loop at
    /// every other end would only make it wait again.
    private func frees(queue: String, running: Int) -> Bool {
        guard let capacity = configuration.queues[queue] else { return true }
        let free = capacity - running
        return free == 1 || free == Self.gatheredFree(capacity: capacity) || running == 0
    }

    enum HandlerOutcome: Sendable {
        case completed(String?)
        /// ``TaskContext/completeInTransaction(_:)`` committed the completion.
        case completedInTransaction
        case failed(String, retryIn: Duration?, retryable: Bool)
        case timedOut(Duration)
        case aborted(AbortReason)
        /// The worker itself was cancelled.
        case abandoned
        /// The handler gave its task back to wait (``WorkflowSuspension``).
        case suspended
    }

    /// Races the handler against its abort event and its timeout; the loser is cancelled
    /// and awaited (structured: a handler never outlives this call). The abort event ends
    /// the race through an observer rather than a waiting child task: it rarely fires, and
    /// a child per task would cost each task two more scheduled jobs.
    private func runHandler(_ task: ClaimedTask, steps: WorkflowSteps, abort: OneShotEvent<AbortReason>) async -> HandlerOutcome {
        guard let handler = handlers[task.task] else {
            return .failed("no handler for task \(task.task) in executor \(executorID)", retryIn: nil, retryable: true)
        }
        let context = TaskContext(taskID: task.id, attempt: task.attempt, queue: task.queue, task: task.task,
                                  key: task.key, parentID: task.parentID, enqueuedAt: task.enqueuedAt,
                                  runAt: task.runAt, scheduledAt: task.scheduledAt,
                                  startedAt: Date(), executorID: executorID, workerLogger: logger,
                                  steps: steps)
        let timeout = handler.timeout ?? configuration.defaultTaskTimeout
        let payload = task.payload
        let ended = OneShotEvent<HandlerOutcome>()
        abort.onFire { ended.fire(.aborted($0)) }
        await withDiscardingTaskGroup { group in
            group.addTask {
                do {
                    ended.fire(.completed(try await handler.run(payload, context)))
                } catch let error as RotaTaskError {
                    switch error {
                    case .nonRetryable(let message): ended.fire(.failed(message, retryIn: nil, retryable: false))
                    case .retry(let after, let reason): ended.fire(.failed(reason, retryIn: after, retryable: true))
                    }
                } catch is WorkflowSuspension {
                    ended.fire(.suspended)
                } catch is CancellationError where Task.isCancelled {
                    return  // stopped from outside: the abort, the timeout or the worker's end says why
                } catch let error as RotaError {
                    ended.fire(.failed(error.description, retryIn: nil, retryable: true))
                } catch {
                    ended.fire(.failed(String(describing: error), retryIn: nil, retryable: true))
                }
            }
            if let timeout {
                group.addTask {
                    guard (try? await Task.sleep(for: timeout)) != nil else { return }
                    ended.fire(.timedOut(timeout))
                }
            }
            _ = await ended.wait()  // or this worker itself was cancelled, and its children with it
            group.cancelAll()
        }
        // The first that ended the race, now that the handler has returned; none: cancelled.
        return ended.value ?? .abandoned
    }
}
