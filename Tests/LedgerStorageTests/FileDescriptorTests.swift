import Foundation
@testable import LedgerStorage
import LedgerTestSupport
import Testing

/// The gathered write the log appends a batch with: the parts, each in memory of its own, land
/// back to back from the offset, empty parts included.
@Suite struct FileDescriptorTests {
    @Test func aGatheredWriteLandsLikeOneBuffer() throws {
        let dir = TemporaryDirectory()
        let fd = try FileDescriptor.open(dir.path + "/f", O_RDWR | O_CREAT)
        defer { fd.close() }
        var rng = SplitMix64(seed: 3)
        let contents: [[UInt8]] = (0..<40).map { i in
            (0..<(i % 5 == 0 ? 0 : Int.random(in: 1...70_000, using: &rng))).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }
        let parts = contents.map { c -> UnsafeMutableRawBufferPointer in
            let p = UnsafeMutableRawBufferPointer.allocate(byteCount: c.count, alignment: 1)
            p.copyBytes(from: c)
            return p
        }
        defer { parts.forEach { $0.deallocate() } }
        try fd.writeAll(Array(repeating: 0xEE, count: 10), at: 0)
        try fd.writeAll(parts.map { UnsafeRawBufferPointer($0) }, at: 7)
        let joined = contents.flatMap { $0 }
        let back = try fd.read(count: 7 + joined.count + 100, at: 0)
        #expect(back.count == 7 + joined.count)
        #expect(Array(back.prefix(7)) == Array(repeating: 0xEE, count: 7))
        let same = Array(back.dropFirst(7)) == joined  // one Bool: describing a large array takes long
        #expect(same)
    }

    /// The write-back hint the slot tables give as they are written: accepted for a file's
    /// written bytes, which it leaves as they are; refused (not thrown) for a descriptor that
    /// cannot take it.
    @Test func writeBackIsAHintThatChangesNoBytes() throws {
        let dir = TemporaryDirectory()
        let fd = try FileDescriptor.open(dir.path + "/f", O_RDWR | O_CREAT)
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try fd.writeAll(bytes, at: 0)
        #expect(fd.startWriteBack(offset: 4096, count: 200_000))
        try fd.syncData()
        let same = try fd.read(count: bytes.count, at: 0) == bytes
        #expect(same)
        fd.close()
        // Not the closed one's number: the tests run in parallel, and another may have been
        // given that number since.
        #expect(!FileDescriptor(raw: -1, path: "none").startWriteBack(offset: 0, count: 4096), "no descriptor")
        let pipe = UnsafeMutablePointer<Int32>.allocate(capacity: 2)
        defer { pipe.deallocate() }
        #expect(Glibc.pipe(pipe) == 0)
        let reading = FileDescriptor(raw: pipe[0], path: "pipe")
        #expect(!reading.startWriteBack(offset: 0, count: 4096), "a pipe")
        reading.close()
        FileDescriptor(raw: pipe[1], path: "pipe").close()
    }
}
