// The client-state store (src/algo/client_state_store.hpp): rows, flags and scalars by client and
// by group, where rows live (device budget, then host), errors that name the state, and a
// save/load round trip through the StateWriter/StateReader interfaces the checkpoint and the
// re-placement mover use.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "algo/client_state_store.hpp"
#include "core/errors.hpp"
#include "tests/common/test_support.hpp"

namespace fedsaf {
namespace {

// Keeps what is saved, and hands it back as a checkpoint reader would (only the asked clients).
class MemoryState : public StateWriter, public StateReader {
 public:
  void global(const std::string& name, const torch::Tensor& value) override { globals_[name] = value.clone(); }
  void per_client(const std::string& name, int64_t numel, torch::ScalarType dtype,
                  const std::map<int64_t, torch::Tensor>& rows) override {
    for (const auto& [c, row] : rows) {
      EXPECT_EQ(row.numel(), numel) << name;
      rows_[name][c] = row.to(torch::kCPU, dtype, false, true);
    }
    dtypes_[name] = dtype;
  }
  torch::Tensor global(const std::string& name) override { return globals_.at(name); }
  std::map<int64_t, torch::Tensor> per_client(const std::string& name, const std::vector<int64_t>& hosted) override {
    std::map<int64_t, torch::Tensor> out;
    for (int64_t c : hosted)
      if (rows_[name].count(c)) out[c] = rows_[name][c];
    return out;
  }
  std::map<std::string, torch::ScalarType> dtypes_;

