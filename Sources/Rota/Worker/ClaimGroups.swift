/// Which claim statements one look for work makes: one for the queues with at least half of
/// their capacity free and one for the others (a worker on many queues must not pay a round
/// trip per queue; a statement takes at most the smallest free capacity of its queues, so
/// busy queues do not shrink the roomy ones' claims); a queue that went missing is looked
/// for on its own, so it cannot fail the others' claim.
///
/// Only queues with running handlers can be short of room, so while no queue is missing a
/// look costs in proportion to those, not to every queue of the worker: a worker on 1,000
/// queues spent a third of its time hashing their names on every claim.
struct ClaimGroups: Sendable {
    /// One claim statement: its queues, in name order, and how many tasks it may take.
    struct Group: Equatable {
        var queues: [String]
        var max: Int
    }

    /// The worker's queues, in name order.
    let queueNames: [String]
    private let capacity: [String: Int]
    /// Queue names by capacity, smallest first (then by name).
    private let byCapacity: [String]

    init(capacity: [String: Int]) {
        self.capacity = capacity
        queueNames = capacity.keys.sorted()
        byCapacity = queueNames.sorted { (capacity[$0]!, $0) < (capacity[$1]!, $1) }
    }

    /// The groups to claim for, given the running handlers per queue; empty when no queue
    /// has free capacity (or none is due for a look).
    func groups(running: [String: Int], missing: MissingQueues) -> [Group] {
        guard missing.isEmpty else { return groupsWithMissing(running: running, missing: missing) }
        var tight: [String] = []
        var tightMax = Int.max
        var notRoomy: Set<String> = []
        var roomyMax = Int.max
        for (queue, count) in running {
            guard let queueCapacity = capacity[queue] else { continue }
            let free = queueCapacity - count
            if 2 * free >= queueCapacity {
                roomyMax = min(roomyMax, free)
            } else {
                notRoomy.insert(queue)
                if free > 0 {
                    tight.append(queue)
                    tightMax = min(tightMax, free)
                }
            }
        }
        // the roomy queues without running handlers take at most their whole capacity
        if let idle = byCapacity.first(where: { running[$0] == nil }) {
            roomyMax = min(roomyMax, capacity[idle]!)
        }
        var groups: [Group] = []
        let roomy = notRoomy.isEmpty ? queueNames : queueNames.filter { !notRoomy.contains($0) }
        if !roomy.isEmpty { groups.append(Group(queues: roomy, max: roomyMax)) }
        if !tight.isEmpty { groups.append(Group(queues: tight.sorted(), max: tightMax)) }
        return groups
    }

    /// As ``groups(running:missing:)`` while some queue is missing: every queue looked at.
    private func groupsWithMissing(running: [String: Int], missing: MissingQueues) -> [Group] {
        var free: [String: Int] = [:]
        for queue in queueNames where missing.isDue(queue) {
            let room = capacity[queue]! - (running[queue] ?? 0)
            if room > 0 { free[queue] = room }
        }
        let present = queueNames.filter { free[$0] != nil && !missing.contains($0) }
        let roomy = present.filter { 2 * free[$0]! >= capacity[$0]! }
        let tight = present.filter { 2 * free[$0]! < capacity[$0]! }
        var groups = [roomy, tight].filter { !$0.isEmpty }.map { Group(queues: $0, max: $0.map { free[$0]! }.min()!) }
        groups += queueNames.filter { free[$0] != nil && missing.contains($0) }.map { Group(queues: [$0], max: free[$0]!) }
        return groups
    }
}
