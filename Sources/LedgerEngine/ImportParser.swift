// The reading half of `ledger import`, on a second thread: lines are read, parsed
// (NDJSON or CSV) and turned into requests there, their accounts numbered by name,
// while the import thread validates and applies the ones before them. Handed over in
// chunks through a bounded queue, so at most a few chunks of parsed lines exist at any
// time.

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
    private let pipe = ChunkPipe<ParsedChunk>(chunksMax: 4)
    private var thread: Background<Void>?
    /// What parsing carries from line to line. The parser thread takes it for its whole run
    /// (a local: no exclusivity check or reference count per access); next() takes it per
    /// chunk when there is no thread.
    private var parsing: LineParsing?

    init(lines: LineReader, format: ImportFormat, config: StoreConfig) {
        self.lines = lines
        parsing = LineParsing(format: format, config: config)
    }

    deinit { stop() }

    /// Starts the parsing thread (`threaded: false`: parse inline in next(), as when no thread
    /// can be started; the tests use it).
    func start(threaded: Bool = true) {
        guard threaded else { return }
        var state = parsing.take()!
        let lines = lines, pipe = pipe
        let background = Background { Self.run(&state, lines, pipe) }
        if background.started { thread = background } else { parsing = state }
    }

    /// The next chunk of parsed lines; nil at the end of the input. Throws what ends the whole
    /// import (the input cannot be read, a bad CSV header, an over-long line).
    func next() throws -> ParsedChunk? {
        // Without a second thread, parse here, a chunk at a time.
        if thread == nil {
            var state = parsing.take()!
            defer { parsing = state }
            return try state.parseChunk(lines)
        }
        return try pipe.receive()
    }

    /// Stops the thread (the import ended early) and waits for it.
    func stop() {
        guard let t = thread else { return }
        pipe.cancel()
        try? t.join()
        thread = nil
    }

    private static func run(_ state: inout LineParsing, _ lines: LineReader, _ pipe: ChunkPipe<ParsedChunk>) {
        do {
            while let chunk = try state.parseChunk(lines) {
                guard pipe.send(chunk) else { return }
            }
            pipe.finish()
        } catch {
            pipe.finish(throwing: error)
        }
    }
}

/// The parser's state: account names numbered in order of first mention, the last date
/// parsed, the CSV columns, and an error waiting to be thrown.
private struct LineParsing {
    let format: ImportFormat
    let config: StoreConfig
    /// Account names numbered in order of first mention.
    var names = NameIndex()
    /// The date part of the last time parsed (consecutive lines mostly share it).
    var dates = Timestamp.DateMemo()
    let fields = LineFields()
    /// CSV: the field of each column, from the header.
    var columns: [ImportField]?
    /// An error met after some lines of a chunk: thrown once those lines are handed over.
    var pending: Error?

    init(format: ImportFormat, config: StoreConfig) {
        self.format = format
        self.config = config
    }

    mutating func parseChunk(_ lines: LineReader) throws -> ParsedChunk? {
        if let pending {
            self.pending = nil
            throw pending
        }
        let config = config // a local: not copied for every line
        var chunk = ParsedChunk()
        chunk.lines.reserveCapacity(ImportParser.chunkLines)
        chunk.text.reserveCapacity(ImportParser.chunkLines * 16)
        do {
            while chunk.lines.count < ImportParser.chunkLines, let bytes = try lines.next() {
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

    func csvHeader(_ bytes: UnsafeRawBufferPointer, line: Int) throws -> [ImportField] {
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
    func split(_ bytes: UnsafeRawBufferPointer) throws {
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
