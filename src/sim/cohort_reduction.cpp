#include "sim/cohort_reduction.hpp"

#include <fmt/format.h>

#include <limits>

#include "core/errors.hpp"
#include "mpi/communicator.hpp"

namespace fedsaf {

namespace {
const double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

CohortReduction::CohortReduction(std::vector<Statistic> statistics, int64_t num_clients, torch::Device device)
    : statistics_(std::move(statistics)), num_clients_(num_clients), device_(device) {
  int64_t summed = 0, maximised = 0;
  for (const Statistic& s : statistics_) {
    if (s.width < 0) throw Error(fmt::format("cohort statistic '{}': width {} < 0", s.name, s.width));
    switch (s.reduction) {
      case Reduction::weighted_mean:
        offset_.push_back(summed);
        summed += s.width + 1;  // Σ n_k·v_k, then Σ n_k
        break;
      case Reduction::sum:
        offset_.push_back(summed);
        summed += s.width;
        break;
      case Reduction::max:
        offset_.push_back(maximised);
        maximised += s.width;
        break;
      case Reduction::rows:
        offset_.push_back(0);
        break;
    }
  }
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(device_);
  if (summed > 0) sums_ = torch::zeros({summed}, f64);
  if (maximised > 0) maxima_ = torch::empty({maximised}, f64);
  row_clients_.resize(statistics_.size());
  row_values_.resize(statistics_.size());
  reset();
}

void CohortReduction::reset() {
  if (sums_.defined()) sums_.zero_();
  if (maxima_.defined()) maxima_.fill_(-kInf);
  for (auto& clients : row_clients_) clients.clear();
  for (auto& values : row_values_) values.clear();
}

void CohortReduction::add(int64_t client, double n, const ClientStatistics& values) {
  for (size_t i = 0; i < statistics_.size(); ++i) {
    const Statistic& s = statistics_[i];
    const torch::Tensor* found = values.find(s.name);
    if (found == nullptr || !found->defined() || found->numel() != s.width)
      throw Error(fmt::format("client {}: the algorithm's statistic '{}' needs [{}] values, got {}", client, s.name,
                              s.width, found == nullptr || !found->defined() ? "none" : std::to_string(found->numel())));
    const torch::Tensor v = found->reshape({s.width}).to(device_, torch::kFloat64);  // [width]
    switch (s.reduction) {
      case Reduction::weighted_mean:
        sums_.narrow(0, offset_[i], s.width).add_(v, n);
        sums_[offset_[i] + s.width] += n;
        break;
      case Reduction::sum:
        sums_.narrow(0, offset_[i], s.width).add_(v);
        break;
      case Reduction::max: {
        torch::Tensor slot = maxima_.narrow(0, offset_[i], s.width);  // [width]
        slot.copy_(torch::maximum(slot, v));
        break;
      }
      case Reduction::rows:
        row_clients_[i].push_back(client);
        row_values_[i].push_back(v.clone());
        break;
    }
  }
}

CohortStatistics CohortReduction::reduce(Communicator& comm) {
  if (sums_.defined()) comm.allreduce_sum(sums_);  // every weighted mean's and sum's values, one call
  if (maxima_.defined()) comm.allreduce_max(maxima_);
  CohortStatistics out;
  for (size_t i = 0; i < statistics_.size(); ++i) {
    const Statistic& s = statistics_[i];
    switch (s.reduction) {
      case Reduction::weighted_mean: {
        const double total = sums_[offset_[i] + s.width].item<double>();  // Σ n_k
        out.set(s.name, total > 0 ? (sums_.narrow(0, offset_[i], s.width) / total).to(torch::kFloat32)
                                  : torch::Tensor());  // [width]
        break;
      }
      case Reduction::sum:
        out.set(s.name, sums_.narrow(0, offset_[i], s.width).clone());  // [width]
        break;
      case Reduction::max:
        out.set(s.name, maxima_.narrow(0, offset_[i], s.width).clone());  // [width]
        break;
      case Reduction::rows: {
        const auto k = static_cast<int64_t>(row_clients_[i].size());
        const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(device_);
        const torch::Tensor mine = k > 0 ? torch::stack(row_values_[i]) : torch::empty({0, s.width}, f64);  // [k, width]
        const Gathered ids = comm.allgatherv(torch::tensor(row_clients_[i], torch::kInt64).reshape({k}));  // [K]
        const Gathered rows = comm.allgatherv(mine);                                                      // [K, width]
        torch::Tensor table = torch::full({num_clients_, s.width}, kNaN, f64);                            // [N, width]
        if (ids.data.numel() > 0) table.index_copy_(0, ids.data.to(device_), rows.data.to(device_));
        out.set(s.name, table);
        break;
      }
    }
  }
  reset();
  return out;
}

}  // namespace fedsaf
