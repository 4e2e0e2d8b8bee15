/// Splits a command string the way a POSIX shell splits words: whitespace separates, single quotes
/// keep everything, double quotes keep everything but `\"`, `\\`, `\$` and `` \` `` escapes, a
/// backslash outside quotes escapes the next character. No expansion of any kind.
enum ShellWords {
    struct UnterminatedQuote: Error, Equatable {
        var quote: Character
    }

    static func split(_ text: String) throws(UnterminatedQuote) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            switch c {
            case " ", "\t", "\n", "\r":
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            case "'":
                inWord = true
                guard let end = chars[(i + 1)...].firstIndex(of: "'") else { throw UnterminatedQuote(quote: "'") }
                current += String(chars[(i + 1)..<end])
                i = end
            case "\"":
                inWord = true
                i += 1
                var closed = false
                while i < chars.count {
                    let d = chars[i]
                    if d == "\"" { closed = true; break }
                    if d == "\\", i + 1 < chars.count, ["\"", "\\", "$", "`"].contains(chars[i + 1]) {
                        current.append(chars[i + 1])
                        i += 2
                        continue
                    }
                    current.append(d)
                    i += 1
                }
                if !closed { throw UnterminatedQuote(quote: "\"") }
            case "\\":
                inWord = true
                if i + 1 < chars.count {
                    current.append(chars[i + 1])
                    i += 1
                }
            default:
                inWord = true
                current.append(c)
            }
            i += 1
        }
        if inWord { words.append(current) }
        return words
    }
}
