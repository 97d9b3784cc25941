// The reading half of `ledger import`, on a second thread: lines are read, parsed
// (NDJSON or CSV) and turned into requests there, while the import thread validates
// and applies the ones before them. Handed over in chunks through a bounded queue, so
// at most a few chunks of parsed lines exist at any time.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One non-blank line of the input: its number and the request it asks for, or why it is bad.
struct ParsedLine {
    let number: Int
    let request: Result<ImportRequest, LedgerError>
}

final class ImportParser: @unchecked Sendable {
    static let chunkLines = 4096

    private let lines: LineReader
    private let format: ImportFormat
    private let config: StoreConfig
    private let pipe = ChunkPipe<ParsedLine>(chunksMax: 4)
    private var thread: Background<Void>?

    init(lines: LineReader, format: ImportFormat, config: StoreConfig) {
        self.lines = lines
        self.format = format
        self.config = config
    }

    deinit { stop() }

    /// Starts the parsing thread.
    func start() {
        let background = Background { [self] in run() }
        if background.started { thread = background }
    }

    /// The next chunk of parsed lines; nil at the end of the input. Throws what ends the whole
    /// import (the input cannot be read, a bad CSV header, an over-long line).
    func next() throws -> [ParsedLine]? {
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

    private var header: [String]?
    /// An error met after some lines of a chunk: thrown once those lines are handed over.
    private var pending: Error?

    private func parseChunk() throws -> [ParsedLine]? {
        if let pending {
            self.pending = nil
            throw pending
        }
        var chunk: [ParsedLine] = []
        chunk.reserveCapacity(Self.chunkLines)
        do {
            while chunk.count < Self.chunkLines, let bytes = try lines.next() {
                let number = lines.lineNumber
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                if format == .csv && header == nil {
                    header = try csvHeader(bytes, line: number)
                    continue
                }
                do {
                    chunk.append(ParsedLine(number: number, request: .success(try ImportRequest(try parse(bytes), config: config))))
                } catch let e as LedgerError {
                    chunk.append(ParsedLine(number: number, request: .failure(e)))
                }
            }
        } catch {
            guard !chunk.isEmpty else { throw error }
            pending = error
        }
        return chunk.isEmpty ? nil : chunk
    }

    private func csvHeader(_ bytes: UnsafeRawBufferPointer, line: Int) throws -> [String] {
        do {
            let names = try CSVLine.fields(bytes).map { $0.trimmingSpaces() }
            for n in names where !ImportLine.fields.contains(n) {
                throw LedgerError.usage("line \(line): unknown CSV column '\(n)' (known: \(ImportLine.fields.joined(separator: ", ")))")
            }
            guard Set(names).count == names.count else { throw LedgerError.usage("line \(line): duplicate CSV column") }
            guard names.contains("op") else { throw LedgerError.usage("line \(line): the CSV header has no 'op' column") }
            return names
        } catch let e as ImportFormatError { throw LedgerError.usage("line \(line): \(e.message)") }
    }

    private func parse(_ bytes: UnsafeRawBufferPointer) throws -> ImportLine {
        do {
            switch format {
            case .ndjson:
                return try NDJSONLine.parse(bytes)
            case .csv:
                let values = try CSVLine.fields(bytes.last == 0x0D ? UnsafeRawBufferPointer(rebasing: bytes.dropLast()) : bytes)
                guard let header, values.count == header.count else {
                    throw LedgerError.usage("expected \(header?.count ?? 0) CSV fields, found \(values.count)")
                }
                var line = ImportLine()
                for (name, value) in zip(header, values) where !value.isEmpty { _ = line.set(name, value) }
                return line
            }
        } catch let e as ImportFormatError { throw LedgerError.usage(e.message) }
    }
}
