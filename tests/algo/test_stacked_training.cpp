// Client-batched training against one-at-a-time training: for every zoo model that stacks clients,
// G clients of different sizes (so the group shrinks as they run out of batches) trained together
// end where train_client takes each of them alone, within 1e-5, with a regularizer, momentum,
// weight decay and a frozen tail; their statistics match too.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "client/fisher.hpp"
#include "client/stacked_trainer.hpp"
#include "client/trainer.hpp"
#include "data/dataset.hpp"
#include "model/model.hpp"

namespace fedsaf {
namespace {

// Random samples of `shape` (uint8 images or float32 vectors) and labels, normalised as a run would.
Dataset random_data(const std::vector<int64_t>& shape, int64_t n) {
  torch::manual_seed(7);
  Dataset d;
  d.name = "random";
  std::vector<int64_t> full{n};
  full.insert(full.end(), shape.begin(), shape.end());
  if (shape.size() == 3) {
    d.x = torch::randint(0, 256, full, torch::kUInt8);  // [N, C, H, W]
    d.scale = 1.0 / 255.0;
    d.mean = std::vector<double>(static_cast<size_t>(shape[0]), 0.5);
    d.std = std::vector<double>(static_cast<size_t>(shape[0]), 0.5);
  } else {
    d.x = torch::randn(full);  // [N, D]
  }
  d.y = torch::randint(0, 10, {n}, torch::kInt64);  // [N]
  d.num_classes = 10;
  return d;
}

struct Case {
  std::string model;
  std::vector<int64_t> shape;
};

class StackedTraining : public ::testing::TestWithParam<Case> {
 protected:
  // The case's model (mlp: one hidden layer of 32), single-threaded as the engine runs it.
  static std::unique_ptr<FlatModel> case_model(const Case& c) {
    torch::set_num_threads(1);
    ModelConfig mc;
    mc.name = c.model;
    mc.hidden = {32};
    return make_model(mc, c.shape, 10, 3);
  }
};

TEST_P(StackedTraining, EqualsOneClientAtATime) {
  const Case c = GetParam();
  const Dataset data = random_data(c.shape, 200);
  auto model = case_model(c);
  ASSERT_TRUE(model->stacks_clients());
  const int64_t p = model->num_params();
  const torch::Tensor start = model->params().clone();  // [P]

  TrainConfig train;
  train.batch_size = 8;
  train.local_epochs = 2;
  train.lr = 0.05;
  train.momentum = 0.5;
  train.weight_decay = 1e-3;
  // Clients of 8..61 samples: 1 to 7 batches per epoch, in no particular order.
  const std::vector<std::vector<int64_t>> sizes_and_offsets = {{20, 0}, {61, 20}, {8, 81}, {35, 89}, {47, 124}};
  std::vector<std::vector<int64_t>> indices;
  for (const auto& so : sizes_and_offsets) {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < so[0]; ++i) idx.push_back(so[1] + i);
    indices.push_back(idx);
  }
  const auto g = static_cast<int64_t>(indices.size());
  // A FedProx-like pull towards a reference, different per client; only the first T trainable.
  const torch::Tensor reference = start + 0.01;  // [P]
  const int64_t trainable = p - 5;
  auto regularizer_of = [&](int64_t client) {
    return RegularizerGrad([&, client](const torch::Tensor& params, torch::Tensor& grads) {
      grads.add_(params - reference, 0.1 * static_cast<double>(client + 1));
      return 0.0;
    });
  };

  // Every client starts from its own perturbation of the start.
  torch::Tensor stacked = torch::empty({g, p});  // [G, P]
  for (int64_t i = 0; i < g; ++i) stacked[i].copy_(start + 0.001 * static_cast<double>(i));
  const torch::Tensor initial = stacked.clone();  // [G, P]

  std::vector<StackedClient> group;
  for (int64_t i = 0; i < g; ++i) group.push_back({100 + i, &indices[static_cast<size_t>(i)], regularizer_of(i)});
  const std::vector<TrainStats> together =
      train_clients_stacked(*model, stacked, data, group, train, 11, 4, torch::kCPU, trainable);

