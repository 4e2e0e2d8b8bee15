#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An incremental HTTP/1.1 request parser (RFC 9112): a pure value fed arbitrary byte chunks.
///
/// Feed bytes with `feed(_:)`, then call `next()` until it returns `nil` (more bytes needed).
/// Each request yields `.head`, zero or more `.body` pieces (chunked framing removed) and `.end`.
/// The parser never reads past the end of a request on its own: bytes of a pipelined request stay
/// buffered until `next()` is called again, which lets a server answer strictly in order.
///
/// It is deliberately strict, because it faces hostile clients and request smuggling hides in
/// leniency: bare CR or LF, obsolete line folding, whitespace before a colon, non-token names,
/// `Content-Length` together with `Transfer-Encoding`, differing `Content-Length` values, any
/// transfer coding other than a single final `chunked`, and malformed chunk sizes are all errors.
/// After an error the parser stays failed; the connection must be closed.
public struct HTTPRequestParser: Sendable {
    private enum State: Sendable {
        case requestLine
        case headers
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case endOfMessage
        case failed(HTTPParserError)
    }

    public let limits: HTTPParserLimits

    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the search for the next LF resumes, so a line delivered byte by byte is scanned once.
    private var scanIndex = 0
    private var state: State = .requestLine

    // The message under construction.
    private var method = HTTPMethod.get
    private var target = ""
    private var version = HTTPVersion.http1_1
    private var headers = HTTPHeaders()
    private var sectionBytes = 0
    private var emptyLinesSkipped = 0
    private var bodyBytes = 0

    public init(limits: HTTPParserLimits = HTTPParserLimits()) {
        self.limits = limits
    }

    /// Bytes received but not yet consumed by `next()`.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// True between requests when nothing of the next one has been consumed yet.
    public var isAtMessageBoundary: Bool {
        if case .requestLine = state { return true }
        return false
    }

    /// Appends bytes read from the connection.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Appends bytes read from the connection.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Frees the buffer's storage when nothing is buffered and it grew large (idle connections).
    mutating func releaseBufferIfLarge() {
        if readIndex == buffer.count && buffer.capacity > 8 * 1024 {
            buffer = []
            readIndex = 0
            scanIndex = 0
        }
    }

