// The one mapping from errors to exit codes (SPEC §3), readable against docs/EXIT-CODES.md.

import LedgerEngine

public enum ExitStatus {
    public static let success: Int32 = 0
    public static let rejected: Int32 = 1
    public static let usage: Int32 = 2
    public static let conflict: Int32 = 3
    public static let integrity: Int32 = 4
    public static let io: Int32 = 5

    static func code(for error: LedgerError) -> Int32 {
        switch error {
        case .rejected: return rejected
        case .usage: return usage
        case .conflict: return conflict
        case .integrity: return integrity
        case .io: return io
        }
    }

    /// The stable machine code printed in `{"error":{"code":…}}`.
    static func errorCode(for error: LedgerError) -> String {
        switch error {
        case .rejected(let code, _), .conflict(let code, _): return code
        case .usage: return "usage"
        case .integrity: return "integrity"
        case .io(let e): return e.isNoSpace ? "no_space" : "io"
        }
    }
}
