/// A piece of a container's output.
public struct LogFrame: Sendable, Equatable {
    public enum Stream: UInt8, Sendable, Equatable {
        case stdin = 0, stdout = 1, stderr = 2
    }

    public var stream: Stream
    public var bytes: [UInt8]

    public init(stream: Stream, bytes: [UInt8]) {
        self.stream = stream
        self.bytes = bytes
    }
}

/// Decodes the engine's multiplexed stdout/stderr framing of a container without a TTY: each
/// frame is 8 bytes of header (stream type, three zero bytes, big-endian 32-bit length) and the
/// payload. Bytes are fed as they arrive, in pieces of any size.
public struct MultiplexedStreamDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0

    public init() {}

    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(EngineError) -> [LogFrame] {
        buffer.append(contentsOf: bytes)
        var frames: [LogFrame] = []
        while buffer.count - start >= 8 {
            let kind = buffer[start]
            guard let stream = LogFrame.Stream(rawValue: kind), buffer[start + 1] == 0, buffer[start + 2] == 0, buffer[start + 3] == 0 else {
                throw .malformed("log frame header \(Array(buffer[start..<start + 8]))")
            }
            let length = buffer[start + 4..<start + 8].reduce(0) { $0 << 8 | Int($1) }
            guard buffer.count - start - 8 >= length else { break }
            frames.append(LogFrame(stream: stream, bytes: Array(buffer[start + 8..<start + 8 + length])))
            start += 8 + length
        }
        if start > 0 && start * 2 >= buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        return frames
    }

    /// Bytes held back waiting for the rest of a frame.
    public var pendingByteCount: Int { buffer.count - start }
}

/// Splits a stream of newline-separated JSON documents (events, pull progress).
struct JSONLineSplitter: Sendable {
    private var buffer: [UInt8] = []

    mutating func feed(_ bytes: [UInt8]) -> [[UInt8]] {
        buffer.append(contentsOf: bytes)
        var lines: [[UInt8]] = []
        while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            let line = Array(buffer[..<newline])
            buffer.removeSubrange(...newline)
            if line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") }) { lines.append(line) }
        }
        return lines
    }

    /// What is left at the end of the stream (a last document without a newline).
    mutating func finish() -> [UInt8]? {
        defer { buffer = [] }
        return buffer.contains(where: { $0 > 32 }) ? buffer : nil
    }
}
