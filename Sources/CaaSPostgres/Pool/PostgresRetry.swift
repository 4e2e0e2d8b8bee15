import Foundation
import Logging

/// Re-running whole transactions that PostgreSQL aborted to keep them serializable.
public enum PostgresRetry {
    /// Runs `body`; on `40001`/`40P01` waits a jittered backoff and runs it again, up to
    /// `maxAttempts` runs in all. Other errors, and the last transient one, are thrown.
    public static func retrying<T>(
        maxAttempts: Int = 5,
        logger: Logger? = nil,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> T
    ) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await body()
            } catch let error as PostgresError where error.isTransient && attempt < maxAttempts {
                let delay = backoff(attempt: attempt)
                logger?.debug("retrying a PostgreSQL transaction", metadata: [
                    "attempt": .stringConvertible(attempt), "sqlstate": .string(error.sqlState ?? ""),
                    "delay_ms": .stringConvertible(Int(delay * 1000)),
                ])
                attempt += 1
                try await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
            }
        }
    }

    /// Seconds to wait before attempt `attempt + 1`: "equal jitter" over 5 ms · 2^(attempt-1),
    /// capped at 500 ms, so competing transactions spread out.
    public static func backoff(attempt: Int, random: (ClosedRange<Double>) -> Double = { Double.random(in: $0) }) -> Double {
        let ceiling = min(0.5, 0.005 * pow(2, Double(max(0, attempt - 1))))
        return ceiling / 2 + random(0...(ceiling / 2))
    }
}
