#include "sim/run_file_recorder.hpp"

#include "algo/client_state_store.hpp"
#include "data/partition_table.hpp"
#include "mpi/communicator.hpp"
#include "mpi/environment.hpp"  // fail_point (test hook)
#include "mpi/mpi_communicator.hpp"  // mpi_handle: run files are parallel HDF5 files
#include "sim/federation.hpp"

namespace fedsaf {

RunFileRecorder::RunFileRecorder(RunServices& run, const std::vector<std::string>& hostnames,
                                 const std::vector<std::string>& devices)
    : run_(run) {
  const Federation& fed = run.fed;
  RunFileInfo info;
  info.config_toml = to_toml(run.config);
  info.algorithm = fed.algorithm->name();
  info.device = fed.device.str();
  info.dataset = fed.data.name;
  info.model = run.config.model.name;
  info.seed = run.config.run.seed;
  info.world_size = run.comm.size();
  info.num_clients = fed.num_clients();
  info.num_classes = fed.data.num_classes;
  info.num_params = fed.model->num_params();
  info.shared_params = fed.context.shared_numel;
  info.rounds = run.config.run.rounds;
  info.rank_hostnames = hostnames;
  info.rank_devices = devices;
  if (run.options.resume) {
    run_file_ = std::make_unique<RunFile>(run.options.run_file, mpi_handle(run.comm, "run file"), info,
                                         RunFile::Open::kContinue);
    return;
  }
  run_file_ = std::make_unique<RunFile>(run.options.run_file, mpi_handle(run.comm, "run file"), info);
  h5::Group group = run_file_->file().create_group("partition");
  write_partition_h5(fed.partition, group);
  group.write("placement", std::vector<int64_t>(fed.rank_of.begin(), fed.rank_of.end()));
  if (static_cast<int64_t>(fed.eval_clients.size()) < fed.num_clients()) group.write("eval_clients", fed.eval_clients);
}

void RunFileRecorder::after_round(Round& round) {
  RoundRecord& r = round.record;
  {
    PhaseTimer timer(run_.phase, "run file", r.timing.io_seconds);
    fail_point("run file");  // test hook (FEDSAF_FAIL_AT)
    if (!round.diagnostics.empty()) run_file_->append_diagnostics(round.index, round.diagnostics);  // combined
    run_file_->append_round(r);
    const ClientStateStore& states = *run_.fed.context.states;
    run_file_->set_client_state({states.device_bytes(), states.host_bytes(), states.disk_bytes(), states.budget_bytes()});
    if (round.eval) run_file_->append_eval(*round.eval, run_.fed.hosted());
    run_file_->file().flush();
  }
  run_file_->set_io_seconds(round.index, r.timing.io_seconds);
}

void RunFileRecorder::record_replacement(int64_t round) { run_file_->append_replacement(round, run_.fed.rank_of); }

void RunFileRecorder::after_run(RunResult& result) { run_file_->finish(result.summary, result.wall_seconds); }

}  // namespace fedsaf
