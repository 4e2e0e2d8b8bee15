import Synchronization

/// The body of a request: an async sequence of byte pieces, read as it arrives.
///
/// Reading is what makes the server answer `Expect: 100-continue`; a handler that never reads the
/// body never causes `100 Continue` to be sent. Pieces are buffered up to a high-water mark, after
/// which the server stops reading the socket until the handler catches up.
public struct HTTPRequestBody: Sendable, AsyncSequence {
    public typealias Element = [UInt8]

    enum Storage: Sendable {
        case bytes([UInt8])
        case stream(RequestBodyStream)
    }

    let storage: Storage

    public static let empty = HTTPRequestBody(bytes: [])

    public init(bytes: [UInt8]) { storage = .bytes(bytes) }
    public init(string: String) { storage = .bytes(Array(string.utf8)) }
    init(stream: RequestBodyStream) { storage = .stream(stream) }

    /// The whole body, or `HTTPError(.contentTooLarge)` when it is longer than `maxBytes`.
    public func collect(upTo maxBytes: Int) async throws -> [UInt8] {
        var result: [UInt8] = []
        for try await piece in self {
            if result.count + piece.count > maxBytes {
                throw HTTPError(.contentTooLarge, detail: "The request body is larger than \(maxBytes) bytes.")
            }
            result.append(contentsOf: piece)
        }
        return result
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var storage: Storage
        var done = false

        public mutating func next() async throws -> [UInt8]? {
            if done { return nil }
            switch storage {
            case .bytes(let bytes):
                done = true
                return bytes.isEmpty ? nil : bytes
            case .stream(let stream):
                let piece = try await stream.next()
                if piece == nil { done = true }
                return piece
            }
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(storage: storage) }
}

/// The channel between a connection (producer, on its loop) and a handler (consumer, any thread).
final class RequestBodyStream: Sendable {
    private struct State {
        var pieces: [[UInt8]] = []
        var buffered = 0
        var finished = false
        var error: (any Error)?
        var waiter: CheckedContinuation<[UInt8]?, any Error>?
        var demanded = false
        var producerPaused = false
    }

    private let state = Mutex(State())
    private let highWater: Int
    /// Told (on any thread) that the consumer wants data: send `100 Continue` if pending.
    private let onFirstDemand: @Sendable () -> Void
    /// Told (on any thread) that the consumer drained the buffer after the producer paused.
    private let onDrained: @Sendable () -> Void

    init(highWater: Int, onFirstDemand: @escaping @Sendable () -> Void, onDrained: @escaping @Sendable () -> Void) {
        self.highWater = highWater
        self.onFirstDemand = onFirstDemand
        self.onDrained = onDrained
    }

    // MARK: Producer

    func push(_ bytes: [UInt8]) {
        let waiter = state.withLock { s -> CheckedContinuation<[UInt8]?, any Error>? in
            if s.finished || s.error != nil { return nil }
            if let waiter = s.waiter {
                s.waiter = nil
                return waiter
            }
            s.pieces.append(bytes)
            s.buffered += bytes.count
            return nil
        }
        waiter?.resume(returning: bytes)
    }

    /// Whether the producer should stop reading; marks it paused so the consumer wakes it.
    func shouldPause() -> Bool {
        state.withLock { s in
            if s.buffered >= highWater {
                s.producerPaused = true
                return true
            }
            return false
        }
    }

    func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<[UInt8]?, any Error>? in
            s.finished = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: nil)
    }

    func fail(_ error: any Error) {
        let waiter = state.withLock { s -> CheckedContinuation<[UInt8]?, any Error>? in
            if s.finished && s.pieces.isEmpty { return nil }
            if s.error == nil { s.error = error }
            s.pieces = []
            s.buffered = 0
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(throwing: error)
    }

    // MARK: Consumer

    private enum Poll {
        case piece([UInt8], wakeProducer: Bool)
        case end
        case failure(any Error)
        case wait(firstDemand: Bool)
    }

    func next() async throws -> [UInt8]? {
        let poll = state.withLock { s -> Poll in
            if !s.pieces.isEmpty {
                let piece = s.pieces.removeFirst()
                s.buffered -= piece.count
                var wake = false
                if s.producerPaused && s.buffered <= highWater / 2 {
                    s.producerPaused = false
                    wake = true
                }
                return .piece(piece, wakeProducer: wake)
            }
            if let error = s.error { return .failure(error) }
            if s.finished { return .end }
            let first = !s.demanded
            s.demanded = true
            let wake = s.producerPaused
            s.producerPaused = false
            return .wait(firstDemand: first || wake)
        }
        switch poll {
        case .piece(let piece, let wake):
            if wake { onDrained() }
            return piece
        case .end:
            return nil
        case .failure(let error):
            throw error
        case .wait(let signal):
            if signal { onFirstDemand(); onDrained() }
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[UInt8]?, any Error>) in
                    let immediate = state.withLock { s -> Result<[UInt8]?, any Error>? in
                        if !s.pieces.isEmpty {
                            let piece = s.pieces.removeFirst()
                            s.buffered -= piece.count
                            return .success(piece)
                        }
                        if let error = s.error { return .failure(error) }
                        if s.finished { return .success(nil) }
                        if Task.isCancelled { return .failure(CancellationError()) }
                        s.waiter = continuation
                        return nil
                    }
                    if let immediate { continuation.resume(with: immediate) }
                }
            } onCancel: {
                self.fail(CancellationError())
            }
        }
    }
}
