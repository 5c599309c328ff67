// `fedsaf plan [CONFIG] [--set K=V]... --ranks R [--ranks-per-node K] [--node-memory-gb G] [--json]`:
// before a big job is submitted, what each rank will hold (client state by tier, data, workspace),
// send per round and write in checkpoints, and how long rounds take, from a short calibration on
// this machine (src/sim/plan.hpp, docs/plan.md). Exits with kExitWillNotFit when a rank's peak
// exceeds its share of a node's memory.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>

#include "algo/client_memory.hpp"
#include "app/cli.hpp"
#include "app/commands.hpp"
#include "app/config_args.hpp"
#include "sim/gpu_info.hpp"
#include "sim/host_memory.hpp"
#include "sim/plan.hpp"
#include "sim/plan_calibration.hpp"
#include "sim/plan_inputs.hpp"

namespace fedsaf::app {

namespace {

struct PlanArgs {
  ConfigArgs config;
  int ranks = 0;
  int ranks_per_node = 0;       // 0: every rank on one node
  double node_memory_gb = 0;    // 0: this machine's available memory
  int64_t calibrate_clients = 8;
  bool json = false;
};

// Bytes in the largest decimal unit that keeps the number at least 1 (as `fedsaf inspect` and
// the run summary count: 1 MB = 10^6 bytes).
std::string size_text(int64_t bytes) {
  const auto b = static_cast<double>(bytes);
  if (b >= 1e9) return fmt::format("{:.2f} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.1f} MB", b / 1e6);
  if (b >= 1e3) return fmt::format("{:.1f} kB", b / 1e3);
  return fmt::format("{} B", bytes);
}

PlanMachine machine_of(const Config& config, const PlanArgs& args) {
  PlanMachine m;
  // A node holds at most the job's ranks: `--ranks-per-node 8 --ranks 2` is 2 ranks on one node.
  m.ranks_per_node = args.ranks_per_node > 0 ? std::min(args.ranks_per_node, args.ranks) : args.ranks;
  m.node_memory_bytes =
      args.node_memory_gb > 0 ? static_cast<int64_t>(args.node_memory_gb * 1e9) : memory_available_bytes();
  const std::vector<GpuInfo> gpus = config.run.device == "cpu" ? std::vector<GpuInfo>{} : visible_gpus();
  m.gpu = !gpus.empty();
  const int sharing = m.gpu ? (m.ranks_per_node + static_cast<int>(gpus.size()) - 1) / static_cast<int>(gpus.size()) : 1;
  m.device_budget_bytes =
      client_state_budget(config.run.device_state_mb, m.gpu ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU),
                          m.gpu ? gpus.front().total_bytes : 0, sharing, config.run.state_dir);
  m.host_budget_bytes =
      client_state_host_budget(config.run.host_state_mb, config.run.state_dir, m.node_memory_bytes, m.ranks_per_node);
  m.disk_tier = !config.run.state_dir.empty();
  return m;
}

void print_text(const Config& config, const PlanSetup& setup, const PlanMachine& machine, const PlanRates& rates,
                const RunPlan& plan) {
  const PlanInputs& in = setup.inputs;
  std::cout << fmt::format(
      "fedsaf plan: {} with {} clients on {} rank(s), {} per node; {} rounds, cohort {} (run.join_ratio {}); "
      "model {}, P = {}\n",
      in.algorithm, in.num_clients(), in.ranks, machine.ranks_per_node, in.rounds(), in.cohorts.front().size(),
      config.run.join_ratio, config.model.name, in.params);
  std::cout << fmt::format(
      "calibrated here ({} thread(s)): training {:.1f} us per sample and epoch (with the algorithm's hooks), "
      "evaluation {:.1f} us per sample, GEMM {:.1f} GFLOP/s{}, memory copy {:.1f} GB/s, process {} without data\n\n",
      config.run.threads_per_rank, rates.train_seconds_per_sample * 1e6, rates.eval_seconds_per_sample * 1e6,
      rates.gemm_flops_per_second / 1e9,
      in.pairwise ? fmt::format(" (the attention stage {:.1f}; its uploads gathered at {:.1f} GB/s)",
                                rates.attention_flops_per_second / 1e9, rates.held_bytes_per_second / 1e9)
                  : "",
      rates.copy_bytes_per_second / 1e9, size_text(rates.baseline_bytes));
  std::cout << fmt::format("{:>6} {:>8} {:>10} {:>12} {:>12} {:>12} {:>10} {:>10} {:>10} {:>12}\n", "rank", "clients",
                           "samples", "state", "  on device", "in host", "on disk", "data", "attention", "peak memory");
  auto row = [&](const std::string& name, const RankPlan& r) {
    std::cout << fmt::format("{:>6} {:>8} {:>10} {:>12} {:>12} {:>12} {:>10} {:>10} {:>10} {:>12}\n", name, r.clients,
                             r.train_samples, size_text(r.state_bytes), size_text(r.state_device_bytes), size_text(r.state_host_bytes),
                             size_text(r.state_disk_bytes), size_text(r.data_bytes), size_text(r.attention_bytes), size_text(r.peak_bytes));
  };
  constexpr size_t kListed = 8;  // more ranks: the one with the largest peak only
  if (plan.ranks.size() <= kListed) {
    for (size_t i = 0; i < plan.ranks.size(); ++i) row(std::to_string(i), plan.ranks[i]);
  } else {
    const auto largest = std::max_element(plan.ranks.begin(), plan.ranks.end(),
                                          [](const RankPlan& a, const RankPlan& b) { return a.peak_bytes < b.peak_bytes; });
    row(std::to_string(largest - plan.ranks.begin()), *largest);
    std::cout << fmt::format("  (the rank with the largest peak of {}; --json lists every rank)\n", plan.ranks.size());
  }
  int64_t sent = 0;
  for (const RankPlan& r : plan.ranks) sent = std::max(sent, r.bytes_sent_per_round);
  std::cout << fmt::format(
      "\nper round: the FL protocol sends {} up and {} down; the most a rank sends is {}\n"
      "checkpoint: about {} (run file and every client's state)\n"
      "seconds: {:.2f} per training round, {:.2f} per evaluation round (attention stage up to {:.2f}); "
      "the whole run about {:.0f} s\n",
      size_text(plan.protocol_bytes_up), size_text(plan.protocol_bytes_down), size_text(sent), size_text(plan.checkpoint_bytes),
      plan.train_round_seconds, plan.eval_round_seconds, plan.attention_seconds, plan.run_seconds);
  for (const std::string& w : plan.warnings) std::cout << "warning: " << w << "\n";
  if (plan.warnings.empty())
    std::cout << fmt::format("fits: every rank's peak is within its share of {} per node\n", size_text(machine.node_memory_bytes));
}

void print_json(const PlanSetup& setup, const PlanMachine& machine, const PlanRates& rates, const RunPlan& plan) {
  const PlanInputs& in = setup.inputs;
  std::string ranks;
  for (const RankPlan& r : plan.ranks)
    ranks += fmt::format(
        "{}\n    {{\"clients\": {}, \"train_samples\": {}, \"state_bytes\": {}, \"state_device_bytes\": {}, "
        "\"state_host_bytes\": {}, \"state_disk_bytes\": {}, \"data_bytes\": {}, \"attention_bytes\": {}, "
        "\"peak_bytes\": {}, \"bytes_sent_per_round\": {}}}",
        ranks.empty() ? "" : ",", r.clients, r.train_samples, r.state_bytes, r.state_device_bytes, r.state_host_bytes,
        r.state_disk_bytes, r.data_bytes, r.attention_bytes, r.peak_bytes, r.bytes_sent_per_round);
  std::string warnings;
  for (const std::string& w : plan.warnings) {
    std::string escaped;
    for (char ch : w) escaped += ch == '"' || ch == '\\' ? std::string("\\") + ch : std::string(1, ch);
    warnings += (warnings.empty() ? "\"" : ", \"") + escaped + "\"";
  }
  std::cout << fmt::format(
      "{{\n  \"algorithm\": \"{}\", \"clients\": {}, \"ranks\": {}, \"ranks_per_node\": {}, \"rounds\": {}, "
      "\"params\": {},\n  \"node_memory_bytes\": {}, \"gpu\": {},\n"
      "  \"rates\": {{\"train_seconds_per_sample\": {:.6g}, \"eval_seconds_per_sample\": {:.6g}, "
      "\"gemm_flops_per_second\": {:.6g}, \"attention_flops_per_second\": {:.6g}, \"held_bytes_per_second\": {:.6g}, "
      "\"copy_bytes_per_second\": {:.6g}, "
      "\"baseline_bytes\": {}}},\n"
      "  \"checkpoint_bytes\": {}, \"protocol_bytes_up\": {}, \"protocol_bytes_down\": {},\n"
      "  \"train_round_seconds\": {:.6g}, \"eval_round_seconds\": {:.6g}, \"attention_seconds\": {:.6g}, "
      "\"run_seconds\": {:.6g},\n  \"warnings\": [{}],\n  \"per_rank\": [{}\n  ]\n}}\n",
      in.algorithm, in.num_clients(), in.ranks, machine.ranks_per_node, in.rounds(), in.params,
      machine.node_memory_bytes, machine.gpu ? "true" : "false", rates.train_seconds_per_sample,
      rates.eval_seconds_per_sample, rates.gemm_flops_per_second, rates.attention_flops_per_second,
      rates.held_bytes_per_second,
      rates.copy_bytes_per_second, rates.baseline_bytes,
      plan.checkpoint_bytes, plan.protocol_bytes_up, plan.protocol_bytes_down, plan.train_round_seconds,
      plan.eval_round_seconds, plan.attention_seconds, plan.run_seconds, warnings, ranks);
}

}  // namespace

