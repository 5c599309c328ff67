// Attention kernels, the ξ guard, Fisher normalisation and the Fisher diagonal, on hand-computed
// numbers; the Fisher-weighted mix through a one-rank PairwiseExchange.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <memory>
#include <string>
#include <tuple>

#include "algo/attention.hpp"
#include "algo/pairwise.hpp"
#include "algo/registry.hpp"
#include "client/fisher.hpp"
#include "client/trainer.hpp"
#include "core/config.hpp"
#include "core/errors.hpp"
#include "mpi/mpi_communicator.hpp"
#include "mpi/environment.hpp"
#include "sim/cohort_reduction.hpp"

namespace fedsaf {
namespace {

// MPI (a singleton, no mpirun) for the one-rank PairwiseExchange.
class MpiOnce : public ::testing::Environment {
 public:
  void SetUp() override { env_ = std::make_unique<fedsaf::Environment>(); }
  void TearDown() override { env_.reset(); }

 private:
  std::unique_ptr<fedsaf::Environment> env_;
};
[[maybe_unused]] ::testing::Environment* const g_mpi = ::testing::AddGlobalTestEnvironment(new MpiOnce);

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);
const auto kF32 = torch::TensorOptions().dtype(torch::kFloat32);
const auto kI64 = torch::TensorOptions().dtype(torch::kInt64);
const double kInf = std::numeric_limits<double>::infinity();

// The 3-client example. Shared parts θ_0 = (0, 0), θ_1 = (1, 0), θ_2 = (0, 2); client 0 queries
// with its own θ_0: d_01 = 1, d_02 = 4.
torch::Tensor example_params() { return torch::tensor({0.f, 0.f, 1.f, 0.f, 0.f, 2.f}).reshape({3, 2}); }  // [3, 2]

TEST(Attention, FedAmpHandComputed) {
  const torch::Tensor d = torch::tensor({0.0, 1.0, 4.0}, kF64).reshape({1, 3});  // [1, 3]
  const torch::Tensor self = torch::tensor({int64_t{0}}, kI64);                  // [1]
  // α_K = 1, σ = 2: ξ_01 = e^{-1/2}/2 = 0.3032653299, ξ_02 = e^{-2}/2 = 0.0676676416,
  // Σ_{j≠0} = 0.3709329715 < 1 − 0.1, no guard; ξ_00 = 0.6290670285.
  const Attention a = xi_fedamp(d, self, 1.0, 2.0, 0.1);
  EXPECT_EQ(a.guard_fired, 0);
  EXPECT_NEAR(a.xi[0][0].item<double>(), 0.6290670285, 1e-10);
  EXPECT_NEAR(a.xi[0][1].item<double>(), 0.3032653299, 1e-10);
  EXPECT_NEAR(a.xi[0][2].item<double>(), 0.0676676416, 1e-10);
  EXPECT_NEAR(a.xi.sum().item<double>(), 1.0, 1e-15);
}

TEST(Attention, GuardFiresAndScales) {
  // α_K = 1, σ = 0.5, d = (·, 0.1, 0.2): ξ_01 = 2e^{-0.2} = 1.6374615062, ξ_02 = 2e^{-0.4} =
  // 1.3406400921, Σ = 2.9781015982 > 0.9 → scaled by 0.9/Σ: 0.4948505976, 0.4051494024; ξ_00 = 0.1.
  const torch::Tensor d = torch::tensor({0.0, 0.1, 0.2}, kF64).reshape({1, 3});
  const Attention a = xi_fedamp(d, torch::tensor({int64_t{0}}, kI64), 1.0, 0.5, 0.1);
  EXPECT_EQ(a.guard_fired, 1);
  EXPECT_NEAR(a.xi[0][1].item<double>(), 0.4948505976, 1e-10);
  EXPECT_NEAR(a.xi[0][2].item<double>(), 0.4051494024, 1e-10);
  EXPECT_NEAR(a.xi[0][0].item<double>(), 0.1, 1e-12);
}

TEST(Attention, AbsentClientsWeighNothingAndRowsSumToOne) {
  torch::manual_seed(3);
  const int64_t k = 5, n = 9;
  torch::Tensor d = torch::rand({k, n}, kF64) * 4;  // [k, N]
  d.select(1, 4).fill_(kInf);                       // client 4 never uploaded
  const torch::Tensor self = torch::tensor({0, 2, 4, 6, 8}, kI64);
  for (double sigma : {0.05, 1.0, 100.0}) {
    const Attention a = xi_fedamp(d, self, 1.0, sigma, 0.1);
    EXPECT_TRUE(torch::allclose(a.xi.sum(1), torch::ones({k}, kF64), 0, 1e-14));
    EXPECT_TRUE((a.xi >= 0).all().item<bool>());  // so u_i is a convex combination
    // Column 4 is absent: zero except in row 2, which is client 4's own row (ξ_44).
    for (int64_t i = 0; i < k; ++i) {
      if (i != 2) {
        EXPECT_EQ(a.xi[i][4].item<double>(), 0.0);
      }
    }
    EXPECT_GE(a.xi[2][4].item<double>(), 0.1 - 1e-14);
  }
  // Identical models and a small σ make every off-diagonal weight α/σ = 1000: the guard fires on
  // every row and leaves ξ_ii = xi_min.
  const Attention capped = xi_fedamp(torch::zeros({k, n}, kF64), self, 1.0, 1e-3, 0.2);
  EXPECT_EQ(capped.guard_fired, k);
  EXPECT_NEAR(capped.xi[0][0].item<double>(), 0.2, 1e-14);
  EXPECT_NEAR(capped.xi[0][1].item<double>(), 0.8 / (n - 1), 1e-14);
}

TEST(Attention, HeurHandComputed) {
  // q = (2, 1): cos with θ_1 = (1, 0) is 2/√5, with θ_2 = (0, 2) is 1/√5; scale 10, ξ_self 0.5:
  // ξ_01 = 0.5·e^{20/√5}/(e^{20/√5} + e^{10/√5}) = 0.4943530589, ξ_02 = 0.0056469411.
  const torch::Tensor cos = torch::tensor({1.0, 2 / std::sqrt(5.0), 1 / std::sqrt(5.0)}, kF64).reshape({1, 3});
  const torch::Tensor present = torch::tensor({true, true, true});
  const Attention a = xi_heur(cos, present, torch::tensor({int64_t{0}}, kI64), 0.5, 10.0, 0.1);
  EXPECT_NEAR(a.xi[0][0].item<double>(), 0.5, 1e-14);
  EXPECT_NEAR(a.xi[0][1].item<double>(), 0.4943530589, 1e-10);
  EXPECT_NEAR(a.xi[0][2].item<double>(), 0.0056469411, 1e-10);
  // Nobody else present: ξ_ii = 1.
  const Attention lonely = xi_heur(cos, torch::tensor({true, false, false}), torch::tensor({int64_t{0}}, kI64), 0.5,
                                   10.0, 0.1);
  EXPECT_EQ(lonely.xi[0][0].item<double>(), 1.0);
  EXPECT_EQ(lonely.xi[0][1].item<double>(), 0.0);
}

TEST(Attention, SamplesIncludeSelfEvenWithoutUpload) {
  // n = (10, 30, 60); client 1 queries while only 0 and 2 have uploads: its row still counts itself.
  const Attention a = xi_samples(torch::tensor({true, false, true}), torch::tensor({int64_t{1}}, kI64), {10, 30, 60});
  EXPECT_NEAR(a.xi[0][0].item<double>(), 0.1, 1e-15);
  EXPECT_NEAR(a.xi[0][1].item<double>(), 0.3, 1e-15);
  EXPECT_NEAR(a.xi[0][2].item<double>(), 0.6, 1e-15);
  EXPECT_EQ(a.guard_fired, 0);  // never capped: the −AMP ablation is plain sample weighting
}

TEST(Attention, AutoSigmaIsTheOffDiagonalMedian) {
  const torch::Tensor d = torch::tensor({0.0, 3.0, kInf, 1.0, 0.0, 2.0}, kF64).reshape({2, 3});
  const torch::Tensor self = torch::tensor({0, 1}, kI64);
  // Finite off-diagonal: 3, 1, 2 → median 2.
  EXPECT_EQ(median_sigma(finite_offdiag(d, self)), 2.0);
  EXPECT_EQ(median_sigma(torch::tensor({4.0, 1.0, 2.0, 3.0}, kF64)), 2.5);
  EXPECT_EQ(median_sigma(torch::zeros({0}, kF64)), 1.0);
  MpiCommunicator comm;
  PairwiseExchange exchange(comm, PairwiseMode::ring, PairwisePrecision::float64, 3);
  EXPECT_EQ(auto_sigma_global(d, self, exchange), 2.0);
  EXPECT_FALSE(parse_sigma("auto").has_value());
  EXPECT_EQ(*parse_sigma("0.5"), 0.5);
  EXPECT_THROW(parse_sigma("-1"), ConfigError);
  EXPECT_THROW(parse_sigma("1x"), ConfigError);
}

TEST(Fisher, PerTensorNormalisation) {
  // Tensors of sizes 2 and 3: F = (1, 3 | 2, 2, 8): means 2 and 4 → (0.5, 1.5 | 0.5, 0.5, 2).
  const torch::Tensor f = torch::tensor({1.f, 3.f, 2.f, 2.f, 8.f});
  const torch::Tensor fh = normalize_fisher_per_tensor(f, {2, 3});
  EXPECT_TRUE(torch::allclose(fh, torch::tensor({0.5f, 1.5f, 0.5f, 0.5f, 2.f}), 1e-6, 0));
  EXPECT_TRUE(torch::allclose(fisher_param_weight(f, {2, 3}, FisherNorm::per_tensor, 1e-3), fh + 1e-3));
  EXPECT_THROW(normalize_fisher_per_tensor(f, {2, 2}), Error);
  EXPECT_TRUE(torch::allclose(fisher_param_weight(f, {2, 3}, FisherNorm::none, 1e-3), f + 1e-3));
  EXPECT_NEAR(fisher_scalar_weight(f), 3.2, 1e-6);
}

// The Fisher-weighted mix of the 3-client example (S = 2, one tensor of 2 elements):
// F_0 = (1, 3) → F̂_0 = (0.5, 1.5); F_1 = (2, 2) → (1, 1); F_2 = (4, 0) → (2, 0); δ = 1e-3, so
// w_0 = (0.501, 1.501), w_1 = (1.001, 1.001), w_2 = (2.001, 0.001); ξ_0 = (0.6290670285,
// 0.3032653299, 0.0676676416):
//   u[0] = ξ_01·1.001·1 / (ξ_00·0.501 + ξ_01·1.001 + ξ_02·2.001) = 0.3035685952 / 0.7541341274 = 0.4025392621
//   u[1] = ξ_02·0.001·2 / (ξ_00·1.501 + ξ_01·1.001 + ξ_02·0.001) = 0.0001353353 / 1.2478658726 = 0.0001084534
// Without Fisher: u = Σ ξ_0j θ_j = (0.3032653299, 0.1353352832).
TEST(Mix, FisherWeightedHandComputed) {
  MpiCommunicator comm;
  const torch::Tensor theta = example_params();  // [3, 2]
  const torch::Tensor fisher = torch::tensor({1.f, 3.f, 2.f, 2.f, 4.f, 0.f}).reshape({3, 2});
  torch::Tensor weights = torch::empty({3, 2}, kF32);  // [3, 2]
  for (int j = 0; j < 3; ++j) weights[j].copy_(fisher_param_weight(fisher[j], {2}, FisherNorm::per_tensor, 1e-3));
  const torch::Tensor q = theta.narrow(0, 0, 1).contiguous();  // [1, 2] client 0
  const torch::Tensor self = torch::tensor({int64_t{0}}, kI64);
  for (PairwisePrecision precision : {PairwisePrecision::float64, PairwisePrecision::float32}) {
    // float32 products on centred uploads: errors ~1e-7 of the spread of the θ_j (here ~1).
    const double tol = precision == PairwisePrecision::float64 ? 1e-9 : 1e-7;
    for (PairwiseMode mode : {PairwiseMode::ring, PairwiseMode::allgather}) {
      // Held uploads are clients 1 and 2; client 0 contributes through the self term.
      PairwiseExchange ex(comm, mode, precision, 3, 1);
      ex.set_held({torch::tensor({1, 2}, kI64), theta.narrow(0, 1, 2).contiguous(),
                   weights.narrow(0, 1, 2).contiguous(), torch::Tensor()});
      const PairwiseDistances pd = ex.distances(q, true);
      EXPECT_NEAR(pd.sq_dist[0][1].item<double>(), 1.0, tol);
      EXPECT_NEAR(pd.sq_dist[0][2].item<double>(), 4.0, tol);
      EXPECT_EQ(pd.sq_dist[0][0].item<double>(), kInf);  // no held upload of client 0
      Attention a = xi_fedamp(pd.sq_dist, self, 1.0, 2.0, 0.1);
      SelfTerm st{a.xi.select(1, 0).clone(), weights.narrow(0, 0, 1), torch::Tensor()};
      torch::Tensor xi_off = a.xi.clone();
      xi_off.select(1, 0).zero_();
      const torch::Tensor u = ex.mix(q, xi_off, &st);  // [1, 2]
      EXPECT_NEAR(u[0][0].item<float>(), 0.4025392621, 1e-7);
      EXPECT_NEAR(u[0][1].item<float>(), 0.0001084534, tol);
      // No weight at all (ξ = 0, no self term): the query comes back bit for bit (0.1 does not
      // survive (q − c) + c in float32 with c = (0.5, 1)).
      const torch::Tensor q_off = q + 0.1f;  // [1, 2]
      EXPECT_TRUE(torch::equal(ex.mix(q_off, torch::zeros_like(xi_off)), q_off));
    }
    // fisher_mode none: plain ξ mix.
    PairwiseExchange ex(comm, PairwiseMode::ring, precision, 3);
    ex.set_held({torch::tensor({0, 1, 2}, kI64), theta, torch::Tensor(), torch::Tensor()});
    const PairwiseDistances pd = ex.distances(q, false);
    EXPECT_EQ(pd.sq_dist[0][0].item<double>(), 0.0);  // identical models: exactly 0
    const Attention a = xi_fedamp(pd.sq_dist, self, 1.0, 2.0, 0.1);
    const torch::Tensor u = ex.mix(q, a.xi);  // [1, 2]
    EXPECT_NEAR(u[0][0].item<float>(), 0.3032653299, 1e-7);
    EXPECT_NEAR(u[0][1].item<float>(), 0.1353352832, 1e-7);
    // Convex: every coordinate lies within the range of the θ_j.
    EXPECT_TRUE((u >= theta.amin(0)).all().item<bool>() && (u <= theta.amax(0)).all().item<bool>());
  }
}

// The same 3-client example through the fedsaf algorithm class on one rank, every hook in the
// engine's order: P = 3 (θˢ = the first 2, one tensor; 1 private), α_K = 1, σ = 2, ξ_min = 0.1,
// δ = 1e-3, fisher_source = last_epoch with one batch per epoch, so F_i = g_i² of the gradient
// the trainer hands over: F_0 = (1, 3), F_1 = (2, 2), F_2 = (4, 0), F̂ = F / mean(F). After
// round 0 the clients hold θˢ_0 = (0, 0), θˢ_1 = (1, 0), θˢ_2 = (0, 2) and the mix for round 1 is
// (by hand, as in Mix.FisherWeightedHandComputed; d_01 = 1, d_02 = 4, d_12 = 5):
//   ξ_0 = (0.6290670285, 0.3032653299, 0.0676676416)  u_0 = (0.4025392621, 0.0001084534)
//   ξ_1 = (0.3032653299, 0.6556921708, 0.0410424993)  u_1 = (0.7371300694, 0.0000738447)
//   ξ_2 = (0.0676676416, 0.0410424993, 0.8912898591)  u_2 = (0.0221062758, 0.0124183539)
// e.g. u_1[0] = ξ_11·1.001·1 / (ξ_10·0.501 + ξ_11·1.001 + ξ_12·2.001) = 0.6563478630 / 0.8904098344.
TEST(FedSafAlgorithm, ThreeClientFisherMixHandComputed) {
  const Config config = default_config({"run.clients=3", "run.rounds=2", "run.algorithm=fedsaf", "run.join_ratio=1",
                                        "attention.kernel=fedamp", "attention.alpha_k=1", "attention.sigma=2",
                                        "attention.xi_min=0.1", "fedsaf.fisher_mode=param", "fedsaf.delta=0.001",
                                        "fedsaf.fisher_source=last_epoch", "train.local_epochs=1", "attention.every=1",
                                        "train.batch_size=10"});
  MpiCommunicator comm;
  AlgoContext context;
  context.train = config.train;
  context.seed = config.run.seed;
  context.num_clients = 3;
  context.make_exchange = exchanges_on(comm, context.num_clients);
  context.train_sizes = {10, 10, 10};
  context.hosted = {0, 1, 2};
  context.initial_params = torch::zeros({3}, kF32);  // [P]
  context.shared_numel = 2;
  context.shared_tensor_names = {"w"};
  context.shared_tensor_sizes = {2};
  std::unique_ptr<Algorithm> fedsaf = make_algorithm(config);
  fedsaf->init(context);
  ModelConfig mc;  // clients_trained's model and data are only read by the extra Fisher pass
  mc.name = "logreg";
  std::unique_ptr<FlatModel> model = make_model(mc, {2}, 2, 1);
  const Dataset data;

  const torch::Tensor theta = example_params();                                   // [3, 2]
  const torch::Tensor fisher = torch::tensor({1.f, 3.f, 2.f, 2.f, 4.f, 0.f}).reshape({3, 2});  // [3, 2]
  const std::vector<int64_t> cohort{0, 1, 2};
  CohortReduction reduction(fedsaf->statistics(), context.num_clients, torch::kCPU);  // the engine's
  fedsaf->round_begin(0, cohort);
  for (int64_t c : cohort) {
    torch::Tensor params = torch::full({3}, 9.f);  // [P] overwritten by client_begin
    fedsaf->client_begin(c, params);
    EXPECT_TRUE(torch::equal(params, context.initial_params)) << "round 0 starts from θ⁰";
    torch::Tensor grads = torch::cat({fisher[c].sqrt(), torch::tensor({5.f})});  // [P]
    EXPECT_EQ(fedsaf->add_regularizer_grad(c, params, grads), 0.0);  // init_from_cloud: no pull
    const std::vector<int64_t> no_indices;
    const std::vector<StackedClient> alone{{c, &no_indices, {}}};
    fedsaf->clients_trained({alone, *model, torch::Tensor(), data, 0});
    ClientStatistics statistics;
    fedsaf->client_end(c, torch::cat({theta[c], torch::tensor({10.f + static_cast<float>(c)})}), statistics);
    reduction.add(c, 10.0, statistics);
  }
  ServerStep step;
  step.round = 0;
  step.evaluates = true;
  step.next_cohort = cohort;
  step.statistics = reduction.reduce(comm);
  fedsaf->server_step(step);

  const Diagnostics diagnostics = fedsaf->diagnostics(0);
  const PartStatistics* fr = diagnostics.part("fisher");
  ASSERT_NE(fr, nullptr);
  ASSERT_NE(fedsaf->diagnostics(1).part("fisher"), nullptr);
  EXPECT_EQ(fedsaf->diagnostics(1).part("fisher")->count, std::vector<double>{0.0}) << "round 0's sums are round 0's";
  EXPECT_EQ(fr->names, std::vector<std::string>{"w"});
  EXPECT_NEAR(fr->sum[0], 12.0, 1e-5);  // 1 + 3 + 2 + 2 + 4 + 0
  EXPECT_EQ(fr->count[0], 6.0);
  EXPECT_NEAR(fr->max[0], 4.0, 1e-5);

  const double xi[3][3] = {{0.6290670285, 0.3032653299, 0.0676676416},
                           {0.3032653299, 0.6556921708, 0.0410424993},
                           {0.0676676416, 0.0410424993, 0.8912898591}};
  const double u[3][2] = {{0.4025392621, 0.0001084534}, {0.7371300694, 0.0000738447}, {0.0221062758, 0.0124183539}};
  ASSERT_NE(diagnostics.scalar("attention/rows"), nullptr);
  EXPECT_EQ(diagnostics.scalar("attention/rows")->value, 3);
  EXPECT_EQ(diagnostics.scalar("attention/guard_fired")->value, 0);
  // 3 rows against 3 uploads of S = 2: distances 2·3·3·2, the Fisher-weighted mix twice that twice.
  ASSERT_NE(diagnostics.scalar("attention/gemm_flops"), nullptr);
  EXPECT_EQ(diagnostics.scalar("attention/gemm_flops")->value, 36 + 72);
  EXPECT_GT(diagnostics.scalar("attention/seconds")->value, 0);
  const ClientRows* ar = diagnostics.rows("attention/xi");
  ASSERT_NE(ar, nullptr);
  ASSERT_EQ(ar->width, 3);
  ASSERT_EQ(ar->clients, (std::vector<int64_t>{0, 1, 2}));
  ASSERT_EQ(ar->values.size(), 9u);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 3; ++j) EXPECT_NEAR(ar->values[static_cast<size_t>(i * 3 + j)], xi[i][j], 1e-7) << i << "," << j;
  fedsaf->round_begin(1, cohort);
  for (int64_t c : cohort) {
    torch::Tensor evaluated = torch::empty({3}, kF32), started = torch::empty({3}, kF32);  // [P]
    fedsaf->eval_params(c, evaluated);
    fedsaf->client_begin(c, started);
    EXPECT_TRUE(torch::equal(evaluated, started)) << "evaluated on the model round 1 starts from, client " << c;
    EXPECT_NEAR(started[0].item<float>(), u[c][0], 1e-6) << "client " << c;
    EXPECT_NEAR(started[1].item<float>(), u[c][1], 1e-6) << "client " << c;
    EXPECT_EQ(started[2].item<float>(), 10.f + static_cast<float>(c)) << "private part kept, client " << c;
  }
  EXPECT_EQ(fedsaf->protocol_floats().up, 4);    // θˢ and its Fisher
  EXPECT_EQ(fedsaf->protocol_floats().down, 2);  // u_iˢ
}

