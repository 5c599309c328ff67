// `fedsaf models [--input C,H,W | D] [--classes K] [--model NAME]... [--hidden W,...]`: every
// model's layer table (the flat-buffer layout) and its shared/private split for n_head = 1..L.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iostream>
#include <memory>
#include <sstream>

#include "app/commands.hpp"
#include "core/errors.hpp"
#include "core/limits.hpp"
#include "model/model.hpp"

namespace fedsaf::app {

namespace {

// 582026 → "582,026": counts in this listing are always grouped by thousands.
std::string grouped(int64_t n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return n < 0 ? "-" + out : out;
}

// Largest values the options take: an image side as `fedsaf convert images` allows, a feature
// count as data.synthetic.features allows; beyond them a model would not fit in memory anyway.
constexpr int64_t kMaxSide = 16384;
constexpr int64_t kMaxFeatures = 1'000'000;
constexpr int64_t kMaxChannels = 4096;
constexpr int64_t kMaxWidth = 1'000'000;  // an mlp hidden layer

std::vector<int64_t> parse_ints(const std::string& text, const std::string& option) {
  std::vector<int64_t> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    size_t used = 0;
    int64_t v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != item.size() || v < 1) {
      throw ConfigError(fmt::format("{}: '{}' is not a list of positive integers", option, text));
    }
    values.push_back(v);
  }
  if (values.empty()) throw ConfigError(fmt::format("{}: empty", option));
  return values;
}

void print_model(std::ostream& out, const ModelConfig& config, const std::vector<int64_t>& shape, int64_t classes) {
  // A TorchScript archive fixes its own input shape and classes; the shape given only passes checks.
  const bool script = config.name.rfind("torchscript:", 0) == 0;
  const std::unique_ptr<FlatModel> model = make_model(config, shape.empty() ? std::vector<int64_t>{1} : shape, classes,
                                                      /*seed=*/1);
  const auto& layers = model->layers();
  const int64_t total = model->num_params();
  std::string title = config.name;
  if (config.name == "mlp") title += fmt::format(" (hidden {})", fmt::join(config.hidden, ","));
  if (script) {
    out << fmt::format("{} | input and classes fixed by the archive | {} parameters in L = {} layers\n", title,
                       grouped(total), layers.size());
  } else {
    out << fmt::format("{} | input [{}] | {} classes | {} parameters in L = {} layers\n", title,
                       fmt::join(shape, ", "), classes, grouped(total), layers.size());
  }

  // Named parameters with their shapes, in flat order (parameters() follows the layer table).
  const std::vector<torch::Tensor> params = model->parameters();
  out << fmt::format("  {:>3}  {:<22} {:<32} {:<18} {:>12} {:>12}\n", "#", "layer", "parameter", "shape", "count",
                     "cumulative");
  size_t k = 0;
  int64_t cumulative = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    for (size_t j = 0; j < layers[l].params.size(); ++j, ++k) {
      const torch::Tensor& p = params.at(k);  // [shape] view into the flat buffer
      cumulative += p.numel();
      out << fmt::format("  {:>3}  {:<22} {:<32} {:<18} {:>12} {:>12}\n", j == 0 ? std::to_string(l + 1) : "",
                         j == 0 ? layers[l].name : "", layers[l].params[j], fmt::format("[{}]", fmt::join(p.sizes(), ", ")),
                         grouped(p.numel()), grouped(cumulative));
    }
  }
  int64_t buffer_numel = 0;
  const std::vector<torch::Tensor> buffers = model->buffers();
  for (const auto& b : buffers) buffer_numel += b.numel();
  if (!buffers.empty()) {
    out << fmt::format("  + {} buffers ({} elements: batch-norm statistics, saved with the model, never shared)\n",
                       buffers.size(), grouped(buffer_numel));
  }

  out << fmt::format("  {:>6}  {:>12} {:>12} {:>8}   (shared = layers 1..n_head, sent each round)\n", "n_head",
                     "shared", "private", "shared%");
  for (int64_t n = 1; n <= static_cast<int64_t>(layers.size()); ++n) {
    const int64_t s = model->shared_numel(n);
    out << fmt::format("  {:>6}  {:>12} {:>12} {:>7.2f}%\n", n, grouped(s), grouped(total - s),
                       100.0 * static_cast<double>(s) / static_cast<double>(total));
  }
  out << "\n";
}

}  // namespace

void add_models_command(CLI::App& root) {
  auto* cmd = root.add_subcommand(
      "models", "List the models: layer table (flat-buffer layout) and shared/private sizes for each n_head");
  struct Args {
    std::string input;
    int64_t classes = 10;
    std::vector<std::string> models;
    std::string hidden;
  };
  auto args = std::make_shared<Args>();
  cmd->add_option("--input", args->input,
                  "Sample shape: C,H,W (image) or D (features); default: 1,28,28 and 3,32,32 (and 60 for logreg/mlp)");
  cmd->add_option("--classes", args->classes, "Number of classes (default 10)")->check(CLI::Range(int64_t{1}, limits::kMaxClasses));
  cmd->add_option("--model", args->models, "Model to list (repeatable; also torchscript:PATH); default: all built-in");
  cmd->add_option("--hidden", args->hidden, "mlp hidden widths, e.g. 200 or 256,128 (default: model.hidden's default)");
  cmd->callback([args] {
    std::vector<std::string> names = args->models.empty() ? builtin_model_names() : args->models;
    ModelConfig base;
    if (!args->hidden.empty()) base.hidden = parse_ints(args->hidden, "--hidden");
    for (const int64_t width : base.hidden)
      if (width > kMaxWidth) throw ConfigError(fmt::format("--hidden: {} is above {} units", width, kMaxWidth));
    std::vector<std::vector<int64_t>> inputs;
    if (!args->input.empty()) {
      inputs.push_back(parse_ints(args->input, "--input"));
      const std::vector<int64_t>& in = inputs[0];
      if (in.size() != 1 && in.size() != 3) throw ConfigError(fmt::format("--input: '{}' must be D or C,H,W", args->input));
      if (in.size() == 1 && in[0] > kMaxFeatures)
        throw ConfigError(fmt::format("--input: D = {} is above {} features", in[0], kMaxFeatures));
      if (in.size() == 3 && (in[0] > kMaxChannels || in[1] > kMaxSide || in[2] > kMaxSide))
        throw ConfigError(fmt::format("--input: {} is beyond C <= {}, H, W <= {}", args->input, kMaxChannels, kMaxSide));
    }
    for (const std::string& name : names) {
      ModelConfig config = base;
      config.name = name;
      std::vector<std::vector<int64_t>> shapes = inputs;
      if (shapes.empty()) {
        shapes = {{1, 28, 28}, {3, 32, 32}};
        if (name == "logreg" || name == "mlp") shapes.push_back({60});
        if (name.rfind("torchscript:", 0) == 0) shapes = {{}};  // the layout does not depend on it
      }
      for (const auto& shape : shapes) print_model(std::cout, config, shape, args->classes);
    }
  });
}

}  // namespace fedsaf::app
