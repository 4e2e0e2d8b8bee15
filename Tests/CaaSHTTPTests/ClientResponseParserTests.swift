import Testing
@testable import CaaSHTTP

/// Feeds `text` in pieces of `step` bytes and collects the events.
private func parse(_ text: String, step: Int = .max, isHead: Bool = false, maxHead: Int = 64 * 1024,
                   closeAtEnd: Bool = false) throws -> (head: HTTPClientResponseHead?, body: [UInt8], trailers: HTTPClientHeaders?, ended: Bool, parser: ClientResponseParser) {
    var parser = ClientResponseParser(isHeadRequest: isHead, maxHeadBytes: maxHead)
    let bytes = Array(text.utf8)
    var events: [ClientResponseEvent] = []
    var offset = 0
    while offset < bytes.count {
        let end = bytes.count - offset > step ? offset + step : bytes.count
        events += try parser.parse(bytes[offset..<end])
        offset = end
    }
    if closeAtEnd { events += try parser.finish() }
    var head: HTTPClientResponseHead?
    var body: [UInt8] = []
    var trailers: HTTPClientHeaders?
    var ended = false
    for event in events {
        switch event {
        case .head(let parsed):
            #expect(head == nil, "two final heads")
            head = parsed
        case .body(let bytes):
            #expect(!ended)
            body += bytes
        case .end(let fields):
            ended = true
            trailers = fields
        }
    }
    return (head, body, trailers, ended, parser)
}

@Suite("HTTP/1.1 response parser")
struct ClientResponseParserTests {
    @Test(arguments: [1, 2, 7, 1000])
    func contentLengthBodyAnyDelivery(step: Int) throws {
        let result = try parse("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world", step: step)
        #expect(result.head?.status == 200)
        #expect(result.head?.reason == "OK")
        #expect(result.head?.headers["content-type"] == "text/plain")
        #expect(result.body == Array("hello world".utf8))
        #expect(result.ended)
        #expect(result.parser.isReusable)
    }

    @Test(arguments: [1, 3, 1000])
    func chunkedBodyWithExtensionsAndTrailers(step: Int) throws {
        let text = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Checksum: abc\r\nX-Count: 2\r\n\r\n"
        let result = try parse(text, step: step)
        #expect(result.body == Array("helloabcdefghijklmnopqrstuvwxyz".utf8))
        #expect(result.trailers?["x-checksum"] == "abc")
        #expect(result.trailers?["X-Count"] == "2")
        #expect(result.ended)
        #expect(result.parser.isReusable)
    }

    @Test func chunkedBodyWithoutTrailers() throws {
        let result = try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", step: 1)
        #expect(result.body == Array("abc".utf8))
        #expect(result.trailers == nil)
        #expect(result.ended)
    }

    @Test func interimResponsesAreSkipped() throws {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
            + "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
        let result = try parse(text, step: 1)
        #expect(result.head?.status == 201)
        #expect(result.body == Array("ok".utf8))
    }

    @Test func readUntilCloseEndsAtEOF() throws {
        let result = try parse("HTTP/1.1 200 OK\r\n\r\nstream of bytes", step: 4, closeAtEnd: true)
        #expect(result.body == Array("stream of bytes".utf8))
        #expect(result.ended)
        #expect(!result.parser.isReusable)
    }

    @Test func prematureCloseIsAnError() throws {
        #expect(throws: HTTPClientError.connectionClosed) {
            try parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", closeAtEnd: true)
        }
        #expect(throws: HTTPClientError.connectionClosed) {
            try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", closeAtEnd: true)
        }
        #expect(throws: HTTPClientError.connectionClosed) { try parse("HTTP/1.1 200 OK\r\nConte", closeAtEnd: true) }
    }

    @Test func headResponseHasNoBodyDespiteContentLength() throws {
        let result = try parse("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", isHead: true)
        #expect(result.ended && result.body.isEmpty && result.parser.isReusable)
    }

    @Test(arguments: [204, 304])
    func noContentStatusesHaveNoBody(status: Int) throws {
        let result = try parse("HTTP/1.1 \(status) Nothing\r\nContent-Length: 5\r\n\r\n")
        #expect(result.head?.status == status)
        #expect(result.ended && result.body.isEmpty)
    }

    @Test func connectionCloseAndHTTP10AreNotReusable() throws {
        #expect(try !parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").parser.isReusable)
        #expect(try !parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").parser.isReusable)
        #expect(try parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n").parser.isReusable)
        #expect(try !parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA").parser.isReusable)
    }

    @Test func statusLineWithoutReasonIsAccepted() throws {
        let result = try parse("HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n")
        #expect(result.head?.status == 404)
        let bare = try parse("HTTP/1.1 500\r\nContent-Length: 0\r\n\r\n")
        #expect(bare.head?.status == 500 && bare.head?.reason == "")
    }

    @Test func oversizedHeadIsRejectedEvenWhenItNeverEnds() throws {
        let big = "HTTP/1.1 200 OK\r\nX-Big: " + String(repeating: "a", count: 2000) + "\r\n\r\n"
        #expect(throws: HTTPClientError.headersTooLarge(limit: 1024)) { try parse(big, maxHead: 1024) }
        #expect(throws: HTTPClientError.headersTooLarge(limit: 1024)) {
            try parse("HTTP/1.1 200 OK\r\nX-Big: " + String(repeating: "a", count: 5000), step: 100, maxHead: 1024)
        }
    }

    @Test(arguments: [
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\u{01}b\r\n\r\n",
    ])
    func malformedResponsesAreRejected(text: String) throws {
        #expect(throws: HTTPClientError.self) { try parse(text) }
        #expect(throws: HTTPClientError.self) { try parse(text, step: 1) }
    }

    @Test func repeatedIdenticalContentLengthsAreAccepted() throws {
        let result = try parse("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok")
        #expect(result.body == Array("ok".utf8))
    }

    @Test func transferEncodingOverridesContentLengthButForbidsReuse() throws {
        let result = try parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")
        #expect(result.body == Array("ok".utf8))
        #expect(result.ended && !result.parser.isReusable)
    }

    @Test func switchingProtocolsHandsOverTheRawStream() throws {
        let result = try parse("HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n\u{01}raw", closeAtEnd: true)
        #expect(result.head?.status == 101)
        #expect(result.body == Array("\u{01}raw".utf8))
    }
}
