/// A binary min-heap; the placer keeps candidate nodes in one, so the best node is found in O(log n).
struct Heap<Element: Comparable> {
    private(set) var items: [Element] = []

    init() {}

    init(_ elements: [Element]) {
        items = elements
        if items.count > 1 {
            for i in stride(from: items.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        }
    }

    var isEmpty: Bool { items.isEmpty }
    var count: Int { items.count }

    mutating func push(_ element: Element) {
        items.append(element)
        siftUp(items.count - 1)
    }

    mutating func popMin() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let min = items.removeLast()
        if !items.isEmpty { siftDown(0) }
        return min
    }

    private mutating func siftUp(_ index: Int) {
        var child = index
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child] < items[parent] else { return }
            items.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var parent = index
        let n = items.count
        while true {
            let left = 2 * parent + 1
            guard left < n else { return }
            var best = left
            if left + 1 < n, items[left + 1] < items[left] { best = left + 1 }
            guard items[best] < items[parent] else { return }
            items.swapAt(best, parent)
            parent = best
        }
    }
}
