// The in-process communicator's collectives against hand-computed values at 1, 2, 3 and 4 ranks
// (no mpirun: every rank is a thread of this test).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "mpi/in_process_communicator.hpp"
#include "tests/comm/comm_test_support.hpp"

namespace fedsaf {
namespace {

using test::per_rank;

class InProcess : public ::testing::TestWithParam<int> {};

const std::vector<torch::ScalarType> kDtypes = {torch::kFloat32, torch::kFloat64, torch::kInt64, torch::kInt32,
                                               torch::kUInt8};

TEST_P(InProcess, KnowsItsPlace) {
  const int R = GetParam();
  const auto places = per_rank<std::vector<int>>(R, [](Communicator& c) {
    return std::vector<int>{c.rank(), c.size(), c.local_rank(), c.local_size()};
  });
  for (int r = 0; r < R; ++r) EXPECT_EQ(places[static_cast<size_t>(r)], (std::vector<int>{r, R, r, R}));
}

TEST_P(InProcess, AllreduceSumEveryDtype) {
  const int64_t R = GetParam();
  const auto sums = per_rank<std::vector<torch::Tensor>>(GetParam(), [](Communicator& c) {
    std::vector<torch::Tensor> out;
    for (torch::ScalarType dtype : kDtypes) {
      torch::Tensor t = torch::full({2, 3}, c.rank() + 1, torch::dtype(dtype));  // [2, 3]
      c.allreduce_sum(t);
      out.push_back(t);
    }
    return out;
  });
  for (const auto& rank_sums : sums)
    for (size_t i = 0; i < kDtypes.size(); ++i)
      EXPECT_TRUE(rank_sums[i].equal(torch::full({2, 3}, R * (R + 1) / 2, torch::dtype(kDtypes[i]))));
}

// Float sums accumulate in rank order, ((x0 + x1) + x2) + x3, on every rank: with x = (big, 1,
// -big, 1) and 1 lost next to big, that is big, big, 0, 1 for 1..4 ranks (another order gives 2).
TEST_P(InProcess, FloatSumsAccumulateInRankOrder) {
  const int R = GetParam();
  const std::vector<double> expected = {1e8, 1e8, 0, 1};  // float32 (1e8 + 1 == 1e8)
  const std::vector<double> expected64 = {1e17, 1e17, 0, 1};  // float64 (1e17 + 1 == 1e17)
  const auto sums = per_rank<std::vector<double>>(R, [](Communicator& c) {
    const double x32[4] = {1e8, 1, -1e8, 1}, x64[4] = {1e17, 1, -1e17, 1};
    torch::Tensor a = torch::full({3}, x32[c.rank()], torch::kFloat32);  // [3]
    torch::Tensor b = torch::full({3}, x64[c.rank()], torch::kFloat64);   // [3]
    c.allreduce_sum(a);
    c.allreduce_sum(b);
    torch::Tensor fa = torch::full({2}, x32[c.rank()], torch::kFloat32);  // [2]
    torch::Tensor fb = torch::full({2}, x64[c.rank()], torch::kFloat64);  // [2]
    c.allreduce_sum_fused({fa, fb});
    return std::vector<double>{a[2].item<double>(), b[0].item<double>(), fa[1].item<double>(), fb[1].item<double>()};
  });
  for (const auto& s : sums) {
    EXPECT_EQ(s[0], expected[static_cast<size_t>(R - 1)]);
    EXPECT_EQ(s[1], expected64[static_cast<size_t>(R - 1)]);
    EXPECT_EQ(s[2], expected[static_cast<size_t>(R - 1)]);
    EXPECT_EQ(s[3], expected64[static_cast<size_t>(R - 1)]);
  }
}

TEST_P(InProcess, AllreduceMaxTakesTheLargestPerElement) {
  const int R = GetParam();
  const auto maxima = per_rank<torch::Tensor>(R, [](Communicator& c) {
    torch::Tensor t = torch::tensor({static_cast<double>(c.rank()), -static_cast<double>(c.rank())});  // [2]
    c.allreduce_max(t);
    return t;
  });
  for (const auto& m : maxima) EXPECT_TRUE(m.equal(torch::tensor({static_cast<double>(R - 1), 0.0})));
}

TEST_P(InProcess, FusedSumsEveryTensorWhateverItsStrides) {
  const int64_t R = GetParam();
  const auto out = per_rank<std::vector<torch::Tensor>>(GetParam(), [](Communicator& c) {
    torch::Tensor a = torch::full({2}, c.rank() + 1.0, torch::kFloat32);           // [2]
    torch::Tensor b = torch::full({3}, int64_t{c.rank() + 1}, torch::kInt64);        // [3]
    torch::Tensor base = torch::full({2, 2}, c.rank() + 1.0, torch::kFloat32);      // [2, 2]
    torch::Tensor column = base.select(1, 0);                                         // [2], stride 2
    c.allreduce_sum_fused({a, b, column});
    return std::vector<torch::Tensor>{a, b, base.select(1, 0).clone(), base.select(1, 1).clone()};
  });
  const double s = static_cast<double>(R * (R + 1) / 2);
  for (int64_t r = 0; r < R; ++r) {
    const auto& t = out[static_cast<size_t>(r)];
    EXPECT_TRUE(t[0].equal(torch::full({2}, s, torch::kFloat32)));
    EXPECT_TRUE(t[1].equal(torch::full({3}, R * (R + 1) / 2, torch::kInt64)));
    EXPECT_TRUE(t[2].equal(torch::full({2}, s, torch::kFloat32)));  // the summed column
    EXPECT_TRUE(t[3].equal(torch::full({2}, r + 1.0, torch::kFloat32)));  // the other column is untouched
  }
}

TEST_P(InProcess, BroadcastFromEveryRoot) {
  const int R = GetParam();
  const auto got = per_rank<std::vector<int64_t>>(R, [](Communicator& c) {
    std::vector<int64_t> out;
    for (int root = 0; root < c.size(); ++root) {
      torch::Tensor t = torch::full({4}, int64_t{10 * c.rank()}, torch::kInt64);  // [4]
      c.broadcast(t, root);
      out.push_back(t.sum().item<int64_t>());
    }
    return out;
  });
  for (const auto& g : got)
    for (int root = 0; root < R; ++root) EXPECT_EQ(g[static_cast<size_t>(root)], 40 * root);
}

TEST_P(InProcess, AllgatherStacksRanks) {
  const int R = GetParam();
  const auto got = per_rank<torch::Tensor>(R, [](Communicator& c) {
    return c.allgather(torch::tensor({static_cast<float>(c.rank()), 10.0f * c.rank()}));  // [2] -> [R, 2]
  });
  torch::Tensor expected = torch::empty({R, 2});  // [R, 2]
  for (int r = 0; r < R; ++r) expected[r] = torch::tensor({static_cast<float>(r), 10.0f * r});
  for (const auto& g : got) EXPECT_TRUE(g.equal(expected));
}

TEST_P(InProcess, AllgathervConcatenatesRankZeroFirst) {
  const int R = GetParam();
  const auto got = per_rank<Gathered>(R, [](Communicator& c) {
    return c.allgatherv(torch::full({c.rank(), 2}, int64_t{c.rank()}, torch::kInt64));  // [r, 2]
  });
  std::vector<int64_t> counts, values;
  for (int r = 0; r < R; ++r) {
    counts.push_back(r);
    for (int i = 0; i < 2 * r; ++i) values.push_back(r);
  }
  const torch::Tensor expected = torch::tensor(values, torch::kInt64).view({-1, 2});  // [sum r, 2]
  for (const auto& g : got) {
    EXPECT_EQ(g.counts, counts);
    EXPECT_TRUE(g.data.equal(expected));
  }
  // A 0-dim tensor is one row.
  const auto scalars = per_rank<Gathered>(R, [](Communicator& c) { return c.allgatherv(torch::tensor(int64_t{c.rank()})); });
  for (const auto& g : scalars) {
    EXPECT_EQ(g.counts, std::vector<int64_t>(static_cast<size_t>(R), 1));
    EXPECT_TRUE(g.data.equal(torch::arange(R, torch::kInt64)));
  }
}

TEST_P(InProcess, ReduceScatterGivesEachRankItsBlockOfTheSum) {
  const int R = GetParam();
  const auto got = per_rank<torch::Tensor>(R, [](Communicator& c) {
    const torch::Tensor t = (torch::arange(2 * c.size(), torch::kFloat64) + c.rank()).view({c.size(), 2});  // [R, 2]
    return c.reduce_scatter_sum(t);  // [1, 2]
  });
  const double ranks_sum = R * (R - 1) / 2.0;
  for (int r = 0; r < R; ++r)
    EXPECT_TRUE(got[static_cast<size_t>(r)].equal(
        torch::tensor({{R * (2.0 * r) + ranks_sum, R * (2.0 * r + 1) + ranks_sum}}, torch::kFloat64)));
}

TEST_P(InProcess, PointToPointAroundTheRing) {
  const int R = GetParam();
  const auto got = per_rank<std::vector<int64_t>>(R, [](Communicator& c) {
    const int next = (c.rank() + 1) % c.size(), prev = (c.rank() + c.size() - 1) % c.size();
    c.send(torch::full({3}, int64_t{c.rank()}, torch::kInt64), next, 7);
    torch::Tensor a = torch::zeros({3}, torch::kInt64);  // [3]
    c.recv(a, prev, 7);
    torch::Tensor b = torch::zeros({2}, torch::kFloat32);  // [2]
    Request in = c.irecv(b, next, 1);
    Request out = c.isend(torch::full({2}, 100.0f + c.rank()), prev, 1);
    out.wait();
    in.wait();
    EXPECT_FALSE(in.pending());
    c.barrier();
    return std::vector<int64_t>{a[0].item<int64_t>(), static_cast<int64_t>(b[1].item<float>())};
  });
  for (int r = 0; r < R; ++r) {
    EXPECT_EQ(got[static_cast<size_t>(r)][0], (r + R - 1) % R);
    EXPECT_EQ(got[static_cast<size_t>(r)][1], 100 + (r + 1) % R);
  }
}

// The byte counters follow MPI's model (mpi/communicator.hpp, BYTE COUNTERS).
TEST_P(InProcess, ByteCountersFollowTheMpiModel) {
  const int64_t R = GetParam();
  const auto stats = per_rank<std::map<CommKind, CommStats>>(GetParam(), [](Communicator& c) {
    c.allreduce_sum(torch::zeros({4}));                              // 16 bytes
    c.allreduce_sum_fused({torch::zeros({2}), torch::zeros({1}, torch::kFloat64)});  // 8 + 8 bytes
    c.broadcast(torch::zeros({3}), 0);                               // 12 bytes
    c.allgather(torch::zeros({2}));                                  // 8 bytes
    c.allgatherv(torch::zeros({c.rank(), 1}));                       // 4 r bytes
    c.reduce_scatter_sum(torch::zeros({c.size() * 2}));              // 8 R bytes
    c.barrier();                                                     // not counted
    c.send(torch::zeros({5}), c.rank());                             // 20 bytes, to itself
    c.recv(torch::zeros({5}), c.rank());
    return c.stats();
  });
  for (int64_t r = 0; r < R; ++r) {
    const auto& s = stats[static_cast<size_t>(r)];
    EXPECT_EQ(s.at(CommKind::allreduce).bytes_sent, 32);
    EXPECT_EQ(s.at(CommKind::allreduce).bytes_received, 32);
    EXPECT_EQ(s.at(CommKind::allreduce).calls, 2);
    EXPECT_EQ(s.at(CommKind::broadcast).bytes_sent, r == 0 ? 12 : 0);
    EXPECT_EQ(s.at(CommKind::broadcast).bytes_received, r == 0 ? 0 : 12);
    EXPECT_EQ(s.at(CommKind::allgather).bytes_sent, 8 + 4 * r);
    EXPECT_EQ(s.at(CommKind::allgather).bytes_received, 8 * R + 4 * (R * (R - 1) / 2));
    EXPECT_EQ(s.at(CommKind::allgather).calls, 2);
    EXPECT_EQ(s.at(CommKind::reduce_scatter).bytes_sent, 8 * R);
    EXPECT_EQ(s.at(CommKind::reduce_scatter).bytes_received, 8);
    EXPECT_EQ(s.at(CommKind::sendrecv).bytes_sent, 20);
    EXPECT_EQ(s.at(CommKind::sendrecv).bytes_received, 20);
    EXPECT_EQ(s.at(CommKind::sendrecv).calls, 2);
  }
}

// Ranks 0, 1 on node 0 and 2, 3 on node 1: the off-node share of each kind, by hand.
TEST(InProcessNodes, OffNodeBytesFollowTheModel) {
  const auto stats = per_rank<std::map<CommKind, CommStats>>(
      4,
      [](Communicator& c) {
        c.allreduce_sum(torch::zeros({6}));              // 24 bytes; 2 of the 3 others elsewhere: 16
        c.broadcast(torch::zeros({3}), 1);               // 12 bytes from rank 1 (node 0)
        c.allgatherv(torch::zeros({c.rank() + 1, 1}));  // 4 (r + 1) bytes from rank r
        c.reduce_scatter_sum(torch::zeros({8}));         // 32 in, 8 out; off-node: 2/3 of each
        const int partner = (c.rank() + 2) % 4, neighbour = c.rank() ^ 1;  // other node, same node
        c.send(torch::zeros({5}), partner);              // 20 bytes across
        c.recv(torch::zeros({5}), partner);
        c.send(torch::zeros({2}), neighbour);            // 8 bytes within the node
        c.recv(torch::zeros({2}), neighbour);
        return c.stats();
      },
      {0, 0, 1, 1});
  for (int r = 0; r < 4; ++r) {
    const auto& s = stats[static_cast<size_t>(r)];
    const bool node0 = r < 2;
    EXPECT_EQ(s.at(CommKind::allreduce).bytes_sent_off_node, 16);
    EXPECT_EQ(s.at(CommKind::allreduce).bytes_received_off_node, 16);
    EXPECT_EQ(s.at(CommKind::broadcast).bytes_sent_off_node, r == 1 ? 12 : 0);
    EXPECT_EQ(s.at(CommKind::broadcast).bytes_received_off_node, node0 ? 0 : 12);
    // Received from the other node: ranks 2, 3 give 12 + 16 = 28 bytes; ranks 0, 1 give 4 + 8 = 12.
    EXPECT_EQ(s.at(CommKind::allgather).bytes_sent_off_node, 4 * (r + 1));
    EXPECT_EQ(s.at(CommKind::allgather).bytes_received_off_node, node0 ? 28 : 12);
    EXPECT_EQ(s.at(CommKind::allgather).bytes_received, 40);
    EXPECT_EQ(s.at(CommKind::reduce_scatter).bytes_sent_off_node, 32 * 2 / 3);
    EXPECT_EQ(s.at(CommKind::reduce_scatter).bytes_received_off_node, 8 * 2 / 3);
    EXPECT_EQ(s.at(CommKind::sendrecv).bytes_sent, 28);
    EXPECT_EQ(s.at(CommKind::sendrecv).bytes_sent_off_node, 20);
    EXPECT_EQ(s.at(CommKind::sendrecv).bytes_received_off_node, 20);
  }
}

TEST(InProcessNodes, KnowsEveryRanksNodeAndRefusesABadTable) {
  const auto places = per_rank<std::vector<int>>(
      3, [](Communicator& c) { return std::vector<int>{c.local_rank(), c.local_size(), c.node_count(), c.node_of(2)}; },
      {0, 1, 0});
  EXPECT_EQ(places[0], (std::vector<int>{0, 2, 2, 0}));
  EXPECT_EQ(places[1], (std::vector<int>{0, 1, 2, 0}));
  EXPECT_EQ(places[2], (std::vector<int>{1, 2, 2, 0}));
  EXPECT_NE(test::error_of([] { InProcessGroup(3, {1, 0, 0}); }).find("order of first appearance"), std::string::npos);
  EXPECT_NE(test::error_of([] { InProcessGroup(3, {0, 0}); }).find("2 node entries for 3 ranks"), std::string::npos);
}

TEST_P(InProcess, ErrorAgreementOnEveryRank) {
  const int R = GetParam();
  const auto got = per_rank<std::vector<std::string>>(R, [](Communicator& c) {
    std::vector<std::string> out;
    out.push_back(any_rank_failed(c.rank() == c.size() - 1, c) ? "any" : "none");
    out.push_back(any_rank_failed(false, c) ? "any" : "none");
    out.push_back(broadcast_string("from " + std::to_string(c.rank()), c.size() - 1, c));
    try {
      agreed([&] { if (c.rank() == c.size() - 1) throw Error("bad input"); }, c);
      out.push_back("no error");
    } catch (const AgreedError& e) {
      out.push_back(e.what());
    }
    const std::vector<int64_t> sizes = c.gather_sizes(10 + c.rank());
    out.push_back(std::to_string(sizes.back()));
    return out;
  });
  const std::string message = R == 1 ? "bad input" : "rank " + std::to_string(R - 1) + ": bad input";
  for (const auto& g : got)
    EXPECT_EQ(g, (std::vector<std::string>{"any", "none", "from " + std::to_string(R - 1), message,
                                           std::to_string(10 + R - 1)}));
}

TEST_P(InProcess, ArgumentErrorsNameTheOperation) {
  run_in_process(GetParam(), [](Communicator& c) {
    EXPECT_EQ(test::error_of([&] { c.allreduce_sum(torch::zeros({2, 2}).t()); }).rfind("allreduce_sum: tensor [2, 2]", 0), 0u);
    EXPECT_EQ(test::error_of([&] { c.broadcast(torch::zeros({1}, torch::kInt16), 0); }),
              "broadcast: unsupported dtype Short; supported: float32, float64, int64, int32, uint8");
    c.send(torch::zeros({2}), c.rank(), 3);
    EXPECT_EQ(test::error_of([&] { c.recv(torch::zeros({1}), c.rank(), 3); }),
              "recv from rank " + std::to_string(c.rank()) + " (tag 3): expected 1 elements of float32, got 2 of float32");
    EXPECT_EQ(test::error_of([&] { c.send(torch::zeros({1}), c.size()); }),
              "send: destination rank " + std::to_string(c.size()) + " is out of range for " +
                  std::to_string(c.size()) + " ranks");
  });
}

// Where every rank breaks the contract alike, every rank throws (checks are always on).
TEST_P(InProcess, ContractBreachThrowsOnEveryRank) {
  if (GetParam() == 1) GTEST_SKIP() << "one rank cannot disagree with itself";
  const auto got = per_rank<std::string>(GetParam(), [](Communicator& c) {
    return test::error_of([&] { c.allreduce_sum(torch::zeros({1 + c.rank()})); });
  });
  for (const auto& g : got)
    EXPECT_EQ(g, "allreduce_sum: ranks break the collective contract: rank 0 called allreduce_sum(float32, 1 elements, "
                 "0), rank 1 called allreduce_sum(float32, 2 elements, 0)");
}

INSTANTIATE_TEST_SUITE_P(Ranks, InProcess, ::testing::Values(1, 2, 3, 4));

}  // namespace
}  // namespace fedsaf
