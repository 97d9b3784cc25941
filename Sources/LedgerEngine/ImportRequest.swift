// One import line's fields (bytes) → the operation it asks for, on the parser thread.
// Accounts become numbers (NameIndex), amounts and times are parsed, the idempotency
// key is hashed; the validating thread builds the Command from that. Usage errors name
// the field.

import LedgerDomain
import LedgerStorage

struct ImportRequest {
    enum Operation {
        /// Its currency, scale and overdraft are the chunk's `opens[index]` (rare: kept apart).
        case open(index: Int32)
        case close, deposit, withdraw, transfer
        case reverse(position: UInt64)
    }

    /// What an `open` line asks for beyond its account.
    struct Open {
        let currency: Currency
        let scale: Int
        let overdraft: DecimalText?
    }

    /// A text field (id, memo) as bytes in its chunk's `text`; count -1: the line has none.
    struct Text {
        let start: Int32
        let count: Int32
        static let none = Text(start: 0, count: -1)
        var isPresent: Bool { count >= 0 }
    }

    // No String, array or class in here: a million requests cross from thread to thread and
    // are read in place, with no reference counted and no copy outlined.
    let operation: Operation
    /// The accounts named (their numbers in the parser's NameIndex; -1: none): `account`, or `from` and `to`.
    let first: Int32
    let second: Int32
    /// Nil when the operation moves no money.
    let amount: DecimalText?
    /// The idempotency key and memo (an import line carries no other metadata).
    let id: Text
    let memo: Text
    /// Views.idHash of the id; 0 without one.
    let idHash: UInt64
    /// KeyTable.slotHash of idHash (where the import's key table and the ids view look it up), computed here, once.
    let idSlotHash: UInt64
    let at: Timestamp?

    private static var common: UInt32 { ImportField.op.bit | ImportField.at.bit | ImportField.id.bit | ImportField.memo.bit }
    private static var openFields: UInt32 {
        common | ImportField.account.bit | ImportField.currency.bit | ImportField.scale.bit | ImportField.overdraft.bit
    }
    private static var closeFields: UInt32 { common | ImportField.account.bit }
    private static var moneyFields: UInt32 { common | ImportField.account.bit | ImportField.amount.bit }
    private static var transferFields: UInt32 { common | ImportField.from.bit | ImportField.to.bit | ImportField.amount.bit }
    private static var reverseFields: UInt32 { common | ImportField.position.bit }

    enum Op { case open, close, deposit, withdraw, transfer, reverse }

    /// The op named by `bytes`, with the fields (a mask of ImportField bits) it may carry: its
    /// length and bytes as one little-endian word tell the six apart (no memcmp call per op).
    static func op(_ bytes: UnsafeRawBufferPointer) -> (Op, allowed: UInt32)? {
        guard bytes.count >= 4, bytes.count <= 8 else { return nil }
        switch (bytes.count, littleEndianWord(bytes)) {
        case (7, 0x74_6973_6f70_6564): return (.deposit, moneyFields)
        case (8, 0x7265_6673_6e61_7274): return (.transfer, transferFields)
        case (8, 0x7761_7264_6874_6977): return (.withdraw, moneyFields)
        case (4, 0x6e65_706f): return (.open, openFields)
        case (5, 0x65_736f_6c63): return (.close, closeFields)
        case (7, 0x65_7372_6576_6572): return (.reverse, reverseFields)
        default: return nil
        }
    }

