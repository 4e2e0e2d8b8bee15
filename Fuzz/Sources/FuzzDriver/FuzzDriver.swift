#if canImport(Glibc)
import Glibc
#endif

/// libFuzzer's driver, entered from a target's own `main` (SwiftPM gives every executable one
/// and links it in place of libFuzzer's), with the target's function for one input, which is
/// also exported as `LLVMFuzzerTestOneInput` for libFuzzer's own `main`. Takes libFuzzer's command line
/// (`-max_total_time=60 corpus/…`).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

public func runFuzzer(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, testOneInput))
}
