// The per-account history view: for every event, the state of each account it touched
// after it (balance, version, closed), chained per account. A one-account as-of query
// walks that chain from the account's last event back to the last one at or before the
// position asked for: O(log n) record reads, however long the history.
//
// One record per log position (PositionTable), two sides (a transfer's FROM is side 0,
// TO side 1; other events use side 0). Pointers are position << 1 | side.
//   side (40 bytes): i64 balance, u64 prev, u64 jump, u32 version, u32 jumpVersion,
//                    u32 nameHash, u8 flags (bit 0 present, bit 1 closed), 3 bytes zero
//   record payload: side 0, side 1 (80 bytes; an absent side is all zero)
// `prev` is the account's previous node (0 for its AccountOpened). `jump` is a skew-binary
// jump pointer (Myers, "An applicative random-access stack", 1983): the node's parent, or
// its parent's jump's jump when the two jumps before span equal distances, so that
// following jumps while they stay after the target, else prev, takes O(log n) steps.
// An opened account's node jumps to itself.

import LedgerDomain
import LedgerStorage

final class HistoryView {
    static let recordBytes = 84
    static let sideBytes = 40
    let table: PositionTable

    init(table: PositionTable) { self.table = table }

    struct Node: Equatable {
        var pointer: UInt64
        var balance: Int64
        var prev: UInt64
        var jump: UInt64
        var version: UInt32
        var jumpVersion: UInt32
        var nameHash: UInt32
        var closed: Bool
        var position: UInt64 { pointer >> 1 }
    }

    static func nameHash(_ name: String) -> UInt32 {
        var copy = name
        return copy.withUTF8 { nameHash(UnsafeRawBufferPointer($0)) }
    }

