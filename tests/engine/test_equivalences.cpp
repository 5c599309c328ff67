// The equivalences of docs/algorithms.md#equivalences through the whole round loop, at 1, 2 and 4 ranks:
// fedamp pfllib_compat ≡ local (bit for bit); fedsaf with sample attention and no Fisher ≡ fedper
// at the same split; fedsaf with every layer shared ≡ fedavg; ring ≡ allgather (bit for bit);
// fedamp / fedsaf at R ranks ≡ the single-rank run within 1e-5; the ξ guard count.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

#include "algo/pairwise.hpp"
#include "algo/registry.hpp"
#include "core/config.hpp"
#include "mpi/mpi_communicator.hpp"
#include "sim/engine.hpp"
#include "tests/engine/engine_test_support.hpp"

namespace fedsaf {
namespace {

using test::small_config;

// A split model: mlp with one hidden layer (2 layers), the first one shared.
const std::vector<std::string> kSplit = {"model.name=mlp", "model.hidden=[16]", "model.n_head=1"};

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

using test::run_quiet;

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b, size_t begin = 0) {
  double m = 0;
  for (size_t i = begin; i < a.size(); ++i) m = std::max(m, static_cast<double>(std::abs(a[i] - b[i])));
  return m;
}

void expect_same_evals_within(const RunResult& a, const RunResult& b, double tol) {
  ASSERT_EQ(a.evals.size(), b.evals.size());
  for (size_t i = 0; i < a.evals.size(); ++i) {
    EXPECT_NEAR(a.evals[i].accuracy, b.evals[i].accuracy, tol) << "evaluation " << i;
    EXPECT_NEAR(a.evals[i].loss, b.evals[i].loss, tol) << "evaluation " << i;
    ASSERT_EQ(a.evals[i].client_accuracy.size(), b.evals[i].client_accuracy.size());
    for (size_t c = 0; c < a.evals[i].client_accuracy.size(); ++c) {
      const double x = a.evals[i].client_accuracy[c], y = b.evals[i].client_accuracy[c];
      if (std::isnan(x) && std::isnan(y)) continue;  // a client without test samples
      EXPECT_NEAR(x, y, tol) << "evaluation " << i << " client " << c;
    }
  }
}

void expect_bit_identical(const RunResult& a, const RunResult& b) {
  ASSERT_EQ(a.evals.size(), b.evals.size());
  for (size_t i = 0; i < a.evals.size(); ++i) {
    EXPECT_EQ(a.evals[i].accuracy, b.evals[i].accuracy) << "evaluation " << i;
    EXPECT_EQ(a.evals[i].loss, b.evals[i].loss) << "evaluation " << i;
  }
  expect_same_evals_within(a, b, 0.0);  // per client, exactly
  EXPECT_EQ(a.final_params, b.final_params);
}

TEST(Equivalence, FedAmpPfllibCompatIsLocalBitForBit) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const RunResult local = run_quiet(small_config("local"), world);
  const RunResult compat = run_quiet(small_config("fedamp", {"fedamp.pfllib_compat=true"}), world);
  expect_bit_identical(local, compat);
  // The paper's version does act: with everybody selected, client 0 trains with the term from round 1.
  const RunResult paper = run_quiet(small_config("fedamp", {"attention.lambda=5", "run.join_ratio=1"}), world);
  const RunResult local_all = run_quiet(small_config("local", {"run.join_ratio=1"}), world);
  EXPECT_NE(local_all.final_params, paper.final_params);
}

TEST(Equivalence, FedSafWithSampleAttentionAndNoFisherIsFedPer) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const auto extra = kSplit + std::vector<std::string>{"run.join_ratio=1"};
  const RunResult per = run_quiet(small_config("fedper", extra), world);
  const RunResult saf = run_quiet(
      small_config("fedsaf", extra + std::vector<std::string>{"attention.kernel=samples", "fedsaf.fisher_mode=none"}),
      world);
  expect_same_evals_within(per, saf, 1e-5);
  ASSERT_EQ(per.final_params.size(), saf.final_params.size());
  EXPECT_LE(max_abs_diff(per.final_params, saf.final_params), 1e-5);
  // With the Fisher it differs (the per-parameter weights are not uniform).
  const RunResult fim = run_quiet(small_config("fedsaf", extra + std::vector<std::string>{"attention.kernel=samples"}), world);
  EXPECT_GT(max_abs_diff(per.final_params, fim.final_params), 1e-6);
}