    private mutating func compact() {
        if readIndex == 0 { return }
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            readIndex = 0
            scanIndex = 0
        } else if readIndex >= 4096 && readIndex * 2 >= buffer.count {
            buffer.removeSubrange(0..<readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
    }

    /// The next event, or `nil` when more bytes are needed.
    public mutating func next() throws(HTTPParserError) -> HTTPParserEvent? {
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func step() throws(HTTPParserError) -> HTTPParserEvent? {
        while true {
            switch state {
            case .failed(let error):
                throw error

            case .requestLine:
                // method SP target SP version: allow the target limit plus room for the rest.
                let limit = limits.maxURILength + 64
                switch try nextLine(limit: limit) {
                case .needMore:
                    return nil
                case .tooLong:
                    throw HTTPParserError(requestLineOverflowReason())
                case .line(let range):
                    if range.isEmpty {
                        // RFC 9112 §2.2: a server SHOULD ignore empty lines before the request line.
                        emptyLinesSkipped += 1
                        if emptyLinesSkipped > 8 { throw HTTPParserError(.invalidRequestLine) }
                        continue
                    }
                    try parseRequestLine(range)
                    state = .headers
                }

            case .headers:
                switch try nextLine(limit: max(0, limits.maxHeaderSize - sectionBytes)) {
                case .needMore:
                    return nil
                case .tooLong:
                    throw HTTPParserError(.headerSectionTooLarge)
                case .line(let range):
                    sectionBytes += range.count + 2
                    if range.isEmpty {
                        return .head(try finishHead())
                    }
                    if headers.count >= limits.maxHeaderCount { throw HTTPParserError(.tooManyHeaders) }
                    let field = try parseField(range)
                    headers.add(name: field.name, value: field.value)
                }

            case .body(let remaining):
                guard let piece = takeBody(upTo: remaining) else { return nil }
                state = remaining == piece.count ? .endOfMessage : .body(remaining: remaining - piece.count)
                return .body(piece)

            case .chunkSize:
                switch try nextLine(limit: limits.maxChunkLineLength) {
                case .needMore:
                    return nil
                case .tooLong:
                    throw HTTPParserError(.chunkLineTooLong)
                case .line(let range):
                    let size = try parseChunkSize(range)
                    if size > limits.maxBodySize - bodyBytes { throw HTTPParserError(.bodyTooLarge) }
                    if size == 0 {
                        sectionBytes = 0
                        state = .trailers
                    } else {
                        state = .chunkData(remaining: size)
                    }
                }

            case .chunkData(let remaining):
                guard let piece = takeBody(upTo: remaining) else { return nil }
                bodyBytes += piece.count
                state = remaining == piece.count ? .chunkDataEnd : .chunkData(remaining: remaining - piece.count)
                return .body(piece)

            case .chunkDataEnd:
                let available = buffer.count - readIndex
                if available == 0 { return nil }
                let first = buffer[readIndex]
                if first == UInt8(ascii: "\n") { throw HTTPParserError(.bareLF) }
                if first != UInt8(ascii: "\r") { throw HTTPParserError(.invalidChunkTerminator) }
                if available == 1 { return nil }
                if buffer[readIndex + 1] != UInt8(ascii: "\n") { throw HTTPParserError(.bareCR) }
                readIndex += 2
                scanIndex = readIndex
                state = .chunkSize

            case .trailers:
                switch try nextLine(limit: max(0, limits.maxHeaderSize - sectionBytes)) {
                case .needMore:
                    return nil
                case .tooLong:
                    throw HTTPParserError(.headerSectionTooLarge)
                case .line(let range):
                    sectionBytes += range.count + 2
                    if range.isEmpty {
                        return finishMessage()
                    }
                    if headers.count >= limits.maxHeaderCount { throw HTTPParserError(.tooManyHeaders) }
                    let field = try parseField(range)
                    headers.add(name: field.name, value: field.value)
                }

            case .endOfMessage:
                return finishMessage()
            }
        }
    }

    private mutating func finishMessage() -> HTTPParserEvent {
        let trailers = headers
        headers = HTTPHeaders()
        sectionBytes = 0
        emptyLinesSkipped = 0
        bodyBytes = 0
        target = ""
        state = .requestLine
        return .end(trailers: trailers)
    }

    private mutating func takeBody(upTo remaining: Int) -> [UInt8]? {
        let available = buffer.count - readIndex
        if available == 0 { return nil }
        let count = min(available, remaining)
        let piece = Array(buffer[readIndex..<(readIndex + count)])
        readIndex += count
        scanIndex = readIndex
        return piece
    }

    // MARK: Lines

    private enum LineResult {
        case line(Range<Int>)
        case needMore
        case tooLong
    }

    /// Finds the next CRLF-terminated line; consumes it and returns its content (CRLF excluded).
    private mutating func nextLine(limit: Int) throws(HTTPParserError) -> LineResult {
        let end = buffer.count
        let start = readIndex
        let from = max(scanIndex, start)
        let lf: Int? = buffer.withUnsafeBufferPointer { p -> Int? in
            guard from < end, let base = p.baseAddress else { return nil }
            guard let found = memchr(base + from, 0x0A, end - from) else { return nil }
            return UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
        }
        guard let lf else {
            scanIndex = end
            // The line so far (it may end in the CR of a CRLF) already exceeds the limit.
            return end - start > limit + 1 ? .tooLong : .needMore
        }
        if lf == start || buffer[lf - 1] != UInt8(ascii: "\r") { throw HTTPParserError(.bareLF) }
        let content = start..<(lf - 1)
        if content.count > limit { return .tooLong }
        let hasCR: Bool = buffer.withUnsafeBufferPointer { p in
            guard !content.isEmpty, let base = p.baseAddress else { return false }
            return memchr(base + content.lowerBound, 0x0D, content.count) != nil
        }
        if hasCR { throw HTTPParserError(.bareCR) }
        readIndex = lf + 1
        scanIndex = readIndex
        return .line(content)
    }

    private func requestLineOverflowReason() -> HTTPParserError.Reason {
        // Too long: blame the target (414) when the method ended and the target is over its
        // limit, whether it has ended yet or not; else the line itself is malformed.
        guard let space = buffer[readIndex...].firstIndex(of: UInt8(ascii: " ")) else { return .invalidMethod }
        guard let space2 = buffer[(space + 1)...].firstIndex(of: UInt8(ascii: " ")) else { return .uriTooLong }
        return space2 - space - 1 > limits.maxURILength ? .uriTooLong : .invalidRequestLine
    }

    // MARK: Request line

    private mutating func parseRequestLine(_ range: Range<Int>) throws(HTTPParserError) {
        guard let space1 = buffer[range].firstIndex(of: UInt8(ascii: " ")), space1 > range.lowerBound else {
            throw HTTPParserError(.invalidRequestLine)
        }
        for i in range.lowerBound..<space1 where !isTokenByte(buffer[i]) {
            throw HTTPParserError(.invalidMethod)
        }
        let targetStart = space1 + 1
        guard targetStart < range.upperBound,
              let space2 = buffer[targetStart..<range.upperBound].firstIndex(of: UInt8(ascii: " ")) else {
            throw HTTPParserError(.invalidRequestLine)
        }
        if space2 == targetStart { throw HTTPParserError(.invalidRequestLine) }
        if space2 - targetStart > limits.maxURILength { throw HTTPParserError(.uriTooLong) }
        for i in targetStart..<space2 {
            let byte = buffer[i]
            if byte < 0x21 || byte > 0x7E { throw HTTPParserError(.invalidTarget) }
        }
        let versionRange = (space2 + 1)..<range.upperBound
        version = try parseVersion(versionRange)
        method = makeMethod(range.lowerBound..<space1)
        target = makeString(targetStart..<space2)
    }

    private func parseVersion(_ range: Range<Int>) throws(HTTPParserError) -> HTTPVersion {
        guard range.count == 8 else { throw HTTPParserError(.invalidVersion) }
        let b = range.lowerBound
        guard buffer[b] == UInt8(ascii: "H"), buffer[b + 1] == UInt8(ascii: "T"), buffer[b + 2] == UInt8(ascii: "T"),
              buffer[b + 3] == UInt8(ascii: "P"), buffer[b + 4] == UInt8(ascii: "/"), buffer[b + 6] == UInt8(ascii: "."),
              isDigit(buffer[b + 5]), isDigit(buffer[b + 7]) else {
            throw HTTPParserError(.invalidVersion)
        }
        let major = Int(buffer[b + 5] - 0x30), minor = Int(buffer[b + 7] - 0x30)
        guard major == 1 else { throw HTTPParserError(.unsupportedVersion) }
        return HTTPVersion(major: 1, minor: minor)
    }

    private func makeMethod(_ range: Range<Int>) -> HTTPMethod {
        // Avoid building a String for the common methods.
        let count = range.count
        let first = buffer[range.lowerBound]
        if count == 3 && first == UInt8(ascii: "G") && buffer[range.lowerBound + 1] == UInt8(ascii: "E")
            && buffer[range.lowerBound + 2] == UInt8(ascii: "T") {
            return .get
        }
        return HTTPMethod(rawValue: makeString(range))
    }

    private func makeString(_ range: Range<Int>) -> String {
        buffer.withUnsafeBufferPointer { p in
            String(decoding: UnsafeBufferPointer(rebasing: p[range]), as: UTF8.self)
        }
    }

    // MARK: Header fields

    private func parseField(_ range: Range<Int>) throws(HTTPParserError) -> (name: String, value: String) {
        let first = buffer[range.lowerBound]
        if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { throw HTTPParserError(.obsoleteLineFolding) }
        var i = range.lowerBound
        while i < range.upperBound && isTokenByte(buffer[i]) { i += 1 }
        guard i < range.upperBound else { throw HTTPParserError(.invalidHeaderName) }
        let stop = buffer[i]
        if stop != UInt8(ascii: ":") {
            if stop == UInt8(ascii: " ") || stop == UInt8(ascii: "\t") { throw HTTPParserError(.whitespaceBeforeColon) }
            throw HTTPParserError(.invalidHeaderName)
        }
        if i == range.lowerBound { throw HTTPParserError(.invalidHeaderName) }
        let nameRange = range.lowerBound..<i
        var valueStart = i + 1
        var valueEnd = range.upperBound
        while valueStart < valueEnd && isOWS(buffer[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart && isOWS(buffer[valueEnd - 1]) { valueEnd -= 1 }
        for j in valueStart..<valueEnd {
            let byte = buffer[j]
            if byte < 0x20 && byte != 0x09 || byte == 0x7F { throw HTTPParserError(.invalidHeaderValue) }
        }
        return (makeString(nameRange), makeString(valueStart..<valueEnd))
    }

    private mutating func finishHead() throws(HTTPParserError) -> HTTPRequestHead {
        let isHTTP11 = version.minor >= 1
        var hostCount = 0
        var hasContentLength = false
        var hasTransferEncoding = false
        var connectionClose = false
        var connectionKeepAlive = false
        var hasExpect = false
        for field in headers {
            let name = field.name
            switch name.utf8.count {
            case 4 where HTTPHeaders.namesEqual(name, "Host"): hostCount += 1
            case 14 where HTTPHeaders.namesEqual(name, "Content-Length"): hasContentLength = true
            case 17 where HTTPHeaders.namesEqual(name, "Transfer-Encoding"): hasTransferEncoding = true
            case 10 where HTTPHeaders.namesEqual(name, "Connection"):
                for token in field.value.split(separator: ",") {
                    let t = token.trimmingOWS()
                    if HTTPHeaders.namesEqual(t, "close") { connectionClose = true }
                    else if HTTPHeaders.namesEqual(t, "keep-alive") { connectionKeepAlive = true }
                }
            case 6 where HTTPHeaders.namesEqual(name, "Expect"): hasExpect = true
            default: break
            }
        }
        if hostCount > 1 { throw HTTPParserError(.multipleHost) }
        if hostCount == 0 && isHTTP11 { throw HTTPParserError(.missingHost) }

        var framing = HTTPBodyFraming.none
        if hasTransferEncoding {
            if !isHTTP11 { throw HTTPParserError(.transferEncodingInHTTP10) }
            if hasContentLength { throw HTTPParserError(.contentLengthWithTransferEncoding) }
            let codings = headers.listElements(for: "Transfer-Encoding")
            guard let last = codings.last, HTTPHeaders.namesEqual(last, "chunked") else {
                throw HTTPParserError(.invalidTransferEncoding)
            }
            if codings.dropLast().contains(where: { HTTPHeaders.namesEqual($0, "chunked") }) {
                throw HTTPParserError(.invalidTransferEncoding)
            }
            if codings.count > 1 { throw HTTPParserError(.unsupportedTransferCoding) }
            framing = .chunked
        } else if hasContentLength {
            var length: Int? = nil
            for field in headers where HTTPHeaders.namesEqual(field.name, "Content-Length") {
                for element in field.value.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let value = parseDecimal(element.trimmingOWS()) else {
                        throw HTTPParserError(.invalidContentLength)
                    }
                    if let length, length != value { throw HTTPParserError(.conflictingContentLength) }
                    length = value
                }
            }
            guard let length else { throw HTTPParserError(.invalidContentLength) }
            if length > limits.maxBodySize { throw HTTPParserError(.bodyTooLarge) }
            if length > 0 { framing = .contentLength(length) }
        }

        var expectsContinue = false
        if hasExpect && isHTTP11 {
            // RFC 9110 §10.1.1: 100-continue is the only expectation; a 1.0 request's is ignored.
            for element in headers.listElements(for: "Expect") {
                guard HTTPHeaders.namesEqual(element, "100-continue") else {
                    throw HTTPParserError(.unsupportedExpectation)
                }
            }
            expectsContinue = framing != .none
        }

        let keepAlive = connectionClose ? false : (isHTTP11 || connectionKeepAlive)
        let head = HTTPRequestHead(method: method, target: target, version: version, headers: headers,
                                   framing: framing, keepAlive: keepAlive, expectsContinue: expectsContinue)
        headers = HTTPHeaders()
        sectionBytes = 0
        bodyBytes = 0
        switch framing {
        case .none: state = .endOfMessage
        case .contentLength(let length): state = .body(remaining: length)
        case .chunked: state = .chunkSize
        }
        return head
    }

    // MARK: Chunked framing

    private func parseChunkSize(_ range: Range<Int>) throws(HTTPParserError) -> Int {
        var size = 0
        var i = range.lowerBound
        while i < range.upperBound, let digit = hexValue(buffer[i]) {
            if size > (Int.max >> 4) { throw HTTPParserError(.chunkSizeOverflow) }
            size = size << 4 | digit
            i += 1
        }
        if i == range.lowerBound { throw HTTPParserError(.invalidChunkSize) }
        // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ); extensions are ignored.
        while i < range.upperBound && isOWS(buffer[i]) { i += 1 }
        if i == range.upperBound { return size }
        guard buffer[i] == UInt8(ascii: ";") else { throw HTTPParserError(.invalidChunkSize) }
        for j in i..<range.upperBound {
            let byte = buffer[j]
            if byte < 0x20 && byte != 0x09 || byte == 0x7F { throw HTTPParserError(.invalidChunkExtension) }
        }
        return size
    }
}

// MARK: Byte classes (RFC 9110 §5.6.2)

@inline(__always)
func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
         UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
         UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default:
        return false
    }
}

@inline(__always) private func isOWS(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
@inline(__always) private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

@inline(__always) private func hexValue(_ byte: UInt8) -> Int? {
    switch byte {
    case 0x30...0x39: Int(byte - 0x30)
    case 0x41...0x46: Int(byte - 0x41 + 10)
    case 0x61...0x66: Int(byte - 0x61 + 10)
    default: nil
    }
}

/// Parses `1*DIGIT` without sign or whitespace; nil when empty, not digits, or overflowing.
func parseDecimal(_ text: Substring) -> Int? {
    if text.isEmpty || text.utf8.count > 18 { return nil }
    var value = 0
    for byte in text.utf8 {
        guard byte >= 0x30 && byte <= 0x39 else { return nil }
        value = value * 10 + Int(byte - 0x30)
    }
    return value
}
