import FuzzDriver
import CaaSHTTP

/// The server's request parser, chunked bodies included, on arbitrary bytes fed in arbitrary
/// pieces (the first byte chooses the piece size). It may refuse the input; it must not crash,
/// loop, or hand out more body than it was given.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzRequestParser(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    guard size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let piece = Int(bytes[0] % 64) + 1
    let input = bytes.dropFirst()
    var limits = HTTPParserLimits()
    limits.maxBodySize = 1 << 16
    var parser = HTTPRequestParser(limits: limits)
    var offset = input.startIndex
    var bodyBytes = 0
    do {
        while offset < input.endIndex {
            let end = min(offset + piece, input.endIndex)
            parser.feed(input[offset..<end])
            offset = end
            var events = 0
            while let event = try parser.next() {
                events += 1
                precondition(events <= size + 2, "the parser made more events than bytes")
                if case .body(let body) = event {
                    bodyBytes += body.count
                    precondition(bodyBytes <= size, "more body bytes out than in")
                }
            }
        }
    } catch {
        // A refusal is a fine answer to garbage.
    }
    return 0
}

runFuzzer(fuzzRequestParser)
