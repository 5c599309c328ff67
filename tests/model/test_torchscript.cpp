// torchscript:PATH models: a TorchScript archive built and saved from C++ (no Python needed) is
// loaded with the same flat layout as the zoo; bad files give a ConfigError naming the file.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "core/errors.hpp"
#include "model/model.hpp"

#include "tests/common/test_support.hpp"

namespace fedsaf {
namespace {

namespace fs = std::filesystem;

using test::TempDir;

// A scripted module whose forward calls a method; parameters registered as the archive's state.
torch::jit::Module linear_module(const std::string& type, int64_t in, int64_t out) {
  torch::jit::Module m(type);
  m.register_parameter("weight", torch::randn({out, in}) * 0.1, false);  // [out, in]
  m.register_parameter("bias", torch::zeros({out}), false);             // [out]
  m.define(R"(
def forward(self, x):
    return torch.matmul(x, self.weight.t()) + self.bias
)");
  return m;
}

// An MLP 6 → 5 → 3 plus a scale "BatchNorm" whose parameters join fc1's layer.
std::string save_mlp(const fs::path& dir) {
  torch::manual_seed(0);
  torch::jit::Module net("Net");
  net.register_module("fc1", linear_module("Linear1", 6, 5));
  torch::jit::Module norm("BatchNormLike");
  norm.register_parameter("weight", torch::ones({5}), false);
  norm.register_parameter("bias", torch::zeros({5}), false);
  norm.register_buffer("running_mean", torch::zeros({5}));
  norm.define(R"(
def forward(self, x):
    return (x - self.running_mean) * self.weight + self.bias
)");
  net.register_module("bn", norm);
  net.register_module("fc2", linear_module("Linear2", 5, 3));
  net.define(R"(
def forward(self, x):
    return self.fc2.forward(torch.relu(self.bn.forward(self.fc1.forward(x))))
)");
  const std::string path = (dir / "mlp.pt").string();
  net.save(path);
  return path;
}

std::unique_ptr<FlatModel> load(const std::string& path, int64_t n_head = 0) {
  ModelConfig config;
  config.name = "torchscript:" + path;
  config.n_head = n_head;
  return make_model(config, {6}, 3, 1);
}

TEST(TorchScript, LoadsWithTheFlatLayout) {
  TempDir tmp;
  auto model = load(save_mlp(tmp.path));
  EXPECT_EQ(model->num_params(), (6 * 5 + 5) + (5 + 5) + (5 * 3 + 3));
  ASSERT_EQ(model->layers().size(), 2u);  // fc1 (+ its norm), fc2
  EXPECT_EQ(model->layers()[0].name, "fc1");
  EXPECT_EQ(model->layers()[0].params,
            (std::vector<std::string>{"fc1.weight", "fc1.bias", "bn.weight", "bn.bias"}));
  EXPECT_EQ(model->layers()[1].name, "fc2");
  EXPECT_EQ(model->shared_numel(1), 45);
  EXPECT_EQ(model->buffers().size(), 1u);
  EXPECT_TRUE(model->aliased());

  const torch::Tensor x = torch::randn({4, 6});  // [B, D]
  const torch::Tensor y = torch::tensor({0, 1, 2, 0});
  const torch::Tensor out = model->forward(x);  // [4, 3]
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{4, 3}));
  // The scripted forward reads the flat buffer.
  {
    torch::NoGradGuard no_grad;
    model->params().zero_();
    EXPECT_EQ(model->forward(x).abs().sum().item<float>(), 0.0f);
  }
  model = load(save_mlp(tmp.path));
  model->train(true);
  model->zero_grad();
  const torch::Tensor loss0 = torch::nn::functional::cross_entropy(model->forward(x), y);
  loss0.backward();
  EXPECT_GT(model->grads().abs().sum().item<float>(), 0.0f);  // grads land in flat_grad
  EXPECT_TRUE(model->aliased());
  {
    torch::NoGradGuard no_grad;
    model->params().add_(model->grads(), -0.1);
  }
  EXPECT_LT(torch::nn::functional::cross_entropy(model->forward(x), y).item<double>(), loss0.item<double>());
  model->to(torch::kCPU);
  EXPECT_TRUE(model->aliased());
  const std::string message = [&] {
    try {
      load(save_mlp(tmp.path), 3);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string();
  }();
  EXPECT_NE(message.find("model.n_head"), std::string::npos) << message;
  EXPECT_NE(message.find("L = 2"), std::string::npos) << message;
}

std::string load_error(const std::string& path) {
  try {
    load(path);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(TorchScript, BadFilesAreConfigErrorsNamingTheFile) {
  TempDir tmp;
  const std::string missing = (tmp.path / "missing.pt").string();
  const std::string m1 = load_error(missing);
  EXPECT_NE(m1.find("model.name"), std::string::npos) << m1;
  EXPECT_NE(m1.find(missing), std::string::npos) << m1;

  const std::string garbage = (tmp.path / "garbage.pt").string();
  std::ofstream(garbage) << "this is not a zip archive\n";
  const std::string m2 = load_error(garbage);
  EXPECT_NE(m2.find("model.name"), std::string::npos) << m2;
  EXPECT_NE(m2.find(garbage), std::string::npos) << m2;
  EXPECT_NE(m2.find("TorchScript"), std::string::npos) << m2;
}

}  // namespace
}  // namespace fedsaf
