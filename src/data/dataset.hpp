#pragma once
// A data set held once per rank: every sample in one contiguous tensor, so a batch is an
// index_select, never a loop over per-sample objects.
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace fedsaf {

struct Dataset {
  std::string name;     // "synthetic", "fashionmnist", "cifar10", or the file name
  torch::Tensor x;      // [N, C, H, W] uint8 (images) or [N, D] float32
  torch::Tensor y;      // [N] int64, values in [0, num_classes)
  torch::Tensor group;  // [N] int64 natural group id (client for `natural`), or undefined
  int64_t num_classes = 0;
  std::vector<std::string> class_names;  // num_classes entries (may be "0", "1", ... )
  // Normalisation applied by batch(): out = (x * scale - mean[c]) / std[c]; one entry per channel
  // (images) or a single entry (vectors).
  double scale = 1.0;
  std::vector<double> mean{0.0};
  std::vector<double> std{1.0};

  int64_t size() const { return y.size(0); }
  std::vector<int64_t> sample_shape() const;  // e.g. {1, 28, 28} or {60}
  // The float32, normalised batch for the given sample indices, on x's device.
  // idx: [B] int64 on x's device → [B, ...].
  torch::Tensor batch(const torch::Tensor& idx) const;
  // The same data set with x and y on `device` (x stays uint8 for images: a quarter of the
  // memory of float32; batch() converts on the device). On the CPU it shares the tensors.
  Dataset on(const torch::Device& device) const;
  std::vector<int64_t> labels() const;  // y as a std::vector, for torch-free partitioning
  std::vector<int64_t> groups() const;  // group as a std::vector; empty when undefined
};

// The job's ranks, for a reader that splits its work among them (the synthetic generator: each
// rank generates a share of the clients, then they are joined): this rank, how many, and the
// collective that joins every rank's rows in rank order. The default is one rank alone.
struct ReaderRanks {
  int rank = 0;
  int size = 1;
  std::function<torch::Tensor(const torch::Tensor&)> join_rows;  // [n_r, ...] → [Σ n_r, ...], rank 0's first
};

// Loads the data set the config names (all samples: for sets with a train/test file split, the
// train and test files are concatenated, train first; clients get their own splits later) and
// sets its normalisation from data.normalize. Collective over `ranks` when it has more than one
// (every rank gets the same data set). Throws DataError naming the file and the problem.
Dataset load_dataset(const Config& config, const ReaderRanks& ranks = {});

}  // namespace fedsaf
