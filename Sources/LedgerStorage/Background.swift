// A unit of work on its own thread (the machine has two cores and an import has two
// halves): started at once, joined for its result. Without a thread (pthread_create
// failed) the work runs in join() instead, so callers never depend on having one.

import CLedgerAccel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

public final class Background<T>: @unchecked Sendable {
    private let work: () throws -> T
    private var result: Result<T, Error>?
    private var thread: pthread_t?
    /// Whether the work got its own thread (else it runs in join()).
    public private(set) var started = false

    /// `threaded: false` runs the work in join() as if no thread could be started (the tests
    /// of that path use it).
    public init(threaded: Bool = true, _ work: @escaping () throws -> T) {
        self.work = work
        guard threaded else { return }
        let body = ThreadBody { [self] in result = Result { try work() } }
        let context = Unmanaged.passRetained(body).toOpaque()
        var t = pthread_t()
        // On another processor from the start: folded into this one's queue, the thread often
        // waited there 3-4 ms (a replay of 1 M events takes 40).
        let rc = ledger_thread_create_elsewhere(&t, { context in
            Unmanaged<ThreadBody>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        if rc == 0 {
            thread = t
        } else {
            Unmanaged<ThreadBody>.fromOpaque(context).release()
        }
        started = rc == 0
    }

    /// Waits for the work and returns what it returned (or throws what it threw).
    public func join() throws -> T {
        if let t = thread {
            pthread_join(t, nil)
            thread = nil
        }
        if result == nil { result = Result { try work() } }
        return try result!.get()
    }
}

/// What a thread runs (a C entry point cannot capture a generic context, so it takes this).
private final class ThreadBody: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}
