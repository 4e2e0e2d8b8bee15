import Testing
@testable import CaaSHTTP

/// What the parser made of a byte stream.
private struct Parsed {
    var heads: [HTTPRequestHead] = []
    var bodies: [[UInt8]] = []
    var trailers: [HTTPHeaders] = []
    var error: HTTPParserError?
    var ends: Int { trailers.count }
}

/// Feeds `bytes` in pieces of `step` bytes and drains every event after each piece.
private func parse(_ bytes: [UInt8], step: Int, limits: HTTPParserLimits = HTTPParserLimits()) -> Parsed {
    var parser = HTTPRequestParser(limits: limits)
    var result = Parsed()
    var currentBody: [UInt8] = []
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + step)
        parser.feed(bytes[offset..<end])
        offset = end
        do {
            while let event = try parser.next() {
                switch event {
                case .head(let head): result.heads.append(head)
                case .body(let piece):
                    #expect(!piece.isEmpty)
                    currentBody += piece
                case .end(let trailers):
                    result.bodies.append(currentBody)
                    currentBody = []
                    result.trailers.append(trailers)
                }
            }
        } catch {
            result.error = error
            return result
        }
    }
    return result
}

private func parseBothWays(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> Parsed {
    let bytes = Array(text.utf8)
    let whole = parse(bytes, step: bytes.count, limits: limits)
    let byteByByte = parse(bytes, step: 1, limits: limits)
    #expect(whole.heads.count == byteByByte.heads.count)
    #expect(whole.bodies == byteByByte.bodies)
    #expect(whole.error == byteByByte.error)
    return byteByByte
}

@Suite("HTTP request parser")
struct ParserTests {
    @Test("a simple GET yields head and end, whole or byte by byte")
    func simpleGet() {
        let parsed = parseBothWays("GET /v1/apps?limit=2 HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n")
        #expect(parsed.error == nil)
        #expect(parsed.heads.count == 1)
        let head = parsed.heads[0]
        #expect(head.method == .get)
        #expect(head.target == "/v1/apps?limit=2")
        #expect(head.version == .http1_1)
        #expect(head.headers["host"] == "example")
        #expect(head.headers["ACCEPT"] == "*/*")
        #expect(head.framing == .none)
        #expect(head.keepAlive)
        #expect(parsed.bodies == [[]])
    }

    @Test("headers keep their order, duplicates and trimmed values")
    func headerOrder() {
        let parsed = parseBothWays("GET / HTTP/1.1\r\nHost: h\r\nX-A:  1 \r\nx-b:2\r\nX-A: 3\r\n\r\n")
        let fields = parsed.heads[0].headers.fields
        #expect(fields.map(\.name) == ["Host", "X-A", "x-b", "X-A"])
        #expect(parsed.heads[0].headers.values(for: "x-a") == ["1", "3"])
        #expect(parsed.heads[0].headers["X-B"] == "2")
    }

    @Test("Content-Length body, then a pipelined second request")
    func contentLengthAndPipelining() {
        let text = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        let parsed = parseBothWays(text)
        #expect(parsed.error == nil)
        #expect(parsed.heads.map(\.target) == ["/a", "/b"])
        #expect(parsed.bodies == [Array("hello".utf8), []])
        #expect(parsed.heads[0].framing == .contentLength(5))
    }

    @Test("chunked body with extensions and trailers")
    func chunked() {
        let text = "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n6 ; x=\"q\"\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n"
        let parsed = parseBothWays(text)
        #expect(parsed.error == nil)
        #expect(parsed.heads[0].framing == .chunked)
        #expect(parsed.bodies == [Array("hello world".utf8)])
        #expect(parsed.trailers[0]["x-checksum"] == "abc")
    }

    @Test("HTTP/1.0 closes by default and keeps alive on request")
    func http10() {
        let plain = parseBothWays("GET / HTTP/1.0\r\n\r\n")
        #expect(plain.heads[0].version == .http1_0)
        #expect(!plain.heads[0].keepAlive)
        let keep = parseBothWays("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        #expect(keep.heads[0].keepAlive)
        let close = parseBothWays("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        #expect(!close.heads[0].keepAlive)
    }

    @Test("Expect: 100-continue is recognised on requests with a body only")
    func expectContinue() {
        let parsed = parseBothWays("PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx")
        #expect(parsed.heads[0].expectsContinue)
        let noBody = parseBothWays("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n")
        #expect(!noBody.heads[0].expectsContinue)
        let other = parseBothWays("PUT / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx")
        #expect(other.error?.status == .expectationFailed)
    }

    @Test("identical duplicate Content-Length values are accepted")
    func duplicateContentLength() {
        let parsed = parseBothWays("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc")
        #expect(parsed.error == nil)
        #expect(parsed.bodies == [Array("abc".utf8)])
    }

    @Test("empty lines before the request line are ignored")
    func leadingEmptyLines() {
        let parsed = parseBothWays("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(parsed.error == nil)
        #expect(parsed.heads.count == 1)
    }

    @Test("absolute-form and asterisk targets are kept")
    func targetForms() {
        #expect(parseBothWays("GET http://h/x?y HTTP/1.1\r\nHost: h\r\n\r\n").heads[0].target == "http://h/x?y")
        #expect(parseBothWays("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").heads[0].target == "*")
    }

    static let badRequests: [(String, String, HTTPParserError.Reason, Int)] = [
        ("CL and TE together", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", .contentLengthWithTransferEncoding, 400),
        ("differing Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", .conflictingContentLength, 400),
        ("differing Content-Length in a list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\n", .conflictingContentLength, 400),
        ("signed Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\n", .invalidContentLength, 400),
        ("non-numeric Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", .invalidContentLength, 400),
        ("huge Content-Length", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", .invalidContentLength, 400),
        ("TE not ending in chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", .invalidTransferEncoding, 400),
        ("TE identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n", .invalidTransferEncoding, 400),
        ("TE chunked twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", .invalidTransferEncoding, 400),
        ("TE gzip then chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferCoding, 501),
        ("TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", .transferEncodingInHTTP10, 400),
        ("obsolete line folding", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  continued\r\n\r\n", .obsoleteLineFolding, 400),
        ("bare LF in headers", "GET / HTTP/1.1\r\nHost: h\nX: 1\r\n\r\n", .bareLF, 400),
        ("bare LF after request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", .bareLF, 400),
        ("bare CR in a value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n", .bareCR, 400),
        ("bare CR in the request line", "GET /\r HTTP/1.1\r\nHost: h\r\n\r\n", .bareCR, 400),
        ("non-hex chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .invalidChunkSize, 400),
        ("chunk size with 0x prefix", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n", .invalidChunkSize, 400),
        ("empty chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", .invalidChunkSize, 400),
        ("chunk size overflow", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000000\r\n", .chunkSizeOverflow, 400),
        ("chunk data not followed by CRLF", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", .invalidChunkTerminator, 400),
        ("control byte in chunk extension", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2;a\u{01}\r\nab\r\n", .invalidChunkExtension, 400),
        ("non-token header name", "GET / HTTP/1.1\r\nHost: h\r\nX(A): 1\r\n\r\n", .invalidHeaderName, 400),
        ("empty header name", "GET / HTTP/1.1\r\nHost: h\r\n: 1\r\n\r\n", .invalidHeaderName, 400),
        ("header without colon", "GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n", .invalidHeaderName, 400),
        ("whitespace before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", .whitespaceBeforeColon, 400),
        ("control byte in a value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{00}b\r\n\r\n", .invalidHeaderValue, 400),
        ("invalid method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", .invalidMethod, 400),
        ("lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", .invalidVersion, 400),
        ("garbage version", "GET / HTTP/1.1x\r\nHost: h\r\n\r\n", .invalidVersion, 400),
        ("HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", .unsupportedVersion, 505),
        ("two spaces in request line", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", .invalidRequestLine, 400),
        ("missing version (HTTP/0.9)", "GET /\r\n\r\n", .invalidRequestLine, 400),
        ("non-ASCII target", "GET /\u{e9} HTTP/1.1\r\nHost: h\r\n\r\n", .invalidTarget, 400),
        ("missing Host in HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", .missingHost, 400),
        ("two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", .multipleHost, 400),
    ]

    @Test("bad requests are rejected with their status, whole and byte by byte", arguments: badRequests.indices)
    func badRequest(index: Int) {
        let (name, text, reason, status) = Self.badRequests[index]
        let parsed = parseBothWays(text)
        #expect(parsed.error?.reason == reason, "\(name)")
        #expect(parsed.error?.status.code == status, "\(name)")
    }

    @Test("limits: URI 414, header size and count 431, body 413 (Content-Length and chunked)")
    func limits() {
        let limits = HTTPParserLimits(maxURILength: 32, maxHeaderSize: 128, maxHeaderCount: 3, maxBodySize: 10)
        let longURI = "GET /" + String(repeating: "a", count: 40) + " HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(parseBothWays(longURI, limits: limits).error?.status == .uriTooLong)
        // A target that never ends is refused as soon as it is too long.
        let endless = Array(("GET /" + String(repeating: "a", count: 200)).utf8)
        #expect(parse(endless, step: 1, limits: limits).error?.status == .uriTooLong)
        // A complete line past the line bound (target, then the version after it) is 414 too,
        // however it arrives; a malformed one whose target fits is 400.
        for count in [100, 200, 5000] {
            let complete = "GET /" + String(repeating: "a", count: count) + " HTTP/1.1\r\nHost: h\r\n\r\n"
            #expect(parseBothWays(complete, limits: limits).error?.status == .uriTooLong, "\(count)")
            #expect(parse(Array(complete.utf8), step: 7, limits: limits).error?.status == .uriTooLong, "\(count)")
        }
        let hugeVersion = "GET /a " + String(repeating: "H", count: 200) + "\r\n\r\n"
        #expect(parseBothWays(hugeVersion, limits: limits).error?.status == .badRequest)
        let bigHeader = "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "v", count: 200) + "\r\n\r\n"
        #expect(parseBothWays(bigHeader, limits: limits).error?.status == .requestHeaderFieldsTooLarge)
        let endlessHeader = Array(("GET / HTTP/1.1\r\nX: " + String(repeating: "v", count: 300)).utf8)
        #expect(parse(endlessHeader, step: 7, limits: limits).error?.status == .requestHeaderFieldsTooLarge)
        let manyHeaders = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n"
        #expect(parseBothWays(manyHeaders, limits: limits).error?.reason == .tooManyHeaders)
        let bigBody = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"
        #expect(parseBothWays(bigBody, limits: limits).error?.status == .contentTooLarge)
        let bigChunks = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n"
        #expect(parseBothWays(bigChunks, limits: limits).error?.status == .contentTooLarge)
        let atLimit = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789"
        #expect(parseBothWays(atLimit, limits: limits).error == nil)
    }

    @Test("after an error the parser stays failed")
    func staysFailed() throws {
        var parser = HTTPRequestParser()
        parser.feed(Array("GET / HTTP/1.1\nHost: h\r\n\r\n".utf8))
        #expect(throws: HTTPParserError(.bareLF)) { _ = try parser.next() }
        parser.feed(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        #expect(throws: HTTPParserError(.bareLF)) { _ = try parser.next() }
    }

    @Test("the parser stops at a request boundary and keeps the rest buffered")
    func stopsAtBoundary() throws {
        var parser = HTTPRequestParser()
        parser.feed(Array("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        guard case .head(let first)? = try parser.next() else { Issue.record("no head"); return }
        #expect(first.target == "/1")
        guard case .end? = try parser.next() else { Issue.record("no end"); return }
        #expect(parser.isAtMessageBoundary)
        #expect(parser.bufferedByteCount == 28)
    }
}
