/// The ranges numbers about services, nodes and containers must fall in, wherever they come
/// from: compose text, the API, an agent's report. Each boundary refuses what is outside (a 4xx
/// naming the field or the compose line, a refused report), so the planner's arithmetic —
/// millicores, byte sums, parts per million, deadlines — can never overflow.
public enum SpecBounds {
    /// CPUs of a node, a reservation or a limit.
    public static let cpus: ClosedRange<Double> = 0...4096
    /// Bytes of memory of a node, a reservation or a limit (1 PiB).
    public static let memoryBytes: ClosedRange<Int64> = 0...(1 << 50)
    /// Replicas of one service, whether compose, the scale API or the autoscaler sets them.
    public static let replicas: ClosedRange<Int> = 0...1000
    /// Any duration compose gives (update delays and monitor periods, grace periods, probe
    /// timings): up to a week.
    public static let durationSeconds: ClosedRange<Double> = 0...604_800
    /// One container's CPU use as an agent reports it, in percent of one CPU.
    public static let cpuPercent: ClosedRange<Double> = 0...(4096 * 100)
    /// A container's exit code and restart count as an agent reports them (PostgreSQL `int4`).
    public static let exitCode: ClosedRange<Int> = Int(Int32.min)...Int(Int32.max)
    public static let restartCount: ClosedRange<Int> = 0...Int(Int32.max)
    /// `pids_limit`: -1 or 0 for the engine's default (no limit), else at most the kernel's
    /// largest PID count.
    public static let pidsLimit: ClosedRange<Int> = -1...4_194_304
}

extension FixedWidthInteger {
    /// `value` rounded toward zero like `Int(_:)`, but saturating at the type's bounds instead of
    /// trapping; NaN is 0. For arithmetic on numbers that were bounded at the boundary already,
    /// so that a missed bound costs a wrong number, never the process.
    @inlinable
    public init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value <= Double(Self.min) {
            self = Self.min
        } else if value >= Double(Self.max) {
            self = Self.max
        } else {
            self = Self(value)
        }
    }
}
