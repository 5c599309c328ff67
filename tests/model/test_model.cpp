// The model zoo and its flat parameter layout: exact sizes, aliasing of parameters and grads into
// the flat buffers (through backward, SGD steps, zero_grad, to()), split sizes, seeding.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <numeric>

#include "core/errors.hpp"
#include "model/model.hpp"

namespace fedsaf {
namespace {

std::unique_ptr<FlatModel> build(const std::string& name, std::vector<int64_t> shape, int64_t classes = 10,
                                 uint64_t seed = 1, int64_t n_head = 0, std::vector<int64_t> hidden = {200}) {
  ModelConfig config;
  config.name = name;
  config.n_head = n_head;
  config.hidden = std::move(hidden);
  return make_model(config, shape, classes, seed);
}

// The error message of a ConfigError thrown by f ("" if none is thrown).
template <class F>
std::string config_error(F&& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

bool inside(const torch::Tensor& t, const torch::Tensor& base) {
  const auto* p = static_cast<const char*>(t.data_ptr());
  const auto* b = static_cast<const char*>(base.data_ptr());
  return p >= b && p + t.numel() * t.element_size() <= b + base.numel() * base.element_size();
}

TEST(ModelZoo, ExactParameterCounts) {
  EXPECT_EQ(build("cnn", {1, 28, 28})->num_params(), 582026);  // FedAvg CNN on MNIST-like input
  EXPECT_EQ(build("cnn", {3, 32, 32})->num_params(), 878538);  // ... on CIFAR-like input
  EXPECT_EQ(build("resnet18", {3, 32, 32})->num_params(), 11173962);  // CIFAR ResNet-18, 10 classes
  EXPECT_EQ(build("logreg", {60})->num_params(), 60 * 10 + 10);
  EXPECT_EQ(build("logreg", {1, 28, 28})->num_params(), 784 * 10 + 10);
  EXPECT_EQ(build("mlp", {60})->num_params(), 60 * 200 + 200 + 200 * 10 + 10);
  EXPECT_EQ(build("mlp", {60}, 3, 1, 0, {8, 4})->num_params(), (60 * 8 + 8) + (8 * 4 + 4) + (4 * 3 + 3));
}

TEST(ModelZoo, LayerTablesFollowForwardOrder) {
  auto cnn = build("cnn", {1, 28, 28});
  ASSERT_EQ(cnn->layers().size(), 4u);
  const std::vector<std::string> names = {"conv1", "conv2", "fc1", "fc"};
  const std::vector<int64_t> numels = {832, 51264, 524800, 5130};
  int64_t offset = 0;
  for (size_t l = 0; l < 4; ++l) {
    const LayerInfo& layer = cnn->layers()[l];
    EXPECT_EQ(layer.name, names[l]);
    EXPECT_EQ(layer.params, (std::vector<std::string>{names[l] + ".weight", names[l] + ".bias"}));
    EXPECT_EQ(layer.offset, offset);  // back to back
    EXPECT_EQ(layer.numel, numels[l]);
    offset += layer.numel;
  }
  EXPECT_EQ(offset, cnn->num_params());

  // resnet18: stem + 16 block convs + 3 shortcut convs (each with its BN) + fc.
  auto resnet = build("resnet18", {3, 32, 32});
  const auto& layers = resnet->layers();
  ASSERT_EQ(layers.size(), 21u);
  EXPECT_EQ(layers[0].name, "conv1");
  EXPECT_EQ(layers[0].params, (std::vector<std::string>{"conv1.weight", "bn1.weight", "bn1.bias"}));
  EXPECT_EQ(layers[1].name, "layer1.0.conv1");
  EXPECT_EQ(layers[1].params, (std::vector<std::string>{"layer1.0.conv1.weight", "layer1.0.bn1.weight",
                                                         "layer1.0.bn1.bias"}));
  EXPECT_EQ(layers[7].name, "layer2.0.shortcut.0");
  EXPECT_EQ(layers[7].params, (std::vector<std::string>{"layer2.0.shortcut.0.weight", "layer2.0.shortcut.1.weight",
                                                         "layer2.0.shortcut.1.bias"}));
  EXPECT_EQ(layers[20].name, "fc");
  int64_t sum = 0;
  for (const auto& l : layers) sum += l.numel;
  EXPECT_EQ(sum, resnet->num_params());
  EXPECT_EQ(build("logreg", {60})->layers().size(), 1u);
  EXPECT_EQ(build("mlp", {60}, 10, 1, 0, {16, 8})->layers().size(), 3u);
}

TEST(ModelZoo, ForwardShapes) {
  struct Case {
    std::string name;
    std::vector<int64_t> input;  // [B, ...]
  };
  const std::vector<Case> cases = {{"logreg", {4, 60}},       {"logreg", {4, 1, 28, 28}}, {"mlp", {4, 60}},
                                   {"cnn", {4, 1, 28, 28}},    {"cnn", {4, 3, 32, 32}},    {"resnet18", {2, 3, 32, 32}},
                                   {"resnet18", {2, 1, 28, 28}}};
  for (const auto& c : cases) {
    auto model = build(c.name, std::vector<int64_t>(c.input.begin() + 1, c.input.end()), 7);
    const torch::Tensor out = model->forward(torch::randn(c.input));  // [B, 7]
    EXPECT_EQ(out.sizes(), (std::vector<int64_t>{c.input[0], 7})) << c.name;
  }
}

// The cnn's fast paths (zoo.cpp) against the textbook max_pool2d(relu(conv2d(x))) form, with and
// without gradients, for even and odd feature maps (28×28: 24 → 12 → 8 → 4; 17×19: 13×15 →
// 6×7 → 2×3 → 1×1, where the pool drops the odd last row and column). With three channels only
// the pooling differs (reshape + amax before the ReLU without gradients): exactly equal. With one
// channel conv1 is an im2col GEMM (another summation order) and pooling precedes the ReLU:
// equal within float32 rounding, and the ties at 0 of all-negative samples pass no gradient.
TEST(ModelZoo, CnnEqualsTheTextbookForm) {
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{1, 28, 28}, std::vector<int64_t>{3, 17, 19},
                                            std::vector<int64_t>{1, 17, 19}}) {
    const bool exact = shape[0] != 1;
    const auto same = [&](const torch::Tensor& a, const torch::Tensor& b) {
      return exact ? torch::equal(a, b) : torch::allclose(a, b, 1e-5, 1e-6);
    };
    auto model = build("cnn", shape, 10, 3);
    torch::manual_seed(7);
    std::vector<int64_t> xs = {6};
    xs.insert(xs.end(), shape.begin(), shape.end());
    torch::Tensor x = torch::randn(xs);          // [6, C, H, W]
    x.narrow(0, 0, 2).clamp_max_(-0.5);           // two samples of all-negative pixels: ties at 0 after ReLU
    const std::vector<torch::Tensor> p = model->parameters();  // conv1 w, b; conv2 w, b; fc1 w, b; fc w, b
    auto textbook = [&](const torch::Tensor& in) {
      torch::Tensor h = torch::max_pool2d(torch::relu(torch::conv2d(in, p[0], p[1])), 2);
      h = torch::max_pool2d(torch::relu(torch::conv2d(h, p[2], p[3])), 2);
      h = torch::relu(torch::linear(h.flatten(1), p[4], p[5]));
      return torch::linear(h, p[6], p[7]);  // [6, 10]
    };
    const torch::Tensor y = torch::arange(6) % 10;  // [6]
    model->zero_grad();
    torch::nn::functional::cross_entropy(model->forward(x), y).backward();
    const torch::Tensor grads = model->grads().clone();  // [P]
    model->zero_grad();
    torch::nn::functional::cross_entropy(textbook(x), y).backward();
    EXPECT_TRUE(same(grads, model->grads())) << "gradients, input " << x.sizes() << ": largest difference "
                                             << (grads - model->grads()).abs().max().item<float>();
    torch::NoGradGuard no_grad;
    const torch::Tensor want = textbook(x);
    EXPECT_TRUE(same(model->forward(x), want)) << "no-grad logits, input " << x.sizes();
    torch::AutoGradMode with_grad(true);
    EXPECT_TRUE(same(model->forward(x).detach(), want)) << "logits with gradients, input " << x.sizes();
  }
}

TEST(FlatParams, ParametersAreViewsIntoTheFlatBuffer) {
  auto model = build("cnn", {1, 28, 28});
  EXPECT_TRUE(model->params().is_contiguous());
  EXPECT_EQ(model->params().scalar_type(), torch::kFloat32);
  EXPECT_EQ(model->grads().numel(), model->num_params());
  EXPECT_TRUE(model->aliased());
  int64_t offset = 0;
  for (const auto& p : model->parameters()) {
    EXPECT_TRUE(inside(p, model->params()));
    EXPECT_EQ(p.data_ptr<float>(), model->params().data_ptr<float>() + offset);
    EXPECT_EQ(p.grad().data_ptr<float>(), model->grads().data_ptr<float>() + offset);
    offset += p.numel();
  }
  EXPECT_EQ(offset, model->num_params());

  // Writing into the flat buffer is writing the model.
  const torch::Tensor x = torch::randn({3, 1, 28, 28});  // [B, C, H, W]
  model->train(false);
  const torch::Tensor before = model->forward(x).detach();  // [3, 10]
  model->params().mul_(0.5);
  const torch::Tensor after = model->forward(x).detach();
  EXPECT_FALSE(torch::allclose(before, after));
  model->params().zero_();
  EXPECT_EQ(model->forward(x).abs().sum().item<float>(), 0.0f);  // all weights and biases are 0
}

TEST(FlatParams, GradsLandInFlatGradAndSurviveOptimizers) {
  auto model = build("cnn", {1, 28, 28});
  const torch::Tensor x = torch::randn({4, 1, 28, 28});  // [B, C, H, W]
  const torch::Tensor y = torch::tensor({0, 1, 2, 3});   // [B]
  EXPECT_EQ(model->grads().abs().sum().item<float>(), 0.0f);
  torch::nn::functional::cross_entropy(model->forward(x), y).backward();
  EXPECT_GT(model->grads().abs().sum().item<float>(), 0.0f);
  std::vector<torch::Tensor> grads;
  for (const auto& p : model->parameters()) grads.push_back(p.grad().reshape({-1}));
  EXPECT_TRUE(torch::equal(torch::cat(grads), model->grads()));
  EXPECT_TRUE(model->aliased());

  // A torch optimiser on parameters() updates the flat buffer in place.
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9));
  const torch::Tensor flat_before = model->params().clone();      // [P]
  const torch::Tensor expected = flat_before - 0.1 * model->grads();  // first momentum step = plain step
  sgd.step();
  EXPECT_TRUE(torch::allclose(model->params(), expected));
  EXPECT_TRUE(model->aliased());
  sgd.zero_grad();     // LibTorch 1.13 zeroes the grads in place; 2.x sets them to None (set_to_none)
  model->zero_grad();  // either way, the model's own zero_grad leaves the flat buffer zeroed and aliased
  EXPECT_TRUE(model->aliased());
  EXPECT_EQ(model->grads().abs().sum().item<float>(), 0.0f);

  // A second backward accumulates into the same buffer.
  torch::nn::functional::cross_entropy(model->forward(x), y).backward();
  EXPECT_GT(model->grads().abs().sum().item<float>(), 0.0f);
  EXPECT_TRUE(model->aliased());

  // zero_grad() repairs grads an optimiser set to None (set_to_none = true in later LibTorch).
  for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
  EXPECT_FALSE(model->aliased());
  model->zero_grad();
  EXPECT_TRUE(model->aliased());
  EXPECT_EQ(model->grads().abs().sum().item<float>(), 0.0f);
  torch::nn::functional::cross_entropy(model->forward(x), y).backward();
  EXPECT_GT(model->grads().abs().sum().item<float>(), 0.0f);
}

