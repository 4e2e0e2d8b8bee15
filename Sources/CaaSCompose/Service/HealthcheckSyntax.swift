import CaaSModel

extension ServiceReader {
    /// `healthcheck:`. `test` as a string is `CMD-SHELL`; as a list it starts with `CMD`, `CMD-SHELL`
    /// or `NONE`. `disable: true` or `NONE` gives `nil`. A healthcheck without `test` would inherit
    /// the image's, which caas cannot read: warned and dropped.
    func readHealthcheck(_ node: YNode) -> HealthCheck? {
        guard let entries = reader.mapping(node) else { return nil }
        reader.checkKeys(entries, known: ["test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"], context: "healthcheck")
        UndeliveredKeys.warn(entries, UndeliveredKeys.healthcheck, log: log)
        if let n = node["disable"], reader.bool(n) == true { return nil }
        var check = HealthCheck(test: [])
        if let n = node["interval"], let v = reader.duration(n) { check.intervalSeconds = v }
        if let n = node["timeout"], let v = reader.duration(n) { check.timeoutSeconds = v }
        if let n = node["start_period"], let v = reader.duration(n) { check.startPeriodSeconds = v }
        if let n = node["start_interval"] { _ = reader.duration(n) }
        if let n = node["retries"], let v = reader.int(n, in: 0...1_000_000) { check.retries = v }
        guard let testNode = node["test"] else {
            log.warning(node, "a healthcheck without 'test' would use the image's own check, which caas does not read; ignored")
            return nil
        }
        if let scalar = testNode.scalar, !scalar.isNull {
            if scalar.text.trimmingSpaces.isEmpty {
                log.error(testNode, "healthcheck 'test' is empty")
                return nil
            }
            check.test = ["CMD-SHELL", scalar.text]
            return check
        }
        guard let words = reader.strings(testNode) else { return nil }
        let test = words.map(\.0)
        switch test.first {
        case "NONE":
            return nil
        case "CMD", "CMD-SHELL":
            guard test.count > 1 else {
                log.error(testNode, "healthcheck 'test' names no command after \(test[0])")
                return nil
            }
            check.test = test
            return check
        default:
            log.error(testNode, "a healthcheck 'test' list starts with CMD, CMD-SHELL or NONE")
            return nil
        }
    }
}