// A client that has never trained holds the initial model without a row of its own: 1,000 hosted
// clients cost no state memory until they train, then one row each (local, fedper: [P] / [P − S];
// fedamp, fedsaf: θ [P]; fedsaf's Fisher weight and mix only once it trains or is mixed).
TEST(PersonalisedAlgorithms, UntrainedClientsKeepNoRows) {
  MpiCommunicator comm;
  for (const char* algorithm : {"local", "fedper", "fedamp", "fedsaf"}) {
    const Config config = default_config({fmt::format("run.algorithm={}", algorithm), "attention.every=0"});
    AlgoContext context;
    context.train = config.train;
    context.num_clients = 1000;
    context.make_exchange = exchanges_on(comm, context.num_clients);
    context.train_sizes.assign(1000, 10);
    for (int64_t c = 0; c < 1000; ++c) context.hosted.push_back(c);
    context.initial_params = torch::arange(3, kF32);  // [P]
    context.shared_numel = 2;
    context.shared_tensor_names = {"w"};
    context.shared_tensor_sizes = {2};
    context.states = std::make_shared<ClientStateStore>(std::make_shared<ClientMemory>(torch::kCPU, ClientMemoryBudget{}));
    std::unique_ptr<Algorithm> algo = make_algorithm(config);
    algo->init(context);
    algo->round_begin(0, {7});
    EXPECT_EQ(context.states->device_bytes() + context.states->host_bytes(), 0) << algorithm;
    torch::Tensor params = torch::full({3}, 9.f);  // [P]
    algo->client_begin(7, params);
    EXPECT_TRUE(torch::equal(params, context.initial_params)) << algorithm;
    ClientStatistics statistics;
    algo->client_end(7, torch::tensor({5.f, 6.f, 7.f}), statistics);
    const int64_t row = std::string(algorithm) == "fedper" ? 4 : 12;  // bytes of θᴾ or θ
    EXPECT_EQ(context.states->device_bytes() + context.states->host_bytes(), row) << algorithm;
    algo->eval_params(8, params);  // never trained: θ⁰ (fedper: its shared part is the global one)
    EXPECT_TRUE(torch::equal(params.narrow(0, 2, 1), context.initial_params.narrow(0, 2, 1))) << algorithm;
  }
}