    /// FNV-1a (32 bits) of the name's UTF-8 bytes: part of the format.
    static func nameHash(_ name: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt32 = 0x811c_9dc5
        for b in name { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        return h
    }

    // MARK: Reading

    private func decode(_ payload: [UInt8], side: Int, position: UInt64) -> Node? {
        payload.withUnsafeBytes { Self.decode($0.baseAddress!, side: side, position: position) }
    }

    /// The node on `side` of the record payload at `payload` (nil: the side is absent).
    @inline(__always)
    private static func decode(_ payload: UnsafeRawPointer, side: Int, position: UInt64) -> Node? {
        let p = payload + side * sideBytes
        let flags = p.load(fromByteOffset: 36, as: UInt8.self)
        guard flags & 1 != 0 else { return nil }
        return Node(pointer: position << 1 | UInt64(side), balance: Int64(bitPattern: LE.u64(p, 0)), prev: LE.u64(p, 8),
                    jump: LE.u64(p, 16), version: LE.u32(p, 24), jumpVersion: LE.u32(p, 28), nameHash: LE.u32(p, 32),
                    closed: flags & 2 != 0)
    }

    /// The node `pointer` names, if it is there and belongs to the account hashed `nameHash`.
    func node(_ pointer: UInt64, nameHash: UInt32) throws -> Node? {
        guard pointer >> 1 >= 1, let payload = try table.read(pointer >> 1) else { return nil }
        guard let n = decode(payload, side: Int(pointer & 1), position: pointer >> 1), n.nameHash == nameHash else { return nil }
        return n
    }

    /// The node of the account hashed `hash` at `position` (whichever side it is on), whose version is
    /// `version`. The version only decides between the two sides of a transfer between two accounts
    /// whose names share a hash; nil when even that cannot tell them apart.
    func node(at position: UInt64, nameHash hash: UInt32, version: UInt64) throws -> Node? {
        guard position >= 1, let payload = try table.read(position) else { return nil }
        return payload.withUnsafeBytes { Self.node(inPayload: $0.baseAddress!, at: position, nameHash: hash, version: version) }
    }

    /// `node(at:nameHash:version:)` in the payload of record `position`, already read.
    static func node(inPayload payload: UnsafeRawPointer, at position: UInt64, nameHash hash: UInt32, version: UInt64) -> Node? {
        let sides = (decode(payload, side: 0, position: position), decode(payload, side: 1, position: position))
        let first = sides.0.flatMap { $0.nameHash == hash ? $0 : nil }, second = sides.1.flatMap { $0.nameHash == hash ? $0 : nil }
        guard let a = first, let b = second else { return first ?? second }
        let v = UInt32(truncatingIfNeeded: version)
        return a.version == v && b.version != v ? a : b.version == v && a.version != v ? b : nil
    }

    enum Lookup: Equatable {
        case node(Node)
        /// The account's first event is after the position.
        case notYetOpened
        /// The view cannot answer (a record missing or not this account's): ask the log.
        case unavailable
    }

    /// The node of account `name` for the last of its events at or before `position`, walking back
    /// from its event at `head`.
    func lookup(_ name: String, head: UInt64, version: UInt64, atOrBefore position: UInt64) throws -> Lookup {
        let hash = Self.nameHash(name)
        guard var node = try self.node(at: head, nameHash: hash, version: version) else { return .unavailable }
        while node.position > position {
            if node.prev == 0 { return .notYetOpened }
            if node.jump != node.pointer, node.jumpVersion < node.version,
               let jumped = try self.node(node.jump, nameHash: hash), jumped.position > position {
                node = jumped
                continue
            }
            guard let previous = try self.node(node.prev, nameHash: hash), previous.position < node.position else { return .unavailable }
            node = previous
        }
        return .node(node)
    }

    /// Records `from...through` in log order, a chunk at a time (false `complete` if one is
    /// missing): hot loops read their nodes with `node(in:record:side:)`, with no call per node.
    func records(from: UInt64, through: UInt64) throws -> PositionTable.ChunkReader {
        try table.chunks(from: from, through: through)
    }

    /// The node on `side` of the chunk's record `r` (nil: the side is absent).
    @inline(__always)
    static func node(in chunk: PositionTable.ChunkReader.Chunk, record r: Int, side: Int) -> Node? {
        decode(chunk.payload(r), side: side, position: chunk.first + UInt64(r))
    }

    // MARK: Writing

    /// One account's part in an event, as the builder needs it: its state after the event, and
    /// (for an account the builder has not seen) its last position before.
    struct Change {
        let position: UInt64
        /// The caller's number for the account (an index into its own state).
        let slot: Int
        let side: Int
        let opened: Bool
        let closed: Bool
        let balance: Int64
        let version: UInt64
        let head: UInt64
        /// HistoryView.nameHash of the account's name.
        let nameHash: UInt32
    }

    /// The side account `id` takes in an event: a transfer's (or reversal's) receiving account is
    /// side 1, every other account side 0.
    static func side(of id: AccountID, in body: EventBody) -> Int {
        switch body {
        case .moneyTransferred(_, let to, _): return id == to ? 1 : 0
        case .moneyReversed(_, _, let to, _): return id == to ? 1 : 0
        default: return 0
        }
    }

    /// Builds the records of events in log order from their Changes. It keeps each account's
    /// jump spine (its newest node and the nodes reached by following jumps) in memory once
    /// touched; for an account it has not seen it reads the newest node back from the table (at
    /// the change's `head`), and older spine nodes only as the jump rule needs them (at most two
    /// more reads).
    final class Builder {
        let view: HistoryView
        /// What adding a change updates. A batch of changes is added with it in a local variable
        /// (swapped out of the object and back): a class's stored var is checked for exclusive
        /// access at run time on every use, which was a fifth of a replay's history thread.
        private var state = State()

        private struct State {
            var spines = Spines()
            /// The position of the record being built (0: none).
            var recordPosition: UInt64 = 0
            /// Finished records' payloads for consecutive positions from `batchFirst`, handed to
            /// the table together at the end of a batch of changes.
            var batch: [UInt8] = []
            var batchFirst: UInt64 = 0
        }

        /// The record being built (both sides), written when the next position starts.
        private let record = UnsafeMutableRawPointer.allocate(byteCount: 2 * HistoryView.sideBytes, alignment: 8)

        init(_ view: HistoryView) {
            self.view = view
            record.initializeMemory(as: UInt8.self, repeating: 0, count: 2 * HistoryView.sideBytes)
        }

        deinit { record.deallocate() }

        /// Adds `change` (one account's node, on its side) to the record of its event.
        func add(_ change: Change) throws {
            try add(CollectionOfOne(change))
        }

        /// Adds `changes` in order; each account's spine head, and then the entry below it, start
        /// loading a few changes before its push (likely cache misses).
        func add<C: RandomAccessCollection>(_ changes: C) throws where C.Element == Change, C.Index == Int {
            var s = State()
            swap(&s, &state)
            defer { swap(&s, &state) }
            // The view and the record buffer as locals: each use of a class's property in the
            // loop was a retain and a release.
            let view = self.view, record = self.record
            // Heads 16 changes ahead; 8 ahead, the pool entry below a head loaded by then.
            let ahead = 8
            for k in changes.indices {
                if k + 2 * ahead < changes.endIndex { s.spines.prefetch(slot: changes[k + 2 * ahead].slot) }
                if k + ahead < changes.endIndex { s.spines.prefetchRest(slot: changes[k + ahead].slot) }
                try Self.add(changes[k], to: &s, view: view, record: record)
            }
            try Self.writeBatch(&s, view: view)
        }

        private static func writeBatch(_ s: inout State, view: HistoryView) throws {
            guard !s.batch.isEmpty else { return }
            try s.batch.withUnsafeBytes { try view.table.write(first: s.batchFirst, payloads: $0) }
            s.batch.removeAll(keepingCapacity: true)
        }

        private static func add(_ change: Change, to s: inout State, view: HistoryView, record: UnsafeMutableRawPointer) throws {
            if s.recordPosition != change.position { try finish(&s, view: view, record: record) }
            s.recordPosition = change.position
            let node = try s.spines.push(change, view: view)
            let p = record + change.side * HistoryView.sideBytes
            LE.store(UInt64(bitPattern: change.balance), p, 0)
            LE.store(node.prev, p, 8)
            LE.store(node.jump, p, 16)
            LE.store(UInt32(truncatingIfNeeded: change.version), p, 24)
            LE.store(node.jumpVersion, p, 28)
            LE.store(change.nameHash, p, 32)
            p.storeBytes(of: UInt8(1 | (change.closed ? 2 : 0)), toByteOffset: 36, as: UInt8.self)
        }

        /// Writes the pending record (call once after the last event).
        func finish() throws {
            try Self.finish(&state, view: view, record: record)
            try Self.writeBatch(&state, view: view)
        }

        /// Moves the record being built into the batch.
        private static func finish(_ s: inout State, view: HistoryView, record: UnsafeMutableRawPointer) throws {
            guard s.recordPosition > 0 else { return }
            let recordBytes = 2 * HistoryView.sideBytes
            if !s.batch.isEmpty && s.recordPosition != s.batchFirst + UInt64(s.batch.count / recordBytes) { try writeBatch(&s, view: view) }
            if s.batch.isEmpty { s.batchFirst = s.recordPosition }
            s.batch.append(contentsOf: UnsafeRawBufferPointer(start: record, count: recordBytes))
            record.initializeMemory(as: UInt8.self, repeating: 0, count: 2 * HistoryView.sideBytes)
            s.recordPosition = 0
        }
    }

    /// Every account's spine, newest node first. The three newest entries, which every push
    /// reads, live in the account's head (one cache line); older ones in a shared pool, linked
    /// downwards, touched only when a push merges two or spills one.
    struct Spines {
        struct Head {
            /// The three newest entries (0 is the newest), valid up to `count`.
            var p0: UInt64 = 0, p1: UInt64 = 0, p2: UInt64 = 0
            var v0: UInt32 = 0, v1: UInt32 = 0, v2: UInt32 = 0
            /// Entries in memory (0: the spine is not loaded).
            var count: UInt32 = 0
            /// The jump of the oldest entry in memory (equal to its pointer at the root).
            var bottomJump: UInt64 = 0
            /// The pool entry of the fourth newest (0: none).
            var rest: UInt32 = 0
        }
        struct Entry {
            var pointer: UInt64
            var version: UInt32
            var below: UInt32
        }
        private var heads: [Head] = []
        /// Entry 0 is unused, so that 0 can mean "none" (added with the first entry: an empty
        /// Spines allocates nothing).
        private var pool: [Entry] = []
        private var free: [UInt32] = []

        /// The links of a new record's node.
        struct Links {
            var prev: UInt64
            var jump: UInt64
            var jumpVersion: UInt32
        }

        func prefetch(slot: Int) {
            guard slot < heads.count else { return }
            heads.withUnsafeBufferPointer { Prefetch.forWrite($0.baseAddress! + slot) }
        }

        /// Starts loading the pool entry below the three newest of the spine at `slot`, which a
        /// push that jumps takes up (a likely miss too: the pool is a few entries an account);
        /// called after `prefetch(slot:)` has had time to bring the head in.
        func prefetchRest(slot: Int) {
            guard slot < heads.count else { return }
            let rest = heads.withUnsafeBufferPointer { Int($0[slot].rest) }
            guard rest != 0, rest < pool.count else { return }
            pool.withUnsafeBufferPointer { Prefetch.forRead($0.baseAddress! + rest) }
        }

        /// Pushes the node of `change` on its account's spine and returns its links.
        mutating func push(_ change: Change, view: HistoryView) throws -> Links {
            let slot = change.slot
            if slot >= heads.count { heads.append(contentsOf: repeatElement(Head(), count: slot + 1 - heads.count)) }
            let pointer = change.position << 1 | UInt64(change.side)
            let version = UInt32(truncatingIfNeeded: change.version)
            var h = heads[slot]
            if change.opened {
                release(h)
                heads[slot] = Head(p0: pointer, v0: version, count: 1, bottomJump: pointer)
                return Links(prev: 0, jump: pointer, jumpVersion: version)
            }
            if h.count < 3 { try load(&h, change, view: view) }
            var links = Links(prev: h.p0, jump: h.p0, jumpVersion: h.v0)
            if h.count >= 3 && h.v0 &- h.v1 == h.v1 &- h.v2 {
                // The new node jumps over the two newest: they leave the spine.
                links.jump = h.p2
                links.jumpVersion = h.v2
                h.p1 = h.p2; h.v1 = h.v2
                if h.rest != 0 {
                    let d = pool[Int(h.rest)]
                    free.append(h.rest)
                    h.p2 = d.pointer; h.v2 = d.version
                    h.rest = d.below
                }
                h.count -= 1
            } else {
                if h.count >= 3 { h.rest = allocate(Entry(pointer: h.p2, version: h.v2, below: h.rest)) }
                h.p2 = h.p1; h.v2 = h.v1
                h.p1 = h.p0; h.v1 = h.v0
                h.count += 1
            }
            h.p0 = pointer
            h.v0 = version
            heads[slot] = h
            return links
        }

        /// Reads the spine of an account not in memory back from the table: its newest node (at the
        /// change's `head`), then older ones by their jumps while fewer than three are known.
        private func load(_ h: inout Head, _ change: Change, view: HistoryView) throws {
            if h.count == 0 {
                guard change.head >= 1, let newest = try view.node(at: change.head, nameHash: change.nameHash, version: change.version &- 1) else {
                    throw SlotTableError.damaged(path: view.table.path, reason: "no history record at position \(change.head) for an account it touches")
                }
                h = Head(p0: newest.pointer, v0: newest.version, count: 1, bottomJump: newest.jump)
            }
            while h.count < 3 {
                let (bottom, bottomVersion) = h.count == 1 ? (h.p0, h.v0) : (h.p1, h.v1)
                guard h.bottomJump != bottom else { return }
                guard let next = try view.node(h.bottomJump, nameHash: change.nameHash), next.version < bottomVersion else {
                    throw SlotTableError.damaged(path: view.table.path, reason: "broken history chain at position \(bottom >> 1)")
                }
                if h.count == 1 { h.p1 = next.pointer; h.v1 = next.version } else { h.p2 = next.pointer; h.v2 = next.version }
                h.count += 1
                h.bottomJump = next.jump
            }
        }

        private mutating func allocate(_ entry: Entry) -> UInt32 {
            if pool.isEmpty { pool.append(Entry(pointer: 0, version: 0, below: 0)) }
            if let k = free.popLast() {
                pool[Int(k)] = entry
                return k
            }
            pool.append(entry)
            return UInt32(pool.count - 1)
        }

        /// Frees the pool entries of a spine being replaced (an account opened again under a slot in use).
        private mutating func release(_ h: Head) {
            var k = h.rest
            while k != 0 {
                free.append(k)
                k = pool[Int(k)].below
            }
        }
    }
}
