/// An aligned text table for people: upper-case headers, columns separated by three spaces,
/// the last column not padded. Colour (ANSI) is applied after alignment so escapes never shift
/// columns.
public struct Table: Sendable, Equatable {
    public var headers: [String]
    public var rows: [[String]]

    public init(headers: [String], rows: [[String]] = []) {
        self.headers = headers
        self.rows = rows
    }

    /// The table as lines of text. `colour` says how to paint a cell (column index, text), or
    /// nothing.
    public func render(style: TerminalStyle = .plain, paint: (Int, String) -> TerminalStyle.Colour? = { _, _ in nil }) -> String {
        let count = headers.count
        var widths = headers.map { Self.displayWidth(Self.sanitize($0)) }
        for row in rows {
            for (index, cell) in row.prefix(count).enumerated() { widths[index] = max(widths[index], Self.displayWidth(Self.sanitize(cell))) }
        }
        var lines: [String] = []
        func line(_ cells: [String], header: Bool) -> String {
            var text = ""
            for index in 0..<count {
                let cell = index < cells.count ? cells[index] : ""
                let clean = Self.sanitize(cell)
                let last = index == count - 1
                let padding = last ? "" : String(repeating: " ", count: widths[index] - Self.displayWidth(clean) + 3)
                var shown = clean
                if header {
                    shown = style.bold(clean)
                } else if let colour = paint(index, clean) {
                    shown = style.paint(clean, colour)
                }
                text += shown + padding
            }
            while text.hasSuffix(" ") { text.removeLast() }
            return text
        }
        lines.append(line(headers, header: true))
        for row in rows { lines.append(line(row, header: false)) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Columns a text takes on a terminal: one per character, two for wide East Asian ones.
    public static func displayWidth(_ text: String) -> Int {
        text.unicodeScalars.reduce(0) { width, scalar in
            let value = scalar.value
            if value < 32 || (0x300...0x36F).contains(value) || value == 0x200B { return width }
            let wide = (0x1100...0x115F).contains(value) || (0x2E80...0xA4CF).contains(value) || (0xAC00...0xD7A3).contains(value)
                || (0xF900...0xFAFF).contains(value) || (0xFE30...0xFE4F).contains(value) || (0xFF00...0xFF60).contains(value)
                || (0xFFE0...0xFFE6).contains(value) || (0x1F300...0x1FAFF).contains(value)
            return width + (wide ? 2 : 1)
        }
    }

    /// Cells are one line: control characters (which a server-sent name could smuggle in to move
    /// the cursor) become spaces or `?`.
    static func sanitize(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            if scalar == "\n" || scalar == "\t" || scalar == "\r" { return " " }
            if scalar.value < 32 || scalar.value == 127 || (0x80...0x9F).contains(scalar.value) { return "?" }
            return scalar
        }))
    }
}
