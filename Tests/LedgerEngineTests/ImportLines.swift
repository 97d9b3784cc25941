import LedgerEngine

extension Ledger {
    /// Imports NDJSON `text` (all or nothing), as `ledger import` does.
    func importLines(_ text: String) throws {
        let input = Array(text.utf8)
        var offset = 0
        _ = try importOperations(reading: { buffer in
            let n = min(buffer.count, input.count - offset)
            input.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
            offset += n
            return n
        }, format: .ndjson, continueOnError: false, committed: { _, _ in }, rejected: { _, _ in })
    }
}
