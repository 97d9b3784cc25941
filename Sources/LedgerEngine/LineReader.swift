// Lines of an import, read in chunks from a file or a pipe: memory stays at the chunk
// size (plus the longest line) however long the input is.

final class LineReader {
    static let chunkBytes = 1 << 20
    /// A longer line is an error, not a reason to hold the whole input.
    static let lineBytesMax = 1 << 20

    private let read: (UnsafeMutableRawBufferPointer) throws -> Int
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var atEOF = false
    private(set) var lineNumber = 0

    init(_ read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) {
        self.read = read
        buffer = .allocate(byteCount: Self.chunkBytes + Self.lineBytesMax, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// The next line without its newline, valid until the next call; nil at the end.
    func next() throws -> UnsafeRawBufferPointer? {
        while true {
            if start < end, let nl = memchrIndex(from: start) {
                guard nl - start <= Self.lineBytesMax else { throw tooLong() }
                let line = UnsafeRawBufferPointer(rebasing: buffer[start..<nl])
                start = nl + 1
                lineNumber += 1
                return line
            }
            if atEOF {
                guard start < end else { return nil }
                guard end - start <= Self.lineBytesMax else { throw tooLong() }
                let line = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
                start = end
                lineNumber += 1
                return line
            }
            guard end - start <= Self.lineBytesMax else { throw tooLong() }
            // Move the partial line to the front and read the next chunk after it.
            if start > 0 {
                if end > start { buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + start, byteCount: end - start) }
                end -= start
                start = 0
            }
            let n = try read(UnsafeMutableRawBufferPointer(rebasing: buffer[end..<min(buffer.count, end + Self.chunkBytes)]))
            if n == 0 { atEOF = true } else { end += n }
        }
    }

    private func tooLong() -> LedgerError {
        .usage("line \(lineNumber + 1): longer than \(Self.lineBytesMax) bytes")
    }

    private func memchrIndex(from: Int) -> Int? {
        guard let p = memchr(buffer.baseAddress! + from, 0x0A, end - from) else { return nil }
        return UnsafeRawPointer(buffer.baseAddress!).distance(to: UnsafeRawPointer(p))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
