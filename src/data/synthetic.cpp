// FedProx Synthetic(alpha, beta) (Li et al. 2020, "Federated Optimization in Heterogeneous
// Networks"; the generator of LEAF / FedProx's generate_synthetic.py). Each client k draws
//   u_k ~ N(0, alpha²), B_k ~ N(0, beta²)                  (alpha, beta are standard deviations,
//                                                            as numpy.random.normal's scale)
//   W_k [C, D] ~ N(u_k, 1), b_k [C] ~ N(u_k, 1), v_k [D] ~ N(B_k, 1)
//   x ~ N(v_k, Σ), Σ = diag(j^-1.2), j = 1..D;  y = argmax softmax(W_k x + b_k) = argmax(W_k x + b_k)
// and n_k = min_samples + floor(lognormal(size_mu, size_sigma)) samples, capped at max_samples.
// Every number of client k comes from RngStream(seed, kSynthetic, k, 0), so client k's data
// (its sample count included) depend only on (seed, k), not on how many clients exist.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/errors.hpp"
#include "core/rng.hpp"
#include "data/dataset_registry.hpp"
#include "data/readers.hpp"

namespace fedsaf {

namespace {

// Client k's sample count: the first draw of its stream.
int64_t draw_sample_count(RngStream& rng, const SyntheticConfig& c) {
  const double lognormal = std::exp(c.size_mu + c.size_sigma * rng.normal());
  // Cap in double before converting: exp() may be huge or inf.
  const double extra = std::min(std::floor(lognormal), static_cast<double>(c.max_samples - c.min_samples));
  return c.min_samples + static_cast<int64_t>(extra);
}

// Fills x [n, D] and y [n] of one client from its stream (positioned after the sample count).
void generate_client(RngStream& rng, const SyntheticConfig& c, int64_t n, const std::vector<double>& sqrt_sigma,
                     float* x, int64_t* y) {
  const int64_t d = c.features, k = c.classes;
  const double u = c.alpha * rng.normal();  // mean of the client's model
  const double b_mean = c.beta * rng.normal();  // mean of the client's input mean
  // Drawn in bulk in the order of the formulas above: v, then W, then b, then each sample's noise.
  const auto shifted_normals = [&rng](std::vector<double>& out, double shift) {
    rng.normals(out.data(), static_cast<int64_t>(out.size()));
    for (auto& value : out) value += shift;
  };
  std::vector<double> v(static_cast<size_t>(d));  // [D] input mean
  shifted_normals(v, b_mean);
  std::vector<double> w(static_cast<size_t>(k * d));  // [C, D] row-major
  shifted_normals(w, u);
  std::vector<double> b(static_cast<size_t>(k));  // [C]
  shifted_normals(b, u);

  std::vector<double> xi(static_cast<size_t>(d));  // [D] one sample in double
  for (int64_t s = 0; s < n; ++s) {
    rng.normals(xi.data(), d);
    for (int64_t j = 0; j < d; ++j) {
      xi[j] = v[j] + sqrt_sigma[j] * xi[j];
      x[s * d + j] = static_cast<float>(xi[j]);
    }
    // softmax is monotone, so the argmax of the logits is the argmax of the probabilities.
    int64_t best = 0;
    double best_logit = -std::numeric_limits<double>::infinity();
    for (int64_t ci = 0; ci < k; ++ci) {
      double logit = b[ci];
      const double* wr = &w[ci * d];
      for (int64_t j = 0; j < d; ++j) logit += wr[j] * xi[j];
      if (logit > best_logit) {
        best_logit = logit;
        best = ci;
      }
    }
    y[s] = best;
  }
}

}  // namespace

Dataset make_synthetic(const SyntheticConfig& config, int64_t num_clients, uint64_t seed, const ReaderRanks& ranks) {
  const std::string where = "data.synthetic";
  if (num_clients < 1 || num_clients > std::numeric_limits<uint32_t>::max()) {
    throw ConfigError(fmt::format("{}: run.clients = {} must be in [1, 2^32)", where, num_clients));
  }
  if (config.features < 1) throw ConfigError(fmt::format("{}.features = {} must be >= 1", where, config.features));
  if (config.classes < 2) throw ConfigError(fmt::format("{}.classes = {} must be >= 2", where, config.classes));
  if (config.min_samples < 1 || config.max_samples < config.min_samples) {
    throw ConfigError(fmt::format("{}: need 1 <= min_samples ({}) <= max_samples ({})", where, config.min_samples,
                                  config.max_samples));
  }
  if (!(config.alpha >= 0.0) || !(config.beta >= 0.0) || !(config.size_sigma >= 0.0) ||
      !std::isfinite(config.size_mu)) {
    throw ConfigError(fmt::format("{}: alpha ({}), beta ({}) and size_sigma ({}) must be >= 0 and size_mu ({}) finite",
                                  where, config.alpha, config.beta, config.size_sigma, config.size_mu));
  }

  // One stream per client; the first draw of each is its sample count, so the total is known
  // before the single allocation.
  std::vector<RngStream> streams;
  std::vector<int64_t> counts;
  streams.reserve(static_cast<size_t>(num_clients));
  int64_t total = 0;
  for (int64_t k = 0; k < num_clients; ++k) {
    streams.emplace_back(seed, RngPurpose::kSynthetic, static_cast<uint32_t>(k), 0u);
    counts.push_back(draw_sample_count(streams.back(), config));
    total += counts.back();
  }

  std::vector<double> sqrt_sigma(static_cast<size_t>(config.features));  // [D] sqrt(Σ_jj)
  for (int64_t j = 0; j < config.features; ++j) sqrt_sigma[j] = std::pow(static_cast<double>(j + 1), -0.6);

  Dataset data;
  data.name = "synthetic";
  data.group = torch::empty({total}, torch::kInt64);  // [N] client id
  int64_t* g = data.group.data_ptr<int64_t>();
  std::vector<int64_t> first_sample{0};  // [clients + 1] where each client's samples begin
  for (int64_t k = 0; k < num_clients; ++k) {
    std::fill(g + first_sample.back(), g + first_sample.back() + counts[k], k);
    first_sample.push_back(first_sample.back() + counts[k]);
  }
  // This rank's clients: a contiguous range holding about its share of the samples (the
  // generation's cost is per sample); every client when the rank is alone.
  const auto client_at = [&](int r) {
    const int64_t target = total * r / ranks.size;
    const auto at = std::lower_bound(first_sample.begin(), first_sample.end(), target);
    return static_cast<int64_t>(at - first_sample.begin());
  };
  const bool split = ranks.size > 1 && ranks.join_rows;
  const int64_t lo = split ? std::min(client_at(ranks.rank), num_clients) : 0;
  const int64_t hi = split ? std::min(client_at(ranks.rank + 1), num_clients) : num_clients;
  const int64_t rows = first_sample[hi] - first_sample[lo];
  torch::Tensor x = torch::empty({rows, config.features}, torch::kFloat32);  // [n_r, D] this rank's samples
  torch::Tensor y = torch::empty({rows}, torch::kInt64);                     // [n_r]
  float* xp = x.data_ptr<float>();
  int64_t* yp = y.data_ptr<int64_t>();
  for (int64_t k = lo; k < hi; ++k) {
    const int64_t at = first_sample[k] - first_sample[lo];
    generate_client(streams[k], config, counts[k], sqrt_sigma, xp + at * config.features, yp + at);
  }
  data.x = split ? ranks.join_rows(x) : x;  // [N, D]
  data.y = split ? ranks.join_rows(y) : y;  // [N]
  data.num_classes = config.classes;
  for (int64_t c = 0; c < config.classes; ++c) data.class_names.push_back(std::to_string(c));
  return data;
}

namespace {
const bool registered = datasets().add(
    {10, "synthetic", "(FedProx Synthetic(alpha, beta) generated from [data.synthetic], no files)"},
    [](const Config& c, const ReaderRanks& ranks) {
      return DatasetSource{make_synthetic(c.data.synthetic, c.run.clients, c.run.seed, ranks), "synthetic data"};
    });
}  // namespace

}  // namespace fedsaf
