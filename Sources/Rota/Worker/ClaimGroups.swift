/// Which claim statements one look for work makes: one for the queues with at least half of
/// their capacity free and one for the others (a worker on many queues must not pay a round
/// trip per queue; a statement takes at most the smallest free capacity of its queues, so
/// busy queues do not shrink the roomy ones' claims); a queue that went missing is looked
/// for on its own, so it cannot fail the others' claim.
///
/// Only queues with running handlers can be short of room, so while none is short of room
/// or missing a look costs in proportion to the running ones, not to every queue of the
/// worker: a worker on 1,000 queues spent a third of its time hashing their names on every
/// claim.
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
        var tight: [String] = []
        var tightMax = Int.max
        var notRoomy: Set<String> = []
        var roomyMax = Int.max
        for (queue, count) in running where !missing.contains(queue) {
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
        if let idle = byCapacity.first(where: { running[$0] == nil && !missing.contains($0) }) {
            roomyMax = min(roomyMax, capacity[idle]!)
        }
        var groups: [Group] = []
        let roomy = notRoomy.isEmpty && missing.isEmpty
            ? queueNames : queueNames.filter { !notRoomy.contains($0) && !missing.contains($0) }
        if !roomy.isEmpty { groups.append(Group(queues: roomy, max: roomyMax)) }
        if !tight.isEmpty { groups.append(Group(queues: tight.sorted(), max: tightMax)) }
        // a missing queue due for a look, on its own
        for queue in missing.queues.sorted() where missing.isDue(queue) {
            guard let queueCapacity = capacity[queue] else { continue }
            let free = queueCapacity - (running[queue] ?? 0)
            if free > 0 { groups.append(Group(queues: [queue], max: free)) }
        }
        return groups
    }
}
