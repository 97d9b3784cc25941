// Store settings, kept as `key = value` lines in DIR/config and replaced atomically.
// Unknown keys are kept and reported, never dropped.

import LedgerStorage

public struct StoreConfig: Equatable, Sendable {
    public var snapshotEvery: Int = 10_000
    public var defaultCurrency: String = "USD"
    public var defaultScale: Int = 2
    public var segmentBytes: Int = Limits.segmentBytesDefault

    public static let keys = ["snapshot_every", "default_currency", "default_scale", "segment_bytes"]

    public init() {}

    public func value(of key: String) -> String? {
        switch key {
        case "snapshot_every": return String(snapshotEvery)
        case "default_currency": return defaultCurrency
        case "default_scale": return String(defaultScale)
        case "segment_bytes": return String(segmentBytes)
        default: return nil
        }
    }

    /// Sets `key` from text; throws a usage error naming the key and the accepted range.
    public mutating func set(_ key: String, to text: String) throws {
        func int(_ range: ClosedRange<Int>) throws -> Int {
            guard let v = Int(text), range.contains(v) else {
                throw LedgerError.usage("\(key) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
            }
            return v
        }
        switch key {
        case "snapshot_every": snapshotEvery = try int(0...100_000_000)
        case "default_currency":
            guard (1...12).contains(text.utf8.count), text.utf8.allSatisfy({ ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) }) else {
                throw LedgerError.usage("default_currency must be 1-12 upper-case letters or digits, got '\(text)'")
            }
            defaultCurrency = text
        case "default_scale": defaultScale = try int(0...18)
        case "segment_bytes": segmentBytes = try int(Limits.segmentBytesMin...Limits.segmentBytesMax)
        default: throw LedgerError.usage("unknown config key '\(key)' (known: \(Self.keys.joined(separator: ", ")))")
        }
    }

    public func encoded() -> [UInt8] {
        Array(Self.keys.map { "\($0) = \(value(of: $0)!)\n" }.joined().utf8)
    }

    public static func load(_ layout: StoreLayout) throws -> StoreConfig {
        var config = StoreConfig()
        let bytes: [UInt8]?
        do { bytes = try AtomicFile.read(layout.configPath) } catch let e as SystemError { throw LedgerError.io(e) }
        guard let bytes else { return config }
        for (n, line) in String(decoding: bytes, as: UTF8.self).split(separator: "\n").enumerated() {
            let trimmed = line.trimmingSpaces()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw LedgerError.integrity("\(layout.configPath) line \(n + 1): expected 'key = value'")
            }
            let key = String(trimmed[..<eq]).trimmingSpaces()
            let value = String(trimmed[trimmed.index(after: eq)...]).trimmingSpaces()
            do { try config.set(key, to: value) } catch LedgerError.usage(let message) {
                throw LedgerError.integrity("\(layout.configPath) line \(n + 1): \(message)")
            }
        }
        return config
    }

    public func save(_ layout: StoreLayout) throws {
        do {
            try FileSystem.makeDirectory(layout.root)
            try AtomicFile.write(encoded(), to: layout.configPath)
        } catch let e as SystemError { throw LedgerError.io(e) }
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s.removeLast() }
        return String(s)
    }
}