TEST(Equivalence, FedSafWithEveryLayerSharedIsFedAvg) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const std::vector<std::string> extra = {"run.join_ratio=1", "model.n_head=0"};
  const RunResult avg = run_quiet(small_config("fedavg", extra), world);
  const RunResult saf = run_quiet(
      small_config("fedsaf", extra + std::vector<std::string>{"attention.kernel=samples", "fedsaf.fisher_mode=none"}),
      world);
  expect_same_evals_within(avg, saf, 1e-5);
  EXPECT_LE(max_abs_diff(avg.final_params, saf.final_params), 1e-5);  // client 0's mix = the global model
}

// Ring and allgather run the identical computation on identical blocks: bit-identical runs.
class ExchangeModes : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(ExchangeModes, RingEqualsAllgatherBitForBit) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const RunResult ring = run_quiet(small_config("fedsaf", GetParam() + std::vector<std::string>{"attention.exchange=ring"}), world);
  const RunResult all = run_quiet(small_config("fedsaf", GetParam() + std::vector<std::string>{"attention.exchange=allgather"}), world);
  expect_bit_identical(ring, all);
}

using test::single_rank_reference;
using test::Reference;

class RankCounts : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(RankCounts, ResultsAgreeWithASingleRankRunWithin1e5) {
  MpiCommunicator world(MPI_COMM_WORLD);
  const std::vector<std::string>& extra = GetParam();
  const Config config = small_config(extra.at(0), std::vector<std::string>(extra.begin() + 1, extra.end()));
  const Reference ref = single_rank_reference(config, world);
  const RunResult r = run_quiet(config, world);
  ASSERT_EQ(r.evals.size(), ref.accuracy.size());
  for (size_t i = 0; i < r.evals.size(); ++i) {
    EXPECT_NEAR(r.evals[i].accuracy, ref.accuracy[i], 1e-5) << "evaluation " << i;
    EXPECT_NEAR(r.evals[i].loss, ref.loss[i], 1e-5) << "evaluation " << i;
  }
  ASSERT_EQ(r.final_params.size(), ref.params.size());
  EXPECT_LE(max_abs_diff(r.final_params, ref.params), 1e-5);
}

const std::vector<std::vector<std::string>> kFedSafVariants = {
    kSplit,                                                                   // fedamp kernel, σ auto, param Fisher
    kSplit + std::vector<std::string>{"attention.kernel=heur", "fedsaf.fisher_mode=scalar"},
    kSplit + std::vector<std::string>{"fedsaf.fisher_source=last_epoch", "train.local_epochs=2",
                                      "fedsaf.fisher_norm=none"},
    kSplit + std::vector<std::string>{"fedsaf.init_from_cloud=false", "fedsaf.deep_mode=frozen",
                                      "attention.sigma=0.5"},
};

INSTANTIATE_TEST_SUITE_P(FedSaf, ExchangeModes, ::testing::ValuesIn(kFedSafVariants));

std::vector<std::vector<std::string>> rank_configs() {
  std::vector<std::vector<std::string>> out = {{"fedamp"}, {"fedamp", "attention.kernel=heur"}, {"fedper", "model.name=mlp", "model.hidden=[16]", "model.n_head=1"}};
  for (const auto& v : kFedSafVariants) out.push_back(std::vector<std::string>{"fedsaf"} + v);
  return out;
}
INSTANTIATE_TEST_SUITE_P(Algorithms, RankCounts, ::testing::ValuesIn(rank_configs()));

// The ξ guard and its count, driving fedamp's hooks by hand (no training): 4 clients of 3
// parameters; client c is hosted by rank c mod R.
struct HandRun {
  std::unique_ptr<Algorithm> algo;
  Config config;
  AlgoContext context;
};
void hand_round0(HandRun& h, Communicator& world, const std::vector<std::string>& overrides,
                 const std::vector<std::vector<float>>& uploads) {
  // attention.every = 1: the diagnostics carry ξ in every round (those that store it).
  h.config = default_config(overrides + std::vector<std::string>{"run.algorithm=fedamp", "attention.every=1"});
  h.context.train = h.config.train;
  h.context.seed = h.config.run.seed;
  h.context.num_clients = static_cast<int64_t>(uploads.size());
  h.context.make_exchange = exchanges_on(world, h.context.num_clients);
  h.context.train_sizes.assign(uploads.size(), 10);
  for (int64_t c = 0; c < h.context.num_clients; ++c)
    if (c % world.size() == world.rank()) h.context.hosted.push_back(c);
  h.context.initial_params = torch::zeros({3});  // [3]
  h.context.shared_numel = 3;
  h.algo = make_algorithm(h.config);
  h.algo->init(h.context);
  std::vector<int64_t> all;
  for (int64_t c = 0; c < h.context.num_clients; ++c) all.push_back(c);
  h.algo->round_begin(0, all);
  for (int64_t c : h.context.hosted) {
    torch::Tensor p = torch::zeros({3});
    h.algo->client_begin(c, p);
    ClientStatistics unused;  // fedamp and fedsaf's fisher_mode none declare none
    h.algo->client_end(c, torch::tensor(uploads[static_cast<size_t>(c)]), unused);
  }
  ServerStep step;
  step.round = 0;
  step.next_cohort = all;
  h.algo->server_step(step);
  h.algo->round_begin(1, all);
}