// The Fisher diagonal equals the mean of squared per-batch gradients computed by a plain loop
// with torch::autograd::grad on the model's parameters (not the flat grad buffer).
// Storing ξ (N × N) for 20,000 clients is refused before round 1, naming the key and the way out;
// attention.every = 0 runs, and so does storing ξ for 16,384 clients.
TEST(FedSafAlgorithm, RefusesToStoreXiBeyondWhatFits) {
  MpiCommunicator comm;
  for (const char* algorithm : {"fedsaf", "fedamp"})
    for (const auto& [every, clients, refused] :
         {std::tuple{10, int64_t{20000}, true}, std::tuple{0, int64_t{20000}, false}, std::tuple{10, int64_t{16384}, false}}) {
      const Config config = default_config({fmt::format("run.algorithm={}", algorithm), fmt::format("attention.every={}", every)});
      AlgoContext context;
      context.train = config.train;
      context.num_clients = clients;
      context.make_exchange = exchanges_on(comm, clients);
      context.initial_params = torch::zeros({3}, kF32);  // [P]
      context.shared_numel = 2;
      context.shared_tensor_names = {"w"};
      context.shared_tensor_sizes = {2};
      std::unique_ptr<Algorithm> algo = make_algorithm(config);
      if (!refused) {
        EXPECT_NO_THROW(algo->init(context)) << algorithm << " every " << every << " N " << clients;
        continue;
      }
      try {
        algo->init(context);
        ADD_FAILURE() << algorithm << ": storing ξ for " << clients << " clients was accepted";
      } catch (const ConfigError& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("attention.every = 10"), std::string::npos) << m;
        EXPECT_NE(m.find("20000 clients"), std::string::npos) << m;
        EXPECT_NE(m.find("set attention.every = 0"), std::string::npos) << m;
      }
    }
}

