import Foundation
@testable import LedgerStorage
import LedgerTestSupport
import Testing

/// The hardware kernels are chosen from the CPU's features as glibc detected them: the choice
/// agrees with the kernel's view of the CPU (/proc/cpuinfo), so a detection that silently says
/// "no" (and falls back to the slow kernels) fails here.
@Suite struct CPUFeatureTests {
    @Test func hardwareKernelsAreChosenExactlyWhenTheCPUHasThem() throws {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return }
        let flags = Set(line.split(separator: " ").map(String.init))
        #expect(CRC32C.hardwareAvailable == flags.contains("sse4_2"))
        #expect(SHA256.hardwareAvailable == (flags.contains("sha_ni") && flags.contains("ssse3") && flags.contains("sse4_1")))
    }

    /// A job in parts uses as many threads as the processors the process may run on: all of
    /// them, or the ones its affinity mask allows (as a container's cpuset would).
    @Test func partsFollowTheProcessorsTheProcessMayRunOn() throws {
        // As this test runs (its own mask, which a CI container may narrow, is inherited).
        let all = try Executables.run(Executables.directory + "/LedgerTestTool", ["processors"])
        let n = Int(all.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect(all.status == 0 && n >= 1 && n <= Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), "\(all)")
        try #require(FileManager.default.isExecutableFile(atPath: "/usr/bin/taskset"), "util-linux's taskset")
        let one = try Executables.run("/usr/bin/taskset", ["-c", "0", Executables.directory + "/LedgerTestTool", "processors"])
        #expect(one.status == 0 && one.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "\(one)")
    }

    /// A Background thread is started on another processor than its creator's when there is
    /// one, and then may run on every processor the process may: started several at once, each
    /// runs its work with the creator's whole affinity mask (a thread kept on one processor
    /// would halve a replay on two the moment the other is busy).
    @Test func backgroundThreadsMayRunWhereTheProcessMay() throws {
        let allowed = Processors.online
        let threads = (0..<4).map { _ in Background { Processors.online } }
        for thread in threads {
            #expect(try thread.join() == allowed, "a thread's mask allows \(allowed) processors")
        }
    }
}
