/// Runs `body` for every item with at most `limit` running at once; returns when all are done.
func forEach<Item: Sendable>(_ items: [Item], atMost limit: Int, _ body: @escaping @Sendable (Item) async -> Void) async {
    await withTaskGroup(of: Void.self) { group in
        var inFlight = 0
        for item in items {
            if inFlight >= limit {
                await group.next()
                inFlight -= 1
            }
            group.addTask { await body(item) }
            inFlight += 1
        }
        await group.waitForAll()
    }
}
