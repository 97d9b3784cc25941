@testable import LedgerDomain
import Testing

/// Account names: exactly the bytes 0-9 A-Z a-z _ - . : / are allowed (checked for every
/// byte, alone and inside a name), 1 to 64 of them; the import checks names by bytes with
/// `isValid`, the commands with `init(validating:)`, and the two agree.
@Suite struct AccountIDTests {
    @Test func everyByteIsAllowedExactlyByTheRule() {
        for c in 0...255 {
            let byte = UInt8(c)
            let rule = (48...57).contains(c) || (65...90).contains(c) || (97...122).contains(c) || "_-.:/".utf8.contains(byte)
            #expect(AccountID.allowed(byte) == rule, "byte \(c)")
            let name = [UInt8(ascii: "a"), byte, UInt8(ascii: "z")]
            #expect(name.withUnsafeBytes { AccountID.isValid(utf8: $0) } == rule, "byte \(c) inside a name")
        }
    }

    @Test func lengthsFromOneToSixtyFour() throws {
        for length in [0, 1, 64, 65] {
            let name = String(repeating: "x", count: length)
            let valid = length >= 1 && length <= 64
            #expect(Array(name.utf8).withUnsafeBytes { AccountID.isValid(utf8: $0) } == valid, "length \(length)")
            #expect(((try? AccountID(validating: name)) != nil) == valid, "length \(length)")
        }
        #expect(throws: DomainError.self) { try AccountID(validating: "café") }
        #expect(throws: DomainError.self) { try AccountID(validating: "a b") }
    }
}
