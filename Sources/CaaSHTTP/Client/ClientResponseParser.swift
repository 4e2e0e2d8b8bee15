/// The head of an HTTP response: status line and header fields.
public struct HTTPClientResponseHead: Sendable, Equatable {
    public var status: Int
    public var reason: String
    /// Minor version of HTTP/1.x.
    public var minorVersion: Int
    public var headers: HTTPClientHeaders

    public init(status: Int, reason: String, minorVersion: Int = 1, headers: HTTPClientHeaders) {
        self.status = status
        self.reason = reason
        self.minorVersion = minorVersion
        self.headers = headers
    }
}

/// What the parser found in the bytes it was given.
enum ClientResponseEvent: Equatable, Sendable {
    case head(HTTPClientResponseHead)
    case body([UInt8])
    /// The response is complete; chunked bodies may carry trailers.
    case end(trailers: HTTPClientHeaders?)
}

/// An incremental, strict and bounded HTTP/1.1 response parser: a pure function of the bytes fed
/// to it (any split, one byte at a time included). Interim 1xx responses are skipped, except
/// 101 which ends the HTTP exchange (the rest of the stream is the body, until close).
struct ClientResponseParser {
    enum Framing: Equatable {
        case none
        case contentLength(Int)
        case chunked
        case untilClose
    }

    private enum State {
        case head
        case fixed(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
        case done
    }

    let isHeadRequest: Bool
    let maxHeadBytes: Int
    private var state: State = .head
    private var buffer: [UInt8] = []
    private var trailerFields = HTTPClientHeaders()
    private var trailerBytes = 0
    private(set) var framing: Framing = .none
    /// The final head, once parsed.
    private(set) var head: HTTPClientResponseHead?
    /// Bytes that arrived after the end of the response (none when the server behaves).
    private(set) var excess = 0

    init(isHeadRequest: Bool = false, maxHeadBytes: Int = 64 * 1024) {
        self.isHeadRequest = isHeadRequest
        self.maxHeadBytes = maxHeadBytes
    }

    var isComplete: Bool { if case .done = state { true } else { false } }

    /// The connection can carry another request once this response is complete.
    var isReusable: Bool {
        guard isComplete, excess == 0, let head else { return false }
        if framing == .untilClose { return false }
        if head.headers.listContains("Connection", token: "close") { return false }
        if head.minorVersion == 0 { return head.headers.listContains("Connection", token: "keep-alive") }
        // A message with both Transfer-Encoding and Content-Length must not be reused (RFC 9112 6.3).
        if head.headers.contains("Transfer-Encoding") && head.headers.contains("Content-Length") { return false }
        return true
    }

    /// Parses `bytes`, returning what they completed.
    mutating func parse<Bytes: Collection<UInt8>>(_ bytes: Bytes) throws(HTTPClientError) -> [ClientResponseEvent] {
        var events: [ClientResponseEvent] = []
        var input = ArraySlice(bytes)
        while true {
            switch state {
            case .done:
                excess += input.count
                return events
            case .head:
                guard let line = takeHeadBlock(&input) else {
                    if buffer.count > maxHeadBytes { throw .headersTooLarge(limit: maxHeadBytes) }
                    return events
                }
                if line.count > maxHeadBytes { throw .headersTooLarge(limit: maxHeadBytes) }
                let parsed = try Self.parseHead(line)
                if (100...199).contains(parsed.status) && parsed.status != 101 { continue }   // interim
                head = parsed
                events.append(.head(parsed))
                framing = try Self.framing(of: parsed, isHeadRequest: isHeadRequest)
                switch framing {
                case .none, .contentLength(0):
                    state = .done
                    events.append(.end(trailers: nil))
                case .contentLength(let length): state = .fixed(remaining: length)
                case .chunked: state = .chunkSize
                case .untilClose: state = .untilClose
                }
            case .fixed(let remaining):
                guard !input.isEmpty else { return events }
                let take = min(remaining, input.count)
                events.append(.body(Array(input.prefix(take))))
                input = input.dropFirst(take)
                if take == remaining {
                    state = .done
                    events.append(.end(trailers: nil))
                } else {
                    state = .fixed(remaining: remaining - take)
                }
            case .untilClose:
                if !input.isEmpty { events.append(.body(Array(input))) }
                return events
            case .chunkSize:
                guard let line = try takeLine(&input, limit: 4096, what: "chunk size line") else { return events }
                let size = try Self.parseChunkSize(line)
                state = size == 0 ? .trailers : .chunkData(remaining: size)
            case .chunkData(let remaining):
                guard !input.isEmpty else { return events }
                let take = min(remaining, input.count)
                events.append(.body(Array(input.prefix(take))))
                input = input.dropFirst(take)
                state = take == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - take)
            case .chunkDataEnd:
                guard let line = try takeLine(&input, limit: 2, what: "chunk end") else { return events }
                guard line.isEmpty else { throw .invalidResponse("chunk data not followed by CRLF") }
                state = .chunkSize
            case .trailers:
                guard let line = try takeLine(&input, limit: maxHeadBytes, what: "trailer") else { return events }
                trailerBytes += line.count + 2
                if trailerBytes > maxHeadBytes { throw .headersTooLarge(limit: maxHeadBytes) }
                if line.isEmpty {
                    state = .done
                    events.append(.end(trailers: trailerFields.count > 0 ? trailerFields : nil))
                } else {
                    let (name, value) = try Self.parseField(line[...])
                    trailerFields.add(name, value)
                }
            }
        }
    }

