#pragma once
// Compares the results in two run files: every data set that does not measure time or bytes on
// the wire, exactly (tol = 0) or within tol. Both files must be complete.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "io/h5.hpp"

namespace fedsaf::test {

// Every data set of a run file that does not measure time, as doubles (rank 0 reads).
inline std::map<std::string, std::vector<double>> results_of(const std::string& run_file) {
  static const char* kPaths[] = {
      "metrics/rounds/round", "metrics/rounds/cohort_size", "metrics/rounds/train_loss",
      "metrics/rounds/protocol_bytes_up", "metrics/rounds/protocol_bytes_down", "metrics/eval/round",
      "metrics/eval/accuracy", "metrics/eval/accuracy_mean", "metrics/eval/accuracy_std", "metrics/eval/loss",
      "metrics/eval/auc", "metrics/eval/client_accuracy", "attention/rows", "attention/guard_fired",
      "attention/sigma", "attention/xi_round", "attention/xi", "fisher/mean", "fisher/max", "partition/sizes"};
  std::map<std::string, std::vector<double>> out;
  const h5::File file = h5::File::open(run_file, h5::Mode::kRead);
  for (const char* path : kPaths) {
    if (!file.exists(path)) continue;
    const h5::Dataset d = file.open_dataset(path);
    out[path] = h5::visit_dtype(d.dtype(), [&](auto zero) {
      const auto stored = d.read<decltype(zero)>();
      return std::vector<double>(stored.begin(), stored.end());
    });
  }
  EXPECT_EQ(file.attrs().get_string("status"), "complete") << run_file;
  return out;
}

inline void expect_same_results(const std::string& a, const std::string& b, double tol) {
  const auto x = results_of(a), y = results_of(b);
  ASSERT_EQ(x.size(), y.size());
  for (const auto& [path, values] : x) {
    const auto& other = y.at(path);
    ASSERT_EQ(values.size(), other.size()) << path;
    for (size_t i = 0; i < values.size(); ++i) {
      if (std::isnan(values[i]) && std::isnan(other[i])) continue;
      if (tol == 0) ASSERT_EQ(values[i], other[i]) << path << "[" << i << "]";
      else ASSERT_NEAR(values[i], other[i], tol) << path << "[" << i << "]";
    }
  }
}

}  // namespace fedsaf::test
