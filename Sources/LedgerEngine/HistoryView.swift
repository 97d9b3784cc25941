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
        var h: UInt32 = 0x811c_9dc5
        for b in name.utf8 { h = (h ^ UInt32(b)) &* 0x0100_0193 }
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

    /// The node of account `name` at `position` (whichever side it is on), whose version is
    /// `version`. The version only decides between the two sides of a transfer between two accounts
    /// whose names share a hash; nil when even that cannot tell them apart.
    func node(at position: UInt64, name: String, version: UInt64) throws -> Node? {
        let hash = Self.nameHash(name)
        guard position >= 1, let payload = try table.read(position) else { return nil }
        let matching = (0..<2).compactMap { decode(payload, side: $0, position: position) }.filter { $0.nameHash == hash }
        guard matching.count == 2 else { return matching.first }
        let exact = matching.filter { $0.version == UInt32(truncatingIfNeeded: version) }
        return exact.count == 1 ? exact[0] : nil
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
        guard var node = try self.node(at: head, name: name, version: version) else { return .unavailable }
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
    /// (for an account the builder has not seen) its last position before and its name.
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
        let name: String
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
        /// Per slot: the spine, root first, newest last (empty: not loaded yet).
        private var spines: [[Node]] = []
        private var record = [UInt8](repeating: 0, count: 80)
        private var recordPosition: UInt64 = 0

        init(_ view: HistoryView) { self.view = view }

        /// Adds `change` (one account's node, on its side) to the record of its event.
        func add(_ change: Change) throws {
            let position = change.position, side = change.side, slot = change.slot
            let version = UInt32(truncatingIfNeeded: change.version)
            if recordPosition != position { try finish() }
            recordPosition = position
            while spines.count <= slot { spines.append([]) }
            let pointer = position << 1 | UInt64(side)
            var node: Node
            if change.opened {
                node = Node(pointer: pointer, balance: change.balance, prev: 0, jump: pointer, version: version, jumpVersion: version,
                            nameHash: HistoryView.nameHash(change.name), closed: change.closed)
                spines[slot] = [node]
            } else {
                if spines[slot].isEmpty { spines[slot] = [try load(change.name, head: change.head, version: change.version &- 1)] }
                // The rule looks at three spine nodes: read older ones only when they are needed.
                while spines[slot].count < 3, let oldest = spines[slot].first, oldest.jump != oldest.pointer {
                    guard let next = try view.node(oldest.jump, nameHash: oldest.nameHash), next.version < oldest.version else {
                        throw SlotTableError.damaged(path: view.table.path, reason: "broken history chain at position \(oldest.position)")
                    }
                    spines[slot].insert(next, at: 0)
                }
                let n = spines[slot].count
                let parent = spines[slot][n - 1]
                node = Node(pointer: pointer, balance: change.balance, prev: parent.pointer, jump: parent.pointer,
                            version: version, jumpVersion: parent.version, nameHash: parent.nameHash, closed: change.closed)
                if n >= 3 {
                    let (a, b, c) = (spines[slot][n - 1].version, spines[slot][n - 2].version, spines[slot][n - 3].version)
                    if a &- b == b &- c {
                        node.jump = spines[slot][n - 3].pointer
                        node.jumpVersion = c
                        spines[slot].removeLast(2)
                    }
                }
                spines[slot].append(node)
            }
            record.withUnsafeMutableBytes { raw in
                let p = raw.baseAddress! + side * HistoryView.sideBytes
                LE.store(UInt64(bitPattern: node.balance), p, 0)
                LE.store(node.prev, p, 8)
                LE.store(node.jump, p, 16)
                LE.store(node.version, p, 24)
                LE.store(node.jumpVersion, p, 28)
                LE.store(node.nameHash, p, 32)
                p.storeBytes(of: UInt8(1 | (node.closed ? 2 : 0)), toByteOffset: 36, as: UInt8.self)
            }
        }

        /// Writes the pending record (call once after the last event).
        func finish() throws {
            guard recordPosition > 0 else { return }
            try record.withUnsafeBytes { try view.table.write(recordPosition, $0) }
            record.withUnsafeMutableBytes { $0.initializeMemory(as: UInt8.self, repeating: 0) }
            recordPosition = 0
        }

        /// The newest node of an account not in memory, read from the table (its node at `head`).
        private func load(_ name: String, head: UInt64, version: UInt64) throws -> Node {
            guard head >= 1, let node = try view.node(at: head, name: name, version: version) else {
                throw SlotTableError.damaged(path: view.table.path, reason: "no history record for '\(name)' at position \(head)")
            }
            return node
        }
    }
}
