/// A line diff of two texts (Myers' O(ND) algorithm), rendered as a unified diff. Pure.
public enum TextDiff {
    public enum Operation: Sendable, Equatable {
        case same(String)
        case removed(String)
        case added(String)
    }

    /// Edit scripts longer than this fall back to "remove the rest, add the rest" (still a
    /// correct diff, not a minimal one): the search keeps O(D²) integers.
    public static let maximumEditDistance = 2000

    /// The shortest edit script turning `old` lines into `new` lines.
    public static func lines(_ old: [String], _ new: [String]) -> [Operation] {
        // Common prefix and suffix need no search.
        var prefix = 0
        while prefix < old.count, prefix < new.count, old[prefix] == new[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < old.count - prefix, suffix < new.count - prefix,
              old[old.count - 1 - suffix] == new[new.count - 1 - suffix] { suffix += 1 }
        let middleOld = Array(old[prefix..<(old.count - suffix)])
        let middleNew = Array(new[prefix..<(new.count - suffix)])
        var operations = old[..<prefix].map(Operation.same)
        if let script = myers(middleOld, middleNew) {
            operations += script
        } else {
            operations += middleOld.map(Operation.removed) + middleNew.map(Operation.added)
        }
        operations += old[(old.count - suffix)...].map(Operation.same)
        return operations
    }

    /// Myers' greedy search; nil when the distance exceeds `maximumEditDistance`.
    static func myers(_ old: [String], _ new: [String]) -> [Operation]? {
        let n = old.count, m = new.count
        if n == 0 { return new.map(Operation.added) }
        if m == 0 { return old.map(Operation.removed) }
        let limit = min(n + m, maximumEditDistance)
        // frontier[k + offset]: the furthest x on diagonal k; trace[d] keeps the slice -d…d
        // of the frontier as it was before round d.
        let offset = limit + 1
        var frontier = [Int](repeating: 0, count: 2 * limit + 3)
        var trace: [[Int]] = []
        var found = false
        search: for d in 0...limit {
            trace.append(Array(frontier[(offset - d)...(offset + d)]))
            for k in stride(from: -d, through: d, by: 2) {
                var x: Int
                if k == -d || (k != d && frontier[offset + k - 1] < frontier[offset + k + 1]) {
                    x = frontier[offset + k + 1]
                } else {
                    x = frontier[offset + k - 1] + 1
                }
                var y = x - k
                while x < n, y < m, old[x] == new[y] {
                    x += 1
                    y += 1
                }
                frontier[offset + k] = x
                if x == n, y == m {
                    found = true
                    break search
                }
            }
        }
        guard found else { return nil }
        var operations: [Operation] = []
        var x = n, y = m
        for d in stride(from: trace.count - 1, through: 1, by: -1) {
            let slice = trace[d]
            // slice[i] is diagonal i - d; the values of round d-1 live on diagonals -(d-1)…(d-1).
            func at(_ k: Int) -> Int { slice[k + d] }
            let k = x - y
            let previousK = (k == -d || (k != d && at(k - 1) < at(k + 1))) ? k + 1 : k - 1
            let previousX = at(previousK)
            let previousY = previousX - previousK
            while x > previousX, y > previousY {
                operations.append(.same(old[x - 1]))
                x -= 1
                y -= 1
            }
            if x == previousX {
                operations.append(.added(new[y - 1]))
            } else {
                operations.append(.removed(old[x - 1]))
            }
            x = previousX
            y = previousY
        }
        while x > 0, y > 0 {
            operations.append(.same(old[x - 1]))
            x -= 1
            y -= 1
        }
        return operations.reversed()
    }

    /// Splits text into lines (a final newline does not make an empty last line).
    public static func split(_ text: String) -> [String] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// A unified diff (`---`/`+++` headers, `@@ -a,b +c,d @@` hunks with `context` lines around
    /// each change). Empty when the texts are equal.
    public static func unified(old: String, new: String, oldName: String, newName: String, context: Int = 3) -> String {
        let operations = lines(split(old), split(new))
        guard operations.contains(where: { if case .same = $0 { false } else { true } }) else { return "" }
        // Index every operation with its position in old and new.
        var positions: [(oldLine: Int, newLine: Int)] = []
        var o = 0, w = 0
        for operation in operations {
            positions.append((o, w))
            switch operation {
            case .same: o += 1; w += 1
            case .removed: o += 1
            case .added: w += 1
            }
        }
        let changed = operations.indices.filter { if case .same = operations[$0] { false } else { true } }
        // Group changes whose context windows touch into hunks.
        var hunks: [ClosedRange<Int>] = []
        for index in changed {
            let low = max(0, index - context), high = min(operations.count - 1, index + context)
            if let last = hunks.last, low <= last.upperBound + 1 {
                hunks[hunks.count - 1] = last.lowerBound...max(last.upperBound, high)
            } else {
                hunks.append(low...high)
            }
        }
        var out = "--- \(oldName)\n+++ \(newName)\n"
        for hunk in hunks {
            var oldCount = 0, newCount = 0
            var body = ""
            for index in hunk {
                switch operations[index] {
                case .same(let line): body += " \(line)\n"; oldCount += 1; newCount += 1
                case .removed(let line): body += "-\(line)\n"; oldCount += 1
                case .added(let line): body += "+\(line)\n"; newCount += 1
                }
            }
            let start = positions[hunk.lowerBound]
            // Unified diff numbers lines from 1; an empty side starts at the line before.
            let oldStart = oldCount == 0 ? start.oldLine : start.oldLine + 1
            let newStart = newCount == 0 ? start.newLine : start.newLine + 1
            out += "@@ -\(oldStart),\(oldCount) +\(newStart),\(newCount) @@\n" + body
        }
        return out
    }
}
