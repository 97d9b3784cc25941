// Shared test helpers: temporary stores, precise file damage, seeded randomness,
// and running the built executables.

import Foundation
import LedgerStorage

/// A fresh directory under /tmp, removed when the value is released.
public final class TemporaryDirectory {
    public let path: String

    public init(_ label: String = "ledger-test") {
        let template = NSTemporaryDirectory() + "\(label)-XXXXXX"
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: bytes)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public var logDirectory: String { path + "/log" }
}

/// Damage to a file, applied in place: the fault-injection vocabulary of the tests.
public enum FileDamage {
    public static func read(_ path: String) -> [UInt8] {
        (try? Array(Data(contentsOf: URL(fileURLWithPath: path)))) ?? []
    }

    public static func write(_ bytes: [UInt8], _ path: String) {
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
    }

    public static func truncate(_ path: String, to size: Int) {
        precondition(Glibc.truncate(path, off_t(size)) == 0, "truncate failed")
    }

    public static func flipBit(_ path: String, offset: Int, bit: Int = 0) {
        var bytes = read(path)
        bytes[offset] ^= UInt8(1 << bit)
        write(bytes, path)
    }

    public static func zero(_ path: String, range: Range<Int>) {
        var bytes = read(path)
        for i in range { bytes[i] = 0 }
        write(bytes, path)
    }

    public static func append(_ path: String, _ extra: [UInt8]) {
        write(read(path) + extra, path)
    }

    public static func size(_ path: String) -> Int { read(path).count }

    public static func remove(_ path: String) { try? FileManager.default.removeItem(atPath: path) }
}

/// SplitMix64: small, seeded, reproducible.
public struct SplitMix64: RandomNumberGenerator {
    public private(set) var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs built executables from the package's build directory.
public enum Executables {
    /// The directory holding `ledger` and the helper tools: $LEDGER_BIN_DIR, else next to the test bundle.
    public static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["LEDGER_BIN_DIR"], !dir.isEmpty { return dir }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<5 {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.path + "/ledger") { return url.path }
        }
        // `swift test` runs from the package root by default.
        return FileManager.default.currentDirectoryPath + "/.build/debug"
    }

    public struct Result {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs `name` with `arguments` to completion.
    public static func run(_ name: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> Result {
        let process = try start(name, arguments, environment: environment, stdin: stdin)
        return process.wait()
    }

    public final class Running: @unchecked Sendable {
        public let process: Process
        let out: Pipe
        let err: Pipe
        var outData = Data()
        var errData = Data()
        let group = DispatchGroup()

        init(process: Process, out: Pipe, err: Pipe) {
            self.process = process
            self.out = out
            self.err = err
            group.enter()
            DispatchQueue.global().async { [self] in
                outData = out.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
            group.enter()
            DispatchQueue.global().async { [self] in
                errData = err.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
        }

        public func wait() -> Result {
            group.wait()
            process.waitUntilExit()
            return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                          stderr: String(decoding: errData, as: UTF8.self))
        }
    }

    public static func start(_ name: String, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> Running {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: name.hasPrefix("/") ? name : directory + "/" + name)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "LEDGER_DIR")
        env.removeValue(forKey: "LEDGER_FORMAT")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        // A child that exits without reading its stdin must not kill the test runner with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        try process.run()
        if let stdin { try? input.fileHandleForWriting.write(contentsOf: Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        return Running(process: process, out: out, err: err)
    }
}

/// Storage-level helpers: append simple records and read them back.
public enum LogFixture {
    /// Appends `batches` (each a list of payload strings) with increasing timestamps from `startMicros`,
    /// or each position's timestamp from `time` (never decreasing).
    @discardableResult
    public static func append(_ dir: TemporaryDirectory, batches: [[String]], segmentBytes: Int = Limits.segmentBytesDefault,
                              startMicros: Int64 = 1_000_000, stepMicros: Int64 = 1_000,
                              time: ((UInt64) -> Int64)? = nil) throws -> [ClosedRange<UInt64>] {
        try append(dir, records: batches.map { $0.map { (7, 1, Array($0.utf8)) } }, segmentBytes: segmentBytes,
                   startMicros: startMicros, stepMicros: stepMicros, time: time)
    }

    /// `append` of records of any type and version.
    @discardableResult
    public static func append(_ dir: TemporaryDirectory, records batches: [[(type: UInt16, version: UInt16, payload: [UInt8])]],
                              segmentBytes: Int = Limits.segmentBytesDefault, startMicros: Int64 = 1_000_000, stepMicros: Int64 = 1_000,
                              time: ((UInt64) -> Int64)? = nil) throws -> [ClosedRange<UInt64>] {
        let lock = try StoreLock.acquire(dir.path + "/LOCK", timeoutMillis: 1000)
        defer { lock.release() }
        let writer = try LogWriter(directory: dir.logDirectory, segmentBytes: segmentBytes, holding: lock)
        var ranges: [ClosedRange<UInt64>] = []
        for records in batches {
            var batch = writer.makeBatch()
            for r in records {
                let t = time?(batch.nextPosition) ?? startMicros + Int64(batch.nextPosition) * stepMicros
                try batch.append(timestampMicros: t, type: r.type, schemaVersion: r.version, payload: r.payload)
            }
            ranges.append(try writer.append(batch))
        }
        return ranges
    }

    /// Opens a writer (running recovery) and returns its notes and head.
    public static func recover(_ dir: TemporaryDirectory, segmentBytes: Int = Limits.segmentBytesDefault) throws -> (LogHead, [StorageNote]) {
        let lock = try StoreLock.acquire(dir.path + "/LOCK", timeoutMillis: 1000)
        defer { lock.release() }
        let writer = try LogWriter(directory: dir.logDirectory, segmentBytes: segmentBytes, holding: lock)
        return (writer.head, writer.log.notes)
    }

    /// Every committed record's (position, payload text).
    public static func readAll(_ dir: TemporaryDirectory, from position: UInt64 = 1) throws -> [(UInt64, String)] {
        let log = try Log.open(directory: dir.logDirectory)
        var out: [(UInt64, String)] = []
        try log.forEach(from: position) { record in
            out.append((record.position, String(decoding: record.payload, as: UTF8.self)))
            return true
        }
        return out
    }

    public static func segmentPaths(_ dir: TemporaryDirectory) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir.logDirectory).filter { $0.hasSuffix(".seg") }.sorted()
            .map { dir.logDirectory + "/" + $0 }
    }
}
