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

    /// The fields of one NDJSON line, as Strings (the slices point into the line: read while it is alive).
    static func parsed(_ line: String, _ fields: LineFields) throws -> [String: String] {
        try Array(line.utf8).withUnsafeBytes { bytes in
            try NDJSONLine.parse(bytes, into: fields)
            return strings(fields)
        }
    }

    @Test func ndjsonFieldsAreSlicesOrDecodedValuesThatDoNotOverlap() throws {
        let fields = LineFields()
        func parsed(_ line: String) throws -> [String: String] { try Self.parsed(line, fields) }
        let line = #"{"op":"deposit", "\u0061ccount":"a\/b","memo":"tab\there \"q\" \u00e9\ud83d\ude00","id":"plain","scale":2,"at":"x\\y"}"#
        #expect(try parsed(line) == ["op": "deposit", "account": "a/b", "memo": "tab\there \"q\" é😀", "id": "plain", "scale": "2", "at": "x\\y"])
        // The next line forgets the previous one's fields.
        #expect(try parsed(#"{"op":"close"}"#) == ["op": "close"])
        #expect(throws: ImportFormatError.self) { try Array(#"{"op":"close","op":"open"}"#.utf8).withUnsafeBytes { try NDJSONLine.parse($0, into: fields) } }
    }

    /// A line in the compact shape is split at its quotes, found 16 bytes at a time
    /// (NDJSONLine.compact); any other goes to the scanner. Both readers give the same fields
    /// or the same error for lines of every length (so every quote lands at every offset of a
    /// 16-byte block): compact lines, and the same lines with a byte inserted, deleted or
    /// replaced (spaces, escapes, numbers, colons, commas, braces, non-ASCII, control bytes,
    /// duplicate and unknown keys). Every compact line is taken by the quick path.
    @Test func compactLinesReadAtTheirQuotesAsTheScannerReadsThem() throws {
        var rng = SplitMix64(seed: 21)
        let keys = ["op", "account", "from", "to", "amount", "at", "id", "memo", "currency", "scale", "overdraft", "position"]
        let valueBytes = Array("abcXYZ019_-.:/ ,{}[]@#".utf8)
        let noise: [[UInt8]] = [[0x20], [0x5C], [0x22], [0x3A], [0x2C], [0x7B], [0x7D], [0x09], [0x01], [0xC3, 0xA9], [0xFF],
                                Array("1".utf8), Array(#"""#.utf8), Array(#""op":"x","#.utf8), Array(#""zz":"x","#.utf8)]
        var compactTaken = 0, compactLines = 0, agreed = 0
        let quick = LineFields(), scanned = LineFields()
        func outcome(_ line: [UInt8], _ fields: LineFields, _ read: (UnsafeRawBufferPointer, LineFields) throws -> Void) -> String {
            line.withUnsafeBytes { bytes in
                do {
                    try read(bytes, fields)
                    return Self.strings(fields).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "|")
                } catch {
                    return "error: \(error)"
                }
            }
        }
        for round in 0..<4000 {
            var chosen = keys.shuffled(using: &rng).prefix(Int.random(in: 1...keys.count, using: &rng))
            if round % 7 == 0 { chosen = ["op", "account", "amount", "at", "id"] }
            var line = Array("{".utf8)
            for (i, key) in chosen.enumerated() {
                if i > 0 { line.append(0x2C) }
                let value = (0..<Int.random(in: 0..<40, using: &rng)).map { _ in valueBytes[Int.random(in: 0..<valueBytes.count, using: &rng)] }
                line += Array("\"\(key)\":\"".utf8) + value + [0x22]
            }
            line.append(0x7D)
            var variants = [line]
            for _ in 0..<3 {
                var m = line
                let at = Int.random(in: 0...m.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: m.insert(contentsOf: noise[Int.random(in: 0..<noise.count, using: &rng)], at: at)
                case 1: if at < m.count { m.remove(at: at) }
                default: if at < m.count { m.replaceSubrange(at...at, with: noise[Int.random(in: 0..<noise.count, using: &rng)]) }
                }
                variants.append(m)
            }
            for (v, candidate) in variants.enumerated() {
                let a = outcome(candidate, quick) { try NDJSONLine.parse($0, into: $1) }
                let b = outcome(candidate, scanned) { try NDJSONLine.scanned($0, into: $1) }
                #expect(a == b, "\(String(decoding: candidate, as: UTF8.self))")
                if a == b { agreed += 1 }
                if v == 0 {
                    compactLines += 1
                    quick.reset(lineBytes: candidate.count)
                    if candidate.withUnsafeBytes({ NDJSONLine.compact($0, into: quick) }) { compactTaken += 1 }
                }
            }
        }
        #expect(compactTaken == compactLines && agreed == 4000 * 4)
    }

    /// The string scanner reads eight bytes at a time until a word holds something special: a
    /// non-ASCII byte, escape or control character at every offset of strings of every length
    /// up to 24 bytes (each word alignment, and the bytes after the last whole word) is found.
    @Test func stringsAreScannedAlikeAtEveryOffset() throws {
        let fields = LineFields()
        func memo(_ body: [UInt8]) throws -> String? {
            let line = Array(#"{"op":"close","memo":""#.utf8) + body + Array(#""}"#.utf8)
            return try line.withUnsafeBytes { bytes in
                try NDJSONLine.parse(bytes, into: fields)
                return fields.string(.memo)
            }
        }
        for length in 1...24 {
            let plain = (0..<length).map { UInt8(0x61 + $0 % 26) }
            #expect(try memo(plain) == String(decoding: plain, as: UTF8.self))
            for at in 0..<length {
                var accented = plain
                accented.replaceSubrange(at...at, with: [0xC3, 0xA9])  // é
                #expect(try memo(accented) == String(decoding: accented, as: UTF8.self), "é at \(at) of \(length)")
                var escaped = plain
                escaped.replaceSubrange(at...at, with: Array(#"\""#.utf8))
                var decoded = plain
                decoded[at] = 0x22
                #expect(try memo(escaped) == String(decoding: decoded, as: UTF8.self), "escape at \(at) of \(length)")
                for bad: UInt8 in [0xFF, 0x80, 0x01, 0x1F, 0x09] {
                    var wrong = plain
                    wrong[at] = bad
                    #expect(throws: ImportFormatError.self, "byte \(bad) at \(at) of \(length)") { try memo(wrong) }
                }
            }
        }
    }

    /// Keys are read at once in their common shape (`"name":`, a name of at most 7 plain bytes)
    /// and by the general reader otherwise: each field's name compact, spaced, escaped, short
    /// of the line's end or not, gives the same fields; a name off by one byte is unknown,
    /// and a key without its colon is malformed, either way.
    @Test func keysAreReadAlikeInEveryShape() throws {
        let fields = LineFields()
        func parsed(_ line: String) throws -> [String: String] { try Self.parsed(line, fields) }
        for field in ImportField.allCases {
            let name = field.name
            let escaped = "\\u00" + String(name.utf8.first!, radix: 16) + name.dropFirst()
            for value in ["v", "vvvvvvvvvvvv"] {
                for key in ["\"\(name)\":", "\"\(name)\" :", "\"\(name)\"\t: ", "\"\(escaped)\":"] {
                    #expect(try parsed("{\(key)\"\(value)\"}") == [name: value], "\(key)\(value)")
                    let before = field == .memo ? "id" : "memo"
                    #expect(try parsed(" { \"\(before)\":\"m\", \(key)\"\(value)\" }") == [before: "m", name: value], "\(key)\(value) second")
                }
                var wrong = Array(name.utf8)
                wrong[wrong.count - 1] ^= 0x20  // upper case
                let wrongName = String(decoding: wrong, as: UTF8.self)
                #expect(throws: ImportFormatError(message: "malformed JSON at byte 2: unknown field '\(wrongName)'")) {
                    try parsed("{\"\(wrongName)\":\"\(value)\"}")
                }
                #expect(throws: ImportFormatError(message: "malformed JSON at byte \(name.utf8.count + 4): expected ':'")) {
                    try parsed("{\"\(name)\"\"\(value)\"}")
                }
            }
        }
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

    /// Ops are told apart by length and bytes as one word: each name is found, and names that
    /// differ in a byte, in case, by a trailing NUL or in length are not.
    @Test func opsAreFoundByTheirBytes() {
        let ops: [(String, ImportRequest.Op)] = [("deposit", .deposit), ("transfer", .transfer), ("withdraw", .withdraw),
                                                 ("open", .open), ("close", .close), ("reverse", .reverse)]
        for (name, op) in ops {
            #expect(Array(name.utf8).withUnsafeBytes { ImportRequest.op($0)?.0 } == op, "\(name)")
        }
        for other in ["", "o", "ope", "open\0", "opeN", "Open", "closed", "deposi", "depositt", "deposit\0", "transfe", "withdrew",
                      "reverse\0", "reversed", "transfers", "withdraw\0"] {
            #expect(Array(other.utf8).withUnsafeBytes { ImportRequest.op($0) } == nil, "\(other.debugDescription)")
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

    /// What the parser hands over, line by line: number, op or error, account numbers, names.
    static func parseAll(_ text: String, threaded: Bool) throws -> [String] {
        let bytes = Array(text.utf8)
        var offset = 0
        let lines = LineReader { buffer in
            let n = min(buffer.count, bytes.count - offset, 1000)
            bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
            offset += n
            return n
        }
        let parser = ImportParser(lines: lines, format: .ndjson, config: StoreConfig())
        parser.start(threaded: threaded)
        defer { parser.stop() }
        var out: [String] = []
        do {
            while let chunk = try parser.next() {
                out += chunk.newNames.map { "name \($0.id)" }
                var failures = chunk.failures.makeIterator()
                for line in chunk.lines {
                    if let r = line.request {
                        let id = chunk.text.withUnsafeBytes { ImportRequest.string(r.id, in: $0) }
                        out.append("\(line.number) \(r.operation) \(r.first) \(r.second) \(id ?? "-")")
                    } else {
                        out.append("\(line.number) error \(failures.next()!)")
                    }
                }
                #expect(failures.next() == nil, "one error per bad line")
            }
        } catch {
            out.append("ends: \(error)")
        }
        return out
    }

    /// Without a thread (pthread_create failed) the parser works inline and hands over the same
    /// lines, the same errors and the same error that ends the input.
    @Test func parsingInlineGivesWhatTheThreadGives() throws {
        var lines: [String] = []
        for i in 0..<10_000 {
            switch i % 7 {
            case 0: lines.append(#"{"op":"open","account":"a\#(i % 50)"}"#)
            case 1: lines.append(#"{"op":"transfer","from":"a\#(i % 50)","to":"b\#(i % 30)","amount":"1.5","id":"t\#(i)"}"#)
            case 2: lines.append("not json")
            case 3: lines.append("")
            default: lines.append(#"{"op":"deposit","account":"c\#(i % 90)","amount":"2"}"#)
            }
        }
        let text = lines.joined(separator: "\n")
        let inline = try Self.parseAll(text, threaded: false)
        #expect(inline.count == lines.filter { !$0.isEmpty }.count + 50 + 30 + 90)  // blank lines skipped; every name once
        let same = try Self.parseAll(text, threaded: true) == inline
        #expect(same)
        // An over-long line ends the input, after the lines before it, both ways.
        let long = text + "\n" + String(repeating: "x", count: LineReader.lineBytesMax + 10) + "\n" + lines[1]
        let inlineLong = try Self.parseAll(long, threaded: false)
        #expect(inlineLong.last?.hasPrefix("ends:") == true)
        let sameLong = try Self.parseAll(long, threaded: true) == inlineLong
        #expect(sameLong)
    }
}