TEST(FlatParams, ToDeviceKeepsTheLayoutAndValues) {
  auto model = build("resnet18", {3, 32, 32});
  const torch::Tensor values = model->params().clone();  // [P]
  model->grads().fill_(0.25f);
  model->to(torch::kCPU);
  EXPECT_TRUE(model->aliased());
  EXPECT_TRUE(torch::equal(model->params(), values));
  EXPECT_EQ(model->grads().mean().item<float>(), 0.25f);
}

TEST(FlatParams, BuffersAreTheModelsRunningStatistics) {
  EXPECT_TRUE(build("cnn", {1, 28, 28})->buffers().empty());
  auto model = build("resnet18", {3, 32, 32});
  const std::vector<torch::Tensor> buffers = model->buffers();
  ASSERT_EQ(buffers.size(), 20u * 3u);  // 20 BNs × (running_mean, running_var, num_batches_tracked)
  int64_t numel = 0;
  for (const auto& b : buffers) numel += b.numel();
  for (const auto& b : buffers) EXPECT_FALSE(inside(b, model->params()));  // not in the flat buffer
  const torch::Tensor mean0 = buffers[0].clone();
  model->train(true);
  model->forward(torch::randn({2, 3, 32, 32}) + 3.0);
  EXPECT_FALSE(torch::equal(buffers[0], mean0));  // the returned tensors are the live buffers
  // Restoring a buffer restores the model's behaviour in eval mode.
  model->train(false);
  const torch::Tensor x = torch::randn({2, 3, 32, 32});
  const torch::Tensor out1 = model->forward(x).detach();
  const torch::Tensor saved = buffers[0].clone();
  buffers[0].add_(1.0);
  EXPECT_FALSE(torch::allclose(model->forward(x), out1));
  buffers[0].copy_(saved);
  EXPECT_TRUE(torch::allclose(model->forward(x), out1));
}

