import Foundation
@testable import LedgerEngine
import LedgerTestSupport
import Testing

/// The parser thread's pieces of `ledger import`: fields split as bytes (escapes decoded into
/// the scratch, never over each other), CSV quoting, field names found by their bytes.
@Suite struct ImportParsingTests {
    static func strings(_ fields: borrowing LineFields) -> [String: String] {
        var out: [String: String] = [:]
        for field in ImportField.allCases {
            if let s = fields.string(field) { out[field.name] = s }
        }
        return out
    }

    @Test func ndjsonFieldsAreSlicesOrDecodedValuesThatDoNotOverlap() throws {
        let fields = LineFields()
        // Slices point into the line: read them while it is alive.
        func parsed(_ line: String) throws -> [String: String] {
            try Array(line.utf8).withUnsafeBytes { bytes in
                try NDJSONLine.parse(bytes, into: fields)
                return Self.strings(fields)
            }
        }
        let line = #"{"op":"deposit", "\u0061ccount":"a\/b","memo":"tab\there \"q\" \u00e9\ud83d\ude00","id":"plain","scale":2,"at":"x\\y"}"#
        #expect(try parsed(line) == ["op": "deposit", "account": "a/b", "memo": "tab\there \"q\" é😀", "id": "plain", "scale": "2", "at": "x\\y"])
        // The next line forgets the previous one's fields.
        #expect(try parsed(#"{"op":"close"}"#) == ["op": "close"])
        #expect(throws: ImportFormatError.self) { try Array(#"{"op":"close","op":"open"}"#.utf8).withUnsafeBytes { try NDJSONLine.parse($0, into: fields) } }
    }

    @Test func fieldNamesAreFoundByTheirBytes() {
        // ImportField's order is ImportLine's (export writes one, import reads the other).
        #expect(ImportField.allCases.map(\.name) == ImportLine.fields)
        for field in ImportField.allCases {
            #expect(Array(field.name.utf8).withUnsafeBytes { ImportField.named($0) } == field)
        }
        for other in ["", "o", "ops", "Op", "overdrafts", "overdrafx", "accounts", "positio", "amounT", "toooooooo"] {
            #expect(Array(other.utf8).withUnsafeBytes { ImportField.named($0) } == nil, "\(other)")
        }
    }

    @Test func csvSplitsQuotedFieldsAndChecksUTF8() throws {
        let fields = LineFields()
        var values: [String] = []
        try Array(#"a,"b ""c""",,"d,e",f"#.utf8).withUnsafeBytes { bytes in
            try CSVLine.split(bytes, scratch: fields) { _, v in values.append(String(decoding: v, as: UTF8.self)) }
        }
        #expect(values == ["a", "b \"c\"", "", "d,e", "f"])
        #expect(throws: ImportFormatError.self) {
            try ([0x61, 0x2C, 0xC3, 0x28] as [UInt8]).withUnsafeBytes { try CSVLine.split($0, scratch: fields) { _, _ in } }
        }
        #expect(throws: ImportFormatError.self) { try Array(#"a,"b"#.utf8).withUnsafeBytes { try CSVLine.split($0, scratch: fields) { _, _ in } } }
    }
}
