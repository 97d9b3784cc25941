// Output built through a raw pointer. A 10k-account answer writes some 60k small fields;
// [UInt8].append checked capacity and uniqueness and called memcpy for each, which was most
// of the time the answer took to print. Here a record asks for room once (`reserve`, its
// largest size) and its fields are then stored without checks. Written to a descriptor, the
// buffer is sent whenever it is full and used again: a megabyte answer touches 64 KiB of
// fresh memory, not a megabyte twice over (each new page is a fault).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import LedgerDomain

struct OutputBytes {
    private var base: UnsafeMutablePointer<UInt8>
    private var at: UnsafeMutablePointer<UInt8>
    private var end: UnsafeMutablePointer<UInt8>
    /// Where a full buffer is written; -1: the buffer grows instead.
    private let fd: Int32

    /// `body` writes the output; what it wrote comes back as bytes.
    static func build(capacity: Int, _ body: (inout OutputBytes) -> Void) -> [UInt8] {
        var out = OutputBytes(capacity: max(capacity, 256), fd: -1)
        defer { out.base.deallocate() }
        body(&out)
        return Array(UnsafeBufferPointer(start: out.base, count: out.at - out.base))
    }

    /// `body` writes the output, which goes to `fd` a buffer at a time (what it wrote before
    /// throwing, too: a command failing half-way has printed what came before).
    static func write(to fd: Int32, _ body: (inout OutputBytes) throws -> Void) rethrows {
        var out = OutputBytes(capacity: 1 << 16, fd: fd)
        defer {
            out.send()
            out.base.deallocate()
        }
        try body(&out)
    }

    private init(capacity: Int, fd: Int32) {
        base = .allocate(capacity: capacity)
        at = base
        end = base + capacity
        self.fd = fd
    }

    /// Writes all of `count` bytes at `bytes` to `fd` (a closed pipe ends it quietly).
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawPointer, count: Int) {
        var done = 0
        while done < count {
            let n = Glibc.write(fd, bytes + done, count - done)
            if n < 0 { if errno == EINTR { continue }; return }
            done += n
        }
    }

    private mutating func send() {
        Self.writeAll(fd, base, count: at - base)
        at = base
    }

    /// Room for at least `count` more bytes; every write after it, up to that many, is unchecked.
    @inline(__always)
    mutating func reserve(_ count: Int) {
        if end - at < count { grow(count) }
    }

    @inline(never)
    private mutating func grow(_ count: Int) {
        if fd >= 0 {
            send()
            if end - at >= count { return }
        }
        let used = at - base
        let capacity = (end - base) + max(end - base, count)
        let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        larger.initialize(from: base, count: used)
        base.deallocate()
        base = larger
        at = larger + used
        end = larger + capacity
    }

    /// Where the next byte goes in the buffer (good until the next `reserve`).
    var offset: Int { at - base }

    /// Removes the bytes `b` at the end of what was written since `offset` (no `reserve` since).
    mutating func trimTrailing(_ b: UInt8, downTo offset: Int) {
        while at > base + offset, (at - 1).pointee == b { at -= 1 }
    }

    @inline(__always)
    mutating func byte(_ b: UInt8) {
        at.pointee = b
        at += 1
    }

    @inline(__always)
    mutating func bytes(_ source: UnsafeBufferPointer<UInt8>) {
        guard let from = source.baseAddress else { return }
        let n = source.count
        // Short copies (names, codes, amounts) as two overlapping loads and stores: a memcpy
        // call each cost more than the copy.
        if n <= 16 {
            let src = UnsafeRawPointer(from), dst = UnsafeMutableRawPointer(at)
            if n >= 8 {
                let a = src.loadUnaligned(as: UInt64.self), b = src.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
                dst.storeBytes(of: a, as: UInt64.self)
                dst.storeBytes(of: b, toByteOffset: n - 8, as: UInt64.self)
            } else if n >= 4 {
                let a = src.loadUnaligned(as: UInt32.self), b = src.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
                dst.storeBytes(of: a, as: UInt32.self)
                dst.storeBytes(of: b, toByteOffset: n - 4, as: UInt32.self)
            } else {
                for k in 0..<n { at[k] = from[k] }
            }
        } else {
            at.update(from: from, count: n)
        }
        at += n
    }

    /// A literal's bytes (inlined, so the copy's length is known where it is written).
    @inline(__always)
    mutating func literal(_ text: StaticString) {
        at.update(from: text.utf8Start, count: text.utf8CodeUnitCount)
        at += text.utf8CodeUnitCount
    }

    @inline(__always)
    mutating func repeating(_ b: UInt8, count: Int) {
        guard count > 0 else { return }
        if count <= 16 {
            // Two overlapping 8-byte stores, or bytes one by one below 8.
            let word = UInt64(b) &* 0x0101_0101_0101_0101
            let dst = UnsafeMutableRawPointer(at)
            if count >= 8 {
                dst.storeBytes(of: word, as: UInt64.self)
                dst.storeBytes(of: word, toByteOffset: count - 8, as: UInt64.self)
            } else {
                for k in 0..<count { at[k] = b }
            }
        } else {
            at.update(repeating: b, count: count)
        }
        at += count
    }

    /// The decimal digits of `v` (at most 20 bytes).
    mutating func digits(_ v: UInt64) {
        var n = 1
        var rest = v / 10
        while rest > 0 { n += 1; rest /= 10 }
        var value = v
        var i = n
        repeat {
            i -= 1
            at[i] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value % 10)
            value /= 10
        } while i > 0
        at += n
    }

    /// An amount as Money.format writes it (at most Money.textBytesMax bytes).
    mutating func money(_ units: Int64, scale: Int) {
        at += Money.format(units, scale: scale, to: at)
    }
}