void add_plan_command(CLI::App& root, int& exit_code) {
  auto* cmd = root.add_subcommand(
      "plan", "Predict a run's memory per rank, bytes per round, checkpoint size and seconds per round before submitting it");
  auto args = std::make_shared<PlanArgs>();
  add_config_args(*cmd, args->config);
  cmd->add_option("--ranks", args->ranks, "MPI ranks the job will run with")->required()->type_name("R");
  cmd->add_option("--ranks-per-node", args->ranks_per_node, "Ranks on one node (default: all of them)")
      ->type_name("K")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--node-memory-gb", args->node_memory_gb,
                  "Memory available to the job on one node, GB (default: this machine's available memory)")
      ->type_name("G")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--calibrate-clients", args->calibrate_clients,
                  "Clients of the busiest rank trained here to calibrate the seconds")
      ->type_name("N")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print the plan as JSON (every rank)");
  cmd->callback([args, &exit_code] {
    const Config config = resolve_config(args->config);
    if (!args->json) std::cerr << "fedsaf plan: loading the data and partitioning it as the run would...\n";
    PlanSetup setup = prepare_plan(config, args->ranks);
    if (!args->json) std::cerr << "fedsaf plan: calibrating on this machine...\n";
    const PlanRates rates = calibrate_plan(setup, config, args->calibrate_clients);
    const PlanMachine machine = machine_of(config, *args);
    const RunPlan plan = plan_run(setup.inputs, machine, rates);
    if (args->json) {
      print_json(setup, machine, rates, plan);
    } else {
      print_text(config, setup, machine, rates, plan);
    }
    exit_code = plan.warnings.empty() ? kExitOk : kExitWillNotFit;
  });
}

}  // namespace fedsaf::app
