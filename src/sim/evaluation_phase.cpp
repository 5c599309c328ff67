#include "sim/evaluation_phase.hpp"

#include "client/evaluate.hpp"
#include "model/tensor_values.hpp"
#include "mpi/communicator.hpp"
#include "mpi/environment.hpp"  // fail_point (test hook)
#include "sim/federation.hpp"
#include "sim/round_observer.hpp"

namespace fedsaf {

EvalRecord evaluate_hosted_clients(RunServices& run, Round& round) {
  Federation& fed = run.fed;
  torch::Tensor per_client = torch::zeros({3, fed.num_clients()}, torch::kFloat64);  // [correct; tested; loss_sum]
  AucHistogram auc;
  {
    PhaseTimer timer(run.phase, "evaluation", round.record.timing.eval_seconds);
    torch::Tensor& params = fed.model->params();  // [P]
    const int64_t batch = eval_batch_for(run.config.run.eval_batch_size, fed.device);
    std::vector<int64_t> mine;  // this rank's clients of run.eval_clients
    for (int64_t client : fed.hosted())
      if (fed.evaluated[static_cast<size_t>(client)]) mine.push_back(client);
    int64_t evaluated = 0;
    for (int64_t client : mine) {
      run.progress(round, "evaluation", evaluated++, static_cast<int64_t>(mine.size()));
      fail_point("evaluation");
      fed.algorithm->eval_params(client, params);
      const ClientEval e = evaluate_client(*fed.model, fed.device_data,
                                           fed.partition.clients[static_cast<size_t>(client)].test, fed.device, auc,
                                           batch);
      per_client[0][client] = static_cast<double>(e.correct);
      per_client[1][client] = static_cast<double>(e.tested);
      per_client[2][client] = e.loss_sum;
    }
  }
  {
    PhaseTimer timer(run.phase, "evaluation", round.record.timing.comm_seconds);
    run.comm.allreduce_sum(per_client);  // each client's entries are non-zero on exactly one rank
    run.comm.allreduce_sum(auc.counts());
  }
  return make_eval_record(round.index, to_doubles(per_client[0]), to_doubles(per_client[1]), to_doubles(per_client[2]),
                          auc.auc());
}

}  // namespace fedsaf