  for (int64_t i = 0; i < g; ++i) {
    model->params().copy_(initial[i]);
    const TrainStats alone = train_client(*model, data, indices[static_cast<size_t>(i)], train, 11, 4, 100 + i,
                                          regularizer_of(i), torch::kCPU, trainable);
    const double diff = (stacked[i] - model->params()).abs().max().item<double>();
    EXPECT_LE(diff, 1e-5) << c.model << " client " << i;
    EXPECT_GT((stacked[i] - initial[i]).abs().max().item<double>(), 1e-3) << "trained at all";
    EXPECT_TRUE(torch::equal(stacked[i].narrow(0, trainable, 5), initial[i].narrow(0, trainable, 5))) << "frozen tail";
    EXPECT_EQ(together[static_cast<size_t>(i)].batches, alone.batches) << i;
    EXPECT_EQ(together[static_cast<size_t>(i)].samples, alone.samples) << i;
    EXPECT_NEAR(together[static_cast<size_t>(i)].loss_sum, alone.loss_sum, 1e-5 * std::max(1.0, alone.loss_sum)) << i;
  }
}

// The Fisher pass of a group at once equals fisher_diagonal per client (one pass, and more
// batches than one pass holds).
TEST_P(StackedTraining, FisherDiagonalsEqualOneClientAtATime) {
  const Case c = GetParam();
  const Dataset data = random_data(c.shape, 120);
  auto model = case_model(c);
  const int64_t p = model->num_params(), s = p - 7;  // a shared prefix
  const std::vector<std::vector<int64_t>> indices = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17},
                                                     {20, 21, 22, 23, 24, 25, 26, 27},
                                                     {30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54}};
  torch::Tensor stacked = torch::empty({3, p});  // [G, P]
  for (int64_t i = 0; i < 3; ++i) stacked[i].copy_(model->params() * (1.0 + 0.1 * static_cast<double>(i)));
  std::vector<StackedClient> group;
  for (int64_t i = 0; i < 3; ++i) group.push_back({50 + i, &indices[static_cast<size_t>(i)], nullptr});
  for (const int64_t batches : {int64_t{0}, int64_t{7}}) {
    const torch::Tensor together = fisher_diagonals_stacked(*model, stacked, data, group, {8, batches, s, 11, 2}, torch::kCPU);  // [G, S]
    ASSERT_EQ(together.sizes(), (std::vector<int64_t>{3, s}));
    for (int64_t i = 0; i < 3; ++i) {
      model->params().copy_(stacked[i]);
      const torch::Tensor alone = fisher_diagonal(*model, data, indices[static_cast<size_t>(i)], 50 + i, {8, batches, s, 11, 2}, torch::kCPU);  // [S]
      const double scale = alone.abs().max().item<double>();
      EXPECT_GT(scale, 0.0);
      EXPECT_LE((together[i] - alone).abs().max().item<double>(), 1e-5 * std::max(1.0, scale))
          << c.model << " client " << i << " fisher_batches " << batches;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(ZooModels, StackedTraining,
                         ::testing::Values(Case{"logreg", {12}}, Case{"mlp", {12}}, Case{"mlp", {1, 8, 8}},
                                           Case{"cnn", {1, 16, 16}}, Case{"cnn", {3, 20, 18}}),
                         [](const auto& info) { return info.param.model + std::to_string(info.index); });

TEST(StackedTraining, OnlyClientsWithFullBatchesJoinAGroup) {
  TrainConfig train;
  train.batch_size = 10;
  EXPECT_TRUE(can_train_stacked(10, train));
  EXPECT_FALSE(can_train_stacked(9, train));  // its one short batch would not stack
}

TEST(StackedTraining, ModelsThatCannotStackSaySo) {
  ModelConfig mc;
  mc.name = "resnet18";
  auto model = make_model(mc, {3, 8, 8}, 10, 1);
  EXPECT_FALSE(model->stacks_clients());
  EXPECT_THROW(model->forward_stacked({}, torch::zeros({1, 2, 3, 8, 8})), std::logic_error);
}

}  // namespace
}  // namespace fedsaf
