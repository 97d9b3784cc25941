// The reading half of `ledger import`, on a second thread: lines are read, parsed
// (NDJSON or CSV) and turned into requests there, their accounts numbered by name,
// while the import thread validates and applies the ones before them. Handed over in
// chunks through a bounded queue, so at most a few chunks of parsed lines exist at any
// time.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

import LedgerDomain
import LedgerStorage

/// One non-blank line of the input: its number and the request it asks for, or (nil) that it
/// is bad: its error is then the chunk's next `failures` entry.
struct ParsedLine {
    let number: Int
    let request: ImportRequest?
}

/// Lines handed over together, with what their requests refer to: the account names they were
/// the first to mention (with their HistoryView.nameHash, in order of number), the bytes of
/// their ids and memos, the fields of their opens, and the errors of their bad lines.
struct ParsedChunk {
    var lines: [ParsedLine] = []
    var newNames: [(id: AccountID, nameHash: UInt32)] = []
    var text: [UInt8] = []
    var opens: [ImportRequest.Open] = []
    var failures: [LedgerError] = []
}

final class ImportParser: @unchecked Sendable {
    static let chunkLines = 4096

    private let lines: LineReader
    private let format: ImportFormat
    private let config: StoreConfig
    private let pipe = ChunkPipe<ParsedChunk>(chunksMax: 4)
    private var thread: Background<Void>?

    init(lines: LineReader, format: ImportFormat, config: StoreConfig) {
        self.lines = lines
        self.format = format
        self.config = config
        fields.nameSeen = { [unowned self] name in names.withHome(of: name) { Prefetch.forRead($0) } }
    }

    deinit { stop() }

    /// Starts the parsing thread (`threaded: false`: parse inline in next(), as when no thread
    /// can be started; the tests use it).
    func start(threaded: Bool = true) {
        let background = Background(threaded: threaded) { [self] in run() }
        if background.started { thread = background }
    }

    /// The next chunk of parsed lines; nil at the end of the input. Throws what ends the whole
    /// import (the input cannot be read, a bad CSV header, an over-long line).
    func next() throws -> ParsedChunk? {
        // Without a second thread, parse here, a chunk at a time.
        if thread == nil { return try parseChunk() }
        return try pipe.receive()
    }

    /// Stops the thread (the import ended early) and waits for it.
    func stop() {
        guard let t = thread else { return }
        pipe.cancel()
        try? t.join()
        thread = nil
    }

    private func run() {
        do {
            while let chunk = try parseChunk() {
                guard pipe.send(chunk) else { return }
            }
            pipe.finish()
        } catch {
            pipe.finish(throwing: error)
        }
    }

    // MARK: Parsing (on the parser thread only)

    /// Account names numbered in order of first mention.
    private var names = NameIndex()
    /// The date part of the last time parsed (consecutive lines mostly share it).
    private var dates = Timestamp.DateMemo()
    private let fields = LineFields()
    /// CSV: the field of each column, from the header.
    private var columns: [ImportField]?
    /// An error met after some lines of a chunk: thrown once those lines are handed over.
    private var pending: Error?

    private func parseChunk() throws -> ParsedChunk? {
        if let pending {
            self.pending = nil
            throw pending
        }
        var chunk = ParsedChunk()
        chunk.lines.reserveCapacity(Self.chunkLines)
        chunk.text.reserveCapacity(Self.chunkLines * 16)
        do {
            while chunk.lines.count < Self.chunkLines, let bytes = try lines.next() {
                let number = lines.lineNumber
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                if format == .csv && columns == nil {
                    columns = try csvHeader(bytes, line: number)
                    continue
                }
                do {
                    try split(bytes)
                    let request = try ImportRequest(fields, config: config, names: &names, dates: &dates, text: &chunk.text, opens: &chunk.opens) {
                        chunk.newNames.append(($0, $1))
                    }
                    chunk.lines.append(ParsedLine(number: number, request: request))
                } catch let e as LedgerError {
                    chunk.lines.append(ParsedLine(number: number, request: nil))
                    chunk.failures.append(e)
                }
            }
        } catch {
            guard !chunk.lines.isEmpty else { throw error }
            pending = error
        }
        return chunk.lines.isEmpty ? nil : chunk
    }

    private func csvHeader(_ bytes: UnsafeRawBufferPointer, line: Int) throws -> [ImportField] {
        do {
            var names: [String] = []
            try CSVLine.split(Self.withoutCR(bytes), scratch: fields) { _, value in
                names.append(String(decoding: value, as: UTF8.self).trimmingSpaces())
            }
            var columns: [ImportField] = []
            for n in names {
                guard let field = ImportLine.fields.firstIndex(of: n).flatMap(ImportField.init(rawValue:)) else {
                    throw LedgerError.usage("line \(line): unknown CSV column '\(n)' (known: \(ImportLine.fields.joined(separator: ", ")))")
                }
                columns.append(field)
            }
            guard Set(names).count == names.count else { throw LedgerError.usage("line \(line): duplicate CSV column") }
            guard names.contains("op") else { throw LedgerError.usage("line \(line): the CSV header has no 'op' column") }
            return columns
        } catch let e as ImportFormatError { throw LedgerError.usage("line \(line): \(e.message)") }
    }

    private static func withoutCR(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        bytes.last == 0x0D ? UnsafeRawBufferPointer(rebasing: bytes.dropLast()) : bytes
    }

    /// Splits the line into `fields`.
    private func split(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            switch format {
            case .ndjson:
                try NDJSONLine.parse(bytes, into: fields)
            case .csv:
                let columns = columns!
                var count = 0
                try CSVLine.split(Self.withoutCR(bytes), scratch: fields) { i, value in
                    count += 1
                    if i < columns.count, !value.isEmpty { fields.set(columns[i], value) }
                }
                guard count == columns.count else {
                    throw LedgerError.usage("expected \(columns.count) CSV fields, found \(count)")
                }
            }
        } catch let e as ImportFormatError { throw LedgerError.usage(e.message) }
    }
}