TEST(Split, SharedAndPrivateSizesForEveryDepth) {
  auto model = build("cnn", {1, 28, 28});
  const int64_t P = model->num_params();
  const std::vector<int64_t> expected = {832, 52096, 576896, 582026};
  for (int64_t n = 1; n <= 4; ++n) {
    const torch::Tensor s = model->shared(n);        // [S]
    const torch::Tensor r = model->private_part(n);  // [P - S]
    EXPECT_EQ(model->shared_numel(n), expected[static_cast<size_t>(n - 1)]) << n;
    EXPECT_EQ(s.numel(), expected[static_cast<size_t>(n - 1)]) << n;
    EXPECT_EQ(s.numel() + r.numel(), P) << n;
    EXPECT_EQ(s.data_ptr<float>(), model->params().data_ptr<float>());  // slices of the flat buffer
    EXPECT_EQ(r.data_ptr<float>(), model->params().data_ptr<float>() + s.numel());
  }
  EXPECT_EQ(model->shared_numel(0), P);  // 0 = everything shared
  EXPECT_EQ(model->private_part(4).numel(), 0);
}

TEST(Split, NHeadAboveLIsAConfigError) {
  auto model = build("cnn", {1, 28, 28});
  const std::string message = config_error([&] { model->shared_numel(5); });
  EXPECT_NE(message.find("model.n_head"), std::string::npos) << message;
  EXPECT_NE(message.find("L = 4"), std::string::npos) << message;
  EXPECT_NE(message.find("cnn"), std::string::npos) << message;
  EXPECT_NE(config_error([&] { model->shared_numel(-1); }).find("model.n_head"), std::string::npos);
  // make_model rejects it up front.
  const std::string at_build = config_error([] { build("resnet18", {3, 32, 32}, 10, 1, 22); });
  EXPECT_NE(at_build.find("model.n_head"), std::string::npos) << at_build;
  EXPECT_NE(at_build.find("L = 21"), std::string::npos) << at_build;
  EXPECT_EQ(build("resnet18", {3, 32, 32}, 10, 1, 21)->shared_numel(21), 11173962);
}

