// The pairwise stage of fedamp / fedsaf alone (src/algo/pairwise.hpp): pass 1 (distances + cosines) and
// pass 2 (Fisher-weighted mix) for a cohort of queries against N uploads of S floats (with
// per-parameter weights): attention.precision float32 (the default) against float64 on the ring,
// each as GFLOP/s per rank and a share of this process's single-core SGEMM rate; ring vs
// allgather; and the bare transfers the ring makes (same blocks, no compute) as the
// communication bound. Run under mpirun; rank 0 prints.
// Usage: mpirun -n 2 bench_pairwise [N=1000] [S=52096] [cohort=100] [block_rows=64] [repeats=2]
#include <mpi.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "algo/pairwise.hpp"
#include "mpi/mpi_communicator.hpp"
#include "mpi/environment.hpp"
#include "sgemm_rate.hpp"

using namespace fedsaf;
using Clock = std::chrono::steady_clock;

namespace {

double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Timing {
  double pass1 = 1e30, pass2 = 1e30, wait = 0;
  int64_t peak = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Environment env(argc, argv);
  return run_guarded([&] {
    const int64_t n = argc > 1 ? std::atoll(argv[1]) : 1000;
    const int64_t s = argc > 2 ? std::atoll(argv[2]) : 52096;
    const int64_t cohort = argc > 3 ? std::atoll(argv[3]) : 100;
    const int64_t block_rows = argc > 4 ? std::atoll(argv[4]) : 64;
    const int repeats = argc > 5 ? std::atoi(argv[5]) : 2;
    torch::set_num_threads(1);  // one core per rank
    MpiCommunicator comm;
    const int R = comm.size(), me = comm.rank();

    // Client c on rank c % R; every client has an upload; every (N/cohort)-th local client queries.
    std::vector<int64_t> ids;
    for (int64_t c = me; c < n; c += R) ids.push_back(c);
    const int64_t stride = std::max<int64_t>(1, n / std::max<int64_t>(1, cohort));
    const int64_t m = static_cast<int64_t>(ids.size());
    torch::manual_seed(1 + me);
    HeldUploads held{torch::tensor(ids, torch::kInt64), torch::randn({m, s}), torch::rand({m, s}) + 0.01,
                     torch::Tensor()};                                   // [m], [m, S], [m, S]
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < m; ++i)
      if (i % stride == 0) rows.push_back(i);  // every stride-th local client: ≈ cohort in all
    const torch::Tensor queries = held.params.index_select(0, torch::tensor(rows, torch::kInt64)) + 0.01f;  // [k, S]
    const int64_t k = queries.size(0);

    auto run = [&](PairwiseMode mode, PairwisePrecision precision) {
      Timing t;
      PairwiseExchange ex(comm, mode, precision, n, block_rows);
      for (int r = 0; r < repeats; ++r) {
        comm.barrier();
        ex.set_held(held);
        auto t0 = Clock::now();
        const PairwiseDistances d = ex.distances(queries, true);
        comm.barrier();
        t.pass1 = std::min(t.pass1, seconds(t0));
        torch::Tensor xi = torch::exp(-d.sq_dist / d.sq_dist.masked_select(torch::isfinite(d.sq_dist)).median());  // [k, N]
        xi = xi / xi.sum(1, true);
        comm.barrier();
        t0 = Clock::now();
        const torch::Tensor u = ex.mix(queries, xi);
        comm.barrier();
        t.pass2 = std::min(t.pass2, seconds(t0));
        t.wait = ex.stats().wait_seconds;
      }
      t.peak = ex.stats().peak_bytes;
      return std::make_pair(t, ex.block_rows());
    };
    const auto [ring, ring_rows] = run(PairwiseMode::ring, PairwisePrecision::float32);
    const auto [gath, gath_rows] = run(PairwiseMode::allgather, PairwisePrecision::float32);
    const auto [ring64, ring64_rows] = run(PairwiseMode::ring, PairwisePrecision::float64);
    (void)gath_rows;
    (void)ring64_rows;
    // The yardstick: this process's single-thread SGEMM rate (best of 3, 1024², after a warm-up).
    const double peak_gflops = bench::sgemm_gflops(1024, 3);
    // Pass 1: one [k, S]·[S, N] product; pass 2: two (numerator and denominator).
    const double flops = 2.0 * static_cast<double>(k) * static_cast<double>(n) * static_cast<double>(s) * 3;

    // The bare transfers of the ring: the same blocks moved the same way, no compute.
    double bare1 = 1e30, bare2 = 1e30;
    {
      PairwiseExchange ex(comm, PairwiseMode::ring, PairwisePrecision::float32, n, block_rows);
      ex.set_held(held);
      for (int r = 0; r < repeats; ++r) {
        comm.barrier();
        auto t0 = Clock::now();
        ex.transfer_only(false);
        comm.barrier();
        bare1 = std::min(bare1, seconds(t0));
        t0 = Clock::now();
        ex.transfer_only(true);
        comm.barrier();
        bare2 = std::min(bare2, seconds(t0));
      }
    }
    // Peak over ranks.
    torch::Tensor peaks = torch::tensor({ring.peak, gath.peak}, torch::kInt64);
    const torch::Tensor all = comm.allgather(peaks);  // [R, 2]
    const int64_t ring_peak = all.select(1, 0).max().item<int64_t>(), gath_peak = all.select(1, 1).max().item<int64_t>();
    if (me == 0) {
      const double mb = 1e6;
      std::printf("bench_pairwise: R=%d N=%ld S=%ld cohort≈%ld (k=%ld on rank 0) block_rows=%ld, threads/rank=1\n", R,
                  static_cast<long>(n), static_cast<long>(s), static_cast<long>(k * R), static_cast<long>(k),
                  static_cast<long>(ring_rows));
      std::printf("  uploads per rank: %.1f MB params + %.1f MB weights\n", m * s * 4 / mb, m * s * 4 / mb);
      std::printf("  SGEMM peak of one core (this process): %.1f GFLOP/s\n", peak_gflops);
      std::printf("  ring float64: pass1 %.3f s  pass2 %.3f s  total %.3f s  %.1f GFLOP/s per rank (%.0f %% of peak)\n",
                  ring64.pass1, ring64.pass2, ring64.pass1 + ring64.pass2, flops / (ring64.pass1 + ring64.pass2) / 1e9,
                  100 * flops / (ring64.pass1 + ring64.pass2) / 1e9 / peak_gflops);
      std::printf("  ring:      pass1 %.3f s  pass2 %.3f s  total %.3f s  %.1f GFLOP/s per rank (%.0f %% of peak)  peak extra %.1f MB\n",
                  ring.pass1, ring.pass2, ring.pass1 + ring.pass2, flops / (ring.pass1 + ring.pass2) / 1e9,
                  100 * flops / (ring.pass1 + ring.pass2) / 1e9 / peak_gflops, ring_peak / mb);
      std::printf("  allgather: pass1 %.3f s  pass2 %.3f s  total %.3f s  peak extra %.1f MB\n", gath.pass1, gath.pass2,
                  gath.pass1 + gath.pass2, gath_peak / mb);
      std::printf("  bare ring transfers: pass1 %.3f s  pass2 %.3f s  total %.3f s\n", bare1, bare2, bare1 + bare2);
      std::printf("  ratio float32 / float64 ring time:  %.2f\n",
                  (ring.pass1 + ring.pass2) / (ring64.pass1 + ring64.pass2));
      std::printf("  ratio ring / allgather time:        %.2f\n", (ring.pass1 + ring.pass2) / (gath.pass1 + gath.pass2));
      std::printf("  ratio ring / allgather peak memory: %.3f\n", static_cast<double>(ring_peak) / gath_peak);
      std::printf("  ratio ring time / bare transfers:   %.2f\n", (ring.pass1 + ring.pass2) / (bare1 + bare2));
    }
    return 0;
  });
}