    /// The peer closed the connection: completes a read-until-close body, fails anything else.
    mutating func finish() throws(HTTPClientError) -> [ClientResponseEvent] {
        switch state {
        case .done: return []
        case .untilClose:
            state = .done
            return [.end(trailers: nil)]
        default:
            throw .connectionClosed
        }
    }

    // MARK: Pieces

    /// Takes everything up to and including the blank line ending a head, without the final CRLFCRLF.
    private mutating func takeHeadBlock(_ input: inout ArraySlice<UInt8>) -> [UInt8]? {
        // Search only the new bytes (plus 3 of the old, for a terminator split across calls).
        let searchFrom = max(0, buffer.count - 3)
        let room = maxHeadBytes + 4 - buffer.count
        let accepted = input.prefix(max(0, room) + 1)
        buffer.append(contentsOf: accepted)
        var index = searchFrom
        while index + 3 < buffer.count {
            if buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
                let block = Array(buffer[0..<index])
                let consumedFromInput = index + 4 - (buffer.count - accepted.count)
                input = input.dropFirst(consumedFromInput)
                buffer.removeAll(keepingCapacity: true)
                return block
            }
            index += 1
        }
        input = input.dropFirst(accepted.count)
        return nil
    }

    /// Takes one CRLF-terminated line (without CRLF), buffering partial lines.
    private mutating func takeLine(_ input: inout ArraySlice<UInt8>, limit: Int, what: String) throws(HTTPClientError) -> [UInt8]? {
        if let newline = input.firstIndex(of: 10) {
            buffer.append(contentsOf: input[input.startIndex..<newline])
            input = input[(newline + 1)...]
            guard buffer.last == 13 else { throw .invalidResponse("\(what) ends with a bare LF") }
            let line = Array(buffer.dropLast())
            buffer.removeAll(keepingCapacity: true)
            if line.count > limit { throw .invalidResponse("\(what) too long") }
            return line
        }
        buffer.append(contentsOf: input)
        input = input[input.endIndex...]
        if buffer.count > limit + 1 { throw .invalidResponse("\(what) too long") }
        return nil
    }

    static func parseHead(_ block: [UInt8]) throws(HTTPClientError) -> HTTPClientResponseHead {
        var lines = split(lines: block[...])
        guard !lines.isEmpty else { throw .invalidResponse("empty response head") }
        let statusLine = lines.removeFirst()
        // HTTP/1.x SP 3DIGIT SP reason
        let prefix = Array("HTTP/1.".utf8)
        guard statusLine.count >= 12, Array(statusLine.prefix(7)) == prefix else {
            throw .invalidResponse("status line \(printable(statusLine)) is not HTTP/1.x")
        }
        let base = statusLine.startIndex
        let minor = statusLine[base + 7]
        guard minor == UInt8(ascii: "0") || minor == UInt8(ascii: "1"), statusLine[base + 8] == 32 else {
            throw .invalidResponse("status line \(printable(statusLine)) has an unsupported version")
        }
        let digits = statusLine[(base + 9)..<(base + 12)]
        guard digits.allSatisfy({ $0 >= 48 && $0 <= 57 }), statusLine.count == 12 || statusLine[base + 12] == 32 else {
            throw .invalidResponse("status line \(printable(statusLine)) has no 3-digit status")
        }
        let status = digits.reduce(0) { $0 * 10 + Int($1 - 48) }
        guard status >= 100 else { throw .invalidResponse("status \(status) out of range") }
        let reasonBytes = statusLine.count > 13 ? statusLine[(base + 13)...] : []
        guard reasonBytes.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) }) else {
            throw .invalidResponse("reason phrase holds control characters")
        }
        var headers = HTTPClientHeaders()
        for line in lines {
            let (name, value) = try parseField(line)
            headers.add(name, value)
        }
        return HTTPClientResponseHead(status: status, reason: String(decoding: reasonBytes, as: UTF8.self),
                                      minorVersion: Int(minor - 48), headers: headers)
    }

    private static func split(lines block: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = block.startIndex
        var index = block.startIndex
        while index < block.endIndex {
            if block[index] == 13, index + 1 < block.endIndex, block[index + 1] == 10 {
                lines.append(block[start..<index])
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        lines.append(block[start..<block.endIndex])
        return lines
    }

    static func parseField(_ line: ArraySlice<UInt8>) throws(HTTPClientError) -> (String, String) {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            if let first = line.first, first == 32 || first == 9 {
                throw .invalidResponse("obsolete line folding in header")
            }
            throw .invalidResponse("header line \(printable(line)) has no colon")
        }
        let name = line[line.startIndex..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenCharacter) else {
            throw .invalidResponse("invalid header name \(printable(name))")
        }
        var value = line[(colon + 1)...]
        while let first = value.first, first == 32 || first == 9 { value = value.dropFirst() }
        while let last = value.last, last == 32 || last == 9 { value = value.dropLast() }
        guard value.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) }) else {
            throw .invalidResponse("header \(printable(name)) holds control characters")
        }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    static func framing(of head: HTTPClientResponseHead, isHeadRequest: Bool) throws(HTTPClientError) -> Framing {
        if head.status == 101 { return .untilClose }
        if isHeadRequest || head.status == 204 || head.status == 304 || (100...199).contains(head.status) { return .none }
        let encodings = head.headers.values("Transfer-Encoding")
            .flatMap { $0.split(separator: ",").map { $0.trimmingSpaces().lowercased() } }
        if !encodings.isEmpty {
            // Chunked must be last when present; anything else is delimited by close.
            if encodings.last == "chunked" { return .chunked }
            if encodings.contains("chunked") { throw .invalidResponse("chunked is not the final transfer coding") }
            return .untilClose
        }
        let lengths = head.headers.values("Content-Length")
            .flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingSpaces() } }
        if let first = lengths.first {
            guard lengths.allSatisfy({ $0 == first }) else { throw .invalidResponse("conflicting Content-Length values") }
            guard !first.isEmpty, first.count <= 18, first.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let length = Int(first) else {
                throw .invalidResponse("invalid Content-Length \(first)")
            }
            return .contentLength(length)
        }
        return .untilClose
    }

    static func parseChunkSize(_ line: [UInt8]) throws(HTTPClientError) -> Int {
        // chunk-size [ chunk-ext ]; extensions are ignored.
        let end = line.firstIndex(where: { $0 == UInt8(ascii: ";") || $0 == 32 || $0 == 9 }) ?? line.count
        let digits = line[0..<end]
        guard !digits.isEmpty, digits.count <= 15 else { throw .invalidResponse("invalid chunk size \(printable(line[...]))") }
        var size = 0
        for digit in digits {
            let value: Int
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(digit - 48)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(digit - 87)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(digit - 55)
            default: throw .invalidResponse("invalid chunk size \(printable(line[...]))")
            }
            size = size * 16 + value
        }
        return size
    }

    static func printable<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        let text = String(decoding: bytes.prefix(80), as: UTF8.self)
        return "\"" + text.unicodeScalars.map { $0.value < 32 || $0.value == 127 ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined() + "\""
    }
}