// This rank's ξ rows of round 1 from the algorithm's diagnostics, with the round's counts.
struct Round1Attention {
  int64_t rows = 0, guard_fired = 0;
  torch::Tensor clients;  // [k] int64
  torch::Tensor xi;       // [k, N] float64
};
Round1Attention round1_attention(const Algorithm& algo) {
  const Diagnostics d = algo.diagnostics(1);
  EXPECT_EQ(algo.diagnostics(0).scalar("attention/rows")->value, 0) << "the rows belong to round 1";
  const ClientRows* xi = d.rows("attention/xi");
  EXPECT_NE(xi, nullptr);
  const auto k = static_cast<int64_t>(xi->clients.size());
  return {static_cast<int64_t>(d.scalar("attention/rows")->value),
          static_cast<int64_t>(d.scalar("attention/guard_fired")->value), torch::tensor(xi->clients).reshape({k}),
          torch::tensor(xi->values, torch::kFloat64).reshape({k, xi->width})};
}

TEST(FedAmpGuard, FiresOnEveryRowWhenModelsAreEqualAndNeverWhenFarApart) {
  MpiCommunicator world(MPI_COMM_WORLD);
  {
    // Equal models: d = 0, σ auto falls back to 1, ξ_ij = α_K = 1 for 3 others → capped at 0.9.
    HandRun h;
    hand_round0(h, world, {}, {{1, 2, 3}, {1, 2, 3}, {1, 2, 3}, {1, 2, 3}});
    const Round1Attention a = round1_attention(*h.algo);
    const Round1Attention* r = &a;
    EXPECT_EQ(r->rows, 4);
    EXPECT_EQ(r->guard_fired, 4);
    for (int64_t i = 0; i < r->xi.size(0); ++i) {
      EXPECT_NEAR(r->xi[i].sum().item<double>(), 1.0, 1e-12);
      EXPECT_NEAR(r->xi[i][r->clients[i].item<int64_t>()].item<double>(), 0.1, 1e-12);  // ξ_ii = xi_min
    }
  }
  {
    // Far apart with σ = 1: exp(−d) ≈ 0, no row reaches the cap.
    HandRun h;
    hand_round0(h, world, {"attention.sigma=1"}, {{0, 0, 0}, {10, 0, 0}, {0, 10, 0}, {0, 0, 10}});
    const Round1Attention a = round1_attention(*h.algo);
    const Round1Attention* r = &a;
    EXPECT_EQ(r->rows, 4);
    EXPECT_EQ(r->guard_fired, 0);
  }
  {
    // Close models, σ = 1, α_K = 0.2: ξ_ij = 0.2·exp(−d) ≤ 0.2, three of them ≤ 0.6 < 0.9: no guard;
    // the proximal gradient is (λ/α_K)(w − u) with u the convex combination.
    HandRun h;
    hand_round0(h, world, {"attention.sigma=1", "attention.alpha_k=0.2", "attention.lambda=0.4"},
                {{0, 0, 0}, {0.1f, 0, 0}, {0, 0.1f, 0}, {0, 0, 0.1f}});
    const Round1Attention a = round1_attention(*h.algo);
    const Round1Attention* r = &a;
    EXPECT_EQ(r->guard_fired, 0);
    for (int64_t i = 0; i < r->xi.size(0); ++i) {
      const int64_t c = r->clients[i].item<int64_t>();
      EXPECT_NEAR(r->xi[i].sum().item<double>(), 1.0, 1e-12);
      EXPECT_GE(r->xi[i].min().item<double>(), 0.0);
      if (c != 0) continue;
      // Client 0 at the origin: d_0j = 0.01, ξ_0j = 0.2·e^−0.01, u_0 = 0.1·ξ_0j per axis.
      const double xij = 0.2 * std::exp(-0.01f * 1.0f);
      torch::Tensor params = torch::zeros({3}), grads = torch::zeros({3});
      h.algo->client_begin(0, params);
      h.algo->add_regularizer_grad(0, params, grads);
      for (int64_t p = 0; p < 3; ++p) EXPECT_NEAR(grads[p].item<double>(), (0.4 / 0.2) * (0 - 0.1 * xij), 1e-6);
    }
  }
}

}  // namespace
}  // namespace fedsaf
