import CaaSCompose
import Foundation
import Testing

/// Mangled compose text never crashes the parser, and errors always come with a position.
@Suite struct RobustnessTests {
    /// A small deterministic generator, so a failure reproduces.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let rounds = Int(ProcessInfo.processInfo.environment["CAAS_FUZZ_ROUNDS"] ?? "") ?? 150

    static let files = ["restserver.yml", "wordpress-cloud.yml", "corpus/deploy-full.yml", "corpus/ports-short-forms.yml",
                        "corpus/anchors-merge.yml", "corpus/interpolation-all.yml", "corpus/extensions-caas-prefix.yml"]

    @Test(arguments: files)
    func mutatedTemplatesNeverCrash(file: String) throws {
        let original = Array(try fixtureText(file).utf8)
        var rng = SplitMix(state: file.utf8.reduce(UInt64(original.count)) { $0 &* 31 &+ UInt64($1) })
        let alphabet = Array(" \n:-[]{}\"'&*$#|>!?,=/.0123456789abcxyz".utf8)
        for _ in 0..<Self.rounds {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: bytes[at] = alphabet.randomElement(using: &rng)!
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet.randomElement(using: &rng)!, at: at)
                }
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let result = ComposeParser.parse(text, variables: ["TAG": "1"])
            #expect((result.spec == nil) == !result.errors.isEmpty)
            #expect(result.diagnostics.allSatisfy { $0.line != nil || $0.path.hasPrefix("services") })
        }
    }

    @Test func everyPrefixOfATemplateParsesWithoutCrashing() throws {
        let text = try fixtureText("wordpress-cloud.yml")
        for length in stride(from: 0, through: text.count, by: 3) {
            let result = ComposeParser.parse(String(text.prefix(length)))
            #expect((result.spec == nil) == !result.errors.isEmpty)
        }
    }
}
