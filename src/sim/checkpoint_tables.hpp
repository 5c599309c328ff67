#pragma once
// The run-file part of a checkpoint, checked before a resume uses it (issue 25 §2, §3, §8): a resume
// appends to these tables at the row their lengths say and the summary reads them back, so a table
// of another length, a missing column or a re-placement row of the wrong width would be read or
// written past its end. A CRC only proves the bytes are the ones written, not that fedsaf wrote them.
#include <cstdint>

namespace fedsaf::h5 {
class File;
}

namespace fedsaf {

// Throws IoError naming the first data set (its path) that is missing, of the wrong shape or type,
// not extendible where a resume appends to it, or out of range: /metrics/rounds and /timing
// ([rounds_done] rows), /metrics/eval ([E] rows, client_accuracy [E, N], rounds ascending and done),
// /partition/placement [N] and /partition/replacements (round [K], placement [K, N], rounds
// ascending and done, ranks of the run). N is the root attribute num_clients; the ranks are those
// /timing has columns for (the most any segment had).
void validate_run_tables(const h5::File& file, int64_t rounds_done);

}  // namespace fedsaf