 private:
  std::map<std::string, torch::Tensor> globals_;
  std::map<std::string, std::map<int64_t, torch::Tensor>> rows_;
};

TEST(ClientStateStore, RowsByClientAndByGroup) {
  ClientStateStore store;
  RowState& theta = store.rows("theta", 3, torch::kFloat32);
  theta.put(4, torch::tensor({1.f, 2.f, 3.f}));
  theta.put(1, torch::tensor({4.0, 5.0, 6.0}, torch::kFloat64));  // converted to float32
  EXPECT_TRUE(theta.has(4));
  EXPECT_FALSE(theta.has(2));
  EXPECT_EQ(theta.clients(), (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(theta.get(1).scalar_type(), torch::kFloat32);
  // A put on an existing row writes into it: a tensor read before sees the new values.
  const torch::Tensor before = theta.get(4);
  theta.put(4, torch::tensor({7.f, 8.f, 9.f}));
  EXPECT_TRUE(torch::equal(before, torch::tensor({7.f, 8.f, 9.f})));
  // The first two elements of clients 4 and 1, in that order.
  EXPECT_TRUE(torch::equal(theta.gather({4, 1}, 2), torch::tensor({7.f, 8.f, 4.f, 5.f}).reshape({2, 2})));
  theta.scatter({2, 4}, torch::arange(6, torch::kFloat32).reshape({2, 3}));
  EXPECT_TRUE(torch::equal(theta.get(2), torch::tensor({0.f, 1.f, 2.f})));
  EXPECT_TRUE(torch::equal(theta.get(4), torch::tensor({3.f, 4.f, 5.f})));
}

// Clients without a row read a fallback (the initial model of a client that never trained), and
// keep no row of their own until one is put.
TEST(ClientStateStore, ClientsWithoutARowReadTheFallback) {
  ClientStateStore store;
  RowState& theta = store.rows("theta", 3, torch::kFloat32);
  const torch::Tensor initial = torch::tensor({9.f, 8.f, 7.f});  // [3]
  theta.put(5, torch::tensor({1.f, 2.f, 3.f}));
  EXPECT_TRUE(torch::equal(theta.get_or(5, initial), torch::tensor({1.f, 2.f, 3.f})));
  EXPECT_TRUE(torch::equal(theta.get_or(6, initial), initial));
  EXPECT_FALSE(theta.has(6));
  // Rows in the asked order, the fallback's first 2 elements where there is no row.
  EXPECT_TRUE(torch::equal(theta.gather_or({6, 5, 0}, 2, initial),
                           torch::tensor({9.f, 8.f, 1.f, 2.f, 9.f, 8.f}).reshape({3, 2})));
  EXPECT_TRUE(torch::equal(theta.gather_or({5}, 3, initial), torch::tensor({1.f, 2.f, 3.f}).reshape({1, 3})));
  EXPECT_EQ(theta.gather_or({}, 3, initial).sizes(), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(theta.clients(), (std::vector<int64_t>{5}));
}

// A gather into a kept RowBuffer gives the same rows as a fresh one, round after round, and
// reuses the buffer's memory while the rows fit (no fresh pages per round).
TEST(ClientStateStore, GathersIntoAKeptBufferReuseItsRows) {
  ClientStateStore store;
  RowState& theta = store.rows("theta", 3, torch::kFloat32);
  const torch::Tensor initial = torch::tensor({9.f, 8.f, 7.f});  // [3]
  for (int64_t c = 0; c < 5; ++c) theta.put(c, torch::full({3}, static_cast<float>(c)));
  RowBuffer kept;
  const torch::Tensor first = theta.gather({4, 1, 3}, 3, &kept);  // [3, 3]
  EXPECT_TRUE(torch::equal(first, theta.gather({4, 1, 3}, 3)));
  const void* memory = first.data_ptr();
  // Fewer rows, and a fallback: the same memory, the right values.
  const torch::Tensor second = theta.gather_or({7, 2}, 3, initial, &kept);  // [2, 3]
  EXPECT_TRUE(torch::equal(second, torch::tensor({9.f, 8.f, 7.f, 2.f, 2.f, 2.f}).reshape({2, 3})));
  EXPECT_EQ(second.data_ptr(), memory);
  // More rows than it has: a new buffer of at least twice the rows, then kept again.
  const torch::Tensor third = theta.gather({0, 1, 2, 3, 4}, 3, &kept);  // [5, 3]
  EXPECT_TRUE(torch::equal(third, theta.gather({0, 1, 2, 3, 4}, 3)));
  const torch::Tensor fourth = theta.gather_or({5, 0, 1, 2, 3, 4}, 3, initial, &kept);  // [6, 3]: fits in 2 × 3
  EXPECT_EQ(fourth.data_ptr(), third.data_ptr());
  EXPECT_TRUE(torch::equal(fourth[0], initial));
  EXPECT_THROW(theta.gather({9}, 3, &kept), Error);  // no row and no fallback
}

TEST(ClientStateStore, ErrorsNameTheState) {
  ClientStateStore store;
  RowState& mix = store.rows("mix", 2, torch::kFloat32);
  try {
    mix.put(0, torch::zeros({3}));
    FAIL() << "a row of the wrong size was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'mix': a row of 3 elements, expected 2"), std::string::npos) << e.what();
  }
  try {
    mix.get(7);
    FAIL() << "a missing row was returned";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'mix': client 7 has no row"), std::string::npos) << e.what();
  }
  EXPECT_THROW(store.flags("mix"), Error);  // declared twice
}

TEST(ClientStateStore, RowsFillTheDeviceBudgetThenTheHost) {
  ClientStateStore store(std::make_shared<ClientMemory>(torch::kCPU, 20));  // bytes: two rows of 2 float32
  RowState& rows = store.rows("rows", 2, torch::kFloat32);
  for (int64_t c = 0; c < 3; ++c) rows.put(c, torch::full({2}, static_cast<float>(c)));
  EXPECT_EQ(store.device_bytes(), 16);
  EXPECT_EQ(store.host_bytes(), 8);
  EXPECT_EQ(store.budget_bytes(), 20);
  rows.put(0, torch::zeros({2}));  // an existing row stays where it is: no new bytes
  EXPECT_EQ(store.device_bytes() + store.host_bytes(), 24);
  EXPECT_TRUE(torch::equal(rows.get(2), torch::full({2}, 2.f)));  // spilled rows read the same
}

TEST(ClientStateStore, RowsInTheDiskTierReadAndWriteLikeAnyOther) {
  const test::TempDir dir("fedsaf-state");
  ClientStateStore store(std::make_shared<ClientMemory>(torch::kCPU, ClientMemoryBudget{0, 0, dir.str()}));
  RowState& rows = store.rows("theta", 3, torch::kFloat32);
  rows.put(1, torch::tensor({1.f, 2.f, 3.f}));
  rows.put(4, torch::tensor({4.f, 5.f, 6.f}));
  EXPECT_EQ(store.disk_bytes(), 24);
  EXPECT_EQ(store.device_bytes() + store.host_bytes(), 0);
  torch::Tensor read = rows.get(1);  // [3] a copy: the file keeps the row
  read.fill_(0.f);
  EXPECT_TRUE(torch::equal(rows.get(1), torch::tensor({1.f, 2.f, 3.f})));
  rows.put(1, torch::tensor({7.f, 8.f, 9.f}));
  EXPECT_EQ(store.disk_bytes(), 24) << "an existing row is written in place";
  store.prefetch({1, 4, 99});  // 99 has no row: skipped
  EXPECT_TRUE(torch::equal(rows.gather({4, 1}, 2), torch::tensor({4.f, 5.f, 7.f, 8.f}).reshape({2, 2})));
  EXPECT_EQ(store.memory_budget().state_dir, dir.str());
}

TEST(ClientStateStore, SaveAndLoadEveryStateInDeclarationOrder) {
  MemoryState saved;
  {
    ClientStateStore store;
    RowState& theta = store.rows("theta", 2, torch::kFloat32);
    FlagState& uploaded = store.flags("uploaded");
    ScalarState& scalar = store.scalars("fisher_scalar");
    for (int64_t c : {0, 1, 2}) theta.put(c, torch::full({2}, 0.5f * static_cast<float>(c)));
    uploaded.insert(1);
    uploaded.insert(2);
    scalar.put(2, 0.25);
    store.save(saved);
  }
  EXPECT_EQ(saved.dtypes_.at("theta"), torch::kFloat32);
  EXPECT_EQ(saved.dtypes_.at("uploaded"), torch::kInt64);
  EXPECT_EQ(saved.dtypes_.at("fisher_scalar"), torch::kFloat64);

  // A rank that now hosts clients 1 and 2 (client 2 has a row from init already).
  ClientStateStore store;
  RowState& theta = store.rows("theta", 2, torch::kFloat32);
  FlagState& uploaded = store.flags("uploaded");
  ScalarState& scalar = store.scalars("fisher_scalar");
  theta.put(2, torch::full({2}, -1.f));
  const torch::Tensor row2 = theta.get(2);
  uploaded.insert(9);  // replaced by the saved flags
  store.load(saved, {1, 2});
  EXPECT_EQ(theta.clients(), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(torch::equal(theta.get(1), torch::full({2}, 0.5f)));
  EXPECT_TRUE(torch::equal(row2, torch::full({2}, 1.f)));  // loaded into the row already there
  EXPECT_EQ(uploaded.clients(), (std::set<int64_t>{1, 2}));
  EXPECT_FALSE(scalar.has(1));
  EXPECT_DOUBLE_EQ(scalar.get(2), 0.25);
}

}  // namespace
}  // namespace fedsaf