TEST(Fisher, MatchesPlainLoop) {
  torch::manual_seed(11);
  Dataset data;
  data.name = "toy";
  data.x = torch::randn({22, 4});  // [22, 4]
  data.y = torch::randint(0, 3, {22}, kI64);
  data.num_classes = 3;
  ModelConfig mc;
  mc.name = "mlp";
  mc.hidden = {5};
  std::unique_ptr<FlatModel> model = make_model(mc, {4}, 3, 7);
  const int64_t s = model->shared_numel(1);  // first layer: 4·5 + 5
  ASSERT_EQ(s, 25);
  EXPECT_EQ(shared_tensor_sizes(*model, 1), (std::vector<int64_t>{20, 5}));
  std::vector<int64_t> train;
  for (int64_t i = 0; i < 22; i += 1) train.push_back(i);
  const torch::Tensor before = model->params().clone();

  auto reference = [&](int64_t m) {  // m batches (0 = one pass)
    torch::Tensor sum = torch::zeros({s}, kF64);
    int64_t count = 0;
    for (int64_t pass = 0; m == 0 ? pass < 1 : count < m; ++pass) {
      for (auto& b : epoch_batches(train, 4, 5, 2, 3, kFisherEpoch + pass)) {
        if (m > 0 && count >= m) break;
        const torch::Tensor idx = torch::tensor(b, kI64);
        const torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(data.batch(idx)),
                                                                        data.y.index_select(0, idx));
        std::vector<torch::Tensor> params = model->parameters();
        const auto g = torch::autograd::grad({loss}, {params[0], params[1]});
        sum.add_(torch::cat({g[0].flatten(), g[1].flatten()}).to(torch::kFloat64).square());
        ++count;
      }
    }
    return (sum / count).to(torch::kFloat32);
  };
  for (int64_t m : {0, 2, 7}) {  // 22 samples, batch 4 → 5 batches per pass; 7 crosses into the next
    const torch::Tensor f = fisher_diagonal(*model, data, train, 3, {4, m, s, 5, 2}, torch::kCPU);  // [25]
    EXPECT_TRUE(torch::allclose(f, reference(m), 1e-5, 1e-9)) << "fisher_batches " << m;
    EXPECT_TRUE(torch::equal(model->params(), before));  // the pass does not train
    EXPECT_EQ(model->grads().abs().sum().item<float>(), 0.f);
  }
}

}  // namespace
}  // namespace fedsaf
