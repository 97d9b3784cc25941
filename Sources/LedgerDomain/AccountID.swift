#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Account names and currency codes, validated once at the edge; past parsing no raw String is an account.

public struct AccountID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let name: String

    public static let bytesMax = 64

    public init(validating name: String) throws {
        var copy = name
        guard copy.withUTF8({ Self.isValid(utf8: UnsafeRawBufferPointer($0)) }) else {
            throw DomainError.usage("bad account name '\(name)': use 1-\(Self.bytesMax) characters from A-Z a-z 0-9 _ - . : /")
        }
        self.name = name
    }

    /// For names read back from the log, which were validated when written.
    public init(trusted name: String) { self.name = name }

    /// Whether `bytes` are a name `init(validating:)` accepts (an import checks its lines' names
    /// this way before it makes a String of them).
    public static func isValid(utf8 bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty, bytes.count <= bytesMax else { return false }
        for c in bytes where !allowed(c) { return false }
        return true
    }

    static func allowed(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c == 45 || c == 46 || c == 58 || c == 47
    }

    public var description: String { name }
    /// Byte order of the UTF-8 names: deterministic, and the order snapshots are stored in.
    public static func < (a: AccountID, b: AccountID) -> Bool {
        var x = a.name, y = b.name
        return x.withUTF8 { xs in
            y.withUTF8 { ys in
                let common = min(xs.count, ys.count)
                let c = common == 0 ? 0 : memcmp(xs.baseAddress!, ys.baseAddress!, common)
                return c != 0 ? c < 0 : xs.count < ys.count
            }
        }
    }
}

public struct Currency: Hashable, Sendable, CustomStringConvertible {
    public let code: String
    public static let bytesMax = 12

    public init(validating code: String) throws {
        let u = code.utf8
        guard !u.isEmpty, u.count <= Self.bytesMax, u.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) }) else {
            throw DomainError.usage("bad currency '\(code)': use 1-\(Self.bytesMax) upper-case letters or digits, like USD")
        }
        self.code = code
    }

    public init(trusted code: String) { self.code = code }
    public var description: String { code }
}

/// Errors of the pure domain: a usage problem (exit 2) or a business rejection (exit 1).
public enum DomainError: Error, Equatable, CustomStringConvertible {
    case usage(String)
    case rejected(Rejection)
    /// A payload that does not decode: damaged data or a newer writer (integrity).
    case undecodable(String)

    public var description: String {
        switch self {
        case .usage(let m), .undecodable(let m): return m
        case .rejected(let r): return r.message
        }
    }
}

/// A business-rule rejection with its stable code (SPEC §3).
public struct Rejection: Error, Equatable, Sendable {
    public enum Code: String, Sendable {
        case insufficientFunds = "insufficient_funds"
        case unknownAccount = "unknown_account"
        case accountClosed = "account_closed"
        case accountExists = "account_exists"
        case currencyMismatch = "currency_mismatch"
        case idConflict = "id_conflict"
        case timeBeforeLast = "time_before_last"
        case balanceNotZero = "balance_not_zero"
        case balanceOverflow = "balance_overflow"
        case versionConflict = "version_conflict"
        case alreadyReversed = "already_reversed"
        case notReversible = "not_reversible"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
