import FuzzDriver
import CaaSCompose

/// The compose parser on arbitrary text: every input gets a result (a spec, or diagnostics);
/// none crashes or hangs.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzCompose(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let result = ComposeParser.parse(text, variables: ["TAG": "1", "PASSWORD": "secret"])
    precondition(result.spec == nil || result.errors.isEmpty, "a spec came with errors")
    return 0
}

runFuzzer(fuzzCompose)
