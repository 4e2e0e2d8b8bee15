import CaaSClient
import Foundation

/// Standard output and error, with what the terminal can do.
struct Console: Sendable {
    let stdoutIsTerminal: Bool
    let stderrIsTerminal: Bool
    let style: TerminalStyle
    let errorStyle: TerminalStyle

    init(noColor: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment) {
        stdoutIsTerminal = isatty(STDOUT_FILENO) == 1
        stderrIsTerminal = isatty(STDERR_FILENO) == 1
        let plain = noColor
        style = plain ? .plain : TerminalStyle.detect(isTerminal: stdoutIsTerminal, environment: environment)
        errorStyle = plain ? .plain : TerminalStyle.detect(isTerminal: stderrIsTerminal, environment: environment)
    }

    func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    func line(_ text: String = "") { write(text + "\n") }

    func error(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    func warning(_ text: String) {
        error(errorStyle.paint("warning:", .yellow) + " " + text)
    }
}
