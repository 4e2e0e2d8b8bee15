import FuzzDriver
@testable import CaaSHTTP

/// The client's response parser (the agent reads engines' answers with it, the control plane
/// agents'), on arbitrary bytes in arbitrary pieces: refusals are fine, crashes are not.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzResponseParser(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    guard size > 1 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let piece = Int(bytes[0] % 64) + 1
    let isHead = bytes[1] & 1 == 1
    let input = Array(bytes.dropFirst(2))
    var parser = ClientResponseParser(isHeadRequest: isHead, maxHeadBytes: 16 * 1024)
    var offset = 0
    var bodyBytes = 0
    do {
        while offset < input.count {
            let end = min(offset + piece, input.count)
            for event in try parser.parse(input[offset..<end]) {
                if case .body(let body) = event {
                    bodyBytes += body.count
                    precondition(bodyBytes <= size, "more body bytes out than in")
                }
            }
            offset = end
        }
        _ = try parser.finish()
    } catch {
        // Refused: fine.
    }
    return 0
}

runFuzzer(fuzzResponseParser)
