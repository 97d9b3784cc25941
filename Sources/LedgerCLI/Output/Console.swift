// Buffered stdout and unbuffered stderr. Commands print through this, never with print().

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class Console {
    private var buffer: [UInt8] = []
    let json: Bool

    init(json: Bool) { self.json = json }

    func out(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= 1 << 16 { flush() }
    }

    /// One line given as UTF-8 bytes (large JSON answers: no String in between).
    func out(bytes: [UInt8]) {
        guard bytes.count >= 1 << 16 else {
            buffer.append(contentsOf: bytes)
            buffer.append(UInt8(ascii: "\n"))
            if buffer.count >= 1 << 16 { flush() }
            return
        }
        // Large: written as it is, not copied into the buffer first.
        flush()
        Console.writeAll(1, bytes)
        buffer.append(UInt8(ascii: "\n"))
    }

    func flush() {
        guard !buffer.isEmpty else { return }
        Console.writeAll(1, buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func err(_ text: String) {
        flush()
        Console.writeAll(2, Array((text + "\n").utf8))
    }

    /// Writes to stderr without a newline (progress bars).
    func errPartial(_ text: String) {
        Console.writeAll(2, Array(text.utf8))
    }

    var stderrIsTerminal: Bool { isatty(2) == 1 }

    /// A large answer written by `body` straight to stdout, a buffer at a time, then a newline
    /// (`endingLine: false`: `body` ends its own lines).
    func out(endingLine: Bool = true, streaming body: (inout OutputBytes) throws -> Void) rethrows {
        flush()
        try OutputBytes.write(to: 1, body)
        if endingLine { buffer.append(UInt8(ascii: "\n")) }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            if let p = raw.baseAddress { OutputBytes.writeAll(fd, p, count: raw.count) }
        }
    }
}
