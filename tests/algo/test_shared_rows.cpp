// attention_mix computes the rows of clients without an upload whose inputs are identical once
// (algo/shared_rows.hpp): the result equals the plain computation over every row, σ = "auto"
// counting every row, on 2 in-process ranks.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <optional>
#include <vector>

#include "algo/attention.hpp"
#include "algo/attention_mix.hpp"
#include "algo/pairwise.hpp"
#include "mpi/in_process_communicator.hpp"

namespace fedsaf {
namespace {

const auto kF32 = torch::TensorOptions().dtype(torch::kFloat32);
const auto kI64 = torch::TensorOptions().dtype(torch::kInt64);
constexpr int64_t kClients = 8, kS = 5;

// Clients 0–3 have uploads (rank 0 holds 0, 1; rank 1 holds 2, 3); 4–7 never trained. Rank 0 mixes
// clients 0, 4, 5 and rank 1 clients 2, 6, 7. Clients 4, 5, 6 hold the common initial model;
// client 7 (when `seven_differs`) another one.
struct Case {
  HeldUploads held;
  MixRows rows;
};

Case make_case(int rank, bool seven_differs) {
  torch::manual_seed(7);
  const torch::Tensor uploads = torch::randn({4, kS}, kF32);         // [4, S]
  const torch::Tensor weights = torch::rand({4, kS}, kF32) + 0.5f;   // [4, S]
  // Far from every upload, so that counting its rows once instead of twice would move σ's median.
  const torch::Tensor initial = torch::randn({kS}, kF32) * 0.1f + 3.0f;  // [S]
  const torch::Tensor other = seven_differs ? torch::randn({kS}, kF32) : initial;  // [S]
  Case c;
  const std::vector<int64_t> held = rank == 0 ? std::vector<int64_t>{0, 1} : std::vector<int64_t>{2, 3};
  const torch::Tensor held_ids = torch::tensor(held, kI64);  // [2]
  c.held = {held_ids, uploads.index_select(0, held_ids).contiguous(), weights.index_select(0, held_ids).contiguous(),
            torch::Tensor()};
  const std::vector<int64_t> clients = rank == 0 ? std::vector<int64_t>{0, 4, 5} : std::vector<int64_t>{2, 6, 7};
  const torch::Tensor first = uploads[clients[0]];  // [S]: a client with an upload mixes from it
  c.rows.params = torch::stack({first, initial, rank == 0 ? initial : other});  // [3, S]
  c.rows.clients = torch::tensor(clients, kI64);                                // [3]
  c.rows.sigma_rows = torch::ones({3}, torch::kBool);                           // [3]
  c.rows.self_weights = torch::ones({3, kS}, kF32) * 1.5f;                      // [3, S]
  return c;
}

struct Result {
  Mix shared;      // attention_mix
  Mix reference;   // the same steps over every row, nothing shared
  Mix without_xi;  // attention_mix with keep_xi = false
};

// On one rank: attention_mix, then the plain computation it must equal (distances of every row,
// σ as the median over all of them, the fedamp kernel, the mix).
Result mix_both(Communicator& comm, const AttentionOptions& options, const std::vector<int64_t>& sizes,
                bool seven_differs) {
  const Case c = make_case(comm.rank(), seven_differs);
  PairwiseExchange exchange(comm, PairwiseMode::ring, PairwisePrecision::float64, kClients);
  exchange.set_held(c.held);
  Result r;
  r.shared = attention_mix(exchange, options, sizes, c.rows);
  r.without_xi = attention_mix(exchange, options, sizes, c.rows, /*keep_xi=*/false);
  const PairwiseDistances pd = exchange.distances(c.rows.params, false);  // [3, N]
  if (options.kernel == AttentionKernel::fedamp) {
    const std::optional<double> fixed = parse_sigma(options.sigma);
    r.reference.sigma = fixed ? *fixed : auto_sigma_global(pd.sq_dist, c.rows.clients, exchange);
    r.reference.att = xi_fedamp(pd.sq_dist, c.rows.clients, options.alpha_k, r.reference.sigma, options.xi_min);
  } else {
    r.reference.att = xi_samples(pd.present, c.rows.clients, sizes);
  }
  const torch::Tensor cols = c.rows.clients.reshape({3, 1});  // [3, 1]
  SelfTerm self{r.reference.att.xi.gather(1, cols).reshape({3}), c.rows.self_weights, torch::Tensor()};
  r.reference.u = exchange.mix(c.rows.params, r.reference.att.xi.scatter(1, cols, 0.0), &self);  // [3, S]
  return r;
}

void expect_same(const Result& r) {
  EXPECT_NEAR(r.shared.sigma, r.reference.sigma, 1e-12 * std::max(1.0, r.reference.sigma));
  EXPECT_TRUE(torch::allclose(r.shared.att.xi, r.reference.att.xi, 0, 1e-12)) << r.shared.att.xi << r.reference.att.xi;
  EXPECT_TRUE(torch::allclose(r.shared.all_rows(), r.reference.u, 1e-6, 1e-6)) << r.shared.all_rows() << r.reference.u;
  EXPECT_EQ(r.shared.att.guard_fired, r.reference.att.guard_fired);
  // Without ξ for the run file: the same mix and guard rows, and no [k, N] kept.
  EXPECT_FALSE(r.without_xi.att.xi.defined());
  EXPECT_TRUE(torch::equal(r.without_xi.all_rows(), r.shared.all_rows()));
  EXPECT_TRUE(torch::equal(r.without_xi.att.guard_rows, r.shared.att.guard_rows));
  EXPECT_EQ(r.without_xi.att.guard_fired, r.shared.att.guard_fired);
}

TEST(SharedRows, IdenticalUntrainedClientsAreMixedOnceWithTheSameResult) {
  AttentionOptions options;  // fedamp, σ = auto, guard 0.1
  options.precision = PairwisePrecision::float64;
  const std::vector<int64_t> sizes(kClients, 10);
  std::vector<Result> results(2);
  run_in_process(2, [&](Communicator& comm) { results[static_cast<size_t>(comm.rank())] = mix_both(comm, options, sizes, true); });
  EXPECT_EQ(results[0].shared.shared_rows, 1);  // client 5 takes client 4's row
  EXPECT_EQ(results[1].shared.shared_rows, 0);  // client 7 differs from client 6
  for (const Result& r : results) expect_same(r);
  // The diagonal sits in each row's own column: client 5's ξ_55 = client 4's ξ_44, and ξ_54 = 0.
  const torch::Tensor xi = results[0].shared.att.xi;  // [3, N]
  EXPECT_DOUBLE_EQ(xi[2][5].item<double>(), xi[1][4].item<double>());
  EXPECT_EQ(xi[2][4].item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(results[0].shared.row(1), results[0].shared.row(2)));
  EXPECT_EQ(results[0].shared.u.size(0), 2) << "the shared row is stored once";
}

TEST(SharedRows, TheGuardCountsEverySharedRow) {
  AttentionOptions options;
  options.precision = PairwisePrecision::float64;
  options.alpha_k = 1e4;  // ξ_ij ≈ 100·exp(−d/100) per other client: every row over 1 − xi_min
  options.sigma = "100";
  const std::vector<int64_t> sizes(kClients, 10);
  std::vector<Result> results(2);
  run_in_process(2, [&](Communicator& comm) { results[static_cast<size_t>(comm.rank())] = mix_both(comm, options, sizes, false); });
  EXPECT_EQ(results[0].shared.shared_rows, 1);
  EXPECT_EQ(results[1].shared.shared_rows, 1);  // client 7 holds the initial model too
  for (const Result& r : results) {
    expect_same(r);
    EXPECT_EQ(r.shared.att.guard_fired, 3);
  }
}

TEST(SharedRows, SamplesKernelSharesOnlyEqualSampleCounts) {
  AttentionOptions options;
  options.kernel = AttentionKernel::samples;  // ξ_ii = n_i / (Σ present n + n_i): the size matters
  options.precision = PairwisePrecision::float64;
  std::vector<int64_t> sizes(kClients, 10);
  sizes[5] = 30;
  std::vector<Result> results(2);
  run_in_process(2, [&](Communicator& comm) { results[static_cast<size_t>(comm.rank())] = mix_both(comm, options, sizes, false); });
  EXPECT_EQ(results[0].shared.shared_rows, 0);  // clients 4 and 5 differ in size
  EXPECT_EQ(results[1].shared.shared_rows, 1);  // clients 6 and 7 do not
  for (const Result& r : results) expect_same(r);
}

}  // namespace
}  // namespace fedsaf
