import Rota

/// Makes the sessions that connect to `client`'s database from now on count the calls of
/// functions (`track_functions = 'all'`), for ``functionCalls(_:_:file:line:)``.
public func countFunctionCalls(_ client: RotaClient) async throws {
    try await client.query("""
        DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET track_functions = ''all''', current_database()); END $$
        """)
}

/// Calls of each of rota's functions `names` so far, by name (absent: none), once the other
/// sessions of the database have ended (a backend reports its counts at the latest when it
/// exits). Needs ``countFunctionCalls(_:)`` before those sessions connect.
public func functionCalls(_ client: RotaClient, _ names: [String],
                          file: StaticString = #filePath, line: UInt = #line) async throws -> [String: Int] {
    try await waitUntilOtherBackendsEnded(client, file: file, line: line)
    var counts: [String: Int] = [:]
    for row in try await client.query("""
        SELECT funcname AS name, sum(calls)::bigint AS calls FROM pg_stat_user_functions
        WHERE schemaname = 'rota' AND funcname = ANY($1::text[]) GROUP BY funcname
        """, [names]) {
        counts[try row.decode("name")] = try row.decode("calls", as: Int.self)
    }
    return counts
}
