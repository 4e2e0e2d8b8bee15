import CaaSClient
import Foundation

/// Standard output and error, with what the terminal can do.
struct Console: Sendable {
    let stdoutIsTerminal: Bool
    let stderrIsTerminal: Bool
    /// How many columns the terminal on standard output has (as it says, else `COLUMNS`); `nil`
    /// when standard output is not a terminal.
    let columns: Int?
    let style: TerminalStyle
    let errorStyle: TerminalStyle

    init(noColor: Bool = false, environment: [String: String] = ProcessInfo.processInfo.environment) {
        stdoutIsTerminal = isatty(STDOUT_FILENO) == 1
        stderrIsTerminal = isatty(STDERR_FILENO) == 1
        columns = stdoutIsTerminal ? Self.terminalColumns(environment: environment) : nil
        let plain = noColor
        style = plain ? .plain : TerminalStyle.detect(isTerminal: stdoutIsTerminal, environment: environment)
        errorStyle = plain ? .plain : TerminalStyle.detect(isTerminal: stderrIsTerminal, environment: environment)
    }

    private static func terminalColumns(environment: [String: String]) -> Int? {
        var size = winsize()
        if withUnsafeMutablePointer(to: &size, { ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), $0) }) == 0, size.ws_col > 0 {
            return Int(size.ws_col)
        }
        return environment["COLUMNS"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
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