    /// `newName` is called with each account name this line is the first to mention, in order
    /// of its number; `id` and `memo` bytes are appended to `text`, an open's fields to `opens`.
    /// The fields and config are borrowed: an initializer's parameters are owned by default, so
    /// each line copied the config (its Strings retained and released) and retained the fields.
    init(_ fields: borrowing LineFields, config: borrowing StoreConfig, names: inout NameIndex, dates: inout Timestamp.DateMemo,
         text: inout [UInt8], opens: inout [Open], newName: (AccountID, UInt32) -> Void) throws {
        // The op's bytes, made a String only when a message names it.
        var opBytes: UnsafeRawBufferPointer?
        func opName() -> String { opBytes.map { String(decoding: $0, as: UTF8.self) } ?? "a line" }
        func need(_ field: ImportField) throws -> UnsafeRawBufferPointer {
            guard let value = fields[field], !value.isEmpty else { throw LedgerError.usage("\(opName()) needs '\(field.name)'") }
            return value
        }
        /// `field`'s account number; `hash` is its name's, taken once, when its index slot began loading (below).
        func account(_ field: ImportField, hash: UInt64) throws -> Int32 {
            let bytes = try need(field)
            guard AccountID.isValid(utf8: bytes) else {
                do { _ = try AccountID(validating: String(decoding: bytes, as: UTF8.self)) } catch let e as DomainError {
                    throw LedgerError.usage(e.description)
                }
                preconditionFailure("AccountID.isValid and init(validating:) disagree")
            }
            let (number, isNew) = names.number(of: bytes, hash: hash)
            if isNew { newName(AccountID(trusted: String(decoding: bytes, as: UTF8.self)), HistoryView.nameHash(bytes)) }
            return Int32(number)
        }
        func positiveAmount() throws -> DecimalText {
            let bytes = try need(.amount)
            do {
                let d = try DecimalText.parse(utf8: bytes)
                guard d.units > 0 else {
                    throw LedgerError.usage("bad amount '\(String(decoding: bytes, as: UTF8.self))': must be greater than zero")
                }
                return d
            } catch DecimalText.ParseError.invalid(let m) { throw LedgerError.usage(m) }
        }
        func metadataText(_ field: ImportField) throws -> Text {
            guard let value = fields[field] else { return .none }
            if value.isEmpty || value.count > EventMetadata.textBytesMax || value.contains(where: { $0 < 0x20 && $0 != 0x09 }) {
                throw LedgerError.usage("'\(field.name)' must be 1-\(EventMetadata.textBytesMax) bytes without control characters")
            }
            let start = Int32(text.count)
            text.append(contentsOf: value)
            return Text(start: start, count: Int32(value.count))
        }

        // Start loading the index slots of the line's account names: the misses (the table
        // outgrows a core's cache at a few thousand names) overlap the work on the other fields.
        let accountHash = fields[.account].map { names.withHome(of: $0) { Prefetch.forRead($0) } } ?? 0
        let fromHash = fields[.from].map { names.withHome(of: $0) { Prefetch.forRead($0) } } ?? 0
        let toHash = fields[.to].map { names.withHome(of: $0) { Prefetch.forRead($0) } } ?? 0
        opBytes = try need(.op)
        guard let (op, allowed) = Self.op(opBytes!) else {
            throw LedgerError.usage("unknown op '\(opName())' (open, close, deposit, withdraw, transfer, reverse)")
        }
        let extra = fields.present & ~allowed
        if extra != 0 {
            throw LedgerError.usage("field '\(ImportField(rawValue: extra.trailingZeroBitCount)!.name)' does not apply to \(opName())")
        }
        id = try metadataText(.id)
        memo = try metadataText(.memo)
        if let id = fields[.id] { idHash = Views.idHash(id) } else { idHash = 0 }
        idSlotHash = idHash == 0 ? 0 : KeyTable.slotHash(idHash)
        do { at = try fields[.at].map { try Timestamp.parse($0, dateIsEndOfDay: false, memo: &dates) } } catch Timestamp.ParseError.invalid(let m) {
            throw LedgerError.usage("at: \(m)")
        }
        var first: Int32 = -1, second: Int32 = -1
        switch op {
        case .open:
            let currency: Currency
            do { currency = try Currency(validating: fields.string(.currency) ?? config.defaultCurrency) } catch let e as DomainError {
                throw LedgerError.usage(e.description)
            }
            guard let scale = Int(fields.string(.scale) ?? String(config.defaultScale)), (0...Decide.scaleMax).contains(scale) else {
                throw LedgerError.usage("scale must be an integer 0...\(Decide.scaleMax)")
            }
            let overdraft: DecimalText?
            do { overdraft = try fields[.overdraft].map { try DecimalText.parse(utf8: $0) } } catch DecimalText.ParseError.invalid(let m) {
                throw LedgerError.usage("overdraft: \(m)")
            }
            first = try account(.account, hash: accountHash)
            operation = .open(index: Int32(opens.count))
            opens.append(Open(currency: currency, scale: scale, overdraft: overdraft))
            amount = nil
        case .close:
            first = try account(.account, hash: accountHash)
            operation = .close
            amount = nil
        case .deposit, .withdraw:
            first = try account(.account, hash: accountHash)
            amount = try positiveAmount()
            operation = op == .deposit ? .deposit : .withdraw
        case .transfer:
            first = try account(.from, hash: fromHash)
            second = try account(.to, hash: toHash)
            guard first != second else { throw LedgerError.usage("from and to must be different accounts") }
            amount = try positiveAmount()
            operation = .transfer
        case .reverse:
            let text = try need(.position)
            guard let p = UInt64(String(decoding: text, as: UTF8.self)), p >= 1 else { throw LedgerError.usage("position must be a positive integer") }
            operation = .reverse(position: p)
            amount = nil
        }
        self.first = first
        self.second = second
    }

    /// The command this line asks for, `name` giving the account of each number, `opens` the
    /// chunk's open fields.
    func command(opens: [Open], _ name: (Int32) -> AccountID) -> Command {
        switch operation {
        case .open(let index):
            let o = opens[Int(index)]
            return .open(account: name(first), currency: o.currency, scale: o.scale, overdraft: o.overdraft)
        case .close: return .close(account: name(first))
        case .deposit: return .deposit(account: name(first), amount: amount!)
        case .withdraw: return .withdraw(account: name(first), amount: amount!)
        case .transfer: return .transfer(from: name(first), to: name(second), amount: amount!)
        case .reverse(let p): return .reverse(position: p)
        }
    }

    /// The line's metadata, its texts read from its chunk's `text`.
    func metadata(text: UnsafeRawBufferPointer) -> EventMetadata {
        EventMetadata(id: Self.string(id, in: text), memo: Self.string(memo, in: text))
    }

    static func string(_ t: Text, in text: UnsafeRawBufferPointer) -> String? {
        t.isPresent ? String(decoding: bytes(t, in: text)!, as: UTF8.self) : nil
    }

    @inline(__always)
    static func bytes(_ t: Text, in text: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        t.isPresent ? UnsafeRawBufferPointer(rebasing: text[Int(t.start)..<Int(t.start + t.count)]) : nil
    }
}