TEST(ModelZoo, BadConfigsNameTheKey) {
  EXPECT_NE(config_error([] { build("transformer", {60}); }).find("model.name"), std::string::npos);
  EXPECT_NE(config_error([] { build("cnn", {60}); }).find("model.name"), std::string::npos);
  EXPECT_NE(config_error([] { build("cnn", {1, 8, 8}); }).find("model.name"), std::string::npos);
  EXPECT_NE(config_error([] { build("mlp", {60}, 10, 1, 0, {}); }).find("model.hidden"), std::string::npos);
  EXPECT_NE(config_error([] { build("logreg", {60}, 0); }).find("model.name"), std::string::npos);
}

TEST(Seeding, InitialWeightsDependOnlyOnTheSeed) {
  for (const std::string name : {"logreg", "mlp", "cnn", "resnet18"}) {
    const std::vector<int64_t> shape = name == "resnet18" ? std::vector<int64_t>{3, 32, 32}
                                                          : std::vector<int64_t>{1, 28, 28};
    auto a = build(name, shape, 10, 42);
    torch::randn({1000});  // unrelated use of the global generator in between
    build("cnn", {3, 32, 32}, 10, 7);
    auto b = build(name, shape, 10, 42);
    auto c = build(name, shape, 10, 43);
    EXPECT_TRUE(torch::equal(a->params(), b->params())) << name;
    EXPECT_FALSE(torch::equal(a->params(), c->params())) << name;
    for (size_t i = 0; i < a->buffers().size(); ++i) EXPECT_TRUE(torch::equal(a->buffers()[i], b->buffers()[i]));
  }
}

TEST(Training, OneFlatSgdStepReducesTheLoss) {
  for (const std::string name : {"logreg", "mlp", "cnn", "resnet18"}) {
    const std::vector<int64_t> shape = name == "resnet18" ? std::vector<int64_t>{3, 32, 32}
                                                          : std::vector<int64_t>{1, 28, 28};
    auto model = build(name, shape, 10, 3);
    model->train(true);
    std::vector<int64_t> batch_shape = {8};
    batch_shape.insert(batch_shape.end(), shape.begin(), shape.end());
    const torch::Tensor x = torch::randn(batch_shape);          // [8, C, H, W]
    const torch::Tensor y = torch::arange(8, torch::kLong) % 10;  // [8]
    model->zero_grad();
    const torch::Tensor loss0 = torch::nn::functional::cross_entropy(model->forward(x), y);  // []
    loss0.backward();
    {
      torch::NoGradGuard no_grad;
      model->params().add_(model->grads(), -0.01);  // one SGD step on the whole flat buffer
    }
    const double loss1 = torch::nn::functional::cross_entropy(model->forward(x), y).item<double>();
    EXPECT_LT(loss1, loss0.item<double>()) << name;
  }
}

}  // namespace
}  // namespace fedsaf
